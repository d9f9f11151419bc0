/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Acceptance of the ESE layer (design.md §5, ese-semantics.md): the
 * constants and the JET_INSTANCE_INFO layout of ESE's esent.h, argument
 * errors before the id for every call, NULL out pointers, the timeout
 * parameter in milliseconds (read back from the daemon's Snapshot object),
 * and a freeze info that matches the daemon's. ESE code only: the one
 * jetsnap header is <jetsnap/esent.h>; sd-bus just reads properties.
 */

#include <check.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include <jetsnap/esent.h>

#include "check-run.h"

#define ck_assert_jet(expr, expected) ck_assert_int_eq((long) (expr), (long) (expected))

/* The values of ESE's esent.h and ese-semantics.md "Constants": code written for ESE depends on them. */
_Static_assert(JET_bitIncrementalSnapshot == 0x1, "IncrementalSnapshot");
_Static_assert(JET_bitCopySnapshot == 0x2, "CopySnapshot");
_Static_assert(JET_bitContinueAfterThaw == 0x4, "ContinueAfterThaw");
_Static_assert(JET_bitExplicitPrepare == 0x8, "ExplicitPrepare");
_Static_assert(JET_bitAllDatabasesSnapshot == 0x1, "AllDatabasesSnapshot");
_Static_assert(JET_bitAbortSnapshot == 0x1, "AbortSnapshot");
_Static_assert(JET_paramOSSnapshotTimeout == 82, "OSSnapshotTimeout");
_Static_assert(JET_errInvalidParameter == -1003, "InvalidParameter");
_Static_assert(JET_errOutOfMemory == -1011, "OutOfMemory");
_Static_assert(JET_errOutOfThreads == -103, "OutOfThreads");
_Static_assert(JET_errOSSnapshotInvalidSequence == -2401, "InvalidSequence");
_Static_assert(JET_errOSSnapshotTimeOut == -2402, "TimeOut");
_Static_assert(JET_errOSSnapshotNotAllowed == -2403, "NotAllowed");
_Static_assert(JET_errOSSnapshotInvalidSnapId == -2404, "InvalidSnapId");
_Static_assert(JET_errRecordNotFound == -1601, "RecordNotFound");
_Static_assert(JET_errAccessDenied == -1907, "AccessDenied");
_Static_assert(JET_errMissingFullBackup == -560, "MissingFullBackup");
_Static_assert(JET_errInvalidBackup == -526, "InvalidBackup");
_Static_assert(JET_errMissingFileToBackup == -569, "MissingFileToBackup");
_Static_assert(JET_errSuccess == 0, "Success");

/* ESE's field order: hInstanceId, szInstanceName, cDatabases, szDatabaseFileName, szDatabaseDisplayName, SLV. */
_Static_assert(offsetof(JET_INSTANCE_INFO, hInstanceId) == 0, "layout");
_Static_assert(offsetof(JET_INSTANCE_INFO, szInstanceName) == sizeof(void *), "layout");
_Static_assert(offsetof(JET_INSTANCE_INFO, cDatabases) == 2 * sizeof(void *), "layout");
_Static_assert(offsetof(JET_INSTANCE_INFO, szDatabaseFileName) == 3 * sizeof(void *), "layout");
_Static_assert(offsetof(JET_INSTANCE_INFO, szDatabaseDisplayName) == 4 * sizeof(void *), "layout");
_Static_assert(sizeof(JET_INSTANCE_INFO) == 6 * sizeof(void *), "layout");
_Static_assert(sizeof(JET_OSSNAPID) == sizeof(void *) && sizeof(JET_INSTANCE) == sizeof(void *), "handles");

static const JET_OSSNAPID bogus = 987654321;

/* A property of the daemon's object, over our own connection (the bus of DBUS_SYSTEM_BUS_ADDRESS). */
static uint64_t bus_get_u64(const char *path, const char *iface, const char *prop) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus *bus = NULL;
        uint64_t v = 0;

        ck_assert_int_ge(sd_bus_open_system(&bus), 0);
        ck_assert_msg(sd_bus_get_property_trivial(bus, "org.jetsnap1", path, iface, prop, &error, 't', &v) >= 0,
                      "%s %s: %s", path, prop, error.message);
        sd_bus_error_free(&error);
        sd_bus_flush_close_unref(bus);
        return v;
}

static uint64_t instance_id(const char *name) {
        char path[256];

        (void) snprintf(path, sizeof(path), "/org/jetsnap1/instance/%s", name);
        return bus_get_u64(path, "org.jetsnap1.Instance", "Id");
}

static uint64_t snapshot_timeout_usec(JET_OSSNAPID snap) {
        char path[256];

        (void) snprintf(path, sizeof(path), "/org/jetsnap1/snapshot/%lu", (unsigned long) snap);
        return bus_get_u64(path, "org.jetsnap1.Snapshot", "TimeoutUSec");
}

START_TEST(test_argument_errors_before_id) {
        JET_INSTANCE_INFO *info = NULL;
        unsigned long n = 0;

        ck_assert_jet(JetOSSnapshotPrepare(NULL, 0), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotFreeze(bogus, NULL, &info, 0), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotFreeze(bogus, &n, NULL, 0), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotGetFreezeInfo(bogus, NULL, &info, 0), JET_errInvalidParameter);
        ck_assert_jet(JetOSSnapshotGetFreezeInfo(bogus, &n, NULL, 0), JET_errInvalidParameter);
        ck_assert_jet(JetGetInstanceInfo(NULL, &info), JET_errInvalidParameter);
        ck_assert_jet(JetGetInstanceInfo(&n, NULL), JET_errInvalidParameter);

        for (JET_GRBIT bit = 0x1; bit <= 0x100; bit <<= 1) {
                ck_assert_jet(JetOSSnapshotFreeze(bogus, &n, &info, bit), JET_errInvalidParameter);
                ck_assert_jet(JetOSSnapshotGetFreezeInfo(bogus, &n, &info, bit), JET_errInvalidParameter);
                ck_assert_jet(JetOSSnapshotThaw(bogus, bit), JET_errInvalidParameter);
                ck_assert_jet(JetOSSnapshotAbort(bogus, bit), JET_errInvalidParameter);
                ck_assert_jet(JetOSSnapshotPrepareInstance(bogus, instance_id("alpha"), bit), JET_errInvalidParameter);
                if (bit != JET_bitAllDatabasesSnapshot) {
                        ck_assert_jet(JetOSSnapshotTruncateLog(bogus, bit), JET_errInvalidParameter);
                        ck_assert_jet(JetOSSnapshotTruncateLogInstance(bogus, instance_id("alpha"), bit),
                                      JET_errInvalidParameter);
                }
                if (bit != JET_bitAbortSnapshot)
                        ck_assert_jet(JetOSSnapshotEnd(bogus, bit), JET_errInvalidParameter);
        }
        ck_assert_jet(JetOSSnapshotPrepareInstance(bogus, (JET_INSTANCE) 0x7fffffff, 0), JET_errInvalidParameter);

        /* Valid arguments, unknown id. */
        ck_assert_jet(JetOSSnapshotFreeze(bogus, &n, &info, 0), JET_errOSSnapshotInvalidSnapId);
        ck_assert_jet(JetOSSnapshotGetFreezeInfo(bogus, &n, &info, 0), JET_errOSSnapshotInvalidSnapId);
        ck_assert_jet(JetOSSnapshotThaw(bogus, 0), JET_errOSSnapshotInvalidSnapId);
        ck_assert_jet(JetOSSnapshotAbort(bogus, 0), JET_errOSSnapshotInvalidSnapId);
        ck_assert_jet(JetOSSnapshotEnd(bogus, 0), JET_errOSSnapshotInvalidSnapId);
        ck_assert_jet(JetOSSnapshotEnd(bogus, JET_bitAbortSnapshot), JET_errOSSnapshotInvalidSnapId);
        ck_assert_jet(JetOSSnapshotTruncateLog(bogus, JET_bitAllDatabasesSnapshot), JET_errOSSnapshotInvalidSnapId);
        ck_assert_jet(JetOSSnapshotTruncateLogInstance(bogus, instance_id("alpha"), 0),
                      JET_errOSSnapshotInvalidSnapId);
        ck_assert_jet(JetOSSnapshotPrepareInstance(bogus, instance_id("alpha"), 0), JET_errOSSnapshotInvalidSnapId);
}
END_TEST

START_TEST(test_timeout_parameter_is_milliseconds) {
        JET_OSSNAPID snap = 0;

        ck_assert_jet(JetSetSystemParameter(NULL, 0, JET_paramOSSnapshotTimeout, 1500, NULL), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotPrepare(&snap, 0), JET_errSuccess);
        ck_assert_uint_ne(snap, 0);
        ck_assert_uint_eq(snapshot_timeout_usec(snap), UINT64_C(1500000));
        ck_assert_jet(JetOSSnapshotAbort(snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotAbort(snap, 0), JET_errOSSnapshotInvalidSnapId);

        ck_assert_jet(JetSetSystemParameter(NULL, 0, JET_paramOSSnapshotTimeout, 60000, NULL), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotPrepare(&snap, JET_bitContinueAfterThaw), JET_errSuccess);
        ck_assert_uint_eq(snapshot_timeout_usec(snap), UINT64_C(60000000));
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errSuccess);
}
END_TEST

START_TEST(test_freeze_info_matches_instances) {
        JET_INSTANCE_INFO *all = NULL, *frozen = NULL, *again = NULL;
        unsigned long n_all = 0, n_frozen = 0, n_again = 0;
        JET_OSSNAPID snap = 0;

        ck_assert_jet(JetGetInstanceInfo(&n_all, &all), JET_errSuccess);
        ck_assert_uint_eq(n_all, 2);
        ck_assert_jet(JetOSSnapshotPrepare(&snap, JET_bitContinueAfterThaw), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotFreeze(snap, &n_frozen, &frozen, 0), JET_errSuccess);
        ck_assert_uint_eq(n_frozen, n_all);
        ck_assert_jet(JetOSSnapshotGetFreezeInfo(snap, &n_again, &again, 0), JET_errSuccess);
        ck_assert_uint_eq(n_again, n_all);
        for (unsigned long i = 0; i < n_all; i++) {
                const JET_INSTANCE_INFO *f = NULL;

                for (unsigned long k = 0; k < n_frozen; k++)
                        if (frozen[k].hInstanceId == all[i].hInstanceId)
                                f = &frozen[k];
                ck_assert_ptr_nonnull(f);
                ck_assert_uint_eq(all[i].hInstanceId, instance_id(all[i].szInstanceName));
                ck_assert_str_eq(f->szInstanceName, all[i].szInstanceName);
                ck_assert_uint_eq(f->cDatabases, all[i].cDatabases);
                for (unsigned long d = 0; d < f->cDatabases; d++) {
                        ck_assert_str_eq(f->szDatabaseFileName[d], all[i].szDatabaseFileName[d]);
                        ck_assert_str_eq(f->szDatabaseDisplayName[d], all[i].szDatabaseDisplayName[d]);
                        ck_assert_int_eq(f->szDatabaseFileName[d][0], '/');
                        ck_assert_ptr_null(f->szDatabaseSLVFileName_Obsolete[d]);
                }
                ck_assert_str_eq(again[i].szInstanceName, frozen[i].szInstanceName);
        }
        /* One buffer each, freed whole by JetFreeBuffer(). */
        ck_assert_jet(JetFreeBuffer((char *) frozen), JET_errSuccess);
        ck_assert_jet(JetFreeBuffer((char *) again), JET_errSuccess);
        ck_assert_jet(JetFreeBuffer((char *) all), JET_errSuccess);

        /* Explicit prepare of an instance in by default: NotAllowed; then the rest of the sequence. */
        ck_assert_jet(JetOSSnapshotPrepareInstance(snap, instance_id("alpha"), 0), JET_errOSSnapshotInvalidSequence);
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errOSSnapshotInvalidSequence);
        ck_assert_jet(JetOSSnapshotThaw(snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotTruncateLog(snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotTruncateLogInstance(snap, instance_id("beta"), JET_bitAllDatabasesSnapshot),
                      JET_errSuccess);
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotEnd(snap, 0), JET_errOSSnapshotInvalidSnapId);

        ck_assert_jet(JetOSSnapshotPrepare(&snap, 0), JET_errSuccess);
        ck_assert_jet(JetOSSnapshotPrepareInstance(snap, instance_id("alpha"), 0), JET_errOSSnapshotNotAllowed);
        ck_assert_jet(JetOSSnapshotEnd(snap, JET_bitAbortSnapshot), JET_errSuccess);
}
END_TEST

static Suite *esent_contract_suite(void) {
        Suite *s = suite_create("ESE layer contract");
        TCase *tc = tcase_create("Core");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_argument_errors_before_id);
        tcase_add_test(tc, test_timeout_parameter_is_milliseconds);
        tcase_add_test(tc, test_freeze_info_matches_instances);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite(esent_contract_suite());
}
