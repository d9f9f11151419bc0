/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The ESE layer as ESE code uses it: this file includes no jetsnap header
 * but <jetsnap/esent.h>, and expects ESE's return codes for the full,
 * explicit-prepare, copy, incremental, abort and timeout sequences.
 */

#include <check.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include <jetsnap/esent.h>
#include "check-run.h"

#define ck_assert_jet(expr, expected) ck_assert_int_eq((long) (expr), (long) (expected))

/* hInstanceId of the instance called @name, from JetGetInstanceInfo(). */
static JET_INSTANCE instance_by_name(const char *name) {
        JET_INSTANCE_INFO *info = NULL;
        unsigned long n = 0;
        JET_INSTANCE id = 0;

        ck_assert_jet(JetGetInstanceInfo(&n, &info), JET_errSuccess);
        for (unsigned long i = 0; i < n; i++)
                if (strcmp(info[i].szInstanceName, name) == 0)
                        id = info[i].hInstanceId;
        JetFreeBuffer((char *) info);
        ck_assert_uint_ne(id, 0);
        return id;
}

START_TEST(test_missing_full_backup) {
        /* Runs first: the daemon is fresh, so no full backup exists. */
        JET_OSSNAPID snap;
        JET_INSTANCE_INFO *info = NULL;
        unsigned long n = 0;

        ck_assert_jet(JetOSSnapshotPrepare(&snap, JET_bitIncrementalSnapshot), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, &info, 0), JET_errMissingFullBackup);
        ck_assert_ptr_null(info);
        ck_assert_jet(JetOSSnapshotEnd(snap, JET_bitAbortSnapshot), JET_errSuccess);
}
END_TEST

START_TEST(test_instance_info) {
        JET_INSTANCE_INFO *info = NULL;
        unsigned long n = 0;

        ck_assert_jet(JetGetInstanceInfo(NULL, &info), JET_errInvalidParameter);
        ck_assert_jet(JetGetInstanceInfo(&n, NULL), JET_errInvalidParameter);
        ck_assert_jet(JetGetInstanceInfo(&n, &info), JET_errSuccess);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(info[0].szInstanceName, "alpha");
        ck_assert_uint_eq(info[0].cDatabases, 1);
        ck_assert_str_eq(info[0].szDatabaseDisplayName[0], "main");
        ck_assert_ptr_nonnull(strstr(info[0].szDatabaseFileName[0], "/alpha/main.jdb"));
        ck_assert_ptr_null(info[0].szDatabaseSLVFileName_Obsolete[0]);
        ck_assert_str_eq(info[1].szInstanceName, "beta");
        ck_assert_uint_eq(info[1].cDatabases, 2);
        ck_assert_str_eq(info[1].szDatabaseDisplayName[1], "two");
        ck_assert_uint_ne(info[0].hInstanceId, info[1].hInstanceId);
        ck_assert_jet(JetFreeBuffer((char *) info), JET_errSuccess);
        ck_assert_jet(JetFreeBuffer(NULL), JET_errSuccess);
}
END_TEST

START_TEST(test_full) {
        JET_OSSNAPID snap = 0, other;
        JET_INSTANCE_INFO *info = NULL;
        unsigned long n = 0;

        ck_assert_jet(JetOSSnapshotPrepare(NULL, 0), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotPrepare(&snap, 0x10), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotPrepare(&snap, 0), JET_errSuccess);
        ck_assert_uint_ne(snap, 0);
        ck_assert_jet(JetOSSnapshotPrepare(&other, 0), JET_errOSSnapshotInvalidSequence);
        ck_assert_jet(JetOSSnapshotThaw(snap, 0), JET_errOSSnapshotInvalidSequence);

        ck_assert_jet(JetOSSnapshotFreeze(snap, NULL, &info, 0), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, NULL, 0), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, &info, 1), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotFreeze(snap + 1000, &n, &info, 0), JET_errOSSnapshotInvalidSnapId);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, &info, 0), JET_errSuccess);
        ck_assert_uint_eq(n, 2);
        for (unsigned long i = 0; i < n; i++) {
                ck_assert_uint_ge(info[i].cDatabases, 1);
                for (JET_API_PTR d = 0; d < info[i].cDatabases; d++)
                        ck_assert_int_eq(info[i].szDatabaseFileName[d][0], '/');
        }
        JetFreeBuffer((char *) info);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, &info, 0), JET_errOSSnapshotInvalidSequence);
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errOSSnapshotInvalidSequence);

        /* Without JET_bitContinueAfterThaw, Thaw ends the session. */
        ck_assert_jet(JetOSSnapshotThaw(snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotThaw(snap, 0), JET_errOSSnapshotInvalidSnapId);
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errOSSnapshotInvalidSnapId);
}
END_TEST

START_TEST(test_full_with_truncation) {
        JET_OSSNAPID snap;
        JET_INSTANCE_INFO *info = NULL;
        unsigned long n = 0;

        ck_assert_jet(JetOSSnapshotPrepare(&snap, JET_bitContinueAfterThaw), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, &info, 0), JET_errSuccess);
        JetFreeBuffer((char *) info);
        ck_assert_jet(JetOSSnapshotGetFreezeInfo(snap, &n, &info, 0), JET_errSuccess);
        ck_assert_uint_eq(n, 2);
        JetFreeBuffer((char *) info);
        ck_assert_jet(JetOSSnapshotTruncateLog(snap, JET_bitAllDatabasesSnapshot), JET_errOSSnapshotInvalidSequence);
        ck_assert_jet(JetOSSnapshotThaw(snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotTruncateLog(snap, 2), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotTruncateLog(snap, JET_bitAllDatabasesSnapshot), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errOSSnapshotInvalidSnapId);
}
END_TEST

START_TEST(test_explicit_prepare) {
        JET_INSTANCE alpha = instance_by_name("alpha"), beta = instance_by_name("beta");
        JET_OSSNAPID snap;
        JET_INSTANCE_INFO *info = NULL;
        unsigned long n = 0;

        ck_assert_jet(JetOSSnapshotPrepare(&snap, JET_bitExplicitPrepare | JET_bitContinueAfterThaw), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotPrepareInstance(snap, alpha, 1), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotPrepareInstance(snap, (JET_INSTANCE) 0xdeadbeef, 0), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotPrepareInstance(snap, alpha, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotPrepareInstance(snap, alpha, 0), JET_errOSSnapshotNotAllowed);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, &info, 0), JET_errSuccess);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(info[0].szInstanceName, "alpha");
        ck_assert_uint_eq(info[0].hInstanceId, alpha);
        JetFreeBuffer((char *) info);
        ck_assert_jet(JetOSSnapshotThaw(snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotTruncateLogInstance(snap, beta, JET_bitAllDatabasesSnapshot), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotTruncateLogInstance(snap, alpha, JET_bitAllDatabasesSnapshot), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errSuccess);
}
END_TEST

START_TEST(test_copy_and_incremental) {
        JET_OSSNAPID snap;
        JET_INSTANCE_INFO *info = NULL;
        unsigned long n = 0;

        /* The base: a full snapshot. */
        ck_assert_jet(JetOSSnapshotPrepare(&snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, &info, 0), JET_errSuccess);
        JetFreeBuffer((char *) info);
        ck_assert_jet(JetOSSnapshotThaw(snap, 0), JET_errSuccess);

        ck_assert_jet(JetOSSnapshotPrepare(&snap, JET_bitCopySnapshot | JET_bitContinueAfterThaw), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, &info, 0), JET_errSuccess);
        JetFreeBuffer((char *) info);
        ck_assert_jet(JetOSSnapshotThaw(snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotTruncateLog(snap, JET_bitAllDatabasesSnapshot), JET_errOSSnapshotInvalidSequence);
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errSuccess);

        ck_assert_jet(JetOSSnapshotPrepare(&snap, JET_bitIncrementalSnapshot | JET_bitContinueAfterThaw), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, &info, 0), JET_errSuccess);
        ck_assert_uint_eq(n, 2);
        JetFreeBuffer((char *) info);
        ck_assert_jet(JetOSSnapshotThaw(snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotTruncateLog(snap, JET_bitAllDatabasesSnapshot), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errSuccess);
}
END_TEST

START_TEST(test_abort) {
        JET_OSSNAPID snap;
        JET_INSTANCE_INFO *info = NULL;
        unsigned long n = 0;

        ck_assert_jet(JetOSSnapshotPrepare(&snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, &info, 0), JET_errSuccess);
        JetFreeBuffer((char *) info);
        ck_assert_jet(JetOSSnapshotAbort(snap, 1), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotAbort(snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotThaw(snap, 0), JET_errOSSnapshotInvalidSnapId);

        ck_assert_jet(JetOSSnapshotPrepare(&snap, JET_bitContinueAfterThaw), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, &info, 0), JET_errSuccess);
        JetFreeBuffer((char *) info);
        ck_assert_jet(JetOSSnapshotEnd(snap, JET_bitAbortSnapshot), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotAbort(snap, 0), JET_errOSSnapshotInvalidSnapId);
}
END_TEST

START_TEST(test_timeout) {
        JET_OSSNAPID snap;
        JET_INSTANCE_INFO *info = NULL;
        unsigned long n = 0;

        ck_assert_jet(JetSetSystemParameter(NULL, 0, 1, 0, NULL), JET_errInvalidParameter);
        ck_assert_jet(JetSetSystemParameter(NULL, 0, JET_paramOSSnapshotTimeout, 1, NULL), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotPrepare(&snap, JET_bitContinueAfterThaw), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n, &info, 0), JET_errSuccess);
        JetFreeBuffer((char *) info);
        /* After the timeout the freeze info is empty; the tcase timeout bounds the wait. */
        do {
                ck_assert_jet(JetOSSnapshotGetFreezeInfo(snap, &n, &info, 0), JET_errSuccess);
                JetFreeBuffer((char *) info);
                if (n != 0)
                        usleep(2000);
        } while (n != 0);
        ck_assert_jet(JetOSSnapshotThaw(snap, 0), JET_errOSSnapshotTimeOut);
        ck_assert_jet(JetOSSnapshotTruncateLog(snap, JET_bitAllDatabasesSnapshot), JET_errOSSnapshotTimeOut);
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errOSSnapshotTimeOut);
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errOSSnapshotInvalidSnapId);
        ck_assert_jet(JetSetSystemParameter(NULL, 0, JET_paramOSSnapshotTimeout, 60000, NULL), JET_errSuccess);
}
END_TEST

static void *instance_info_loop(void *arg) {
        for (int i = 0; i < 25; i++) {
                JET_INSTANCE_INFO *info = NULL;
                unsigned long n = 0;

                if (JetGetInstanceInfo(&n, &info) != JET_errSuccess || n != 2)
                        return (void *) 1;
                JetFreeBuffer((char *) info);
        }
        return NULL;
}

START_TEST(test_threads) {
        /* The process-global connection is shared: concurrent calls must serialize, not interleave. */
        pthread_t t[4];
        void *result;

        for (size_t i = 0; i < 4; i++)
                ck_assert_int_eq(pthread_create(&t[i], NULL, instance_info_loop, NULL), 0);
        for (size_t i = 0; i < 4; i++) {
                ck_assert_int_eq(pthread_join(t[i], &result), 0);
                ck_assert_ptr_null(result);
        }
}
END_TEST

START_TEST(test_fork) {
        JET_INSTANCE_INFO *info = NULL;
        unsigned long n = 0;
        int status;
        pid_t pid;

        /* The parent's connection exists; the child must get its own instead of failing. */
        ck_assert_jet(JetGetInstanceInfo(&n, &info), JET_errSuccess);
        JetFreeBuffer((char *) info);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                info = NULL;
                JET_ERR err = JetGetInstanceInfo(&n, &info);
                if (err != JET_errSuccess || n != 2)
                        fprintf(stderr, "child: JetGetInstanceInfo: %ld, %lu instances\n", (long) err, n);
                _exit(err == JET_errSuccess && n == 2 ? 0 : 1);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        ck_assert_jet(JetGetInstanceInfo(&n, &info), JET_errSuccess);
        JetFreeBuffer((char *) info);
}
END_TEST

START_TEST(test_access_denied) {
        int status;
        pid_t pid;

        if (geteuid() != 0) {
                fprintf(stderr, "test_access_denied: not root, cannot switch to nobody; not checked\n");
                return;
        }
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                JET_OSSNAPID snap;
                JET_ERR err;

                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        _exit(2);
                err = JetOSSnapshotPrepare(&snap, 0);
                if (err != JET_errAccessDenied)
                        fprintf(stderr, "child: JetOSSnapshotPrepare as nobody: %ld\n", (long) err);
                _exit(err == JET_errAccessDenied ? 0 : 1);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("esent");
        TCase *tc = tcase_create("OSSnapshot");

        tcase_set_timeout(tc, 60);
        /* Must stay first: needs a daemon with no recorded full backup. */
        tcase_add_test(tc, test_missing_full_backup);
        tcase_add_test(tc, test_instance_info);
        tcase_add_test(tc, test_full);
        tcase_add_test(tc, test_full_with_truncation);
        tcase_add_test(tc, test_explicit_prepare);
        tcase_add_test(tc, test_copy_and_incremental);
        tcase_add_test(tc, test_abort);
        tcase_add_test(tc, test_timeout);
        tcase_add_test(tc, test_threads);
        tcase_add_test(tc, test_fork);
        tcase_add_test(tc, test_access_denied);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
