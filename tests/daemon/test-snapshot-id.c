/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Snapshot ids: increasing, never 0, never reused across restarts, and a garbled mark is an error. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "snapshot-id.h"
#include "check-run.h"

static char dir[] = "/tmp/test-snapshot-id-XXXXXX";

static void setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
        strcpy(dir, "/tmp/test-snapshot-id-XXXXXX");
}

static void write_mark(const char *text) {
        char path[128];
        FILE *f;

        snprintf(path, sizeof(path), "%s/snapshot-id", dir);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
}

START_TEST(test_increasing_across_restarts) {
        SnapshotIds ids;
        uint64_t last = 0, id;

        for (int restart = 0; restart < 3; restart++) {
                ck_assert_int_eq(snapshot_ids_open(&ids, dir), 0);
                /* Cross a block boundary once, to exercise the reservation in the loop. */
                for (uint64_t k = 0; k < SNAPSHOT_ID_BLOCK + 3; k++) {
                        ck_assert_int_eq(snapshot_ids_next(&ids, &id), 0);
                        ck_assert_uint_gt(id, last);
                        last = id;
                }
                snapshot_ids_done(&ids);
        }
        ck_assert_uint_eq(last > 0, 1);
}
END_TEST

START_TEST(test_first_id_is_one) {
        SnapshotIds ids;
        uint64_t id;

        ck_assert_int_eq(snapshot_ids_open(&ids, dir), 0);
        ck_assert_int_eq(snapshot_ids_next(&ids, &id), 0);
        ck_assert_uint_eq(id, 1);
        snapshot_ids_done(&ids);

        /* A crash loses the rest of the block, never an id. */
        ck_assert_int_eq(snapshot_ids_open(&ids, dir), 0);
        ck_assert_int_eq(snapshot_ids_next(&ids, &id), 0);
        ck_assert_uint_eq(id, 1 + SNAPSHOT_ID_BLOCK);
        snapshot_ids_done(&ids);
}
END_TEST

START_TEST(test_garbled_mark) {
        static const char *const bad[] = { "", "abc\n", "0\n", "12x\n", "-5\n", "99999999999999999999999\n" };
        SnapshotIds ids;

        write_mark(bad[_i]);
        ck_assert_int_eq(snapshot_ids_open(&ids, dir), -EBADMSG);
}
END_TEST

START_TEST(test_existing_mark) {
        SnapshotIds ids;
        uint64_t id;

        write_mark("4242\n");
        ck_assert_int_eq(snapshot_ids_open(&ids, dir), 0);
        ck_assert_int_eq(snapshot_ids_next(&ids, &id), 0);
        ck_assert_uint_eq(id, 4242);
        snapshot_ids_done(&ids);
}
END_TEST

START_TEST(test_nested_state_directory) {
        SnapshotIds ids;
        char path[128];

        snprintf(path, sizeof(path), "%s/a/b/c", dir);
        ck_assert_int_eq(snapshot_ids_open(&ids, path), 0);
        snapshot_ids_done(&ids);
        snprintf(path, sizeof(path), "%s/a/b/c/snapshot-id", dir);
        ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

static Suite *snapshot_id_suite(void) {
        Suite *s = suite_create("snapshot-id");
        TCase *tc = tcase_create("Core");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_increasing_across_restarts);
        tcase_add_test(tc, test_first_id_is_one);
        tcase_add_loop_test(tc, test_garbled_mark, 0, 6);
        tcase_add_test(tc, test_existing_mark);
        tcase_add_test(tc, test_nested_state_directory);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite(snapshot_id_suite());
}
