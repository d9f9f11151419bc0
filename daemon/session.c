/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Carrying out the snapshot state machine on the engines: freeze every
 * instance of the session in parallel and reply when all came back, thaw,
 * truncate, record the backup, time out, and abort when the owner goes
 * away or the session idles. snapshot.c decides; this file acts.
 *
 * Engine operations are asynchronous. Each one in flight holds a session
 * reference, so a session that ended meanwhile (Abort, timeout) is still
 * there when its callback comes back, and the callback sees from the state
 * that its result is stale.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus-errors.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "parse-util.h"
#include "session.h"

static uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

char *session_instances_string(const Session *s) {
        size_t len = 1;
        char *buf, *p;

        for (size_t k = 0; k < s->snapshot->n_instances; k++)
                len += strlen(s->snapshot->instances[k]) + 1;
        p = buf = malloc(len);
        if (!buf)
                return NULL;
        *p = 0;
        for (size_t k = 0; k < s->snapshot->n_instances; k++)
                p += sprintf(p, "%s%s", k > 0 ? "," : "", s->snapshot->instances[k]);
        return buf;
}

#define log_session(s, level, message_id, ...)                                                  \
        do {                                                                                    \
                _cleanup_free_ char *_names_ = session_instances_string(s);                     \
                log_snapshot(level, message_id, (s)->snapshot->id, _names_, __VA_ARGS__);       \
        } while (0)

EngineBackupKind session_backup_kind(const Session *s) {
        bool incremental = s->snapshot->flags & JET_bitIncrementalSnapshot;

        if (s->snapshot->flags & JET_bitCopySnapshot)
                return incremental ? ENGINE_BACKUP_INCREMENTAL_COPY : ENGINE_BACKUP_COPY;
        return incremental ? ENGINE_BACKUP_INCREMENTAL : ENGINE_BACKUP_FULL;
}

/* PropertiesChanged for State (and FrozenUSec, which moves with it) only when the bus view changed. */
static void session_emit_changed(Session *s) {
        const char *state = snapshot_state_to_public_string(s->snapshot->state);

        if (s->published && s->manager->bus && state != s->emitted_state) {
                (void) sd_bus_emit_properties_changed(s->manager->bus, s->object_path, SNAPSHOT_INTERFACE, "State",
                                                      "FrozenUSec", NULL);
                s->emitted_state = state;
        }
        manager_emit_session_changed(s->manager);
}

static void members_emit_state(Session *s) {
        for (size_t k = 0; k < s->n_members; k++)
                instance_emit_changed(s->members[k].instance, "State");
}

static int on_idle(sd_event_source *source, uint64_t usec, void *userdata) {
        Session *s = userdata;
        char buf[32];

        log_session(s, LOG_WARNING, JETSNAP_MESSAGE_ABORT, "Snapshot %" PRIu64 " aborted: no call for %s",
                    s->snapshot->id,
                    format_duration(buf, sizeof(buf), s->manager->config->session_idle_timeout_usec));
        session_cancel(s, NULL);
        return 0;
}

static int on_owner_gone(sd_bus_track *track, void *userdata) {
        Session *s = userdata;

        log_session(s, LOG_WARNING, JETSNAP_MESSAGE_ABORT, "Snapshot %" PRIu64 " aborted: its owner %s disconnected",
                    s->snapshot->id, s->owner);
        session_cancel(s, NULL);
        return 0;
}

/*
 * session_new() - the daemon side of a prepared Snapshot: publishes the
 * bus object, arms the idle timer and, with BindToCaller, tracks the
 * caller. Takes over @snapshot on success.
 */
int session_new(Manager *m, Snapshot *snapshot, sd_bus_message *call, uint64_t timeout_usec, bool bind_to_caller,
                Session **ret) {
        _cleanup_(session_unrefp) Session *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (Session) {
                .n_ref = 1, .manager = m, .timeout_usec = timeout_usec, .bind_to_caller = bind_to_caller,
                .prepared_usec = now_usec(CLOCK_REALTIME),
                /* Announced with the object itself (InterfacesAdded), not as a change. */
                .emitted_state = snapshot_state_to_public_string(SNAPSHOT_PREPARED),
        };
        /* Plain digits are a valid path element; sd_bus_path_encode() would escape the first one. */
        if (asprintf(&s->object_path, SNAPSHOT_PATH_PREFIX "/%" PRIu64, snapshot->id) < 0)
                return -ENOMEM;
        s->owner = strdup(sd_bus_message_get_sender(call) ?: "");
        if (!s->owner)
                return -ENOMEM;

        r = sd_event_add_time_relative(m->event, &s->idle_timer, CLOCK_MONOTONIC,
                                       m->config->session_idle_timeout_usec, 0, on_idle, s);
        if (r < 0)
                return r;
        if (bind_to_caller) {
                r = sd_bus_track_new(m->bus, &s->track, on_owner_gone, s);
                if (r < 0)
                        return r;
                r = sd_bus_track_add_sender(s->track, call);
                if (r < 0)
                        return r;
        }

        s->snapshot = snapshot;
        *ret = TAKE_PTR(s);
        return 0;
}

static void session_free(Session *s) {
        s->freeze_timer = sd_event_source_disable_unref(s->freeze_timer);
        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        s->track = sd_bus_track_unref(s->track);
        s->freeze_call = sd_bus_message_unref(s->freeze_call);
        for (size_t k = 0; k < s->n_members; k++)
                strv_free(s->members[k].files);
        free(s->members);
        snapshot_free(s->snapshot);
        free(s->object_path);
        free(s->owner);
        free(s);
}

Session *session_ref(Session *s) {
        s->n_ref++;
        return s;
}

Session *session_unref(Session *s) {
        if (s && --s->n_ref == 0)
                session_free(s);
        return NULL;
}

/* Every call for this session restarts the idle limit. */
void session_touch(Session *s) {
        if (s->idle_timer)
                (void) sd_event_source_set_time_relative(s->idle_timer, s->manager->config->session_idle_timeout_usec);
}

static void session_thaw(Session *s) {
        bool any = false;

        s->freeze_timer = sd_event_source_disable_unref(s->freeze_timer);
        for (size_t k = 0; k < s->n_members; k++) {
                SessionMember *mb = &s->members[k];

                if (mb->freeze != MEMBER_FREEZING && mb->freeze != MEMBER_FROZEN)
                        continue;
                /* Also cancels a freeze still in progress; its callback then reports -ECANCELED. */
                (void) engine_thaw(mb->instance->engine);
                mb->freeze = MEMBER_IDLE;
                any = true;
        }
        if (any) {
                members_emit_state(s);
                log_session(s, LOG_INFO, JETSNAP_MESSAGE_THAW, "Snapshot %" PRIu64 ": instances thawed",
                            s->snapshot->id);
        }
}

/* The session is over: remove the bus object now, and let go once no engine operation is left. */
static void session_end(Session *s) {
        Manager *m = s->manager;

        s->idle_timer = sd_event_source_disable_unref(s->idle_timer);
        s->freeze_timer = sd_event_source_disable_unref(s->freeze_timer);
        s->track = sd_bus_track_unref(s->track);
        if (s->published && m->bus) {
                (void) sd_bus_emit_object_removed(m->bus, s->object_path);
                s->published = false;
        }
        if (s->n_busy == 0)
                manager_session_finish(m, s);
        else
                manager_emit_session_changed(m);
}

/* Idle limit, owner gone, shutdown: abort from any state. */
void session_cancel(Session *s, const char *why) {
        SnapshotStep step;

        if (why)
                log_session(s, LOG_NOTICE, JETSNAP_MESSAGE_ABORT, "Snapshot %" PRIu64 " aborted: %s",
                            s->snapshot->id, why);
        snapshot_cancel(s->snapshot, &step);
        if (step.actions & SNAPSHOT_ACTION_THAW)
                session_thaw(s);
        if (s->freeze_call) {
                (void) sd_bus_reply_method_errorf(s->freeze_call, JETSNAP_ERROR_INVALID_SEQUENCE,
                                                  "snapshot %" PRIu64 " was aborted while freezing", s->snapshot->id);
                s->freeze_call = sd_bus_message_unref(s->freeze_call);
        }
        if (step.actions & SNAPSHOT_ACTION_END)
                session_end(s);
}

static int on_freeze_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        Session *s = userdata;
        SnapshotStep step;
        char buf[32];

        s->freeze_timer = sd_event_source_disable_unref(s->freeze_timer);
        snapshot_timeout(s->snapshot, &step);
        if (!(step.actions & SNAPSHOT_ACTION_THAW))
                return 0;
        if (s->freeze_call)
                log_session(s, LOG_WARNING, JETSNAP_MESSAGE_TIMEOUT,
                            "Snapshot %" PRIu64 " timed out: freezing took longer than %s, thawing",
                            s->snapshot->id,
                            format_duration(buf, sizeof(buf),
                                            MAX(s->timeout_usec, s->manager->config->freeze_timeout_usec)));
        else
                log_session(s, LOG_WARNING, JETSNAP_MESSAGE_TIMEOUT,
                            "Snapshot %" PRIu64 " timed out: frozen longer than %s, thawing", s->snapshot->id,
                            format_duration(buf, sizeof(buf), s->timeout_usec));
        session_thaw(s);
        if (s->freeze_call) {
                /* The freeze itself hung (a stuck fdatasync): answer now, not when the engine comes back. */
                (void) sd_bus_reply_method_errorf(s->freeze_call, JETSNAP_ERROR_TIME_OUT,
                                                  "snapshot %" PRIu64 " timed out while freezing", s->snapshot->id);
                s->freeze_call = sd_bus_message_unref(s->freeze_call);
        }
        session_emit_changed(s);
        return 0;
}

/*
 * The freeze window (ese-semantics.md, Freeze step 6): the timer starts
 * once every instance is frozen, so TimeoutUSec bounds the time the
 * instances stay frozen and "0" means: Freeze succeeds, then they thaw at
 * once. While the freeze itself is in progress a guard of the larger of
 * the session's and the daemon's timeout runs instead, so a freeze that
 * hangs (a stuck fdatasync) still cannot outlive its limit, while a tiny
 * TimeoutUSec does not make Freeze fail merely because the last log write
 * took longer than it.
 */
static int session_arm_freeze_timer(Session *s, uint64_t usec) {
        s->freeze_timer = sd_event_source_disable_unref(s->freeze_timer);
        return sd_event_add_time_relative(s->manager->event, &s->freeze_timer, CLOCK_MONOTONIC, usec, 1,
                                          on_freeze_timeout, s);
}

/* A failed engine step as a D-Bus error: the table's name where the errno has one. */
static int set_engine_error(sd_bus_error *error, int r, const char *instance, const char *what) {
        switch (r) {
        case -ENODATA:
                return sd_bus_error_setf(error, JETSNAP_ERROR_MISSING_FULL_BACKUP,
                                         "instance '%s' has no full backup recorded in every database", instance);
        case -EOPNOTSUPP:
                return sd_bus_error_setf(error, JETSNAP_ERROR_INVALID_BACKUP,
                                         "instance '%s' uses circular logging; incremental snapshots are not possible",
                                         instance);
        case -ESTALE:
                return sd_bus_error_setf(error, JETSNAP_ERROR_MISSING_FILE_TO_BACKUP,
                                         "instance '%s' is missing a log generation needed since the last backup",
                                         instance);
        case -EBUSY:
                return sd_bus_error_setf(error, JETSNAP_ERROR_NOT_ALLOWED, "instance '%s' is not running", instance);
        default:
                return bus_error_from_errno(error, r, "%s of instance '%s' failed: %s", what, instance, strerror(-r));
        }
}

static int session_build_members(Session *s) {
        s->members = calloc(MAX(s->snapshot->n_instances, (size_t) 1), sizeof(SessionMember));
        if (!s->members)
                return -ENOMEM;
        for (size_t k = 0; k < s->snapshot->n_instances; k++) {
                Instance *i = manager_find_instance(s->manager, s->snapshot->instances[k]);

                assert(i);
                s->members[s->n_members++] = (SessionMember) { .session = s, .instance = i };
        }
        return 0;
}

static void session_freeze_complete(Session *s) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = TAKE_PTR(s->freeze_call);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        EngineBackupKind kind = session_backup_kind(s);
        SnapshotStep step;
        bool ok = true;
        int r;

        for (size_t k = 0; k < s->n_members && ok; k++) {
                SessionMember *mb = &s->members[k];

                if (mb->freeze != MEMBER_FROZEN) {
                        ok = false;
                        (void) set_engine_error(&error, mb->error ?: -EIO, mb->instance->config->name, "Freeze");
                        break;
                }
                r = engine_backup_files(mb->instance->engine, kind, &mb->info, &mb->files);
                if (r < 0) {
                        ok = false;
                        (void) set_engine_error(&error, r, mb->instance->config->name, "Listing the backup files");
                }
        }

        r = snapshot_freeze_finished(s->snapshot, ok, &step);
        if (r < 0) {
                /*
                 * Ended while freezing (Abort, End(Abort), owner gone, idle): the freeze was undone
                 * then. session_cancel() answered the Freeze already; after Abort we answer it here.
                 */
                if (call)
                        (void) sd_bus_reply_method_errorf(call,
                                                          s->snapshot->state == SNAPSHOT_TIMED_OUT
                                                                  ? JETSNAP_ERROR_TIME_OUT
                                                                  : JETSNAP_ERROR_INVALID_SEQUENCE,
                                                          "%s", step.message);
                return;
        }

        if (!ok) {
                session_thaw(s);
                log_session(s, LOG_ERR, JETSNAP_MESSAGE_FREEZE_FAILED, "Snapshot %" PRIu64 ": freeze failed: %s",
                            s->snapshot->id, error.message);
                if (call)
                        (void) sd_bus_reply_method_error(call, &error);
                session_emit_changed(s);
                return;
        }

        s->frozen_usec = now_usec(CLOCK_REALTIME);
        r = session_arm_freeze_timer(s, s->timeout_usec);
        if (r < 0) {
                /* Without a timer the freeze could outlive its limit: refuse rather than risk it. */
                log_error_errno(r, "Failed to arm the freeze timer: %m");
                s->snapshot->state = SNAPSHOT_FREEZE_FAILED;
                session_thaw(s);
                if (call)
                        (void) sd_bus_reply_method_errnof(call, r, "Failed to arm the freeze timer: %m");
                session_emit_changed(s);
                return;
        }

        log_session(s, LOG_INFO, JETSNAP_MESSAGE_FREEZE_DONE, "Snapshot %" PRIu64 ": %zu instance(s) frozen",
                    s->snapshot->id, s->n_members);
        members_emit_state(s);
        session_emit_changed(s);
        if (!call)
                return;
        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = session_append_freeze_info(s, reply, true);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to reply to Freeze: %m");
}

static void on_member_frozen(Engine *e, int r, const EngineFreezeInfo *info, void *userdata) {
        SessionMember *mb = userdata;
        Session *s = mb->session;

        if (mb->freeze == MEMBER_FREEZING) {
                if (r >= 0) {
                        mb->freeze = MEMBER_FROZEN;
                        mb->info = *info;
                        if (!(s->snapshot->flags & JET_bitIncrementalSnapshot))
                                mb->gen_low = info->checkpoint_generation;
                } else {
                        mb->freeze = MEMBER_FAILED;
                        mb->error = r;
                }
        }
        /* else: thawed meanwhile (abort, shutdown); the result is stale. */

        if (--s->n_freezing == 0)
                session_freeze_complete(s);
        session_unref(s);
}

/* Freeze: checks first (nothing frozen on failure), then every instance in parallel; replies when all are back. */
static int session_freeze(Session *s, sd_bus_message *call, sd_bus_error *error) {
        EngineBackupKind kind = session_backup_kind(s);
        bool incremental = s->snapshot->flags & JET_bitIncrementalSnapshot;
        SnapshotStep step;
        int r = 0;

        r = session_build_members(s);
        for (size_t k = 0; r >= 0 && k < s->n_members; k++) {
                Instance *i = s->members[k].instance;
                EngineInfo info;

                if (!instance_is_running(i)) {
                        r = sd_bus_error_setf(error, JETSNAP_ERROR_NOT_ALLOWED, "instance '%s' is %s, not running",
                                              i->config->name, instance_state_to_string(instance_get_state(i)));
                        break;
                }
                if (!incremental)
                        continue;
                r = engine_check_backup(i->engine, kind);
                if (r < 0) {
                        r = set_engine_error(error, r, i->config->name, "Checking the backup");
                        break;
                }
                r = engine_get_info(i->engine, &info);
                if (r < 0) {
                        r = set_engine_error(error, r, i->config->name, "Freeze");
                        break;
                }
                s->members[k].gen_low = MAX(info.last_full.gen_high, info.last_incremental.gen_high) + 1;
        }
        if (r < 0) {
                (void) snapshot_freeze_finished(s->snapshot, false, &step);
                log_session(s, LOG_ERR, JETSNAP_MESSAGE_FREEZE_FAILED, "Snapshot %" PRIu64 ": freeze refused: %s",
                            s->snapshot->id, error->message ?: strerror(-r));
                session_emit_changed(s);
                return r;
        }

        r = session_arm_freeze_timer(s, MAX(s->timeout_usec, s->manager->config->freeze_timeout_usec));
        if (r < 0) {
                (void) snapshot_freeze_finished(s->snapshot, false, &step);
                session_emit_changed(s);
                return log_error_errno(r, "Failed to arm the freeze timer: %m");
        }
        log_session(s, LOG_INFO, JETSNAP_MESSAGE_FREEZE_START, "Snapshot %" PRIu64 ": freezing %zu instance(s)",
                    s->snapshot->id, s->n_members);
        s->freeze_call = sd_bus_message_ref(call);
        session_ref(s);         /* until the loop below is done: a synchronous failure must not complete early */
        s->n_freezing++;
        for (size_t k = 0; k < s->n_members; k++) {
                SessionMember *mb = &s->members[k];

                mb->freeze = MEMBER_FREEZING;
                r = engine_freeze(mb->instance->engine, on_member_frozen, mb);
                if (r < 0) {
                        mb->freeze = MEMBER_FAILED;
                        mb->error = r;
                        continue;
                }
                session_ref(s);
                s->n_freezing++;
        }
        members_emit_state(s);
        session_emit_changed(s);
        if (--s->n_freezing == 0)
                session_freeze_complete(s);
        session_unref(s);
        return 1;
}

typedef struct PendingCall {
        Session *session;
        sd_bus_message *message;
        SnapshotCall call;
        unsigned n_left;
        sd_bus_error error;
} PendingCall;

typedef struct PendingOp {
        PendingCall *call;
        SessionMember *member;
} PendingOp;

/* One engine operation of a call is back (or, with instance NULL, the caller's own count is dropped). */
static void pending_call_done(PendingCall *p, int r, const char *instance, const char *what) {
        Session *s = p->session;

        if (r < 0 && !sd_bus_error_is_set(&p->error))
                (void) set_engine_error(&p->error, r, instance, what);
        s->n_busy--;
        if (--p->n_left > 0)
                return;

        if (sd_bus_error_is_set(&p->error))
                (void) sd_bus_reply_method_error(p->message, &p->error);
        else
                (void) sd_bus_reply_method_return(p->message, NULL);
        if (s->snapshot->state == SNAPSHOT_ENDED && s->n_busy == 0)
                manager_session_finish(s->manager, s);
        sd_bus_error_free(&p->error);
        sd_bus_message_unref(p->message);
        session_unref(p->session);
        free(p);
}

static void on_truncated(Engine *e, int r, void *userdata) {
        PendingOp *op = userdata;
        Session *s = op->call->session;
        const char *name = op->member->instance->config->name;

        if (r > 0)
                log_session(s, LOG_INFO, JETSNAP_MESSAGE_LOGS_TRUNCATED,
                            "Snapshot %" PRIu64 ": instance '%s': %d log generation(s) below %" PRIu32 " deleted",
                            s->snapshot->id, name, r, op->member->info.checkpoint_generation);
        else if (r == 0)
                log_session(s, LOG_INFO, JETSNAP_MESSAGE_NOTHING_TRUNCATED,
                            "Snapshot %" PRIu64 ": instance '%s': no log generation to truncate", s->snapshot->id,
                            name);
        pending_call_done(op->call, r, name, "Log truncation");
        free(op);
}

static void on_recorded(Engine *e, int r, void *userdata) {
        PendingOp *op = userdata;

        if (r >= 0)
                instance_emit_changed(op->member->instance, "LastFullBackup", "LastIncrementalBackup");
        pending_call_done(op->call, r, op->member->instance->config->name, "Recording the backup");
        free(op);
}

static int pending_start(PendingCall *p, SessionMember *mb, bool record) {
        Session *s = p->session;
        PendingOp *op;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        *op = (PendingOp) { .call = p, .member = mb };
        if (record)
                r = engine_record_backup(mb->instance->engine, session_backup_kind(s), mb->gen_low,
                                         mb->info.closed_generation, now_usec(CLOCK_REALTIME), on_recorded, op);
        else
                r = engine_truncate_logs(mb->instance->engine, mb->info.checkpoint_generation, on_truncated, op);
        if (r < 0) {
                free(op);
                return set_engine_error(&p->error, r, mb->instance->config->name,
                                        record ? "Recording the backup" : "Log truncation");
        }
        p->n_left++;
        s->n_busy++;
        return 0;
}

/*
 * session_execute() - carry out the actions snapshot_call() decided.
 * @instance: TruncateLogInstance: the one instance to truncate.
 * @message: the method call; answered here when the answer needs engine IO.
 * Return: 1 the reply will be sent later; 0 done (the caller replies,
 * with the freeze info if step->actions has SNAPSHOT_ACTION_INFO);
 * negative errno with @reterr set.
 */
int session_execute(Session *s, SnapshotCall call, const SnapshotStep *step, const char *instance,
                    sd_bus_message *message, sd_bus_error *reterr) {
        _cleanup_(session_unrefp) Session *ref = session_ref(s);
        PendingCall *p = NULL;
        int r;

        if (step->actions & SNAPSHOT_ACTION_FREEZE)
                return session_freeze(s, message, reterr);

        if (step->actions & SNAPSHOT_ACTION_THAW)
                session_thaw(s);

        if (step->actions & (SNAPSHOT_ACTION_TRUNCATE | SNAPSHOT_ACTION_RECORD)) {
                p = calloc(1, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                *p = (PendingCall) { .session = session_ref(s), .message = sd_bus_message_ref(message), .call = call,
                                     .n_left = 1 /* ours, until everything is started */ };
                s->n_busy++;
        }
        for (size_t k = 0; (step->actions & SNAPSHOT_ACTION_TRUNCATE) && k < s->n_members; k++) {
                SessionMember *mb = &s->members[k];

                if (instance && !streq(instance, mb->instance->config->name))
                        continue;
                if (mb->instance->config->circular_logging) {
                        log_session(s, LOG_INFO, JETSNAP_MESSAGE_NOTHING_TRUNCATED,
                                    "Snapshot %" PRIu64 ": instance '%s' uses circular logging; nothing to truncate",
                                    s->snapshot->id, mb->instance->config->name);
                        continue;
                }
                r = pending_start(p, mb, false);
                if (r < 0)
                        break;
        }
        if (call == SNAPSHOT_CALL_TRUNCATE_LOG || call == SNAPSHOT_CALL_TRUNCATE_LOG_INSTANCE) {
                if (!(step->actions & SNAPSHOT_ACTION_TRUNCATE))
                        log_session(s, LOG_INFO, JETSNAP_MESSAGE_NOTHING_TRUNCATED,
                                    "Snapshot %" PRIu64 ": not every database was in the snapshot; no log truncated",
                                    s->snapshot->id);
        }
        for (size_t k = 0; (step->actions & SNAPSHOT_ACTION_RECORD) && k < s->n_members; k++)
                if (!sd_bus_error_is_set(&p->error))
                        (void) pending_start(p, &s->members[k], true);

        if (step->actions & SNAPSHOT_ACTION_END) {
                bool aborted = call == SNAPSHOT_CALL_ABORT;
                char kind[64] = "";

                if (step->actions & SNAPSHOT_ACTION_RECORD)
                        (void) snprintf(kind, sizeof(kind), ", recording a %s backup",
                                        engine_backup_kind_to_string(session_backup_kind(s)));
                log_session(s, LOG_INFO, aborted ? JETSNAP_MESSAGE_ABORT : JETSNAP_MESSAGE_END,
                            "Snapshot %" PRIu64 " %s%s", s->snapshot->id, aborted ? "aborted" : "ended", kind);
                session_end(s);
        }
        session_emit_changed(s);

        if (p) {
                /* Drop our own count: replies now if every operation failed to start or none was needed. */
                pending_call_done(p, 0, NULL, NULL);
                return 1;
        }
        return 0;
}
