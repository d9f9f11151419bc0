/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * org.jetsnap1.Instance: properties, Commit, Get and Scan. Instances are
 * addressed by name; the object path is the bus-escaped name under
 * /org/jetsnap1/instance, as the daemon exports it.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client-internal.h"

/* jetsnap_instance_status plus the storage its pointers refer to. */
typedef struct InstanceStatus {
        jetsnap_instance_status public;
        char *name, *state, *path;
        jetsnap_database *databases;
        size_t n_databases;
} InstanceStatus;

_public_ jetsnap_instance_status *jetsnap_instance_status_free(jetsnap_instance_status *s) {
        InstanceStatus *i = (InstanceStatus *) s;

        if (!i)
                return NULL;
        free(i->name);
        free(i->state);
        free(i->path);
        for (size_t k = 0; k < i->n_databases; k++) {
                free((char *) i->databases[k].path);
                free((char *) i->databases[k].display_name);
        }
        free(i->databases);
        free(i);
        return NULL;
}

/*
 * Instances are objects: the bus answers UnknownObject for a name the
 * daemon does not have (sd-bus maps that to -EBADR). Report it as the
 * contract does for an unknown instance name everywhere else: -EINVAL,
 * keeping the bus's message.
 */
static int map_unknown_instance(jetsnap_client *c, int r) {
        if (r < 0 && sd_bus_error_has_name(&c->error, SD_BUS_ERROR_UNKNOWN_OBJECT))
                return -EINVAL;
        return r;
}

static void instance_status_freep(InstanceStatus **i) {
        jetsnap_instance_status_free((jetsnap_instance_status *) *i);
}

static int read_string(sd_bus_message *m, char **ret) {
        const char *s;
        char *copy;
        int r;

        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return r;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        free(*ret);
        *ret = copy;
        return 0;
}

static int read_databases(sd_bus_message *m, InstanceStatus *i) {
        const char *a, *b;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(ss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(ss)", &a, &b)) > 0) {
                jetsnap_database *d = reallocarray(i->databases, i->n_databases + 1, sizeof(jetsnap_database));
                if (!d)
                        return -ENOMEM;
                i->databases = d;
                d = &i->databases[i->n_databases];
                /* Instance.Databases is (file path, display name), like the freeze info. */
                d->path = strdup(a);
                d->display_name = strdup(b);
                i->n_databases++;
                if (!d->display_name || !d->path)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_property(sd_bus_message *m, const char *name, InstanceStatus *i) {
        jetsnap_instance_status *p = &i->public;
        const char *contents;
        char type;
        int b, r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;

        if (streq(name, "Name") && streq(contents, "s"))
                r = read_string(m, &i->name);
        else if (streq(name, "State") && streq(contents, "s"))
                r = read_string(m, &i->state);
        else if (streq(name, "Path") && streq(contents, "s"))
                r = read_string(m, &i->path);
        else if (streq(name, "Id") && streq(contents, "t"))
                r = sd_bus_message_read(m, "t", &p->id);
        else if (streq(name, "CurrentGeneration") && streq(contents, "t"))
                r = sd_bus_message_read(m, "t", &p->current_generation);
        else if (streq(name, "CheckpointGeneration") && streq(contents, "t"))
                r = sd_bus_message_read(m, "t", &p->checkpoint_generation);
        else if (streq(name, "CommittedTransactions") && streq(contents, "t"))
                r = sd_bus_message_read(m, "t", &p->committed_transactions);
        else if (streq(name, "LastFullBackup") && streq(contents, "(tt)"))
                r = sd_bus_message_read(m, "(tt)", &p->last_full_backup_generation, &p->last_full_backup_usec);
        else if (streq(name, "LastIncrementalBackup") && streq(contents, "(tt)"))
                r = sd_bus_message_read(m, "(tt)", &p->last_incremental_backup_generation,
                                        &p->last_incremental_backup_usec);
        else if (streq(name, "CircularLogging") && streq(contents, "b")) {
                r = sd_bus_message_read(m, "b", &b);
                p->circular_logging = b;
        } else if (streq(name, "Databases") && streq(contents, "a(ss)"))
                r = read_databases(m, i);
        else
                /* A property of a newer daemon, or an unexpected type: skip it rather than fail. */
                r = sd_bus_message_skip(m, contents);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

_public_ int jetsnap_get_instance_status(jetsnap_client *c, const char *instance, jetsnap_instance_status **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(instance_status_freep) InstanceStatus *i = NULL;
        _cleanup_free_ char *path = NULL;
        const char *name;
        int r;

        assert_client(c);
        assert_return(instance && ret, -EINVAL);

        client_reset_error(c);
        r = instance_object_path(instance, &path);
        if (r < 0)
                return r;
        r = client_call(c, path, "org.freedesktop.DBus.Properties", "GetAll", 0, &reply, "s",
                        JETSNAP_INSTANCE_IFACE);
        if (r < 0)
                return map_unknown_instance(c, r);

        i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return client_set_error(c, r);
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        return client_set_error(c, r);
                r = read_property(reply, name, i);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return client_set_error(c, r);
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return client_set_error(c, r);
        }
        if (r < 0)
                return client_set_error(c, r);

        /* Never hand out NULL strings: callers print them. */
        if (!i->name && !(i->name = strdup(instance)))
                return -ENOMEM;
        if (!i->state && !(i->state = strdup("")))
                return -ENOMEM;
        if (!i->path && !(i->path = strdup("")))
                return -ENOMEM;
        i->public.name = i->name;
        i->public.state = i->state;
        i->public.path = i->path;
        i->public.databases = i->databases;
        i->public.n_databases = i->n_databases;
        *ret = &TAKE_PTR(i)->public;
        return 0;
}

static int append_bytes(sd_bus_message *m, const void *p, size_t n) {
        /* sd-bus wants a non-NULL pointer even for an empty array. */
        return sd_bus_message_append_array(m, 'y', n > 0 ? p : "", n);
}

_public_ int jetsnap_commit(jetsnap_client *c, const char *instance, const jetsnap_op *ops, size_t n_ops,
                            uint64_t *ret_lsn) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t lsn;
        int r;

        assert_client(c);
        assert_return(instance, -EINVAL);
        assert_return(ops || n_ops == 0, -EINVAL);
        for (size_t k = 0; k < n_ops; k++) {
                assert_return(ops[k].kind == JETSNAP_OP_PUT || ops[k].kind == JETSNAP_OP_DELETE, -EINVAL);
                assert_return(ops[k].database && ops[k].table, -EINVAL);
                assert_return(ops[k].key || ops[k].key_size == 0, -EINVAL);
                assert_return(ops[k].value || ops[k].value_size == 0 || ops[k].kind == JETSNAP_OP_DELETE, -EINVAL);
        }

        client_reset_error(c);
        r = instance_object_path(instance, &path);
        if (r < 0)
                return r;
        r = client_new_method_call(c, path, JETSNAP_INSTANCE_IFACE, "Commit", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "(yssayay)");
        if (r < 0)
                return r;
        for (size_t k = 0; k < n_ops; k++) {
                const jetsnap_op *op = &ops[k];
                int put = op->kind == JETSNAP_OP_PUT;

                r = sd_bus_message_open_container(m, 'r', "yssayay");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "yss", (uint8_t) op->kind, op->database, op->table);
                if (r < 0)
                        return r;
                r = append_bytes(m, op->key, op->key_size);
                if (r < 0)
                        return r;
                r = append_bytes(m, put ? op->value : NULL, put ? op->value_size : 0);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;

        /* The reply comes once the record is durable, which waits out a freeze. */
        r = client_call_message(c, m, JETSNAP_LONG_CALL_TIMEOUT_USEC, &reply);
        if (r < 0)
                return map_unknown_instance(c, r);
        r = sd_bus_message_read(reply, "t", &lsn);
        if (r < 0)
                return client_set_error(c, r);
        if (ret_lsn)
                *ret_lsn = lsn;
        return 0;
}

_public_ int jetsnap_get(jetsnap_client *c, const char *instance, const char *database, const char *table,
                         const void *key, size_t key_size, void **ret_value, size_t *ret_size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL;
        const void *v;
        size_t n;
        void *copy;
        int r;

        assert_client(c);
        assert_return(instance && database && table, -EINVAL);
        assert_return(key || key_size == 0, -EINVAL);
        assert_return(ret_value && ret_size, -EINVAL);

        client_reset_error(c);
        r = instance_object_path(instance, &path);
        if (r < 0)
                return r;
        r = client_new_method_call(c, path, JETSNAP_INSTANCE_IFACE, "Get", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", database, table);
        if (r < 0)
                return r;
        r = append_bytes(m, key, key_size);
        if (r < 0)
                return r;
        r = client_call_message(c, m, 0, &reply);
        if (r < 0)
                return map_unknown_instance(c, r);
        r = sd_bus_message_read_array(reply, 'y', &v, &n);
        if (r < 0)
                return client_set_error(c, r);
        /* One extra NUL so string values can be printed as they are. */
        copy = malloc(n + 1);
        if (!copy)
                return -ENOMEM;
        if (n > 0)
                memcpy(copy, v, n);
        ((char *) copy)[n] = 0;
        *ret_value = copy;
        *ret_size = n;
        return 0;
}

_public_ jetsnap_record *jetsnap_records_free(jetsnap_record *r, size_t n) {
        if (!r)
                return NULL;
        for (size_t k = 0; k < n; k++) {
                free((void *) r[k].key);
                free((void *) r[k].value);
        }
        free(r);
        return NULL;
}

static int dup_bytes(const void *p, size_t n, const void **ret) {
        char *d = malloc(n + 1);

        if (!d)
                return -ENOMEM;
        if (n > 0)
                memcpy(d, p, n);
        d[n] = 0;
        *ret = d;
        return 0;
}

_public_ int jetsnap_scan(jetsnap_client *c, const char *instance, const char *database, const char *table,
                          const void *from, size_t from_size, const void *to, size_t to_size, uint32_t limit,
                          jetsnap_record **ret, size_t *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL;
        jetsnap_record *records = NULL;
        size_t n = 0;
        int r;

        assert_client(c);
        assert_return(instance && database && table, -EINVAL);
        assert_return(from || from_size == 0, -EINVAL);
        assert_return(to || to_size == 0, -EINVAL);
        assert_return(ret && ret_n, -EINVAL);

        client_reset_error(c);
        r = instance_object_path(instance, &path);
        if (r < 0)
                return r;
        r = client_new_method_call(c, path, JETSNAP_INSTANCE_IFACE, "Scan", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", database, table);
        if (r < 0)
                return r;
        r = append_bytes(m, from, from_size);
        if (r < 0)
                return r;
        r = append_bytes(m, to, to_size);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "u", limit);
        if (r < 0)
                return r;
        r = client_call_message(c, m, 0, &reply);
        if (r < 0)
                return map_unknown_instance(c, r);

        r = sd_bus_message_enter_container(reply, 'a', "(ayay)");
        if (r < 0)
                return client_set_error(c, r);
        while ((r = sd_bus_message_enter_container(reply, 'r', "ayay")) > 0) {
                const void *k, *v;
                size_t nk, nv;
                jetsnap_record *l;

                r = sd_bus_message_read_array(reply, 'y', &k, &nk);
                if (r < 0)
                        break;
                r = sd_bus_message_read_array(reply, 'y', &v, &nv);
                if (r < 0)
                        break;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        break;
                l = reallocarray(records, n + 1, sizeof(jetsnap_record));
                if (!l) {
                        r = -ENOMEM;
                        break;
                }
                records = l;
                records[n] = (jetsnap_record) {};
                n++;
                r = dup_bytes(k, nk, &records[n - 1].key);
                if (r < 0)
                        break;
                records[n - 1].key_size = nk;
                r = dup_bytes(v, nv, &records[n - 1].value);
                if (r < 0)
                        break;
                records[n - 1].value_size = nv;
        }
        if (r < 0) {
                jetsnap_records_free(records, n);
                return r == -ENOMEM ? r : client_set_error(c, r);
        }
        *ret = records;
        *ret_n = n;
        return 0;
}
