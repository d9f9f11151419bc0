/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * org.jetsnap1.Instance: properties of one instance and its data methods.
 * Commit replies once the engine reports the record durable (so while the
 * instance is frozen it waits until thaw); Get and Scan answer at once.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "bus-errors.h"
#include "instance.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

/* Operations per Commit; the byte size is bounded by the engine (txn-size) and the bus (128 MiB). */
#define COMMIT_OPS_MAX 65536
/* What one Scan reply carries at most; clients continue from the last key. */
#define SCAN_RECORDS_MAX 10000
/*
 * Keys and values one reply may carry. dbus-daemon disconnects a peer that
 * sends a message above its max_message_size (32 MiB by default on the
 * system bus), which would take the whole daemon down: stay well below.
 */
#define REPLY_BYTES_MAX (UINT64_C(24) << 20)

static int check_access(Instance *i, sd_bus_message *m, const char *what, sd_bus_error *error) {
        char buf[128];

        (void) snprintf(buf, sizeof(buf), "%s on instance '%s'", what, i->config->name);
        return auth_check(&i->manager->auth, m, i->config->access_gids, i->config->n_access_gids, buf, error);
}

/* Data methods need an open engine; say clearly why there is none. */
static int check_engine(Instance *i, sd_bus_error *error) {
        switch (instance_get_state(i)) {
        case INSTANCE_RECOVERING:
                return sd_bus_error_setf(error, JETSNAP_ERROR_NOT_ALLOWED, "instance '%s' is still recovering",
                                         i->config->name);
        case INSTANCE_FAILED:
                return sd_bus_error_setf(error, SD_BUS_ERROR_IO_ERROR, "instance '%s' has failed; see the log",
                                         i->config->name);
        case INSTANCE_STOPPING:
                return sd_bus_error_setf(error, JETSNAP_ERROR_NOT_ALLOWED, "instance '%s' is stopping",
                                         i->config->name);
        default:
                return 0;
        }
}

static bool database_known(Instance *i, const char *name) {
        for (size_t d = 0; d < i->config->n_databases; d++)
                if (streq(i->config->databases[d].name, name))
                        return true;
        return false;
}

static int check_target(Instance *i, const char *database, const char *table, size_t key_size, bool key_required,
                        sd_bus_error *error) {
        if (!database_known(i, database))
                return sd_bus_error_setf(error, JETSNAP_ERROR_INVALID_PARAMETER,
                                         "instance '%s' has no database '%s'", i->config->name, database);
        if (isempty(table) || strlen(table) > ENGINE_NAME_SIZE_MAX || streq(table, ENGINE_RESERVED_TABLE))
                return sd_bus_error_setf(error, JETSNAP_ERROR_INVALID_PARAMETER, "invalid table name '%s'", table);
        if ((key_required && key_size == 0) || key_size > ENGINE_KEY_SIZE_MAX)
                return sd_bus_error_setf(error, JETSNAP_ERROR_INVALID_PARAMETER,
                                         "key of %zu bytes; keys are 1..%d bytes", key_size, ENGINE_KEY_SIZE_MAX);
        return 0;
}

typedef struct CommitCall {
        Instance *instance;
        sd_bus_message *message;        /* held for the reply, payload and all */
        uint64_t bytes;
} CommitCall;

static void on_committed(Engine *e, int r, uint64_t lsn, void *userdata) {
        CommitCall *c = userdata;

        c->instance->n_pending_commits--;
        c->instance->pending_bytes -= c->bytes;
        /* A failed write fails the instance: tell watchers of State. */
        if (r == -EIO || r == -ENOSPC)
                instance_emit_changed(c->instance, "State");
        if (r < 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

                (void) bus_error_from_errno(&error, r, "Commit on instance '%s' failed: %s",
                                            c->instance->config->name, strerror(-r));
                r = sd_bus_reply_method_error(c->message, &error);
        } else
                r = sd_bus_reply_method_return(c->message, "t", lsn);
        if (r < 0)
                log_debug("Failed to reply to Commit: %s", strerror(-r));
        manager_commit_done(c->instance->manager);
        sd_bus_message_unref(c->message);
        free(c);
}

static int method_commit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        _cleanup_free_ EngineOp *ops = NULL;
        size_t n_ops = 0, allocated = 0;
        uint64_t bytes = 0;
        CommitCall *c;
        int r;

        r = check_access(i, m, "Commit", error);
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(m, 'a', "(yssayay)");
        if (r < 0)
                return r;
        for (;;) {
                const char *database, *table;
                const void *key, *value;
                size_t key_size, value_size;
                uint8_t kind;

                r = sd_bus_message_enter_container(m, 'r', "yssayay");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (n_ops >= COMMIT_OPS_MAX)
                        return sd_bus_error_setf(error, JETSNAP_ERROR_INVALID_PARAMETER,
                                                 "transaction has more than %d operations", COMMIT_OPS_MAX);
                r = sd_bus_message_read(m, "yss", &kind, &database, &table);
                if (r < 0)
                        return r;
                r = sd_bus_message_read_array(m, 'y', &key, &key_size);
                if (r < 0)
                        return r;
                r = sd_bus_message_read_array(m, 'y', &value, &value_size);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;

                if (kind != ENGINE_OP_PUT && kind != ENGINE_OP_DELETE)
                        return sd_bus_error_setf(error, JETSNAP_ERROR_INVALID_PARAMETER,
                                                 "operation %zu: kind %u is neither 'p' (put) nor 'd' (delete)",
                                                 n_ops, kind);
                r = check_target(i, database, table, key_size, true, error);
                if (r < 0)
                        return r;

                if (n_ops >= allocated) {
                        size_t n = MAX(allocated * 2, (size_t) 16);
                        EngineOp *o = reallocarray(ops, n, sizeof(EngineOp));
                        if (!o)
                                return -ENOMEM;
                        ops = o;
                        allocated = n;
                }
                bytes += key_size + value_size;
                /* Pointers into the message, valid while it lives; engine_commit() copies them. */
                ops[n_ops++] = (EngineOp) {
                        .kind = kind, .database = database, .table = table,
                        .key = key, .key_size = key_size, .value = value, .value_size = value_size,
                };
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        if (n_ops == 0)
                return sd_bus_error_set(error, JETSNAP_ERROR_INVALID_PARAMETER, "empty transaction");
        r = check_engine(i, error);
        if (r < 0)
                return r;
        /* While frozen, commits pile up with their messages: bound both their number and their bytes. */
        if (i->n_pending_commits >= INSTANCE_PENDING_COMMITS_MAX ||
            (i->n_pending_commits > 0 && i->pending_bytes + bytes > INSTANCE_PENDING_BYTES_MAX))
                return sd_bus_error_setf(error, JETSNAP_ERROR_OUT_OF_THREADS,
                                         "instance '%s' has %u commits (%" PRIu64 " bytes) pending; try again later",
                                         i->config->name, i->n_pending_commits, i->pending_bytes);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (CommitCall) { .instance = i, .message = sd_bus_message_ref(m), .bytes = bytes };
        r = engine_commit(i->engine, ops, n_ops, on_committed, c);
        if (r < 0) {
                sd_bus_message_unref(c->message);
                free(c);
                switch (r) {
                case -EINVAL:
                        return sd_bus_error_set(error, JETSNAP_ERROR_INVALID_PARAMETER,
                                                "transaction refused by the engine: invalid operation");
                case -E2BIG:
                        return sd_bus_error_setf(error, JETSNAP_ERROR_INVALID_PARAMETER,
                                                 "transaction too large for instance '%s'", i->config->name);
                case -EAGAIN:
                        return sd_bus_error_setf(error, JETSNAP_ERROR_OUT_OF_THREADS,
                                                 "instance '%s' has too many commits pending; try again later",
                                                 i->config->name);
                default:
                        return bus_error_from_errno(error, r, "Commit on instance '%s' failed: %s", i->config->name,
                                                    strerror(-r));
                }
        }
        i->n_pending_commits++;
        i->pending_bytes += bytes;
        return 1;
}

static int method_get(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Instance *i = userdata;
        _cleanup_free_ void *value = NULL;
        const char *database, *table;
        const void *key;
        size_t key_size, value_size;
        int r;

        r = check_access(i, m, "Get", error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "ss", &database, &table);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'y', &key, &key_size);
        if (r < 0)
                return r;
        r = check_target(i, database, table, key_size, true, error);
        if (r < 0)
                return r;
        r = check_engine(i, error);
        if (r < 0)
                return r;

        r = engine_get(i->engine, database, table, key, key_size, &value, &value_size);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, JETSNAP_ERROR_RECORD_NOT_FOUND, "no record with this key in %s/%s",
                                         database, table);
        if (r < 0)
                return bus_error_from_errno(error, r, "Get on instance '%s' failed: %s", i->config->name,
                                            strerror(-r));
        if (value_size > REPLY_BYTES_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "value of %zu bytes exceeds what a reply may carry", value_size);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'y', value, value_size);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/*
 * Appends up to @limit records from..to, at most REPLY_BYTES_MAX of keys
 * and values. The engine hands back whole records, so a
 * single engine_scan() of 10000 records of 16 MiB values would allocate far
 * more than any reply may carry: read in chunks that start small and grow,
 * each continuing from the last key (inclusive, skipped: its successor
 * could exceed the key size limit).
 */
static int scan_append(Instance *i, sd_bus_message *reply, const char *database, const char *table,
                       const void *from, size_t from_size, const void *to, size_t to_size, uint32_t limit,
                       sd_bus_error *error) {
        uint8_t last[ENGINE_KEY_SIZE_MAX];
        uint32_t n_out = 0, chunk = 4;
        uint64_t bytes = 0;
        bool skip = false;
        int r;

        while (n_out < limit) {
                uint32_t want = MIN(chunk, limit - n_out) + skip;
                EngineRecord *records = NULL;
                size_t n = 0, k;

                r = engine_scan(i->engine, database, table, from, from_size, to, to_size, want, &records, &n);
                if (r < 0)
                        return bus_error_from_errno(error, r, "Scan on instance '%s' failed: %s",
                                                    i->config->name, strerror(-r));
                for (k = skip; k < n && n_out < limit; k++) {
                        bytes += records[k].key_size + records[k].value_size;
                        if (bytes > REPLY_BYTES_MAX) {
                                if (n_out == 0) {
                                        engine_records_free(records, n);
                                        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                                                 "record of %" PRIu64 " bytes exceeds what a reply may carry",
                                                                 bytes);
                                }
                                break;
                        }
                        r = sd_bus_message_open_container(reply, 'r', "ayay");
                        if (r >= 0)
                                r = sd_bus_message_append_array(reply, 'y', records[k].key, records[k].key_size);
                        if (r >= 0)
                                r = sd_bus_message_append_array(reply, 'y', records[k].value,
                                                                records[k].value_size);
                        if (r >= 0)
                                r = sd_bus_message_close_container(reply);
                        if (r < 0) {
                                engine_records_free(records, n);
                                return r;
                        }
                        n_out++;
                }
                if (k < n || n < want || n == 0) {
                        /* Byte cap, limit, or the end of the range. */
                        engine_records_free(records, n);
                        return 0;
                }
                from_size = MIN(records[n - 1].key_size, sizeof(last));
                memcpy(last, records[n - 1].key, from_size);
                from = last;
                skip = true;
                chunk = MIN(chunk * 2, (uint32_t) 1024);
                engine_records_free(records, n);
        }
        return 0;
}

static int method_scan(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Instance *i = userdata;
        const char *database, *table;
        const void *from, *to;
        size_t from_size, to_size;
        uint32_t limit;
        int r;

        r = check_access(i, m, "Scan", error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "ss", &database, &table);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'y', &from, &from_size);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'y', &to, &to_size);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "u", &limit);
        if (r < 0)
                return r;
        r = check_target(i, database, table, MAX(from_size, to_size), false, error);
        if (r < 0)
                return r;
        r = check_engine(i, error);
        if (r < 0)
                return r;

        if (limit == 0 || limit > SCAN_RECORDS_MAX)
                limit = SCAN_RECORDS_MAX;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ayay)");
        if (r < 0)
                return r;
        r = scan_append(i, reply, database, table, from, from_size, to, to_size, limit, error);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", instance_state_to_string(instance_get_state(userdata)));
}

static int property_get_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;

        return sd_bus_message_append(reply, "s", streq(property, "Name") ? i->config->name : i->config->path);
}

static int property_get_id(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "t", ((Instance *) userdata)->id);
}

static int property_get_databases(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ss)");
        if (r < 0)
                return r;
        /* (file path, display name): the order of the freeze info and of JET_INSTANCE_INFO. */
        for (size_t d = 0; d < i->config->n_databases; d++) {
                r = sd_bus_message_append(reply, "(ss)", i->config->databases[d].path, i->config->databases[d].name);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* Everything that comes from the engine; zeros while recovering or failed. */
static int property_get_engine(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        EngineInfo info = { .circular_logging = i->config->circular_logging };

        if (i->engine)
                (void) engine_get_info(i->engine, &info);

        if (streq(property, "CurrentGeneration"))
                return sd_bus_message_append(reply, "t", (uint64_t) info.current_generation);
        if (streq(property, "CheckpointGeneration"))
                return sd_bus_message_append(reply, "t", (uint64_t) info.checkpoint_generation);
        if (streq(property, "LastFullBackup"))
                return sd_bus_message_append(reply, "(tt)", (uint64_t) info.last_full.gen_high,
                                             info.last_full.time_usec);
        if (streq(property, "LastIncrementalBackup"))
                return sd_bus_message_append(reply, "(tt)", (uint64_t) info.last_incremental.gen_high,
                                             info.last_incremental.time_usec);
        if (streq(property, "CircularLogging"))
                return sd_bus_message_append(reply, "b", (int) info.circular_logging);
        return sd_bus_message_append(reply, "t", info.committed_transactions);
}

const sd_bus_vtable instance_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Id", "t", property_get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Path", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Databases", "a(ss)", property_get_databases, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        /* These move with every commit and checkpoint: read them, no signal. */
        SD_BUS_PROPERTY("CurrentGeneration", "t", property_get_engine, 0, 0),
        SD_BUS_PROPERTY("CheckpointGeneration", "t", property_get_engine, 0, 0),
        SD_BUS_PROPERTY("LastFullBackup", "(tt)", property_get_engine, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastIncrementalBackup", "(tt)", property_get_engine, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CircularLogging", "b", property_get_engine, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("CommittedTransactions", "t", property_get_engine, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("Commit", SD_BUS_ARGS("a(yssayay)", ops), SD_BUS_RESULT("t", lsn), method_commit,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Get", SD_BUS_ARGS("s", database, "s", table, "ay", key), SD_BUS_RESULT("ay", value),
                                method_get, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Scan",
                                SD_BUS_ARGS("s", database, "s", table, "ay", from, "ay", to, "u", limit),
                                SD_BUS_RESULT("a(ayay)", records), method_scan, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int instance_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                         sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        Instance *i;
        int r;

        r = sd_bus_path_decode(path, INSTANCE_PATH_PREFIX, &name);
        if (r <= 0)
                return 0;
        i = manager_find_instance(userdata, name);
        if (!i)
                return 0;
        *ret_found = i;
        return 1;
}

int instance_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        Manager *m = userdata;
        char **l;

        l = calloc(m->n_instances + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t k = 0; k < m->n_instances; k++) {
                l[k] = strdup(m->instances[k]->object_path);
                if (!l[k]) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        *ret_nodes = l;
        return 0;
}
