/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * jetsnap_snapshot(): the success path and every failure path, each of
 * which must leave no session behind and record no backup.
 */

#include <stdio.h>
#include <string.h>

#include "client-test.h"

typedef struct Seen {
        int calls;
        uint64_t id;
        size_t n_instances;
        char first[64];
        int result;                     /* what the callback returns */
        int wait_for_timeout;
} Seen;

static int callback(jetsnap_client *c, uint64_t id, const jetsnap_freeze_info *info, void *userdata) {
        Seen *seen = userdata;
        char *state = NULL;

        seen->calls++;
        seen->id = id;
        seen->n_instances = info->n_instances;
        if (info->n_instances > 0)
                snprintf(seen->first, sizeof(seen->first), "%s", info->instances[0].name);
        /*
         * The callback runs while frozen; it may read through the same client.
         * With test_timeout's 1 ms window the freeze may have timed out already
         * (under valgrind it usually has).
         */
        ck_assert_int_eq(jetsnap_get_active_snapshot_state(c, &state), 0);
        if (!seen->wait_for_timeout || strcmp(state, "timed-out") != 0)
                ck_assert_str_eq(state, "frozen");
        free(state);
        if (seen->wait_for_timeout)
                wait_for_state(c, "timed-out");
        return seen->result;
}

START_TEST(test_success) {
        _cleanup_client_ jetsnap_client *c = test_client();
        Seen seen = {};
        jetsnap_step step = _JETSNAP_STEP_MAX;
        uint64_t before = last_full_backup_usec(c, "alpha");

        ck_assert_int_eq(jetsnap_snapshot(c, 0, NULL, JETSNAP_TIMEOUT_DEFAULT, callback, &seen, &step), 0);
        ck_assert_int_eq(step, JETSNAP_STEP_NONE);
        ck_assert_int_eq(seen.calls, 1);
        ck_assert_uint_gt(seen.id, 0);
        ck_assert_uint_eq(seen.n_instances, 2);
        ck_assert_uint_eq(active_id(c), 0);
        ck_assert_uint_gt(last_full_backup_usec(c, "alpha"), before);
}
END_TEST

START_TEST(test_selected_instance_and_copy) {
        _cleanup_client_ jetsnap_client *c = test_client();
        const char *const only_beta[] = { "beta", NULL };
        Seen seen = {};
        jetsnap_step step;
        uint64_t before = last_full_backup_usec(c, "beta");

        ck_assert_int_eq(jetsnap_snapshot(c, JETSNAP_PREPARE_COPY, only_beta, 30 * UINT64_C(1000000), callback, &seen,
                                          &step), 0);
        ck_assert_int_eq(step, JETSNAP_STEP_NONE);
        ck_assert_uint_eq(seen.n_instances, 1);
        ck_assert_str_eq(seen.first, "beta");
        ck_assert_uint_eq(active_id(c), 0);
        /* A copy snapshot is not a full backup. */
        ck_assert_uint_eq(last_full_backup_usec(c, "beta"), before);
}
END_TEST

START_TEST(test_callback_fails) {
        _cleanup_client_ jetsnap_client *c = test_client();
        Seen seen = { .result = -EIO };
        jetsnap_step step;
        uint64_t before = last_full_backup_usec(c, "alpha");

        ck_assert_int_eq(jetsnap_snapshot(c, 0, NULL, JETSNAP_TIMEOUT_DEFAULT, callback, &seen, &step), -EIO);
        ck_assert_int_eq(step, JETSNAP_STEP_CALLBACK);
        ck_assert_int_eq(seen.calls, 1);
        /* Ended with End(Abort): no session, the id is dead, nothing recorded. */
        ck_assert_uint_eq(active_id(c), 0);
        ck_assert_int_eq(jetsnap_end(c, seen.id, 0), -ESRCH);
        ck_assert_uint_eq(last_full_backup_usec(c, "alpha"), before);
}
END_TEST

START_TEST(test_timeout) {
        _cleanup_client_ jetsnap_client *c = test_client();
        Seen seen = { .wait_for_timeout = 1 };
        jetsnap_step step;
        uint64_t before = last_full_backup_usec(c, "alpha");

        ck_assert_int_eq(jetsnap_snapshot(c, 0, NULL, 1000, callback, &seen, &step), -ETIMEDOUT);
        ck_assert_int_eq(step, JETSNAP_STEP_THAW);
        /* The failing step's message survives the abort that followed. */
        ck_assert_str_eq(jetsnap_client_get_error_name(c), "org.jetsnap1.Error.OSSnapshotTimeOut");
        ck_assert_uint_eq(active_id(c), 0);
        ck_assert_uint_eq(last_full_backup_usec(c, "alpha"), before);
}
END_TEST

START_TEST(test_unknown_instance) {
        _cleanup_client_ jetsnap_client *c = test_client();
        const char *const names[] = { "alpha", "no-such-instance", NULL };
        Seen seen = {};
        jetsnap_step step;

        ck_assert_int_eq(jetsnap_snapshot(c, 0, names, JETSNAP_TIMEOUT_DEFAULT, callback, &seen, &step), -EINVAL);
        ck_assert_int_eq(step, JETSNAP_STEP_PREPARE_INSTANCE);
        ck_assert_int_eq(seen.calls, 0);
        ck_assert_uint_eq(active_id(c), 0);
}
END_TEST

START_TEST(test_other_session_exists) {
        _cleanup_client_ jetsnap_client *c = test_client();
        Seen seen = {};
        jetsnap_step step;
        uint64_t id;

        ck_assert_int_eq(jetsnap_prepare(c, 0, &id), 0);
        ck_assert_int_eq(jetsnap_snapshot(c, 0, NULL, JETSNAP_TIMEOUT_DEFAULT, callback, &seen, &step), -EPROTO);
        ck_assert_int_eq(step, JETSNAP_STEP_PREPARE);
        ck_assert_int_eq(seen.calls, 0);
        /* The other session is left alone. */
        ck_assert_uint_eq(active_id(c), id);
        ck_assert_int_eq(jetsnap_end(c, id, 0), 0);
}
END_TEST

START_TEST(test_incremental_after_full) {
        _cleanup_client_ jetsnap_client *c = test_client();
        Seen seen = {};
        jetsnap_step step;

        ck_assert_int_eq(jetsnap_snapshot(c, 0, NULL, JETSNAP_TIMEOUT_DEFAULT, callback, &seen, &step), 0);
        ck_assert_int_eq(jetsnap_snapshot(c, JETSNAP_PREPARE_INCREMENTAL, NULL, JETSNAP_TIMEOUT_DEFAULT, callback,
                                          &seen, &step), 0);
        ck_assert_int_eq(step, JETSNAP_STEP_NONE);
        ck_assert_int_eq(seen.calls, 2);
}
END_TEST

START_TEST(test_bad_arguments) {
        _cleanup_client_ jetsnap_client *c = test_client();
        Seen seen = {};
        jetsnap_step step = JETSNAP_STEP_NONE;

        ck_assert_int_eq(jetsnap_snapshot(c, JETSNAP_PREPARE_EXPLICIT, NULL, 0, callback, &seen, &step), -EINVAL);
        ck_assert_int_eq(step, JETSNAP_STEP_ARGUMENTS);
        ck_assert_int_eq(jetsnap_snapshot(c, 0, NULL, 0, NULL, &seen, &step), -EINVAL);
        ck_assert_int_eq(jetsnap_snapshot(NULL, 0, NULL, 0, callback, &seen, NULL), -EINVAL);
        ck_assert_int_eq(seen.calls, 0);
        ck_assert_uint_eq(active_id(c), 0);
}
END_TEST

static Suite *helper_suite(void) {
        Suite *s = suite_create("client-helper");
        TCase *tc = tcase_create("Helper");

        tcase_add_checked_fixture(tc, NULL, abort_leftover_session);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_success);
        tcase_add_test(tc, test_selected_instance_and_copy);
        tcase_add_test(tc, test_callback_fails);
        tcase_add_test(tc, test_timeout);
        tcase_add_test(tc, test_unknown_instance);
        tcase_add_test(tc, test_other_session_exists);
        tcase_add_test(tc, test_incremental_after_full);
        tcase_add_test(tc, test_bad_arguments);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite(helper_suite());
}
