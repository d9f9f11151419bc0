/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared by the libjetsnap tests, which run against a real jetsnapd on a
 * private bus (tests/lib/with-daemon, config client.yaml: instances
 * "alpha" {main} and "beta" {one, two}).
 */

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jetsnap/jetsnap.h"
#include "check-run.h"

/* A client on the test bus; fails the test if it cannot connect. */
static inline jetsnap_client *test_client(void) {
        jetsnap_client *c = NULL;

        ck_assert_int_eq(jetsnap_client_open_system(&c), 0);
        ck_assert_ptr_nonnull(c);
        return c;
}

static inline uint64_t active_id(jetsnap_client *c) {
        uint64_t id = UINT64_MAX;

        ck_assert_int_eq(jetsnap_get_active_snapshot_id(c, &id), 0);
        return id;
}

/* Waits until the active session reaches @state; the tcase timeout bounds the wait. */
static inline void wait_for_state(jetsnap_client *c, const char *state) {
        for (;;) {
                char *s = NULL;
                int done;

                ck_assert_int_eq(jetsnap_get_active_snapshot_state(c, &s), 0);
                done = strcmp(s, state) == 0;
                free(s);
                if (done)
                        return;
                usleep(2000);
        }
}

/* Waits until no session exists (e.g. after a bound caller went away). */
static inline void wait_for_no_session(jetsnap_client *c) {
        while (active_id(c) != 0)
                usleep(2000);
}

/* Teardown for every test: a failed test must not leave a session behind for the next one. */
static inline void abort_leftover_session(void) {
        jetsnap_client *c = NULL;
        uint64_t id = 0;

        if (jetsnap_client_open_system(&c) < 0)
                return;
        if (jetsnap_get_active_snapshot_id(c, &id) >= 0 && id != 0)
                (void) jetsnap_abort(c, id, 0);
        jetsnap_client_unref(c);
}

static inline uint64_t last_full_backup_usec(jetsnap_client *c, const char *instance) {
        jetsnap_instance_status *s = NULL;
        uint64_t t;

        ck_assert_int_eq(jetsnap_get_instance_status(c, instance, &s), 0);
        t = s->last_full_backup_usec;
        jetsnap_instance_status_free(s);
        return t;
}


/* The header's own cleanup helper, as a caller would use it. */
#define _cleanup_client_ __attribute__((cleanup(jetsnap_client_unrefp)))
