/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "bus-errors.h"
#include "log.h"
#include "macro.h"

static int creds_query(sd_bus_message *m, AuthCreds *ret) {
        sd_bus_creds *creds = NULL;
        const gid_t *supplementary = NULL;
        int r, n;

        /*
         * dbus-daemon vouches for the uid; AUGMENT fills in what it does not
         * send (euid, supplementary groups) from /proc, which is good enough
         * here: the bus policy checks again.
         */
        r = sd_bus_query_sender_creds(m,
                                      SD_BUS_CREDS_UID | SD_BUS_CREDS_EUID | SD_BUS_CREDS_GID |
                                              SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_AUGMENT,
                                      &creds);
        if (r < 0)
                return r;

        r = sd_bus_creds_get_euid(creds, &ret->uid);
        if (r < 0)
                r = sd_bus_creds_get_uid(creds, &ret->uid);
        if (r < 0)
                goto finish;
        ret->n_gids = 0;
        if (sd_bus_creds_get_gid(creds, &ret->gids[0]) >= 0)
                ret->n_gids = 1;
        n = sd_bus_creds_get_supplementary_gids(creds, &supplementary);
        for (int i = 0; i < n && ret->n_gids < AUTH_GROUPS_MAX; i++)
                ret->gids[ret->n_gids++] = supplementary[i];
        r = 0;
finish:
        sd_bus_creds_unref(creds);
        return r;
}

static int creds_lookup(AuthCache *cache, sd_bus_message *m, const AuthCreds **ret) {
        const char *sender = sd_bus_message_get_sender(m);
        AuthCreds *slot;
        int r;

        /* No sender: a direct connection (tests), never cached. */
        for (size_t i = 0; sender && i < AUTH_CACHE_SIZE; i++)
                if (streq_ptr(cache->entries[i].sender, sender)) {
                        *ret = &cache->entries[i];
                        return 0;
                }

        slot = &cache->entries[cache->next];
        free(slot->sender);
        *slot = (AuthCreds) {};
        r = creds_query(m, slot);
        if (r < 0)
                return r;
        if (sender) {
                slot->sender = strdup(sender);
                if (!slot->sender)
                        return -ENOMEM;
                cache->next = (cache->next + 1) % AUTH_CACHE_SIZE;
        }
        *ret = slot;
        return 0;
}

int auth_check(AuthCache *cache, sd_bus_message *m, const gid_t *gids, size_t n_gids, const char *what,
               sd_bus_error *error) {
        const AuthCreds *c;
        int r;

        r = creds_lookup(cache, m, &c);
        if (r < 0)
                return log_error_errno(r, "Failed to query the credentials of %s: %m",
                                       sd_bus_message_get_sender(m) ?: "?");
        /* The daemon's own user (jetsnapd --user) owns every file it could protect anyway. */
        if (c->uid == 0 || c->uid == geteuid())
                return 0;
        for (int i = 0; i < c->n_gids; i++)
                for (size_t k = 0; k < n_gids; k++)
                        if (c->gids[i] == gids[k])
                                return 0;

        log_snapshot(LOG_NOTICE, JETSNAP_MESSAGE_ACCESS_DENIED, 0, NULL, "Denied %s to %s (uid %u)", what,
                     sd_bus_message_get_sender(m) ?: "?", (unsigned) c->uid);
        return sd_bus_error_setf(error, JETSNAP_ERROR_ACCESS_DENIED,
                                 "%s requires root or membership in one of the configured groups", what);
}

void auth_cache_done(AuthCache *cache) {
        for (size_t i = 0; i < AUTH_CACHE_SIZE; i++) {
                free(cache->entries[i].sender);
                cache->entries[i].sender = NULL;
        }
}
