/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "bus-errors.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

int manager_new(Config *config, const char *state_dir, bool user, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->user = user;
        m->state_dir = strdup(state_dir);
        if (!m->state_dir)
                return -ENOMEM;

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;

        r = snapshot_ids_open(&m->ids, state_dir);
        if (r < 0)
                return log_error_errno(r, "Failed to read the snapshot id mark in %s: %m", state_dir);

        m->instances = calloc(MAX(config->n_instances, (size_t) 1), sizeof(Instance *));
        if (!m->instances)
                return -ENOMEM;
        for (size_t k = 0; k < config->n_instances; k++) {
                r = instance_new(m, &config->instances[k], k + 1, &m->instances[k]);
                if (r < 0)
                        return r;
                m->n_instances++;
        }
        /* Last: on failure the caller still owns the config. */
        m->config = config;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        if (m->session) {
                session_cancel(m->session, NULL);
                if (m->session)
                        manager_session_finish(m, m->session);
        }
        for (size_t k = 0; k < m->n_instances; k++)
                instance_free(m->instances[k]);
        free(m->instances);
        m->name_timer = sd_event_source_disable_unref(m->name_timer);
        m->stop_check = sd_event_source_disable_unref(m->stop_check);
        if (m->bus)
                sd_bus_flush(m->bus);
        m->bus = sd_bus_flush_close_unref(m->bus);
        m->event = sd_event_unref(m->event);
        snapshot_ids_done(&m->ids);
        auth_cache_done(&m->auth);
        config_free(m->config);
        free(m->state_dir);
        free(m);
        return NULL;
}

Instance *manager_find_instance(Manager *m, const char *name) {
        for (size_t k = 0; k < m->n_instances; k++)
                if (streq(m->instances[k]->config->name, name))
                        return m->instances[k];
        return NULL;
}

void manager_update_status(Manager *m) {
        const char *state = "idle";
        char buf[128];

        if (m->stopping)
                state = "stopping";
        else if (m->n_opening > 0)
                state = "recovering";
        if (m->session && m->session->snapshot->state != SNAPSHOT_ENDED) {
                if (m->session->snapshot->state == SNAPSHOT_FROZEN)
                        (void) snprintf(buf, sizeof(buf), "frozen by snapshot %" PRIu64, m->session->snapshot->id);
                else
                        (void) snprintf(buf, sizeof(buf), "snapshot %" PRIu64 " %s", m->session->snapshot->id,
                                        snapshot_state_to_string(m->session->snapshot->state));
                state = buf;
        }
        (void) sd_notifyf(false, "STATUS=%zu instance%s, %s", m->n_instances, m->n_instances == 1 ? "" : "s", state);
}

/* Signals ActiveSnapshotId/State if they differ from what was signalled last (not on every call). */
void manager_emit_session_changed(Manager *m) {
        bool active = m->session && m->session->snapshot->state != SNAPSHOT_ENDED;
        uint64_t id = active ? m->session->snapshot->id : 0;
        const char *state = active ? snapshot_state_to_public_string(m->session->snapshot->state) : "";

        if (m->bus && (id != m->emitted_id || !streq(state, m->emitted_state ?: ""))) {
                (void) sd_bus_emit_properties_changed(m->bus, MANAGER_PATH, MANAGER_INTERFACE, "ActiveSnapshotId",
                                                      "ActiveSnapshotState", NULL);
                m->emitted_id = id;
                m->emitted_state = state;
        }
        manager_update_status(m);
}

/* The session is over and no engine operation is left: drop it. */
void manager_session_finish(Manager *m, Session *s) {
        if (m->session != s)
                return;
        m->session = NULL;
        manager_emit_session_changed(m);
        session_unref(s);
}

/* READY=1 once the name is ours and every instance has opened (or failed to). */
static void manager_check_ready(Manager *m) {
        if (m->ready || !m->name_acquired || m->n_opening > 0)
                return;
        m->ready = true;
        m->name_timer = sd_event_source_disable_unref(m->name_timer);
        log_info("Ready: %zu instance(s), bus name %s", m->n_instances, BUS_NAME);
        (void) sd_notify(false, "READY=1");
        manager_update_status(m);
}

static int on_name_acquired(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e) {
                log_error("Failed to acquire the bus name %s: %s", BUS_NAME, e->message ?: e->name);
                return sd_event_exit(m->event, EXIT_FAILURE);
        }
        m->name_acquired = true;
        manager_check_ready(m);
        return 0;
}

static void manager_request_name(Manager *m) {
        int r;

        if (m->name_requested)
                return;
        m->name_requested = true;
        if (sd_bus_is_bus_client(m->bus) <= 0) {
                /* A direct connection (tests): there are no names. */
                m->name_acquired = true;
                manager_check_ready(m);
                return;
        }
        r = sd_bus_request_name_async(m->bus, NULL, BUS_NAME, 0, on_name_acquired, m);
        if (r < 0) {
                log_error_errno(r, "Failed to request the bus name %s: %m", BUS_NAME);
                (void) sd_event_exit(m->event, EXIT_FAILURE);
        }
}

/*
 * Recovery is taking long: take the name so clients see the instances as
 * "recovering", and keep extending systemd's start timeout until READY=1.
 */
static int on_name_grace(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        if (!m->name_requested)
                log_notice("%u instance(s) still recovering; taking the bus name already", m->n_opening);
        manager_request_name(m);
        (void) sd_notifyf(false, "EXTEND_TIMEOUT_USEC=%" PRIu64, 3 * MANAGER_NAME_GRACE_USEC);
        (void) sd_event_source_set_time_relative(s, MANAGER_NAME_GRACE_USEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

void manager_instance_opened(Manager *m, Instance *i) {
        if (m->n_opening > 0 && --m->n_opening == 0)
                manager_request_name(m);
        manager_check_ready(m);
        manager_update_status(m);
}

/* Once every commit a client waits for is answered: close the engines (checkpoint) and leave the loop. */
static int on_stop_check(sd_event_source *source, void *userdata) {
        Manager *m = userdata;

        for (size_t k = 0; k < m->n_instances; k++)
                if (m->instances[k]->n_pending_commits > 0)
                        return 0;       /* on_committed() asks again */
        for (size_t k = 0; k < m->n_instances; k++)
                instance_stop(m->instances[k]);
        if (m->bus)
                (void) sd_bus_flush(m->bus);
        return sd_event_exit(m->event, EXIT_SUCCESS);
}

/* Called when a commit is answered; while stopping, look again from the loop (not from inside engine_dispatch()). */
void manager_commit_done(Manager *m) {
        if (m->stop_check)
                (void) sd_event_source_set_enabled(m->stop_check, SD_EVENT_ONESHOT);
}

/*
 * SIGTERM/SIGINT: abort the session (thawing), refuse new commits, let the
 * loop answer the commits still pending (they complete once thawed), then
 * close every engine, which checkpoints, and exit with 0.
 */
static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        int r;

        if (m->stopping)
                return 0;
        m->stopping = true;
        log_info("Stopping on signal %u", si->ssi_signo);
        manager_update_status(m);
        (void) sd_notify(false, "STOPPING=1");
        if (m->session)
                session_cancel(m->session, "jetsnapd is stopping");
        for (size_t k = 0; k < m->n_instances; k++) {
                m->instances[k]->stopping = true;
                instance_emit_changed(m->instances[k], "State");
        }
        r = sd_event_add_defer(m->event, &m->stop_check, on_stop_check, m);
        if (r < 0) {
                log_error_errno(r, "Failed to schedule the shutdown, stopping at once: %m");
                return on_stop_check(NULL, m);
        }
        return sd_event_source_set_enabled(m->stop_check, SD_EVENT_ONESHOT);
}

/*
 * manager_attach() - serve on @bus (the Manager takes a reference): the
 * object tree, then the instances, opened on worker threads. On a message
 * bus the name is requested once they are open; a direct connection (the
 * in-process tests use a socketpair) has no names.
 */
int manager_attach(Manager *m, sd_bus *bus) {
        int r;

        r = jetsnap_bus_error_map_register();
        if (r < 0)
                return r;
        m->bus = sd_bus_ref(bus);
        r = manager_register_objects(m, m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to register the bus objects: %m");
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");

        for (size_t k = 0; k < m->n_instances; k++) {
                r = instance_start(m->instances[k]);
                if (r < 0)
                        return log_error_errno(r, "Failed to start opening instance '%s': %m",
                                               m->instances[k]->config->name);
                m->n_opening++;
        }
        if (m->n_opening == 0)
                manager_request_name(m);
        else {
                /* Short recoveries finish before the name appears, so clients never see them; long ones show. */
                r = sd_event_add_time_relative(m->event, &m->name_timer, CLOCK_MONOTONIC, MANAGER_NAME_GRACE_USEC,
                                               0, on_name_grace, m);
                if (r < 0)
                        return r;
        }
        manager_update_status(m);
        return 0;
}

/* Signals, watchdog, the system (--user: session) bus, then manager_attach(). */
int manager_start(Manager *m) {
        /* Only unref: closing would cut the connection manager_attach() keeps a reference to. */
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        sigset_t mask;
        int r;

        (void) sigemptyset(&mask);
        (void) sigaddset(&mask, SIGTERM);
        (void) sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r < 0)
                return r;
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");

        r = m->user ? sd_bus_open_user_with_description(&bus, "jetsnapd")
                    : sd_bus_open_system_with_description(&bus, "jetsnapd");
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the %s bus: %m", m->user ? "session" : "system");
        /* Without the bus nobody can thaw or end a session: leave (manager_free() thaws) rather than linger. */
        r = sd_bus_set_exit_on_disconnect(bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set exit-on-disconnect: %m");
        return manager_attach(m, bus);
}

/* Return: the exit status the loop ended with (0 after SIGTERM), or negative errno. */
int manager_run(Manager *m) {
        int r = sd_event_loop(m->event);

        if (r > 0 && m->bus && sd_bus_is_open(m->bus) <= 0)
                log_error("Lost the connection to the bus; stopping");
        return r;
}
