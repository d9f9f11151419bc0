/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * jetsnapd.yaml (design.md §6, jetsnapd.yaml(5)). config_load() fills a
 * plain Config; every default sits in CONFIG_NULL / the per-instance
 * defaults below. Group names are resolved to gids at load time.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONFIG_INSTANCES_MAX 64
#define CONFIG_GROUPS_MAX 32

#define CONFIG_FREEZE_TIMEOUT_DEFAULT_USEC (UINT64_C(60) * 1000000)
#define CONFIG_SESSION_IDLE_TIMEOUT_DEFAULT_USEC (UINT64_C(600) * 1000000)
#define CONFIG_DEFAULT_STATE_DIRECTORY "/var/lib/jetsnapd"

typedef struct ConfigDatabase {
        char *name;
        char *path;                     /* absolute */
        uint64_t map_size;              /* 0: engine default */
} ConfigDatabase;

typedef struct ConfigInstance {
        char *name;
        char *path;                     /* absolute */
        uint64_t log_file_size;         /* 0: engine default */
        bool circular_logging;
        uint64_t value_size_max;        /* 0: engine default; key value-size-max */
        gid_t *access_gids;             /* resolved access-groups */
        size_t n_access_gids;
        ConfigDatabase *databases;
        size_t n_databases;
} ConfigInstance;

typedef struct Config {
        uint64_t freeze_timeout_usec;           /* snapshot.freeze-timeout */
        uint64_t session_idle_timeout_usec;     /* snapshot.session-idle-timeout */
        gid_t *allowed_gids;                    /* snapshot.allowed-groups, resolved */
        size_t n_allowed_gids;
        ConfigInstance *instances;
        size_t n_instances;
} Config;

/* Every default of the top level; instances default to all-zero ("engine default"). */
#define CONFIG_NULL                                                             \
        {                                                                       \
                .freeze_timeout_usec = CONFIG_FREEZE_TIMEOUT_DEFAULT_USEC,      \
                .session_idle_timeout_usec = CONFIG_SESSION_IDLE_TIMEOUT_DEFAULT_USEC, \
        }

/*
 * config_load() - parse and validate a config file.
 * @path: the file; NULL means the embedded default (one instance "default"
 *        with one database "main" under state_dir).
 * @state_dir: where the embedded default puts its instance
 *        ($STATE_DIRECTORY, else /var/lib/jetsnapd; --user:
 *        $XDG_STATE_HOME/jetsnapd — the caller decides).
 * @ret: on success a new Config (free with config_free()).
 * @reterr_message: on failure (may be NULL) "FILE:LINE:COLUMN: message",
 *        caller frees.
 * Return: 0, -EINVAL (bad config), -ENOENT (file missing), -ENOMEM.
 */
int config_load(const char *path, const char *state_dir, Config **ret, char **reterr_message);

/* Accepts NULL, returns NULL. */
Config *config_free(Config *c);

static inline void config_freep(Config **c) {
        if (*c)
                *c = config_free(*c);
}
