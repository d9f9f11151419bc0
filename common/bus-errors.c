/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <string.h>

#include "bus-errors.h"
#include "macro.h"

/*
 * Order matters only for errno -> name: the first entry with a given errno
 * wins. AccessDenied is in sd-bus's own table already, but listing it keeps
 * the mapping explicit in one place.
 */
const sd_bus_error_map jetsnap_bus_error_map[] = {
        SD_BUS_ERROR_MAP(JETSNAP_ERROR_INVALID_PARAMETER, EINVAL),
        SD_BUS_ERROR_MAP(JETSNAP_ERROR_OUT_OF_MEMORY, ENOMEM),
        SD_BUS_ERROR_MAP(JETSNAP_ERROR_OUT_OF_THREADS, EAGAIN),
        SD_BUS_ERROR_MAP(JETSNAP_ERROR_INVALID_SEQUENCE, EPROTO),
        SD_BUS_ERROR_MAP(JETSNAP_ERROR_TIME_OUT, ETIMEDOUT),
        SD_BUS_ERROR_MAP(JETSNAP_ERROR_NOT_ALLOWED, EBUSY),
        SD_BUS_ERROR_MAP(JETSNAP_ERROR_INVALID_SNAP_ID, ESRCH),
        SD_BUS_ERROR_MAP(JETSNAP_ERROR_RECORD_NOT_FOUND, ENOENT),
        SD_BUS_ERROR_MAP(JETSNAP_ERROR_MISSING_FULL_BACKUP, ENODATA),
        SD_BUS_ERROR_MAP(JETSNAP_ERROR_INVALID_BACKUP, EOPNOTSUPP),
        SD_BUS_ERROR_MAP(JETSNAP_ERROR_MISSING_FILE_TO_BACKUP, ESTALE),
        SD_BUS_ERROR_MAP(JETSNAP_ERROR_ACCESS_DENIED, EACCES),
        SD_BUS_ERROR_MAP_END,
};

static const struct {
        const char *name;
        int jet_err;
} jet_err_table[] = {
        { JETSNAP_ERROR_INVALID_PARAMETER, -1003 },   /* JET_errInvalidParameter */
        { JETSNAP_ERROR_OUT_OF_MEMORY, -1011 },       /* JET_errOutOfMemory */
        { JETSNAP_ERROR_OUT_OF_THREADS, -103 },       /* JET_errOutOfThreads */
        { JETSNAP_ERROR_INVALID_SEQUENCE, -2401 },    /* JET_errOSSnapshotInvalidSequence */
        { JETSNAP_ERROR_TIME_OUT, -2402 },            /* JET_errOSSnapshotTimeOut */
        { JETSNAP_ERROR_NOT_ALLOWED, -2403 },         /* JET_errOSSnapshotNotAllowed */
        { JETSNAP_ERROR_INVALID_SNAP_ID, -2404 },     /* JET_errOSSnapshotInvalidSnapId */
        { JETSNAP_ERROR_RECORD_NOT_FOUND, -1601 },    /* JET_errRecordNotFound */
        { JETSNAP_ERROR_MISSING_FULL_BACKUP, -560 },  /* JET_errMissingFullBackup */
        { JETSNAP_ERROR_INVALID_BACKUP, -526 },       /* JET_errInvalidBackup */
        { JETSNAP_ERROR_MISSING_FILE_TO_BACKUP, -569 },/* JET_errMissingFileToBackup */
        { JETSNAP_ERROR_ACCESS_DENIED, -1907 },       /* JET_errAccessDenied */
};

int jetsnap_bus_error_map_register(void) {
        /* sd_bus_error_add_map() ignores a table it already has. */
        return sd_bus_error_add_map(jetsnap_bus_error_map);
}

const char *jetsnap_bus_error_name_from_errno(int error) {
        if (error < 0)
                error = -error;
        for (const sd_bus_error_map *m = jetsnap_bus_error_map; m->name; m++)
                if (m->code == error)
                        return m->name;
        return NULL;
}

int jetsnap_bus_error_name_to_jet_err(const char *name, int fallback) {
        if (!name)
                return fallback;
        for (size_t i = 0; i < ELEMENTSOF(jet_err_table); i++)
                if (streq(jet_err_table[i].name, name))
                        return jet_err_table[i].jet_err;
        return fallback;
}
