/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "instance.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

static const char *const instance_state_names[_INSTANCE_STATE_MAX] = {
        [INSTANCE_RECOVERING] = "recovering",
        [INSTANCE_RUNNING] = "running",
        [INSTANCE_FROZEN] = "frozen",
        [INSTANCE_FAILED] = "failed",
        [INSTANCE_STOPPING] = "stopping",
};

const char *instance_state_to_string(InstanceState s) {
        if (s < 0 || s >= _INSTANCE_STATE_MAX)
                return NULL;
        return instance_state_names[s];
}

InstanceState instance_get_state(Instance *i) {
        EngineInfo info;

        if (i->stopping)
                return INSTANCE_STOPPING;
        if (i->failed)
                return INSTANCE_FAILED;
        if (!i->engine)
                return INSTANCE_RECOVERING;
        if (engine_get_info(i->engine, &info) < 0)
                return INSTANCE_FAILED;
        switch (info.state) {
        case ENGINE_RUNNING:
                return INSTANCE_RUNNING;
        case ENGINE_FREEZING:
        case ENGINE_FROZEN:
                return INSTANCE_FROZEN;
        case ENGINE_CLOSING:
                return INSTANCE_STOPPING;
        default:
                /* The engine failed at run time (a write or fdatasync failed): say so once. */
                if (!i->failure_logged) {
                        i->failure_logged = true;
                        log_error_errno(info.error, "Instance '%s' failed: %m", i->config->name);
                }
                return INSTANCE_FAILED;
        }
}

bool instance_is_running(Instance *i) {
        return instance_get_state(i) == INSTANCE_RUNNING;
}

void instance_emit_changed_strv(Instance *i, char **properties) {
        if (!i->manager->bus)
                return;
        (void) sd_bus_emit_properties_changed_strv(i->manager->bus, i->object_path, INSTANCE_INTERFACE, properties);
}

int instance_new(Manager *m, const ConfigInstance *config, uint64_t id, Instance **ret) {
        Instance *i;
        int r;

        i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        *i = (Instance) { .manager = m, .config = config, .id = id, .open_fd = -EBADF };

        r = sd_bus_path_encode(INSTANCE_PATH_PREFIX, config->name, &i->object_path);
        if (r < 0)
                goto fail;
        i->db_configs = calloc(config->n_databases, sizeof(EngineDatabaseConfig));
        if (!i->db_configs) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t d = 0; d < config->n_databases; d++)
                i->db_configs[d] = (EngineDatabaseConfig) {
                        .name = config->databases[d].name,
                        .path = config->databases[d].path,
                        .map_size = config->databases[d].map_size,
                };
        *ret = i;
        return 0;
fail:
        instance_free(i);
        return r;
}

static void *open_thread(void *userdata) {
        Instance *i = userdata;
        EngineConfig ec = {
                .name = i->config->name,
                .path = i->config->path,
                .log_file_size = i->config->log_file_size,
                .circular_logging = i->config->circular_logging,
                .value_size_max = i->config->value_size_max,
                .n_databases = i->config->n_databases,
                .databases = i->db_configs,
                .io = i->manager->engine_io,
        };
        uint64_t one = 1;

        i->open_error = engine_open(&ec, &i->opened, &i->open_message);
        /* The write is the hand-over: the main thread reads opened/open_error only after it. */
        (void) write(i->open_fd, &one, sizeof(one));
        return NULL;
}

static int on_engine_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Instance *i = userdata;
        int r;

        r = engine_dispatch(i->engine);
        if (r < 0)
                log_warning_errno(r, "Instance '%s': failed to dispatch engine completions: %m", i->config->name);
        return 0;
}

static int on_opened(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Instance *i = userdata;
        int r;

        (void) pthread_join(i->thread, NULL);
        i->thread_running = false;
        i->open_source = sd_event_source_disable_unref(i->open_source);
        i->open_fd = safe_close(i->open_fd);

        if (i->open_error < 0) {
                i->failed = true;
                log_error_errno(i->open_error, "Instance '%s' failed to open: %s", i->config->name,
                                i->open_message ?: strerror(-i->open_error));
        } else {
                i->engine = TAKE_PTR(i->opened);
                r = sd_event_add_io(i->manager->event, &i->engine_source, engine_get_event_fd(i->engine), EPOLLIN,
                                    on_engine_event, i);
                if (r < 0) {
                        log_error_errno(r, "Instance '%s': failed to watch the engine: %m", i->config->name);
                        i->engine = engine_close(i->engine);
                        i->failed = true;
                } else
                        log_info("Instance '%s' is running (%s)", i->config->name, i->config->path);
        }

        instance_emit_changed(i, "State", "CurrentGeneration", "CheckpointGeneration");
        manager_instance_opened(i->manager, i);
        return 0;
}

/* Starts recovery on a worker thread; manager_instance_opened() is called once it is done. */
int instance_start(Instance *i) {
        int r;

        i->open_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (i->open_fd < 0)
                return -errno;
        r = sd_event_add_io(i->manager->event, &i->open_source, i->open_fd, EPOLLIN, on_opened, i);
        if (r < 0)
                return r;
        r = -pthread_create(&i->thread, NULL, open_thread, i);
        if (r < 0)
                return r;
        i->thread_running = true;
        return 0;
}

/* Clean shutdown: waits for recovery, thaws, finishes commits, checkpoints (engine_close() blocks). */
void instance_stop(Instance *i) {
        i->stopping = true;
        if (i->thread_running) {
                (void) pthread_join(i->thread, NULL);
                i->thread_running = false;
                i->engine = TAKE_PTR(i->opened);
        }
        i->open_source = sd_event_source_disable_unref(i->open_source);
        i->engine_source = sd_event_source_disable_unref(i->engine_source);
        if (i->engine) {
                log_info("Instance '%s': stopping", i->config->name);
                i->engine = engine_close(i->engine);
        }
}

Instance *instance_free(Instance *i) {
        if (!i)
                return NULL;
        instance_stop(i);
        i->open_fd = safe_close(i->open_fd);
        free(i->open_message);
        free(i->db_configs);
        free(i->object_path);
        free(i);
        return NULL;
}
