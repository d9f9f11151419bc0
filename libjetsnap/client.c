/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The client handle: connection setup, reference counting, the error of
 * the last call, and the one place that performs method calls.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include "bus-errors.h"
#include "client-internal.h"

static int client_new(sd_bus *bus, jetsnap_client **ret) {
        jetsnap_client *c;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->n_ref = 1;
        c->bus = bus;
        c->error = SD_BUS_ERROR_NULL;
        *ret = c;
        return 0;
}

/* Takes *bus's reference on success (and sets *bus to NULL); on failure the caller still owns it. */
static int client_open_bus(sd_bus **bus, jetsnap_client **ret) {
        int r;

        /* Process-global and idempotent: after this, every errno from sd-bus follows design.md §4. */
        r = jetsnap_bus_error_map_register();
        if (r < 0)
                return r;
        r = client_new(*bus, ret);
        if (r < 0)
                return r;
        *bus = NULL;
        return 0;
}

_public_ int jetsnap_client_open_system(jetsnap_client **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        assert_return(ret, -EINVAL);

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        return client_open_bus(&bus, ret);
}

_public_ int jetsnap_client_open_user(jetsnap_client **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        assert_return(ret, -EINVAL);

        r = sd_bus_open_user(&bus);
        if (r < 0)
                return r;
        return client_open_bus(&bus, ret);
}

_public_ int jetsnap_client_open_address(const char *address, jetsnap_client **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        assert_return(address && *address, -EINVAL);
        assert_return(ret, -EINVAL);

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        /* A bus, not a peer: say hello and get a unique name (BindToCaller keys on it). */
        r = sd_bus_set_bus_client(bus, 1);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        return client_open_bus(&bus, ret);
}

_public_ int jetsnap_client_open_remote(const char *host, jetsnap_client **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        assert_return(host && *host, -EINVAL);
        assert_return(ret, -EINVAL);

        /* unixexec:path=ssh,argv1=-xT,argv2=--,argv3=HOST,argv4=systemd-stdio-bridge, HOST escaped. */
        r = sd_bus_open_system_remote(&bus, host);
        if (r < 0)
                return r;
        return client_open_bus(&bus, ret);
}

_public_ jetsnap_client *jetsnap_client_ref(jetsnap_client *c) {
        if (!c)
                return NULL;
        c->n_ref++;
        return c;
}

_public_ jetsnap_client *jetsnap_client_unref(jetsnap_client *c) {
        if (!c)
                return NULL;
        if (--c->n_ref > 0)
                return NULL;
        /* Flushing makes sure a last queued message (none today) is not lost; closing ends BindToCaller sessions. */
        sd_bus_flush_close_unref(c->bus);
        sd_bus_error_free(&c->error);
        free(c);
        return NULL;
}

_public_ const char *jetsnap_client_get_error_message(jetsnap_client *c) {
        if (!c || !sd_bus_error_is_set(&c->error))
                return NULL;
        return c->error.message ?: c->error.name;
}

_public_ const char *jetsnap_client_get_error_name(jetsnap_client *c) {
        if (!c || !sd_bus_error_is_set(&c->error))
                return NULL;
        return c->error.name;
}

_public_ char **jetsnap_strv_free(char **l) {
        strv_free(l);
        return NULL;
}

void client_reset_error(jetsnap_client *c) {
        sd_bus_error_free(&c->error);
}

int client_set_error(jetsnap_client *c, int r) {
        sd_bus_error_free(&c->error);
        return sd_bus_error_set_errno(&c->error, r);
}

int client_new_method_call(jetsnap_client *c, const char *path, const char *iface, const char *member,
                           sd_bus_message **ret) {
        return sd_bus_message_new_method_call(c->bus, ret, JETSNAP_SERVICE, path ?: JETSNAP_MANAGER_PATH,
                                              iface ?: JETSNAP_MANAGER_IFACE, member);
}

int client_call_message(jetsnap_client *c, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        client_reset_error(c);
        r = sd_bus_call(c->bus, m, timeout_usec, &error, ret_reply);
        if (r < 0) {
                /* sd-bus translated the name through our map already; keep name and message for the caller. */
                sd_bus_error_move(&c->error, &error);
                return r;
        }
        return 0;
}

int client_call(jetsnap_client *c, const char *path, const char *iface, const char *member,
                uint64_t timeout_usec, sd_bus_message **ret_reply, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        client_reset_error(c);
        r = client_new_method_call(c, path, iface, member, &m);
        if (r < 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }
        return client_call_message(c, m, timeout_usec, ret_reply);
}

int instance_object_path(const char *instance, char **ret) {
        return sd_bus_path_encode(JETSNAP_INSTANCE_PATH_PREFIX, instance, ret);
}
