/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The Manager owns everything jetsnapd runs: the event loop, the bus
 * connection, the Config, the instance table, the snapshot session and
 * the id allocator. manager-dbus.c is its face on the bus.
 */

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "auth.h"
#include "config.h"
#include "instance.h"
#include "session.h"
#include "snapshot-id.h"

#define MANAGER_PATH "/org/jetsnap1"
#define MANAGER_INTERFACE "org.jetsnap1.Manager"
#define INSTANCE_PATH_PREFIX "/org/jetsnap1/instance"
#define INSTANCE_INTERFACE "org.jetsnap1.Instance"
#define SNAPSHOT_PATH_PREFIX "/org/jetsnap1/snapshot"
#define SNAPSHOT_INTERFACE "org.jetsnap1.Snapshot"
#define BUS_NAME "org.jetsnap1"

/* How long the bus name waits for instances still recovering before it is taken anyway; also how often
 * systemd's start timeout is extended while they recover. */
#define MANAGER_NAME_GRACE_USEC (UINT64_C(2) * 1000000)

struct Manager {
        sd_event *event;
        sd_bus *bus;
        Config *config;
        char *state_dir;
        bool user;

        Instance **instances;
        size_t n_instances;
        unsigned n_opening;

        const EngineIO *engine_io;      /* NULL: the engine's default; tests inject faults through it */
        Session *session;               /* the one session, or NULL */
        /* ActiveSnapshotId/State as last signalled: PropertiesChanged goes out only when they change. */
        uint64_t emitted_id;
        const char *emitted_state;
        AuthCache auth;
        SnapshotIds ids;

        sd_event_source *name_timer;
        sd_event_source *stop_check;    /* while stopping: are all pending commits answered? */
        bool name_requested, name_acquired, ready;
        bool stopping;
};

int manager_new(Config *config, const char *state_dir, bool user, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        if (*m)
                *m = manager_free(*m);
}

int manager_start(Manager *m);
int manager_attach(Manager *m, sd_bus *bus);
int manager_run(Manager *m);
Instance *manager_find_instance(Manager *m, const char *name);
void manager_instance_opened(Manager *m, Instance *i);
void manager_session_finish(Manager *m, Session *s);
void manager_update_status(Manager *m);
void manager_emit_session_changed(Manager *m);
void manager_commit_done(Manager *m);

/* manager-dbus.c */
extern const sd_bus_vtable manager_vtable[];
int manager_register_objects(Manager *m, sd_bus *bus);

/* A D-Bus error for a negative errno: the table's name if it has one, else a system error. */
int bus_error_from_errno(sd_bus_error *error, int r, const char *format, ...) __attribute__((format(printf, 3, 4)));
