/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Authorization from the sender's credentials: root, or a member of one of
 * the given groups.
 *
 * Asking for a sender's credentials costs a round trip to the bus daemon
 * (GetConnectionCredentials) plus a read of /proc, too much for every
 * Commit. A connection's credentials are fixed when it connects and
 * unique names are never reused on a bus, so they are cached per unique
 * name; the cache is bounded and simply overwrites its oldest entry.
 */

#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#define AUTH_CACHE_SIZE 256
#define AUTH_GROUPS_MAX 64

typedef struct AuthCreds {
        char *sender;                   /* unique bus name; NULL: free slot */
        uid_t uid;
        int n_gids;                     /* primary + supplementary */
        gid_t gids[AUTH_GROUPS_MAX];
} AuthCreds;

typedef struct AuthCache {
        AuthCreds entries[AUTH_CACHE_SIZE];
        unsigned next;                  /* the slot to overwrite next */
} AuthCache;

/*
 * auth_check() - may the sender of @m do @what?
 * Return: 0 allowed; -EACCES denied (AccessDenied set in @error, logged);
 * other negative errno when the credentials cannot be read.
 */
int auth_check(AuthCache *cache, sd_bus_message *m, const gid_t *gids, size_t n_gids, const char *what,
               sd_bus_error *error);
void auth_cache_done(AuthCache *cache);
