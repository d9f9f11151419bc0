/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A snapshot session as the daemon runs it: the pure state (Snapshot,
 * snapshot.c) plus what carrying it out needs: the engines of its
 * instances, the pending Freeze reply, the freeze and idle timers, the
 * tracked owner, and the bus object /org/jetsnap1/snapshot/<id>.
 *
 * Engine completions hold a reference, so a session aborted while an
 * engine still works for it lives on until the callback came back.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "engine.h"
#include "instance.h"
#include "snapshot.h"

typedef struct Session Session;

typedef enum MemberFreeze {
        MEMBER_IDLE,
        MEMBER_FREEZING,
        MEMBER_FROZEN,
        MEMBER_FAILED,
} MemberFreeze;

typedef struct SessionMember {
        Session *session;
        Instance *instance;
        MemberFreeze freeze;
        int error;
        EngineFreezeInfo info;          /* valid once frozen */
        uint32_t gen_low;               /* first generation the backup contains */
        char **files;                   /* what a backup must copy (engine_backup_files) */
} SessionMember;

struct Session {
        unsigned n_ref;
        Manager *manager;
        Snapshot *snapshot;
        char *object_path;
        bool published;                 /* the bus object exists */
        char *owner;                    /* unique bus name of the caller of Prepare */
        uint64_t timeout_usec;
        bool bind_to_caller;
        uint64_t prepared_usec, frozen_usec;    /* CLOCK_REALTIME */
        const char *emitted_state;      /* State as last signalled (a static string) */

        SessionMember *members;         /* built at Freeze from snapshot->instances */
        size_t n_members;
        unsigned n_freezing;
        sd_bus_message *freeze_call;    /* the Freeze waiting for its reply */

        unsigned n_busy;                /* engine operations (truncate, record) in flight */
        sd_event_source *freeze_timer, *idle_timer;
        sd_bus_track *track;
};

int session_new(Manager *m, Snapshot *snapshot, sd_bus_message *call, uint64_t timeout_usec, bool bind_to_caller,
                Session **ret);
Session *session_ref(Session *s);
Session *session_unref(Session *s);
static inline void session_unrefp(Session **s) {
        if (*s)
                *s = session_unref(*s);
}

void session_touch(Session *s);
int session_execute(Session *s, SnapshotCall call, const SnapshotStep *step, const char *instance,
                    sd_bus_message *message, sd_bus_error *reterr);
void session_cancel(Session *s, const char *why);
int session_append_freeze_info(Session *s, sd_bus_message *reply, bool with_info);
EngineBackupKind session_backup_kind(const Session *s);
char *session_instances_string(const Session *s);

extern const sd_bus_vtable session_vtable[];
int session_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                        sd_bus_error *error);
int session_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes, sd_bus_error *error);
