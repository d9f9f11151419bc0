/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * An Instance: one configured engine instance as the daemon hosts it. It
 * is opened (recovered) on a worker thread so the main loop stays
 * responsive; an instance that fails to open stays an object in state
 * "failed" with the error logged.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "engine.h"

typedef struct Manager Manager;

/* Unacknowledged commits one instance accepts from clients before OutOfThreads, by number and by bytes. */
#define INSTANCE_PENDING_COMMITS_MAX 16384
#define INSTANCE_PENDING_BYTES_MAX (UINT64_C(256) << 20)

typedef enum InstanceState {
        INSTANCE_RECOVERING,
        INSTANCE_RUNNING,
        INSTANCE_FROZEN,
        INSTANCE_FAILED,
        INSTANCE_STOPPING,
        _INSTANCE_STATE_MAX,
        _INSTANCE_STATE_INVALID = -EINVAL,
} InstanceState;

typedef struct Instance {
        Manager *manager;
        const ConfigInstance *config;   /* borrowed from manager->config */
        uint64_t id;                    /* 1-based position in the config */
        char *object_path;

        Engine *engine;                 /* NULL while recovering and when failed */
        sd_event_source *engine_source; /* engine_get_event_fd() -> engine_dispatch() */
        EngineDatabaseConfig *db_configs;

        /* Opening, on a worker thread that hands the result over through open_fd. */
        pthread_t thread;
        bool thread_running;
        int open_fd;                    /* eventfd */
        sd_event_source *open_source;
        Engine *opened;                 /* worker -> main thread */
        int open_error;
        char *open_message;

        bool failed;                    /* failed to open */
        bool failure_logged;            /* the engine failed later; logged */
        bool stopping;
        unsigned n_pending_commits;
        uint64_t pending_bytes;         /* keys and values of those commits */
} Instance;

const char *instance_state_to_string(InstanceState s);
InstanceState instance_get_state(Instance *i);

int instance_new(Manager *m, const ConfigInstance *config, uint64_t id, Instance **ret);
Instance *instance_free(Instance *i);
int instance_start(Instance *i);
void instance_stop(Instance *i);
bool instance_is_running(Instance *i);
void instance_emit_changed_strv(Instance *i, char **properties);
#define instance_emit_changed(i, ...) instance_emit_changed_strv((i), (char **) (const char *[]) { __VA_ARGS__, NULL })

extern const sd_bus_vtable instance_vtable[];
int instance_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                         sd_bus_error *error);
int instance_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes, sd_bus_error *error);
