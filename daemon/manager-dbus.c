/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * org.jetsnap1.Manager at /org/jetsnap1: the snapshot methods of
 * design.md §4 and the object tree. Each handler reads its arguments,
 * authorizes, lets snapshot.c decide, has session.c act, and replies.
 *
 * Clients must use a method-call timeout longer than the freeze timeout:
 * Commit replies wait, unacknowledged, while an instance is frozen.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "bus-errors.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

/* TimeoutUSec above this is refused: a freeze of a day is a mistake, not a backup. */
#define SESSION_TIMEOUT_MAX_USEC (UINT64_C(24) * 3600 * 1000000)

int bus_error_from_errno(sd_bus_error *error, int r, const char *format, ...) {
        _cleanup_free_ char *message = NULL;
        const char *name = jetsnap_bus_error_name_from_errno(r);
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&message, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        if (name)
                return sd_bus_error_set(error, name, message);
        return sd_bus_error_set_errnof(error, r, "%s", message);
}

static int check_snapshot_access(Manager *m, sd_bus_message *message, const char *what, sd_bus_error *error) {
        return auth_check(&m->auth, message, m->config->allowed_gids, m->config->n_allowed_gids, what, error);
}

static const char *prepare_kind(uint32_t flags) {
        if ((flags & JET_bitIncrementalSnapshot) && (flags & JET_bitCopySnapshot))
                return "incremental copy";
        if (flags & JET_bitIncrementalSnapshot)
                return "incremental";
        if (flags & JET_bitCopySnapshot)
                return "copy";
        return "full";
}

static int parse_options(sd_bus_message *message, uint64_t *timeout_usec, bool *bind, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(message, 'a', "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                const char *key;

                r = sd_bus_message_enter_container(message, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_read(message, "s", &key);
                if (r < 0)
                        return r;

                if (streq(key, "TimeoutUSec")) {
                        if (sd_bus_message_verify_type(message, 'v', "t") <= 0)
                                return sd_bus_error_set(error, JETSNAP_ERROR_INVALID_PARAMETER,
                                                        "option TimeoutUSec must be a variant of type t");
                        r = sd_bus_message_read(message, "v", "t", timeout_usec);
                        if (r < 0)
                                return r;
                        if (*timeout_usec > SESSION_TIMEOUT_MAX_USEC)
                                return sd_bus_error_setf(error, JETSNAP_ERROR_INVALID_PARAMETER,
                                                         "option TimeoutUSec %" PRIu64 " exceeds 24 h",
                                                         *timeout_usec);
                } else if (streq(key, "BindToCaller")) {
                        int b;

                        if (sd_bus_message_verify_type(message, 'v', "b") <= 0)
                                return sd_bus_error_set(error, JETSNAP_ERROR_INVALID_PARAMETER,
                                                        "option BindToCaller must be a variant of type b");
                        r = sd_bus_message_read(message, "v", "b", &b);
                        if (r < 0)
                                return r;
                        *bind = b;
                } else
                        return sd_bus_error_setf(error, JETSNAP_ERROR_INVALID_PARAMETER,
                                                 "unknown option '%s' (known: TimeoutUSec, BindToCaller)", key);

                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(message);
}

static int prepare(sd_bus_message *message, Manager *m, bool with_options, sd_bus_error *error) {
        _cleanup_(snapshot_freep) Snapshot *snapshot = NULL;
        _cleanup_free_ char **running = NULL;
        _cleanup_free_ char *names = NULL;
        uint64_t timeout_usec = m->config->freeze_timeout_usec;
        Session *s = NULL;
        bool bind = false;
        SnapshotStep step;
        size_t n = 0;
        uint32_t flags;
        int r;

        r = check_snapshot_access(m, message, "Prepare", error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "u", &flags);
        if (r < 0)
                return r;
        if (with_options) {
                r = parse_options(message, &timeout_usec, &bind, error);
                if (r < 0)
                        return r;
        }

        /* Instances recovering, failed or stopping are left out silently (ese-semantics.md). */
        running = calloc(m->n_instances + 1, sizeof(char *));
        if (!running)
                return -ENOMEM;
        for (size_t k = 0; k < m->n_instances; k++)
                if (instance_is_running(m->instances[k]))
                        running[n++] = m->instances[k]->config->name;

        /* The id is taken only once Prepare is known to succeed. */
        r = snapshot_prepare(m->session ? m->session->snapshot : NULL, 0, flags, running, &snapshot, &step);
        if (r < 0)
                return bus_error_from_errno(error, r, "%s", step.message);
        r = snapshot_ids_next(&m->ids, &snapshot->id);
        if (r < 0)
                return bus_error_from_errno(error, r, "Failed to allocate a snapshot id: %s", strerror(-r));

        r = session_new(m, snapshot, message, timeout_usec, bind, &s);
        if (r < 0)
                return r;
        TAKE_PTR(snapshot);
        m->session = s;
        s->published = true;
        (void) sd_bus_emit_object_added(m->bus, s->object_path);
        manager_emit_session_changed(m);

        names = session_instances_string(s);
        log_snapshot(LOG_INFO, JETSNAP_MESSAGE_PREPARE, s->snapshot->id, names,
                     "Snapshot %" PRIu64 " prepared: %s, flags 0x%" PRIx32 ", instances: %s, owner %s",
                     s->snapshot->id, prepare_kind(flags), flags, isempty(names) ? "(none)" : names, s->owner);
        return sd_bus_reply_method_return(message, "t", s->snapshot->id);
}

static int method_prepare(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return prepare(message, userdata, false, error);
}

static int method_prepare_with_options(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return prepare(message, userdata, true, error);
}

/* Every method on an existing session: PrepareInstance, Freeze, GetFreezeInfo, Thaw, TruncateLog[Instance], Abort, End. */
static int session_method(sd_bus_message *message, Manager *m, SnapshotCall call, bool with_instance,
                          sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *instance = NULL;
        Session *s = m->session;
        SnapshotCallArgs args = { .call = call };
        SnapshotStep step;
        int r, k;

        r = check_snapshot_access(m, message, snapshot_call_to_string(call), error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "t", &args.id);
        if (r < 0)
                return r;
        if (with_instance) {
                r = sd_bus_message_read(message, "s", &instance);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_read(message, "u", &args.flags);
        if (r < 0)
                return r;

        if (instance) {
                Instance *i = manager_find_instance(m, instance);

                /* An unknown name is an argument error, like the grbits: before the id. */
                if (!i)
                        return sd_bus_error_setf(error, JETSNAP_ERROR_INVALID_PARAMETER, "no instance named '%s'",
                                                 instance);
                args.instance = instance;
                args.instance_running = instance_is_running(i);
        }

        if (s && s->snapshot->id == args.id)
                session_touch(s);
        r = snapshot_call(s ? s->snapshot : NULL, &args, &step);
        if (r >= 0 && call == SNAPSHOT_CALL_PREPARE_INSTANCE) {
                log_snapshot(LOG_INFO, JETSNAP_MESSAGE_PREPARE_INSTANCE, s->snapshot->id, instance,
                             "Snapshot %" PRIu64 ": instance '%s' added", s->snapshot->id, instance);
                (void) sd_bus_emit_properties_changed(m->bus, s->object_path, SNAPSHOT_INTERFACE, "Instances", NULL);
        }

        if (step.actions != 0) {
                if (call == SNAPSHOT_CALL_END && (args.flags & JET_bitAbortSnapshot))
                        call = SNAPSHOT_CALL_ABORT;
                /* Acts on the engines and may end (and free) the session: s is not used after this. */
                k = session_execute(s, call, &step, instance, message, error);
                if (k < 0)
                        return k;
                if (k > 0)
                        return 1;
        }
        if (r < 0)
                return bus_error_from_errno(error, r, "%s", step.message);

        if (call != SNAPSHOT_CALL_GET_FREEZE_INFO)
                return sd_bus_reply_method_return(message, NULL);
        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = session_append_freeze_info(s, reply, step.actions & SNAPSHOT_ACTION_INFO);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_prepare_instance(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return session_method(message, userdata, SNAPSHOT_CALL_PREPARE_INSTANCE, true, error);
}

static int method_freeze(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return session_method(message, userdata, SNAPSHOT_CALL_FREEZE, false, error);
}

static int method_get_freeze_info(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return session_method(message, userdata, SNAPSHOT_CALL_GET_FREEZE_INFO, false, error);
}

static int method_thaw(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return session_method(message, userdata, SNAPSHOT_CALL_THAW, false, error);
}

static int method_truncate_log(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return session_method(message, userdata, SNAPSHOT_CALL_TRUNCATE_LOG, false, error);
}

static int method_truncate_log_instance(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return session_method(message, userdata, SNAPSHOT_CALL_TRUNCATE_LOG_INSTANCE, true, error);
}

static int method_abort(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return session_method(message, userdata, SNAPSHOT_CALL_ABORT, false, error);
}

static int method_end(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return session_method(message, userdata, SNAPSHOT_CALL_END, false, error);
}

static int method_list_instances(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(so)");
        if (r < 0)
                return r;
        for (size_t k = 0; k < m->n_instances; k++) {
                r = sd_bus_message_append(reply, "(so)", m->instances[k]->config->name,
                                          m->instances[k]->object_path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static bool session_active(Manager *m) {
        return m->session && m->session->snapshot->state != SNAPSHOT_ENDED;
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        if (streq(property, "Version"))
                return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
        if (streq(property, "FreezeTimeoutUSec"))
                return sd_bus_message_append(reply, "t", m->config->freeze_timeout_usec);
        if (streq(property, "ActiveSnapshotId"))
                return sd_bus_message_append(reply, "t", session_active(m) ? m->session->snapshot->id : UINT64_C(0));
        return sd_bus_message_append(reply, "s",
                                     session_active(m) ? snapshot_state_to_public_string(m->session->snapshot->state) : "");
}

/* Authorization is ours (auth.c), not sd-bus's capability check: every method is UNPRIVILEGED here. */
const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("FreezeTimeoutUSec", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ActiveSnapshotId", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ActiveSnapshotState", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Prepare", SD_BUS_ARGS("u", flags), SD_BUS_RESULT("t", snapshot_id), method_prepare,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PrepareWithOptions", SD_BUS_ARGS("u", flags, "a{sv}", options),
                                SD_BUS_RESULT("t", snapshot_id), method_prepare_with_options,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PrepareInstance", SD_BUS_ARGS("t", snapshot_id, "s", instance, "u", flags),
                                SD_BUS_NO_RESULT, method_prepare_instance, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Freeze", SD_BUS_ARGS("t", snapshot_id, "u", flags),
                                SD_BUS_RESULT("a(tsa(ss)sas)", instances), method_freeze,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetFreezeInfo", SD_BUS_ARGS("t", snapshot_id, "u", flags),
                                SD_BUS_RESULT("a(tsa(ss)sas)", instances), method_get_freeze_info,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Thaw", SD_BUS_ARGS("t", snapshot_id, "u", flags), SD_BUS_NO_RESULT, method_thaw,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("TruncateLog", SD_BUS_ARGS("t", snapshot_id, "u", flags), SD_BUS_NO_RESULT,
                                method_truncate_log, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("TruncateLogInstance", SD_BUS_ARGS("t", snapshot_id, "s", instance, "u", flags),
                                SD_BUS_NO_RESULT, method_truncate_log_instance, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Abort", SD_BUS_ARGS("t", snapshot_id, "u", flags), SD_BUS_NO_RESULT, method_abort,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("End", SD_BUS_ARGS("t", snapshot_id, "u", flags), SD_BUS_NO_RESULT, method_end,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListInstances", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(so)", instances),
                                method_list_instances, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* The whole object tree; also used on a private connection by --bus-introspect. */
int manager_register_objects(Manager *m, sd_bus *bus) {
        int r;

        r = sd_bus_add_object_vtable(bus, NULL, MANAGER_PATH, MANAGER_INTERFACE, manager_vtable, m);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(bus, NULL, INSTANCE_PATH_PREFIX, INSTANCE_INTERFACE, instance_vtable,
                                       instance_object_find, m);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(bus, NULL, INSTANCE_PATH_PREFIX, instance_node_enumerator, m);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(bus, NULL, SNAPSHOT_PATH_PREFIX, SNAPSHOT_INTERFACE, session_vtable,
                                       session_object_find, m);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(bus, NULL, SNAPSHOT_PATH_PREFIX, session_node_enumerator, m);
        if (r < 0)
                return r;
        return sd_bus_add_object_manager(bus, NULL, MANAGER_PATH);
}
