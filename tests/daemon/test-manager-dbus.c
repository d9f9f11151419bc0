/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The daemon's bus objects in-process, with no dbus-daemon: a Manager from
 * jetsnapd-core serves one end of a socketpair, the test is the client on
 * the other end, and both run on the Manager's event loop. Cheap enough for
 * the unit suite and for valgrind (CK_FORK=no).
 */

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bus-errors.h"
#include "bus-introspect.h"
#include "config.h"
#include "macro.h"
#include "manager.h"
#include "check-run.h"

#define PATH_A "/org/jetsnap1/instance/a"

static char dir[] = "/tmp/test-manager-dbus-XXXXXX";
static bool fail_b_archive;
static volatile int hang_b_archive;     /* set: b's archive rename blocks (on the engine's writer thread) */
static volatile int hang_b_open;        /* set: opening b's files blocks (on its recovery thread) */
static EngineIO faulty_io;
static Manager *manager;
static sd_bus *client;

typedef struct Reply {
        bool done;
        sd_bus_message *message;
} Reply;

static uint64_t now_usec(void) {
        struct timespec ts;

        ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* Runs the loop until *done; sd-bus dispatches one message per iteration. */
static void run_until(const bool *done) {
        /* The deadline only turns a hang into a failure. */
        uint64_t deadline = now_usec() + 60 * USEC_PER_SEC;

        while (!*done) {
                ck_assert_uint_lt(now_usec(), deadline);
                ck_assert_int_ge(sd_event_run(manager->event, 10 * USEC_PER_MSEC), 0);
        }
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Reply *r = userdata;

        r->message = sd_bus_message_ref(m);
        r->done = true;
        return 0;
}

static void call_async(Reply *reply, const char *path, const char *interface, const char *member,
                       const char *types, ...) {
        va_list ap;
        int r;

        *reply = (Reply) {};
        va_start(ap, types);
        r = sd_bus_call_method_asyncv(client, NULL, NULL, path, interface, member, on_reply, reply, types, ap);
        va_end(ap);
        ck_assert_int_ge(r, 0);
}

/* Waits for the reply; returns the error name, or NULL on success (reply left in *reply). */
#define CALL(reply, path, interface, member, ...)                                    \
        ({                                                                          \
                call_async((reply), (path), (interface), (member), __VA_ARGS__);    \
                run_until(&(reply)->done);                                          \
                const sd_bus_error *_e = sd_bus_message_get_error((reply)->message);\
                _e ? _e->name : NULL;                                               \
        })
#define MANAGER(reply, member, ...) CALL(reply, MANAGER_PATH, MANAGER_INTERFACE, member, __VA_ARGS__)

/*
 * Prepare(ContinueAfterThaw) with a freeze window far beyond any test: the
 * config's 2 s (there for the hung-freeze test) would otherwise thaw a slow
 * run under valgrind in the middle of a test that needs the freeze.
 */
#define PREPARE_LONG(reply) \
        MANAGER(reply, "PrepareWithOptions", "ua{sv}", (uint32_t) 0x4, 1, "TimeoutUSec", "t", \
                (uint64_t) (600 * USEC_PER_SEC))

/* Commit of one put; built by hand because sd_bus_message_append() takes arrays element by element. */
static void commit_async(Reply *reply, const char *key, const void *value, size_t value_size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        *reply = (Reply) {};
        ck_assert_int_ge(sd_bus_message_new_method_call(client, &m, NULL, PATH_A, INSTANCE_INTERFACE, "Commit"), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "(yssayay)"), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'r', "yssayay"), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "yss", 'p', "main", "t"), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', key, strlen(key)), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', value, value_size), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        ck_assert_int_ge(sd_bus_call_async(client, NULL, m, on_reply, reply, 0), 0);
}

static void reply_done(Reply *r) {
        r->message = sd_bus_message_unref(r->message);
}

/* Fails the rename that archives instance b's jet.log (what a freeze does) while fail_b_archive is set. */
static int faulty_rename(void *userdata, const char *from, const char *to) {
        const char *suffix = "/b/logs/jet.log";
        size_t n = strlen(from), k = strlen(suffix);

        if (fail_b_archive && n >= k && streq(from + n - k, suffix))
                return -EIO;
        while (hang_b_archive && n >= k && streq(from + n - k, suffix))
                (void) usleep(1000);
        return engine_io_default.rename(engine_io_default.userdata, from, to);
}

static int faulty_open(void *userdata, const char *path, int flags, mode_t mode) {
        char prefix[128];

        snprintf(prefix, sizeof(prefix), "%s/b/", dir);
        while (hang_b_open && strncmp(path, prefix, strlen(prefix)) == 0)
                (void) usleep(1000);
        return engine_io_default.open(engine_io_default.userdata, path, flags, mode);
}

static void start(bool recovering_b) {
        _cleanup_free_ char *yaml = NULL, *message = NULL;
        sd_bus *server = NULL;
        Config *config = NULL;
        char path[128];
        sd_id128_t id;
        int fds[2];
        FILE *f;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/jetsnapd.yaml", dir);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f,
                /* Short, so that a freeze that hangs is cut off by the daemon-wide limit within the test. */
                "snapshot:\n"
                "  freeze-timeout: 2s\n"
                "instances:\n"
                "  - name: a\n"
                "    path: %s/a\n"
                "    databases:\n"
                "      - name: main\n"
                "        path: %s/a/main.jdb\n"
                "  - name: b\n"
                "    path: %s/b\n"
                "    databases:\n"
                "      - name: main\n"
                "        path: %s/b/main.jdb\n",
                dir, dir, dir, dir);
        fclose(f);
        ck_assert_int_eq(config_load(path, dir, &config, &message), 0);
        ck_assert_int_eq(manager_new(config, dir, false, &manager), 0);
        faulty_io = engine_io_default;
        faulty_io.rename = faulty_rename;
        faulty_io.open = faulty_open;
        fail_b_archive = false;
        hang_b_archive = 0;
        hang_b_open = recovering_b;
        manager->engine_io = &faulty_io;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_eq(sd_id128_randomize(&id), 0);
        ck_assert_int_ge(sd_bus_new(&server), 0);
        ck_assert_int_ge(sd_bus_set_fd(server, fds[0], fds[0]), 0);
        ck_assert_int_ge(sd_bus_set_server(server, true, id), 0);
        ck_assert_int_ge(sd_bus_set_anonymous(server, true), 0);
        ck_assert_int_ge(sd_bus_start(server), 0);
        ck_assert_int_eq(manager_attach(manager, server), 0);
        sd_bus_unref(server);

        ck_assert_int_ge(sd_bus_new(&client), 0);
        ck_assert_int_ge(sd_bus_set_fd(client, fds[1], fds[1]), 0);
        ck_assert_int_ge(sd_bus_set_anonymous(client, true), 0);
        ck_assert_int_ge(sd_bus_start(client), 0);
        ck_assert_int_ge(sd_bus_attach_event(client, manager->event, SD_EVENT_PRIORITY_NORMAL), 0);

        for (uint64_t deadline = now_usec() + 60 * USEC_PER_SEC;
             !instance_is_running(manager->instances[0]) ||
             (!recovering_b && !instance_is_running(manager->instances[1]));) {
                ck_assert_uint_lt(now_usec(), deadline);
                ck_assert_int_ge(sd_event_run(manager->event, 10 * USEC_PER_MSEC), 0);
        }
}

static void setup(void) {
        start(false);
}

static void setup_recovering(void) {
        start(true);
}

static void teardown(void) {
        char cmd[128];

        hang_b_archive = 0;
        hang_b_open = 0;
        client = sd_bus_flush_close_unref(client);
        manager = manager_free(manager);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
        strcpy(dir, "/tmp/test-manager-dbus-XXXXXX");
}

START_TEST(test_snapshot_cycle) {
        Reply r;
        uint64_t id;
        const char *name;

        ck_assert_str_eq(MANAGER(&r, "Prepare", "u", (uint32_t) 0x10), JETSNAP_ERROR_INVALID_PARAMETER);
        reply_done(&r);
        ck_assert_ptr_null(PREPARE_LONG(&r));
        ck_assert_int_ge(sd_bus_message_read(r.message, "t", &id), 0);
        ck_assert_uint_gt(id, 0);
        reply_done(&r);
        ck_assert_str_eq(MANAGER(&r, "Prepare", "u", (uint32_t) 0), JETSNAP_ERROR_INVALID_SEQUENCE);
        reply_done(&r);

        ck_assert_ptr_null(MANAGER(&r, "Freeze", "tu", id, (uint32_t) 0));
        ck_assert_int_eq(sd_bus_message_enter_container(r.message, 'a', "(tsa(ss)sas)"), 1);
        ck_assert_int_eq(sd_bus_message_enter_container(r.message, 'r', "tsa(ss)sas"), 1);
        ck_assert_int_ge(sd_bus_message_read(r.message, "ts", &(uint64_t) { 0 }, &name), 0);
        ck_assert_str_eq(name, "a");
        reply_done(&r);
        ck_assert_int_eq(instance_get_state(manager->instances[0]), INSTANCE_FROZEN);
        ck_assert_str_eq(MANAGER(&r, "Freeze", "tu", id, (uint32_t) 0), JETSNAP_ERROR_INVALID_SEQUENCE);
        reply_done(&r);
        ck_assert_str_eq(MANAGER(&r, "End", "tu", id, (uint32_t) 0), JETSNAP_ERROR_INVALID_SEQUENCE);
        reply_done(&r);
        ck_assert_ptr_null(MANAGER(&r, "Thaw", "tu", id, (uint32_t) 0));
        reply_done(&r);
        ck_assert_int_eq(instance_get_state(manager->instances[0]), INSTANCE_RUNNING);
        ck_assert_ptr_null(MANAGER(&r, "TruncateLog", "tu", id, (uint32_t) 1));
        reply_done(&r);
        ck_assert_ptr_null(MANAGER(&r, "End", "tu", id, (uint32_t) 0));
        reply_done(&r);
        ck_assert_str_eq(MANAGER(&r, "End", "tu", id, (uint32_t) 0), JETSNAP_ERROR_INVALID_SNAP_ID);
        reply_done(&r);
        ck_assert_ptr_null(manager->session);
}
END_TEST

/* One instance fails to freeze: the other one, frozen already, is thawed and runs on; nothing is recorded. */
START_TEST(test_failed_freeze_thaws_the_others) {
        Reply r, commit;
        uint64_t id;

        ck_assert_ptr_null(MANAGER(&r, "Prepare", "u", (uint32_t) 0x4));
        ck_assert_int_ge(sd_bus_message_read(r.message, "t", &id), 0);
        reply_done(&r);
        fail_b_archive = true;
        ck_assert_ptr_nonnull(MANAGER(&r, "Freeze", "tu", id, (uint32_t) 0));
        ck_assert_ptr_nonnull(strstr(sd_bus_message_get_error(r.message)->message, "'b'"));
        reply_done(&r);
        fail_b_archive = false;
        ck_assert_int_eq(manager->session->snapshot->state, SNAPSHOT_FREEZE_FAILED);
        ck_assert_int_eq(instance_get_state(manager->instances[0]), INSTANCE_RUNNING);

        commit_async(&commit, "after", "1", 1);
        run_until(&commit.done);
        ck_assert_ptr_null(sd_bus_message_get_error(commit.message));
        reply_done(&commit);

        ck_assert_str_eq(MANAGER(&r, "Thaw", "tu", id, (uint32_t) 0), JETSNAP_ERROR_INVALID_SEQUENCE);
        reply_done(&r);
        ck_assert_ptr_null(MANAGER(&r, "End", "tu", id, (uint32_t) 0));
        reply_done(&r);
        ck_assert_ptr_null(manager->session);
}
END_TEST

/*
 * A freeze that hangs (a stuck disk) still ends, at the larger of the session's and the daemon's
 * timeout: Freeze answers TimeOut, the rest is thawed.
 */
START_TEST(test_hung_freeze_times_out) {
        Reply r, freeze;
        const char *state;
        uint64_t id;

        ck_assert_ptr_null(MANAGER(&r, "PrepareWithOptions", "ua{sv}", (uint32_t) 0x4, 1, "TimeoutUSec", "t",
                                   (uint64_t) (200 * USEC_PER_MSEC)));
        ck_assert_int_ge(sd_bus_message_read(r.message, "t", &id), 0);
        reply_done(&r);
        hang_b_archive = 1;
        call_async(&freeze, MANAGER_PATH, MANAGER_INTERFACE, "Freeze", "tu", id, (uint32_t) 0);
        /* While the freeze is in progress the bus shows one of the six states of ese-semantics.md. */
        ck_assert_ptr_null(CALL(&r, MANAGER_PATH, "org.freedesktop.DBus.Properties", "Get", "ss",
                                MANAGER_INTERFACE, "ActiveSnapshotState"));
        ck_assert_int_eq(manager->session->snapshot->state, SNAPSHOT_FREEZING);
        ck_assert_int_ge(sd_bus_message_read(r.message, "v", "s", &state), 0);
        ck_assert_str_eq(state, "prepared");
        reply_done(&r);
        run_until(&freeze.done);
        ck_assert_ptr_nonnull(sd_bus_message_get_error(freeze.message));
        ck_assert_str_eq(sd_bus_message_get_error(freeze.message)->name, JETSNAP_ERROR_TIME_OUT);
        reply_done(&freeze);
        ck_assert_int_eq(manager->session->snapshot->state, SNAPSHOT_TIMED_OUT);
        ck_assert_int_eq(instance_get_state(manager->instances[0]), INSTANCE_RUNNING);

        hang_b_archive = 0;
        ck_assert_str_eq(MANAGER(&r, "Thaw", "tu", id, (uint32_t) 0), JETSNAP_ERROR_TIME_OUT);
        reply_done(&r);
        ck_assert_str_eq(MANAGER(&r, "End", "tu", id, (uint32_t) 0), JETSNAP_ERROR_TIME_OUT);
        reply_done(&r);
        ck_assert_str_eq(MANAGER(&r, "End", "tu", id, (uint32_t) 0), JETSNAP_ERROR_INVALID_SNAP_ID);
        reply_done(&r);
        /* Once the disk answers, b runs on as well. */
        for (uint64_t deadline = now_usec() + 60 * USEC_PER_SEC; !instance_is_running(manager->instances[1]);) {
                ck_assert_uint_lt(now_usec(), deadline);
                ck_assert_int_ge(sd_event_run(manager->event, 10 * USEC_PER_MSEC), 0);
        }
}
END_TEST

/* An instance still recovering: visible as such, left out of a session, data calls refused with a reason. */
START_TEST(test_recovering_instance) {
        Reply r;
        const char *state;
        uint64_t id;

        ck_assert_int_eq(instance_get_state(manager->instances[1]), INSTANCE_RECOVERING);
        ck_assert_ptr_null(CALL(&r, "/org/jetsnap1/instance/b", "org.freedesktop.DBus.Properties", "Get", "ss",
                                INSTANCE_INTERFACE, "State"));
        ck_assert_int_ge(sd_bus_message_read(r.message, "v", "s", &state), 0);
        ck_assert_str_eq(state, "recovering");
        reply_done(&r);
        ck_assert_str_eq(CALL(&r, "/org/jetsnap1/instance/b", INSTANCE_INTERFACE, "Get", "ssay", "main", "t", 1, 'k'),
                         JETSNAP_ERROR_NOT_ALLOWED);
        reply_done(&r);

        ck_assert_ptr_null(MANAGER(&r, "Prepare", "u", (uint32_t) 0x4));
        ck_assert_int_ge(sd_bus_message_read(r.message, "t", &id), 0);
        reply_done(&r);
        ck_assert_uint_eq(manager->session->snapshot->n_instances, 1);
        ck_assert_str_eq(manager->session->snapshot->instances[0], "a");
        ck_assert_ptr_null(MANAGER(&r, "Abort", "tu", id, (uint32_t) 0));
        reply_done(&r);
        ck_assert_ptr_null(MANAGER(&r, "Prepare", "u", (uint32_t) 0xc));
        ck_assert_int_ge(sd_bus_message_read(r.message, "t", &id), 0);
        reply_done(&r);
        ck_assert_str_eq(MANAGER(&r, "PrepareInstance", "tsu", id, "b", (uint32_t) 0), JETSNAP_ERROR_NOT_ALLOWED);
        reply_done(&r);
        ck_assert_ptr_null(MANAGER(&r, "Abort", "tu", id, (uint32_t) 0));
        reply_done(&r);

        hang_b_open = 0;
        for (uint64_t deadline = now_usec() + 60 * USEC_PER_SEC; !instance_is_running(manager->instances[1]);) {
                ck_assert_uint_lt(now_usec(), deadline);
                ck_assert_int_ge(sd_event_run(manager->event, 10 * USEC_PER_MSEC), 0);
        }
        ck_assert_str_eq(CALL(&r, "/org/jetsnap1/instance/b", INSTANCE_INTERFACE, "Get", "ssay", "main", "t", 1, 'k'),
                         JETSNAP_ERROR_RECORD_NOT_FOUND);
        reply_done(&r);
}
END_TEST

START_TEST(test_commit_waits_for_thaw) {
        Reply commit, r;
        uint64_t id, lsn;

        ck_assert_ptr_null(PREPARE_LONG(&r));
        ck_assert_int_ge(sd_bus_message_read(r.message, "t", &id), 0);
        reply_done(&r);
        ck_assert_ptr_null(MANAGER(&r, "Freeze", "tu", id, (uint32_t) 0));
        reply_done(&r);

        commit_async(&commit, "k", "v", 1);
        /* Answered in order: had the commit been acknowledged, its reply would be here first. */
        ck_assert_str_eq(CALL(&r, PATH_A, INSTANCE_INTERFACE, "Get", "ssay", "main", "t", 1, 'k'),
                         JETSNAP_ERROR_RECORD_NOT_FOUND);
        reply_done(&r);
        ck_assert(!commit.done);

        ck_assert_ptr_null(MANAGER(&r, "Thaw", "tu", id, (uint32_t) 0));
        reply_done(&r);
        run_until(&commit.done);
        ck_assert_ptr_null(sd_bus_message_get_error(commit.message));
        ck_assert_int_ge(sd_bus_message_read(commit.message, "t", &lsn), 0);
        ck_assert_uint_gt(lsn, 0);
        reply_done(&commit);
        ck_assert_ptr_null(CALL(&r, PATH_A, INSTANCE_INTERFACE, "Get", "ssay", "main", "t", 1, 'k'));
        reply_done(&r);
        ck_assert_ptr_null(MANAGER(&r, "End", "tu", id, (uint32_t) 0));
        reply_done(&r);
}
END_TEST

/* While frozen, commits pile up; past the per-instance limit a client gets OutOfThreads, not unbounded memory use. */
START_TEST(test_pending_commits_limit) {
        Reply *commits = calloc(INSTANCE_PENDING_COMMITS_MAX + 1, sizeof(Reply));
        Reply r, *last;
        uint64_t id;

        ck_assert_ptr_nonnull(commits);
        ck_assert_ptr_null(PREPARE_LONG(&r));
        ck_assert_int_ge(sd_bus_message_read(r.message, "t", &id), 0);
        reply_done(&r);
        ck_assert_ptr_null(MANAGER(&r, "Freeze", "tu", id, (uint32_t) 0));
        reply_done(&r);

        for (size_t k = 0; k <= INSTANCE_PENDING_COMMITS_MAX; k++)
                commit_async(&commits[k], "k", "v", 1);
        last = &commits[INSTANCE_PENDING_COMMITS_MAX];
        run_until(&last->done);
        ck_assert_ptr_nonnull(sd_bus_message_get_error(last->message));
        ck_assert_str_eq(sd_bus_message_get_error(last->message)->name, JETSNAP_ERROR_OUT_OF_THREADS);
        ck_assert_uint_eq(manager->instances[0]->n_pending_commits, INSTANCE_PENDING_COMMITS_MAX);
        ck_assert(!commits[0].done);

        ck_assert_ptr_null(MANAGER(&r, "Thaw", "tu", id, (uint32_t) 0));
        reply_done(&r);
        for (size_t k = 0; k <= INSTANCE_PENDING_COMMITS_MAX; k++) {
                run_until(&commits[k].done);
                if (k < INSTANCE_PENDING_COMMITS_MAX)
                        ck_assert_ptr_null(sd_bus_message_get_error(commits[k].message));
                reply_done(&commits[k]);
        }
        ck_assert_uint_eq(manager->instances[0]->n_pending_commits, 0);
        ck_assert_ptr_null(MANAGER(&r, "End", "tu", id, (uint32_t) 0));
        reply_done(&r);
        free(commits);
}
END_TEST

/* Big commits waiting on a freeze are bounded by bytes too: their messages stay in memory until answered. */
START_TEST(test_pending_bytes_limit) {
        enum { VALUE = 768 << 10 };
        size_t n = (size_t) (INSTANCE_PENDING_BYTES_MAX / (VALUE + 2));
        Reply *commits = calloc(n + 1, sizeof(Reply));
        char *value = malloc(VALUE);
        Reply r;
        uint64_t id;

        ck_assert_ptr_nonnull(commits);
        ck_assert_ptr_nonnull(value);
        memset(value, 'v', VALUE);
        ck_assert_ptr_null(PREPARE_LONG(&r));
        ck_assert_int_ge(sd_bus_message_read(r.message, "t", &id), 0);
        reply_done(&r);
        ck_assert_ptr_null(MANAGER(&r, "Freeze", "tu", id, (uint32_t) 0));
        reply_done(&r);

        for (size_t k = 0; k <= n; k++) {
                char key[3] = { 'a' + (char) (k / 26), 'a' + (char) (k % 26), 0 };

                commit_async(&commits[k], key, value, VALUE);
                /* Keep the client's queue short: wait for each to reach the engine (or be refused). */
                ck_assert_ptr_null(CALL(&r, MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", ""));
                reply_done(&r);
        }
        ck_assert_uint_eq(manager->instances[0]->n_pending_commits, n);
        ck_assert(commits[n].done);
        ck_assert_ptr_nonnull(sd_bus_message_get_error(commits[n].message));
        ck_assert_str_eq(sd_bus_message_get_error(commits[n].message)->name, JETSNAP_ERROR_OUT_OF_THREADS);

        ck_assert_ptr_null(MANAGER(&r, "Abort", "tu", id, (uint32_t) 0));
        reply_done(&r);
        for (size_t k = 0; k <= n; k++) {
                run_until(&commits[k].done);
                if (k < n)
                        ck_assert_ptr_null(sd_bus_message_get_error(commits[k].message));
                reply_done(&commits[k]);
        }
        ck_assert_uint_eq(manager->instances[0]->pending_bytes, 0);
        free(value);
        free(commits);
}
END_TEST

START_TEST(test_bad_data_calls) {
        Reply r;

        ck_assert_str_eq(CALL(&r, PATH_A, INSTANCE_INTERFACE, "Commit", "a(yssayay)", 0),
                         JETSNAP_ERROR_INVALID_PARAMETER);
        reply_done(&r);
        ck_assert_str_eq(CALL(&r, PATH_A, INSTANCE_INTERFACE, "Commit", "a(yssayay)", 1, 'x', "main", "t", 1, 'k', 0),
                         JETSNAP_ERROR_INVALID_PARAMETER);
        reply_done(&r);
        ck_assert_str_eq(CALL(&r, PATH_A, INSTANCE_INTERFACE, "Get", "ssay", "nosuch", "t", 1, 'k'),
                         JETSNAP_ERROR_INVALID_PARAMETER);
        reply_done(&r);
        ck_assert_str_eq(CALL(&r, PATH_A, INSTANCE_INTERFACE, "Get", "ssay", "main", "t", 0),
                         JETSNAP_ERROR_INVALID_PARAMETER);
        reply_done(&r);
        ck_assert_str_eq(CALL(&r, PATH_A, INSTANCE_INTERFACE, "Get", "ssay", "main", "t", 1, 'k'),
                         JETSNAP_ERROR_RECORD_NOT_FOUND);
        reply_done(&r);
        ck_assert_str_eq(CALL(&r, PATH_A, INSTANCE_INTERFACE, "Get", "su", "main", 7),
                         SD_BUS_ERROR_INVALID_ARGS);
        reply_done(&r);
}
END_TEST

START_TEST(test_properties) {
        Reply r;
        const char *s;
        uint64_t t;

        ck_assert_ptr_null(CALL(&r, MANAGER_PATH, "org.freedesktop.DBus.Properties", "Get", "ss",
                                MANAGER_INTERFACE, "Version"));
        ck_assert_int_ge(sd_bus_message_read(r.message, "v", "s", &s), 0);
        ck_assert_str_eq(s, PACKAGE_VERSION);
        reply_done(&r);
        ck_assert_ptr_null(CALL(&r, MANAGER_PATH, "org.freedesktop.DBus.Properties", "Get", "ss",
                                MANAGER_INTERFACE, "FreezeTimeoutUSec"));
        ck_assert_int_ge(sd_bus_message_read(r.message, "v", "t", &t), 0);
        ck_assert_uint_eq(t, 2 * USEC_PER_SEC);
        reply_done(&r);
        ck_assert_ptr_null(CALL(&r, PATH_A, "org.freedesktop.DBus.Properties", "Get", "ss", INSTANCE_INTERFACE,
                                "State"));
        ck_assert_int_ge(sd_bus_message_read(r.message, "v", "s", &s), 0);
        ck_assert_str_eq(s, "running");
        reply_done(&r);
}
END_TEST

START_TEST(test_introspect) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ck_assert_int_eq(bus_introspect_print(MANAGER_INTERFACE, f), 0);
        ck_assert_int_eq(bus_introspect_print("org.example.Nope", f), -EINVAL);
        fclose(f);
        ck_assert_ptr_nonnull(strstr(buf, "<method name=\"PrepareWithOptions\">"));
        ck_assert_ptr_nonnull(strstr(buf, "name=\"snapshot_id\""));
        free(buf);
}
END_TEST

static Suite *manager_dbus_suite(void) {
        Suite *s = suite_create("manager-dbus");
        TCase *tc = tcase_create("Core");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_snapshot_cycle);
        tcase_add_test(tc, test_failed_freeze_thaws_the_others);
        tcase_add_test(tc, test_hung_freeze_times_out);
        tcase_add_test(tc, test_commit_waits_for_thaw);
        tcase_add_test(tc, test_pending_commits_limit);
        tcase_add_test(tc, test_pending_bytes_limit);
        tcase_add_test(tc, test_bad_data_calls);
        tcase_add_test(tc, test_properties);
        tcase_add_test(tc, test_introspect);
        suite_add_tcase(s, tc);

        tc = tcase_create("Recovery");
        tcase_add_checked_fixture(tc, setup_recovering, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_recovering_instance);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite(manager_dbus_suite());
}
