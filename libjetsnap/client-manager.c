/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * org.jetsnap1.Manager: the snapshot session calls and the Manager
 * properties. Each function is one method call; flags go to the daemon
 * unchanged, which validates them (so a newer daemon's bits work with an
 * older library, and the error carries the daemon's message).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client-internal.h"

/* Measures (base == NULL) or fills one allocation holding a whole jetsnap_freeze_info. */
typedef struct Packer {
        char *base;
        size_t n_instances, n_databases, n_pointers, string_bytes;
        jetsnap_instance_info *instance;
        jetsnap_database *database;
        const char **pointer;
        char *string;
} Packer;

static const char *pack_string(Packer *p, const char *s) {
        size_t n = strlen(s) + 1;
        char *d;

        if (!p->base) {
                p->string_bytes += n;
                return NULL;
        }
        d = memcpy(p->string, s, n);
        p->string += n;
        return d;
}

static int freeze_info_walk(sd_bus_message *m, Packer *p) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(tsa(ss)sas)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'r', "tsa(ss)sas")) > 0) {
                jetsnap_instance_info *i = p->base ? p->instance++ : NULL;
                const char *name, *path, *display, *logdir, *file;
                uint64_t id;

                p->n_instances++;
                r = sd_bus_message_read(m, "ts", &id, &name);
                if (r < 0)
                        return r;
                if (i) {
                        i->id = id;
                        i->name = pack_string(p, name);
                        i->databases = p->database;
                } else
                        (void) pack_string(p, name);

                r = sd_bus_message_enter_container(m, 'a', "(ss)");
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_read(m, "(ss)", &path, &display)) > 0) {
                        p->n_databases++;
                        if (i) {
                                p->database->path = pack_string(p, path);
                                p->database->display_name = pack_string(p, display);
                                p->database++;
                                i->n_databases++;
                        } else {
                                (void) pack_string(p, path);
                                (void) pack_string(p, display);
                        }
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;

                r = sd_bus_message_read(m, "s", &logdir);
                if (r < 0)
                        return r;
                if (i) {
                        i->log_directory = pack_string(p, logdir);
                        i->files = p->pointer;
                } else
                        (void) pack_string(p, logdir);

                r = sd_bus_message_enter_container(m, 'a', "s");
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_read(m, "s", &file)) > 0) {
                        p->n_pointers++;
                        if (i) {
                                *p->pointer++ = pack_string(p, file);
                                i->n_files++;
                        } else
                                (void) pack_string(p, file);
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
                /* The NULL terminator of files. */
                p->n_pointers++;
                if (i)
                        *p->pointer++ = NULL;

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int freeze_info_from_message(sd_bus_message *m, jetsnap_freeze_info **ret) {
        Packer count = {}, fill;
        jetsnap_freeze_info *info;
        size_t size;
        int r;

        /*
         * Two passes over the reply so that the result is one block (info,
         * instances, databases, file pointers, strings): one free, no
         * half-built states. The first pass only counts.
         */
        r = freeze_info_walk(m, &count);
        if (r < 0)
                return r;
        size = sizeof(jetsnap_freeze_info) + count.n_instances * sizeof(jetsnap_instance_info) +
               count.n_databases * sizeof(jetsnap_database) + count.n_pointers * sizeof(char *) +
               count.string_bytes;
        info = calloc(1, size);
        if (!info)
                return -ENOMEM;

        fill = (Packer) { .base = (char *) info };
        fill.instance = (jetsnap_instance_info *) (info + 1);
        fill.database = (jetsnap_database *) (fill.instance + count.n_instances);
        fill.pointer = (const char **) (fill.database + count.n_databases);
        fill.string = (char *) (fill.pointer + count.n_pointers);
        info->n_instances = count.n_instances;
        info->instances = fill.instance;

        r = sd_bus_message_rewind(m, 1);
        if (r >= 0)
                r = freeze_info_walk(m, &fill);
        if (r < 0) {
                free(info);
                return r;
        }
        *ret = info;
        return 0;
}

_public_ jetsnap_freeze_info *jetsnap_freeze_info_free(jetsnap_freeze_info *info) {
        free(info);
        return NULL;
}

static int manager_get_property(jetsnap_client *c, const char *member, const char *type, void *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = client_call(c, JETSNAP_MANAGER_PATH, "org.freedesktop.DBus.Properties", "Get", 0, &reply, "ss",
                        JETSNAP_MANAGER_IFACE, member);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'v', type);
        if (r < 0)
                return client_set_error(c, r);
        if (streq(type, "s")) {
                const char *s;
                char *copy;

                r = sd_bus_message_read_basic(reply, 's', &s);
                if (r < 0)
                        return client_set_error(c, r);
                copy = strdup(s);
                if (!copy)
                        return -ENOMEM;
                *(char **) ret = copy;
                return 0;
        }
        r = sd_bus_message_read_basic(reply, type[0], ret);
        if (r < 0)
                return client_set_error(c, r);
        return 0;
}

_public_ int jetsnap_get_version(jetsnap_client *c, char **ret) {
        assert_client(c);
        assert_return(ret, -EINVAL);
        return manager_get_property(c, "Version", "s", ret);
}

_public_ int jetsnap_get_freeze_timeout(jetsnap_client *c, uint64_t *ret_usec) {
        assert_client(c);
        assert_return(ret_usec, -EINVAL);
        return manager_get_property(c, "FreezeTimeoutUSec", "t", ret_usec);
}

_public_ int jetsnap_get_active_snapshot_id(jetsnap_client *c, uint64_t *ret_id) {
        assert_client(c);
        assert_return(ret_id, -EINVAL);
        return manager_get_property(c, "ActiveSnapshotId", "t", ret_id);
}

_public_ int jetsnap_get_active_snapshot_state(jetsnap_client *c, char **ret) {
        assert_client(c);
        assert_return(ret, -EINVAL);
        return manager_get_property(c, "ActiveSnapshotState", "s", ret);
}

static int read_snapshot_id(jetsnap_client *c, sd_bus_message *reply, uint64_t *ret_id) {
        uint64_t id;
        int r;

        r = sd_bus_message_read(reply, "t", &id);
        if (r < 0)
                return client_set_error(c, r);
        *ret_id = id;
        return 0;
}

_public_ int jetsnap_prepare(jetsnap_client *c, uint32_t flags, uint64_t *ret_id) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        assert_client(c);
        assert_return(ret_id, -EINVAL);

        r = client_call(c, NULL, NULL, "Prepare", 0, &reply, "u", flags);
        if (r < 0)
                return r;
        return read_snapshot_id(c, reply, ret_id);
}

_public_ int jetsnap_prepare_with_options(jetsnap_client *c, uint32_t flags, uint64_t timeout_usec,
                                          int bind_to_caller, uint64_t *ret_id) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        assert_client(c);
        assert_return(ret_id, -EINVAL);

        client_reset_error(c);
        r = client_new_method_call(c, NULL, NULL, "PrepareWithOptions", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "u", flags);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        /* Options left out take the daemon's defaults. */
        if (timeout_usec != JETSNAP_TIMEOUT_DEFAULT) {
                r = sd_bus_message_append(m, "{sv}", "TimeoutUSec", "t", timeout_usec);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_append(m, "{sv}", "BindToCaller", "b", bind_to_caller ? 1 : 0);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = client_call_message(c, m, 0, &reply);
        if (r < 0)
                return r;
        return read_snapshot_id(c, reply, ret_id);
}

_public_ int jetsnap_prepare_instance(jetsnap_client *c, uint64_t id, const char *instance, uint32_t flags) {
        assert_client(c);
        assert_return(instance, -EINVAL);
        return client_call(c, NULL, NULL, "PrepareInstance", 0, NULL, "tsu", id, instance, flags);
}

static int freeze_info_call(jetsnap_client *c, const char *member, uint64_t timeout_usec, uint64_t id,
                            uint32_t flags, jetsnap_freeze_info **ret_info) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = client_call(c, NULL, NULL, member, timeout_usec, &reply, "tu", id, flags);
        if (r < 0)
                return r;
        if (!ret_info)
                return 0;
        r = freeze_info_from_message(reply, ret_info);
        if (r < 0)
                return client_set_error(c, r);
        return 0;
}

_public_ int jetsnap_freeze(jetsnap_client *c, uint64_t id, uint32_t flags, jetsnap_freeze_info **ret_info) {
        assert_client(c);
        /* Freeze waits for the in-flight fdatasync of every instance: allow for slow disks. */
        return freeze_info_call(c, "Freeze", JETSNAP_LONG_CALL_TIMEOUT_USEC, id, flags, ret_info);
}

_public_ int jetsnap_get_freeze_info(jetsnap_client *c, uint64_t id, uint32_t flags, jetsnap_freeze_info **ret_info) {
        assert_client(c);
        assert_return(ret_info, -EINVAL);
        return freeze_info_call(c, "GetFreezeInfo", 0, id, flags, ret_info);
}

_public_ int jetsnap_thaw(jetsnap_client *c, uint64_t id, uint32_t flags) {
        assert_client(c);
        return client_call(c, NULL, NULL, "Thaw", 0, NULL, "tu", id, flags);
}

_public_ int jetsnap_truncate_log(jetsnap_client *c, uint64_t id, uint32_t flags) {
        assert_client(c);
        return client_call(c, NULL, NULL, "TruncateLog", 0, NULL, "tu", id, flags);
}

_public_ int jetsnap_truncate_log_instance(jetsnap_client *c, uint64_t id, const char *instance, uint32_t flags) {
        assert_client(c);
        assert_return(instance, -EINVAL);
        return client_call(c, NULL, NULL, "TruncateLogInstance", 0, NULL, "tsu", id, instance, flags);
}

_public_ int jetsnap_abort(jetsnap_client *c, uint64_t id, uint32_t flags) {
        assert_client(c);
        return client_call(c, NULL, NULL, "Abort", 0, NULL, "tu", id, flags);
}

_public_ int jetsnap_end(jetsnap_client *c, uint64_t id, uint32_t flags) {
        assert_client(c);
        return client_call(c, NULL, NULL, "End", 0, NULL, "tu", id, flags);
}

_public_ int jetsnap_list_instances(jetsnap_client *c, char ***ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **names = NULL;
        const char *name, *path;
        size_t n = 0;
        int r;

        assert_client(c);
        assert_return(ret, -EINVAL);

        r = client_call(c, NULL, NULL, "ListInstances", 0, &reply, NULL);
        if (r < 0)
                return r;
        names = calloc(1, sizeof(char *));
        if (!names)
                return -ENOMEM;
        r = sd_bus_message_enter_container(reply, 'a', "(so)");
        if (r < 0)
                return client_set_error(c, r);
        while ((r = sd_bus_message_read(reply, "(so)", &name, &path)) > 0) {
                char **l = reallocarray(names, n + 2, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                names = l;
                names[n] = strdup(name);
                if (!names[n])
                        return -ENOMEM;
                names[++n] = NULL;
        }
        if (r < 0)
                return client_set_error(c, r);
        *ret = TAKE_PTR(names);
        return 0;
}
