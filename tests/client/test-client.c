/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * libjetsnap native API against a real jetsnapd: every Manager call, its
 * legal and illegal uses, and the exact errno of each failure
 * (design.md §4, ese-semantics.md).
 */

#include <stdio.h>
#include <string.h>
#include <grp.h>
#include <sys/wait.h>

#include "client-test.h"

START_TEST(test_incremental_without_full_backup) {
        /* Runs first: on the fresh daemon no full backup exists yet. */
        _cleanup_client_ jetsnap_client *c = test_client();
        uint64_t id;

        ck_assert_uint_eq(last_full_backup_usec(c, "alpha"), 0);
        ck_assert_int_eq(jetsnap_prepare(c, JETSNAP_PREPARE_INCREMENTAL, &id), 0);
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, NULL), -ENODATA);
        ck_assert_ptr_nonnull(jetsnap_client_get_error_message(c));
        /* freeze-failed: GetFreezeInfo is empty, Thaw is out of sequence, End(0) ends. */
        {
                jetsnap_freeze_info *info = NULL;
                ck_assert_int_eq(jetsnap_get_freeze_info(c, id, 0, &info), 0);
                ck_assert_uint_eq(info->n_instances, 0);
                jetsnap_freeze_info_free(info);
        }
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), -EPROTO);
        ck_assert_int_eq(jetsnap_end(c, id, 0), 0);
        ck_assert_uint_eq(active_id(c), 0);
}
END_TEST

START_TEST(test_properties) {
        _cleanup_client_ jetsnap_client *c = test_client();
        char *version = NULL, *state = NULL;
        uint64_t t = 0;

        ck_assert_int_eq(jetsnap_get_version(c, &version), 0);
        ck_assert_str_ne(version, "");
        free(version);
        ck_assert_int_eq(jetsnap_get_freeze_timeout(c, &t), 0);
        ck_assert_uint_eq(t, 60 * UINT64_C(1000000));
        ck_assert_uint_eq(active_id(c), 0);
        ck_assert_int_eq(jetsnap_get_active_snapshot_state(c, &state), 0);
        ck_assert_str_eq(state, "");
        free(state);
        ck_assert_ptr_null(jetsnap_client_get_error_message(c));
}
END_TEST

START_TEST(test_bad_arguments) {
        _cleanup_client_ jetsnap_client *c = test_client();
        jetsnap_client *none = NULL;
        uint64_t id;

        ck_assert_int_eq(jetsnap_client_open_system(NULL), -EINVAL);
        ck_assert_int_eq(jetsnap_client_open_address(NULL, &none), -EINVAL);
        ck_assert_int_eq(jetsnap_client_open_address("", &none), -EINVAL);
        ck_assert_int_eq(jetsnap_client_open_remote(NULL, &none), -EINVAL);
        ck_assert_ptr_null(none);
        ck_assert_int_eq(jetsnap_prepare(NULL, 0, &id), -EINVAL);
        ck_assert_int_eq(jetsnap_prepare(c, 0, NULL), -EINVAL);
        ck_assert_int_eq(jetsnap_prepare_instance(c, 1, NULL, 0), -EINVAL);
        ck_assert_int_eq(jetsnap_get_freeze_info(c, 1, 0, NULL), -EINVAL);
        ck_assert_int_eq(jetsnap_list_instances(c, NULL), -EINVAL);
        ck_assert_ptr_null(jetsnap_client_unref(NULL));
        ck_assert_ptr_null(jetsnap_client_ref(NULL));
        ck_assert_ptr_null(jetsnap_freeze_info_free(NULL));
        ck_assert_ptr_null(jetsnap_step_to_string(-1));
        ck_assert_ptr_null(jetsnap_step_to_string(_JETSNAP_STEP_MAX));
        ck_assert_str_eq(jetsnap_step_to_string(JETSNAP_STEP_THAW), "thaw");
}
END_TEST

START_TEST(test_open_address) {
        const char *address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
        jetsnap_client *c = NULL, *bad = NULL;
        uint64_t id = UINT64_MAX;

        ck_assert_ptr_nonnull(address);
        ck_assert_int_eq(jetsnap_client_open_address(address, &c), 0);
        ck_assert_int_eq(jetsnap_get_active_snapshot_id(c, &id), 0);
        ck_assert_uint_eq(id, 0);
        ck_assert_ptr_eq(jetsnap_client_ref(c), c);
        ck_assert_ptr_null(jetsnap_client_unref(c));
        ck_assert_ptr_null(jetsnap_client_unref(c));
        ck_assert_int_eq(jetsnap_client_open_address("unix:path=/nonexistent/jetsnap-test-socket", &bad), -ENOENT);
        ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(test_full_sequence) {
        _cleanup_client_ jetsnap_client *c = test_client();
        jetsnap_freeze_info *info = NULL, *again = NULL;
        char *state = NULL;
        uint64_t id, other, before = last_full_backup_usec(c, "alpha");

        ck_assert_int_eq(jetsnap_prepare(c, JETSNAP_PREPARE_CONTINUE_AFTER_THAW, &id), 0);
        ck_assert_uint_gt(id, 0);
        ck_assert_uint_eq(active_id(c), id);
        ck_assert_int_eq(jetsnap_get_active_snapshot_state(c, &state), 0);
        ck_assert_str_eq(state, "prepared");
        free(state);

        /* One session at a time; the refused Prepare changes nothing. */
        ck_assert_int_eq(jetsnap_prepare(c, 0, &other), -EPROTO);
        ck_assert_ptr_nonnull(jetsnap_client_get_error_message(c));
        ck_assert_str_eq(jetsnap_client_get_error_name(c), "org.jetsnap1.Error.OSSnapshotInvalidSequence");
        ck_assert_uint_eq(active_id(c), id);

        /* Out of sequence in "prepared". */
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), -EPROTO);
        ck_assert_int_eq(jetsnap_truncate_log(c, id, JETSNAP_TRUNCATE_ALL_DATABASES), -EPROTO);

        ck_assert_int_eq(jetsnap_freeze(c, id, 0, &info), 0);
        ck_assert_ptr_null(jetsnap_client_get_error_message(c));
        ck_assert_uint_eq(info->n_instances, 2);
        for (size_t i = 0; i < info->n_instances; i++) {
                const jetsnap_instance_info *in = &info->instances[i];
                int alpha = strcmp(in->name, "alpha") == 0;

                ck_assert(alpha || strcmp(in->name, "beta") == 0);
                ck_assert_uint_gt(in->id, 0);
                ck_assert_uint_eq(in->n_databases, alpha ? 1 : 2);
                ck_assert_str_eq(in->databases[0].display_name, alpha ? "main" : "one");
                ck_assert_ptr_nonnull(strstr(in->databases[0].path, alpha ? "/alpha/main.jdb" : "/beta/one.jdb"));
                ck_assert_int_eq(in->log_directory[0], '/');
                /* A full snapshot needs the checkpoint and at least the generation just closed. */
                ck_assert_uint_ge(in->n_files, 2);
                for (size_t k = 0; k < in->n_files; k++)
                        ck_assert_int_eq(in->files[k][0], '/');
                ck_assert_ptr_null(in->files[in->n_files]);
        }

        ck_assert_int_eq(jetsnap_get_freeze_info(c, id, 0, &again), 0);
        ck_assert_uint_eq(again->n_instances, info->n_instances);
        ck_assert_str_eq(again->instances[0].name, info->instances[0].name);
        ck_assert_uint_eq(again->instances[0].n_files, info->instances[0].n_files);
        jetsnap_freeze_info_free(again);
        jetsnap_freeze_info_free(info);

        /* Out of sequence while frozen. */
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, NULL), -EPROTO);
        ck_assert_int_eq(jetsnap_end(c, id, 0), -EPROTO);
        ck_assert_int_eq(jetsnap_truncate_log(c, id, 0), -EPROTO);
        ck_assert_int_eq(jetsnap_prepare_instance(c, id, "alpha", 0), -EPROTO);
        ck_assert_uint_eq(active_id(c), id);

        ck_assert_int_eq(jetsnap_thaw(c, id, 0), 0);
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), -EPROTO);
        ck_assert_int_eq(jetsnap_truncate_log(c, id, JETSNAP_TRUNCATE_ALL_DATABASES), 0);
        ck_assert_int_eq(jetsnap_truncate_log(c, id, JETSNAP_TRUNCATE_ALL_DATABASES), 0);
        ck_assert_int_eq(jetsnap_end(c, id, 0), 0);

        ck_assert_uint_eq(active_id(c), 0);
        ck_assert_uint_gt(last_full_backup_usec(c, "alpha"), before);
        /* The id is dead for every call. */
        ck_assert_int_eq(jetsnap_end(c, id, 0), -ESRCH);
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), -ESRCH);
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, NULL), -ESRCH);
        ck_assert_int_eq(jetsnap_abort(c, id, 0), -ESRCH);
        ck_assert_str_eq(jetsnap_client_get_error_name(c), "org.jetsnap1.Error.OSSnapshotInvalidSnapId");

        /* Ids only go up. */
        ck_assert_int_eq(jetsnap_prepare(c, 0, &other), 0);
        ck_assert_uint_gt(other, id);
        ck_assert_int_eq(jetsnap_end(c, other, 0), 0);
}
END_TEST

START_TEST(test_thaw_ends_without_continue) {
        _cleanup_client_ jetsnap_client *c = test_client();
        uint64_t id;

        ck_assert_int_eq(jetsnap_prepare(c, 0, &id), 0);
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, NULL), 0);
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), 0);
        ck_assert_uint_eq(active_id(c), 0);
        ck_assert_int_eq(jetsnap_end(c, id, 0), -ESRCH);
}
END_TEST

START_TEST(test_bad_flags) {
        _cleanup_client_ jetsnap_client *c = test_client();
        uint64_t id;

        ck_assert_int_eq(jetsnap_prepare(c, 0x10, &id), -EINVAL);
        ck_assert_str_eq(jetsnap_client_get_error_name(c), "org.jetsnap1.Error.InvalidParameter");
        ck_assert_uint_eq(active_id(c), 0);
        /* Argument errors are checked before the id. */
        ck_assert_int_eq(jetsnap_freeze(c, 987654321, 1, NULL), -EINVAL);
        ck_assert_int_eq(jetsnap_thaw(c, 987654321, 1), -EINVAL);
        ck_assert_int_eq(jetsnap_abort(c, 987654321, 1), -EINVAL);
        ck_assert_int_eq(jetsnap_end(c, 987654321, 2), -EINVAL);
        ck_assert_int_eq(jetsnap_truncate_log(c, 987654321, 2), -EINVAL);
        ck_assert_int_eq(jetsnap_freeze(c, 987654321, 0, NULL), -ESRCH);
        ck_assert_int_eq(jetsnap_get_freeze_info(c, 0, 0, &(jetsnap_freeze_info *) { NULL }), -ESRCH);

        ck_assert_int_eq(jetsnap_prepare(c, JETSNAP_PREPARE_CONTINUE_AFTER_THAW, &id), 0);
        ck_assert_int_eq(jetsnap_freeze(c, id, 1, NULL), -EINVAL);
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, NULL), 0);
        ck_assert_int_eq(jetsnap_thaw(c, id, 1), -EINVAL);
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), 0);
        ck_assert_int_eq(jetsnap_truncate_log(c, id, 2), -EINVAL);
        ck_assert_int_eq(jetsnap_end(c, id, 2), -EINVAL);
        ck_assert_int_eq(jetsnap_abort(c, id, 1), -EINVAL);
        ck_assert_uint_eq(active_id(c), id);
        ck_assert_int_eq(jetsnap_end(c, id, JETSNAP_END_ABORT), 0);
        ck_assert_uint_eq(active_id(c), 0);
}
END_TEST

START_TEST(test_explicit_prepare) {
        _cleanup_client_ jetsnap_client *c = test_client();
        jetsnap_freeze_info *info = NULL;
        uint64_t id;

        ck_assert_int_eq(jetsnap_prepare(c, JETSNAP_PREPARE_EXPLICIT | JETSNAP_PREPARE_CONTINUE_AFTER_THAW, &id), 0);
        ck_assert_int_eq(jetsnap_prepare_instance(c, id, "alpha", 1), -EINVAL);
        ck_assert_int_eq(jetsnap_prepare_instance(c, id, "no-such-instance", 0), -EINVAL);
        ck_assert_int_eq(jetsnap_prepare_instance(c, id + 1000, "alpha", 0), -ESRCH);
        ck_assert_int_eq(jetsnap_prepare_instance(c, id, "alpha", 0), 0);
        ck_assert_int_eq(jetsnap_prepare_instance(c, id, "alpha", 0), -EBUSY);
        ck_assert_str_eq(jetsnap_client_get_error_name(c), "org.jetsnap1.Error.OSSnapshotNotAllowed");

        ck_assert_int_eq(jetsnap_freeze(c, id, 0, &info), 0);
        ck_assert_uint_eq(info->n_instances, 1);
        ck_assert_str_eq(info->instances[0].name, "alpha");
        jetsnap_freeze_info_free(info);
        ck_assert_int_eq(jetsnap_prepare_instance(c, id, "beta", 0), -EPROTO);
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), 0);
        ck_assert_int_eq(jetsnap_truncate_log_instance(c, id, "beta", JETSNAP_TRUNCATE_ALL_DATABASES), -EINVAL);
        ck_assert_int_eq(jetsnap_truncate_log_instance(c, id, "alpha", JETSNAP_TRUNCATE_ALL_DATABASES), 0);
        ck_assert_int_eq(jetsnap_end(c, id, 0), 0);
        ck_assert_uint_eq(active_id(c), 0);
}
END_TEST

START_TEST(test_copy_and_incremental) {
        _cleanup_client_ jetsnap_client *c = test_client();
        jetsnap_freeze_info *info = NULL;
        uint64_t id, full;

        /* A full backup first, so that the incremental has a base. */
        ck_assert_int_eq(jetsnap_prepare(c, 0, &id), 0);
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, NULL), 0);
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), 0);
        full = last_full_backup_usec(c, "beta");
        ck_assert_uint_gt(full, 0);

        /* Copy: no truncation allowed, and not recorded as a full backup. */
        ck_assert_int_eq(jetsnap_prepare(c, JETSNAP_PREPARE_COPY | JETSNAP_PREPARE_CONTINUE_AFTER_THAW, &id), 0);
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, NULL), 0);
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), 0);
        ck_assert_int_eq(jetsnap_truncate_log(c, id, JETSNAP_TRUNCATE_ALL_DATABASES), -EPROTO);
        ck_assert_int_eq(jetsnap_end(c, id, 0), 0);
        ck_assert_uint_eq(last_full_backup_usec(c, "beta"), full);

        ck_assert_int_eq(jetsnap_prepare(c, JETSNAP_PREPARE_INCREMENTAL | JETSNAP_PREPARE_CONTINUE_AFTER_THAW, &id), 0);
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, &info), 0);
        ck_assert_uint_eq(info->n_instances, 2);
        jetsnap_freeze_info_free(info);
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), 0);
        ck_assert_int_eq(jetsnap_truncate_log(c, id, JETSNAP_TRUNCATE_ALL_DATABASES), 0);
        ck_assert_int_eq(jetsnap_end(c, id, 0), 0);
        {
                jetsnap_instance_status *s = NULL;
                ck_assert_int_eq(jetsnap_get_instance_status(c, "beta", &s), 0);
                ck_assert_uint_gt(s->last_incremental_backup_usec, 0);
                ck_assert_uint_eq(s->last_full_backup_usec, full);
                jetsnap_instance_status_free(s);
        }
}
END_TEST

START_TEST(test_abort) {
        _cleanup_client_ jetsnap_client *c = test_client();
        uint64_t id, before = last_full_backup_usec(c, "alpha");

        ck_assert_int_eq(jetsnap_prepare(c, JETSNAP_PREPARE_CONTINUE_AFTER_THAW, &id), 0);
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, NULL), 0);
        ck_assert_int_eq(jetsnap_abort(c, id, 0), 0);
        ck_assert_uint_eq(active_id(c), 0);
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), -ESRCH);

        /* End(Abort) while frozen thaws and records nothing. */
        ck_assert_int_eq(jetsnap_prepare(c, JETSNAP_PREPARE_CONTINUE_AFTER_THAW, &id), 0);
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, NULL), 0);
        ck_assert_int_eq(jetsnap_end(c, id, JETSNAP_END_ABORT), 0);
        ck_assert_uint_eq(active_id(c), 0);

        /* End(0) from "prepared" ends without a backup. */
        ck_assert_int_eq(jetsnap_prepare(c, 0, &id), 0);
        ck_assert_int_eq(jetsnap_end(c, id, 0), 0);
        ck_assert_uint_eq(last_full_backup_usec(c, "alpha"), before);
}
END_TEST

START_TEST(test_timeout) {
        _cleanup_client_ jetsnap_client *c = test_client();
        jetsnap_freeze_info *info = NULL;
        uint64_t id, before = last_full_backup_usec(c, "alpha");

        ck_assert_int_eq(jetsnap_prepare_with_options(c, JETSNAP_PREPARE_CONTINUE_AFTER_THAW, 1000, 0, &id), 0);
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, NULL), 0);
        wait_for_state(c, "timed-out");
        ck_assert_int_eq(jetsnap_get_freeze_info(c, id, 0, &info), 0);
        ck_assert_uint_eq(info->n_instances, 0);
        jetsnap_freeze_info_free(info);
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), -ETIMEDOUT);
        ck_assert_str_eq(jetsnap_client_get_error_name(c), "org.jetsnap1.Error.OSSnapshotTimeOut");
        ck_assert_int_eq(jetsnap_truncate_log(c, id, JETSNAP_TRUNCATE_ALL_DATABASES), -ETIMEDOUT);
        ck_assert_uint_eq(active_id(c), id);
        /* [jetsnap]: End(0) after a timeout reports it and ends the session. */
        ck_assert_int_eq(jetsnap_end(c, id, 0), -ETIMEDOUT);
        ck_assert_uint_eq(active_id(c), 0);
        ck_assert_uint_eq(last_full_backup_usec(c, "alpha"), before);

        /* Without ContinueAfterThaw, the Thaw that reports the timeout ends the session; 0 times out at once. */
        ck_assert_int_eq(jetsnap_prepare_with_options(c, 0, 0, 0, &id), 0);
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, NULL), 0);
        wait_for_state(c, "timed-out");
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), -ETIMEDOUT);
        ck_assert_uint_eq(active_id(c), 0);
}
END_TEST

START_TEST(test_bind_to_caller) {
        _cleanup_client_ jetsnap_client *c = test_client();
        jetsnap_client *bound = test_client();
        uint64_t id;

        ck_assert_int_eq(jetsnap_prepare_with_options(bound, 0, JETSNAP_TIMEOUT_DEFAULT, 1, &id), 0);
        ck_assert_int_eq(jetsnap_freeze(bound, id, 0, NULL), 0);
        ck_assert_uint_eq(active_id(c), id);
        /* Closing the connection aborts the session and thaws. */
        jetsnap_client_unref(bound);
        wait_for_no_session(c);
        ck_assert_int_eq(jetsnap_end(c, id, 0), -ESRCH);

        /* Unbound sessions outlive their creator. */
        bound = test_client();
        ck_assert_int_eq(jetsnap_prepare_with_options(bound, 0, JETSNAP_TIMEOUT_DEFAULT, 0, &id), 0);
        jetsnap_client_unref(bound);
        ck_assert_uint_eq(active_id(c), id);
        ck_assert_int_eq(jetsnap_abort(c, id, 0), 0);
}
END_TEST

/* Runs in a child as nobody; returns the number of the first check that failed, 0 if all passed. */
static int unprivileged_checks(void) {
        jetsnap_client *c = NULL;
        char **names = NULL;
        char *version = NULL;
        uint64_t id;
        jetsnap_op op = { .kind = JETSNAP_OP_PUT, .database = "main", .table = "t", .key = "k", .key_size = 1,
                          .value = "v", .value_size = 1 };
        int r;

        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                return 1;
        if (jetsnap_client_open_system(&c) < 0)
                return 2;
        /* Reading is open to everybody. */
        if (jetsnap_get_version(c, &version) < 0)
                return 3;
        free(version);
        if (jetsnap_list_instances(c, &names) < 0)
                return 4;
        jetsnap_strv_free(names);
        /* Snapshots and data are not. */
        r = jetsnap_prepare(c, 0, &id);
        if (r != -EACCES) {
                fprintf(stderr, "prepare as nobody: %d (%s)\n", r, jetsnap_client_get_error_message(c));
                return 5;
        }
        if (!jetsnap_client_get_error_message(c))
                return 6;
        r = jetsnap_commit(c, "alpha", &op, 1, NULL);
        if (r != -EACCES) {
                fprintf(stderr, "commit as nobody: %d (%s)\n", r, jetsnap_client_get_error_message(c));
                return 7;
        }
        jetsnap_client_unref(c);
        return 0;
}

START_TEST(test_access_denied) {
        int status;
        pid_t pid;

        if (geteuid() != 0) {
                fprintf(stderr, "test_access_denied: not root, cannot switch to nobody; not checked\n");
                return;
        }
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                _exit(unprivileged_checks());
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

static Suite *client_suite(void) {
        Suite *s = suite_create("client");
        TCase *tc;

        tc = tcase_create("Sessions");
        tcase_add_checked_fixture(tc, NULL, abort_leftover_session);
        tcase_set_timeout(tc, 60);
        /* Must stay first: it needs a daemon without any recorded full backup. */
        tcase_add_test(tc, test_incremental_without_full_backup);
        tcase_add_test(tc, test_properties);
        tcase_add_test(tc, test_full_sequence);
        tcase_add_test(tc, test_thaw_ends_without_continue);
        tcase_add_test(tc, test_explicit_prepare);
        tcase_add_test(tc, test_copy_and_incremental);
        tcase_add_test(tc, test_abort);
        tcase_add_test(tc, test_bind_to_caller);
        suite_add_tcase(s, tc);

        tc = tcase_create("Errors");
        tcase_add_checked_fixture(tc, NULL, abort_leftover_session);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_bad_arguments);
        tcase_add_test(tc, test_open_address);
        tcase_add_test(tc, test_bad_flags);
        tcase_add_test(tc, test_timeout);
        tcase_add_test(tc, test_access_denied);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite(client_suite());
}
