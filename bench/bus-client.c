/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus-client.h"
#include "bus-errors.h"

#define MANAGER_PATH "/org/jetsnap1"
#define MANAGER_IFACE "org.jetsnap1.Manager"
#define INSTANCE_IFACE "org.jetsnap1.Instance"
#define SERVICE "org.jetsnap1"
/* A commit may wait a whole freeze window; never let the client give up first. */
#define CALL_TIMEOUT_USEC (UINT64_C(600) * USEC_PER_SEC)

int bus_open(sd_bus **ret) {
        int r;

        /* Errors come back as negative errno through the shared table. */
        r = jetsnap_bus_error_map_register();
        if (r < 0)
                return r;
        return sd_bus_open_system(ret);
}

static int call_report(const char *what, int r, const sd_bus_error *error) {
        if (r < 0)
                fprintf(stderr, "%s: %s\n", what, error->message ?: strerror(-r));
        return r;
}

static int strv_push(char ***l, size_t n, const char *s) {
        char **p = realloc(*l, (n + 2) * sizeof(char *));
        if (!p)
                return -ENOMEM;
        *l = p;
        p[n] = strdup(s);
        p[n + 1] = NULL;
        return p[n] ? 0 : -ENOMEM;
}

int bus_list_instances(sd_bus *bus, char ***ret_names, char ***ret_paths, size_t *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **names = NULL, **paths = NULL;
        size_t n = 0;
        const char *name, *path;
        int r;

        r = sd_bus_call_method(bus, SERVICE, MANAGER_PATH, MANAGER_IFACE, "ListInstances", &error, &reply, "");
        if (r < 0)
                return call_report("ListInstances", r, &error);
        r = sd_bus_message_enter_container(reply, 'a', "(so)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(so)", &name, &path)) > 0) {
                if (strv_push(&names, n, name) < 0 || strv_push(&paths, n, path) < 0)
                        return -ENOMEM;
                n++;
        }
        if (r < 0)
                return r;
        if (n == 0)
                return -ENOENT;
        *ret_names = TAKE_PTR(names);
        *ret_paths = TAKE_PTR(paths);
        *ret_n = n;
        return 0;
}

int bus_prepare(sd_bus *bus, uint32_t flags, uint64_t *ret_id) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, SERVICE, MANAGER_PATH, MANAGER_IFACE, "Prepare", &error, &reply, "u", flags);
        if (r < 0)
                return call_report("Prepare", r, &error);
        return sd_bus_message_read(reply, "t", ret_id);
}

int bus_prepare_instance(sd_bus *bus, uint64_t id, const char *name) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, SERVICE, MANAGER_PATH, MANAGER_IFACE, "PrepareInstance", &error, NULL, "tsu", id,
                               name, UINT32_C(0));
        return call_report("PrepareInstance", r, &error);
}

static int snapshot_call(sd_bus *bus, const char *method, uint64_t id) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SERVICE, MANAGER_PATH, MANAGER_IFACE, method);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "tu", id, UINT32_C(0));
        if (r < 0)
                return r;
        /* The freeze info reply is not parsed: the benchmark times the call, not our parsing. */
        r = sd_bus_call(bus, m, CALL_TIMEOUT_USEC, &error, &reply);
        return call_report(method, r, &error);
}

int bus_freeze(sd_bus *bus, uint64_t id) {
        return snapshot_call(bus, "Freeze", id);
}

int bus_thaw(sd_bus *bus, uint64_t id) {
        return snapshot_call(bus, "Thaw", id);
}

int bus_abort(sd_bus *bus, uint64_t id) {
        return snapshot_call(bus, "Abort", id);
}

typedef struct CommitCtx {
        sd_bus *bus;
        const char *path;
} CommitCtx;

static void commit_teardown(void *p) {
        CommitCtx *c = p;

        if (!c)
                return;
        sd_bus_flush_close_unref(c->bus);
        free(c);
}

static int commit_setup(void *p, unsigned worker, void **ret) {
        const BusCommitArg *a = p;
        CommitCtx *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->path = a->instance_paths[worker % a->n_instances];
        r = bus_open(&c->bus);
        if (r < 0) {
                fprintf(stderr, "Failed to connect to the system bus: %s\n", strerror(-r));
                free(c);
                return r;
        }
        *ret = c;
        return 0;
}

static int commit_op(void *p, unsigned worker, uint64_t seq) {
        CommitCtx *c = p;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        uint8_t key[BENCH_KEY_SIZE], row[BENCH_ROW_SIZE];
        uint64_t lsn;
        int r;

        bench_key(key, worker, seq);
        bench_row(row, worker, seq);

        r = sd_bus_message_new_method_call(c->bus, &m, SERVICE, c->path, INSTANCE_IFACE, "Commit");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "(yssayay)");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'r', "yssayay");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "yss", (uint8_t) 'p', BENCH_DATABASE, BENCH_TABLE);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', key, sizeof(key));
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', row, sizeof(row));
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;

        r = sd_bus_call(c->bus, m, CALL_TIMEOUT_USEC, &error, &reply);
        if (r < 0) {
                static unsigned reported = 0;

                /* The first worker says what went wrong, once; the table counts the rest. */
                if (worker == 0 && __atomic_fetch_add(&reported, 1, __ATOMIC_RELAXED) == 0)
                        fprintf(stderr, "Commit: %s\n", error.message ?: strerror(-r));
                return r;
        }
        return sd_bus_message_read(reply, "t", &lsn);
}

const BenchWorkerOps bus_commit_ops = {
        .setup = commit_setup,
        .op = commit_op,
        .teardown = commit_teardown,
};

static int ping_op(void *p, unsigned worker, uint64_t seq) {
        CommitCtx *c = p;

        return sd_bus_call_method(c->bus, SERVICE, c->path, "org.freedesktop.DBus.Peer", "Ping", NULL, NULL, "");
}

const BenchWorkerOps bus_ping_ops = {
        .setup = commit_setup,
        .op = ping_op,
        .teardown = commit_teardown,
};
