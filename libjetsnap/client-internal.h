/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Internals shared by the files of libjetsnap. Nothing here is exported. */

#include <systemd/sd-bus.h>

#include "jetsnap/jetsnap.h"
#include "macro.h"

#define _public_ __attribute__((visibility("default")))

/* Like systemd's assert_return(): public entry points refuse bad arguments instead of crashing. */
#define assert_return(expr, r)                  \
        do {                                    \
                if (!(expr))                    \
                        return (r);             \
        } while (0)

/* Every public call on a client starts here: even a local failure must not leave the previous call's message. */
#define assert_client(c)                        \
        do {                                    \
                assert_return((c), -EINVAL);    \
                client_reset_error(c);          \
        } while (0)

#define JETSNAP_SERVICE "org.jetsnap1"
#define JETSNAP_MANAGER_PATH "/org/jetsnap1"
#define JETSNAP_MANAGER_IFACE "org.jetsnap1.Manager"
#define JETSNAP_INSTANCE_PATH_PREFIX "/org/jetsnap1/instance"
#define JETSNAP_INSTANCE_IFACE "org.jetsnap1.Instance"

struct jetsnap_client {
        unsigned n_ref;
        sd_bus *bus;
        /* The failure of the last call: what jetsnap_client_get_error_message() returns. */
        sd_bus_error error;
};


/* Forget the previous call's error; every public call that talks to the daemon starts with it. */
void client_reset_error(jetsnap_client *c);

/*
 * Calls a Manager (path NULL) or object method. Stores the error on
 * failure, so the message survives until the next call. @timeout_usec 0
 * is sd-bus's default (25 s). Return: 0 or negative errno.
 */
int client_call(jetsnap_client *c, const char *path, const char *iface, const char *member,
                uint64_t timeout_usec, sd_bus_message **ret_reply, const char *types, ...);
/* The same with an already built message (for arrays and a{sv}). */
int client_call_message(jetsnap_client *c, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **ret_reply);
int client_new_method_call(jetsnap_client *c, const char *path, const char *iface, const char *member,
                           sd_bus_message **ret);
/* Remembers a failure of the client's own making (e.g. a malformed reply), so no stale message remains. */
int client_set_error(jetsnap_client *c, int r);

/* Parses a(tsa(ss)sas) into one allocation. */
int freeze_info_from_message(sd_bus_message *m, jetsnap_freeze_info **ret);

/* Object path of an instance, caller frees. */
int instance_object_path(const char *instance, char **ret);
