/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * org.jetsnap1.Snapshot at /org/jetsnap1/snapshot/<id>: the session while
 * it exists, read-only, for monitoring. Also the freeze info marshalling
 * shared by Freeze and GetFreezeInfo.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "manager.h"
#include "session.h"

static int append_instance_info(sd_bus_message *reply, Instance *i, char **files) {
        _cleanup_free_ char *logs = NULL;
        const char *log_dir;
        int r;

        if (i->engine)
                log_dir = engine_get_log_directory(i->engine);
        else {
                if (asprintf(&logs, "%s/logs", i->config->path) < 0)
                        return -ENOMEM;
                log_dir = logs;
        }

        r = sd_bus_message_open_container(reply, 'r', "tsa(ss)sas");
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "ts", i->id, i->config->name);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ss)");
        if (r < 0)
                return r;
        for (size_t d = 0; d < i->config->n_databases; d++) {
                r = sd_bus_message_append(reply, "(ss)", i->config->databases[d].path, i->config->databases[d].name);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "s", log_dir);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(reply, files);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/*
 * session_append_freeze_info() - the a(tsa(ss)sas) of Freeze/GetFreezeInfo:
 * per instance id, name, databases (file, display name), log directory and
 * the files a backup must copy. With @with_info false: an empty array.
 */
int session_append_freeze_info(Session *s, sd_bus_message *reply, bool with_info) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(tsa(ss)sas)");
        if (r < 0)
                return r;
        if (with_info && s->members)
                for (size_t k = 0; k < s->n_members; k++) {
                        r = append_instance_info(reply, s->members[k].instance, s->members[k].files);
                        if (r < 0)
                                return r;
                }
        else if (with_info)
                /* Not frozen yet: who is in the session, no files. */
                for (size_t k = 0; k < s->snapshot->n_instances; k++) {
                        Instance *i = manager_find_instance(s->manager, s->snapshot->instances[k]);

                        if (!i)
                                continue;
                        r = append_instance_info(reply, i, NULL);
                        if (r < 0)
                                return r;
                }
        return sd_bus_message_close_container(reply);
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Session *s = userdata;

        if (streq(property, "Id"))
                return sd_bus_message_append(reply, "t", s->snapshot->id);
        if (streq(property, "State"))
                return sd_bus_message_append(reply, "s", snapshot_state_to_public_string(s->snapshot->state));
        if (streq(property, "Flags"))
                return sd_bus_message_append(reply, "u", s->snapshot->flags);
        if (streq(property, "Owner"))
                return sd_bus_message_append(reply, "s", s->owner);
        if (streq(property, "Instances"))
                return sd_bus_message_append_strv(reply, s->snapshot->instances);
        if (streq(property, "TimeoutUSec"))
                return sd_bus_message_append(reply, "t", s->timeout_usec);
        if (streq(property, "PreparedUSec"))
                return sd_bus_message_append(reply, "t", s->prepared_usec);
        return sd_bus_message_append(reply, "t", s->frozen_usec);
}

const sd_bus_vtable session_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Flags", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Owner", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        /* PrepareInstance adds to it. */
        SD_BUS_PROPERTY("Instances", "as", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("TimeoutUSec", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PreparedUSec", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("FrozenUSec", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

int session_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                        sd_bus_error *error) {
        Manager *m = userdata;

        if (!m->session || !m->session->published || !streq(path, m->session->object_path))
                return 0;
        *ret_found = m->session;
        return 1;
}

int session_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes, sd_bus_error *error) {
        Manager *m = userdata;
        char **l;

        l = calloc(2, sizeof(char *));
        if (!l)
                return -ENOMEM;
        if (m->session && m->session->published) {
                l[0] = strdup(m->session->object_path);
                if (!l[0]) {
                        free(l);
                        return -ENOMEM;
                }
        }
        *ret_nodes = l;
        return 0;
}
