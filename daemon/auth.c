/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdbool.h>

#include "auth.h"
#include "bus-errors.h"
#include "log.h"
#include "macro.h"

static bool gid_in(gid_t g, const gid_t *gids, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (gids[i] == g)
                        return true;
        return false;
}

int auth_check(sd_bus_message *m, const gid_t *gids, size_t n_gids, const char *what, sd_bus_error *error) {
        sd_bus_creds *creds = NULL;
        const gid_t *supplementary = NULL;
        uid_t uid;
        gid_t gid;
        bool allowed = false;
        int r, n;

        /*
         * dbus-daemon vouches for the uid; AUGMENT fills in what the bus does
         * not send (euid, supplementary groups) from /proc, which is
         * good enough here: the bus policy checks again.
         */
        r = sd_bus_query_sender_creds(m,
                                      SD_BUS_CREDS_UID | SD_BUS_CREDS_EUID | SD_BUS_CREDS_GID |
                                              SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_AUGMENT,
                                      &creds);
        if (r < 0)
                return log_error_errno(r, "Failed to query sender credentials: %m");

        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                r = sd_bus_creds_get_uid(creds, &uid);
        if (r < 0)
                goto finish;
        if (uid == 0) {
                allowed = true;
                goto finish;
        }
        if (sd_bus_creds_get_gid(creds, &gid) >= 0 && gid_in(gid, gids, n_gids))
                allowed = true;
        n = sd_bus_creds_get_supplementary_gids(creds, &supplementary);
        for (int i = 0; !allowed && i < n; i++)
                if (gid_in(supplementary[i], gids, n_gids))
                        allowed = true;

finish:
        sd_bus_creds_unref(creds);
        if (allowed)
                return 0;
        log_snapshot(LOG_NOTICE, JETSNAP_MESSAGE_ACCESS_DENIED, 0, NULL, "Denied %s to %s (uid %d)", what,
                     sd_bus_message_get_sender(m) ?: "?", r < 0 ? -1 : (int) uid);
        return sd_bus_error_setf(error, JETSNAP_ERROR_ACCESS_DENIED,
                                 "%s requires root or membership in one of the configured groups", what);
}
