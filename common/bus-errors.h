/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The one table of D-Bus error names (design.md §4, ese-semantics.md),
 * shared by jetsnapd and libjetsnap: both convert errno <-> name through
 * it, so the native API and the daemon agree on every code. The ESE layer
 * maps the *name* to an ESE code (jetsnap_error_name_to_jet_err()).
 */

#include <systemd/sd-bus.h>

#define JETSNAP_ERROR_INVALID_PARAMETER "org.jetsnap1.Error.InvalidParameter"
#define JETSNAP_ERROR_OUT_OF_MEMORY "org.jetsnap1.Error.OutOfMemory"
#define JETSNAP_ERROR_OUT_OF_THREADS "org.jetsnap1.Error.OutOfThreads"
#define JETSNAP_ERROR_INVALID_SEQUENCE "org.jetsnap1.Error.OSSnapshotInvalidSequence"
#define JETSNAP_ERROR_TIME_OUT "org.jetsnap1.Error.OSSnapshotTimeOut"
#define JETSNAP_ERROR_NOT_ALLOWED "org.jetsnap1.Error.OSSnapshotNotAllowed"
#define JETSNAP_ERROR_INVALID_SNAP_ID "org.jetsnap1.Error.OSSnapshotInvalidSnapId"
#define JETSNAP_ERROR_RECORD_NOT_FOUND "org.jetsnap1.Error.RecordNotFound"
#define JETSNAP_ERROR_MISSING_FULL_BACKUP "org.jetsnap1.Error.MissingFullBackup"
#define JETSNAP_ERROR_INVALID_BACKUP "org.jetsnap1.Error.InvalidBackup"
#define JETSNAP_ERROR_MISSING_FILE_TO_BACKUP "org.jetsnap1.Error.MissingFileToBackup"
#define JETSNAP_ERROR_ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"

/* Terminated by SD_BUS_ERROR_MAP_END; register with sd_bus_error_add_map(). */
extern const sd_bus_error_map jetsnap_bus_error_map[];

/* Registers the table once per process; safe to call repeatedly. Returns 0 or negative errno. */
int jetsnap_bus_error_map_register(void);

/* The D-Bus error name for a negative errno of the table, or NULL when it has none. */
const char *jetsnap_bus_error_name_from_errno(int error);

/*
 * The ESE error code (JET_err*) for a D-Bus error name; names outside the
 * table map to fallback. Returns a negative number (ESE codes are negative).
 */
int jetsnap_bus_error_name_to_jet_err(const char *name, int fallback);
