/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The offline tools on what is not there: absence (no directory, no
 * jet.chk in an empty one) is -ENOENT with a message that says so, never
 * "corrupt"; logs without jet.chk are damage (-EBADMSG). Their output on
 * real instances and on damage is checked in test-engine-recovery.c.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine-internal.h"
#include "engine-test-util.h"
#include "macro.h"
#include "check-run.h"

static TestConfig tc;

static void setup(void) {
        test_dir_setup();
        test_config_init(&tc, NULL);
}

/* Runs an offline tool on dir; returns its result and its output (caller frees). */
static int offline(int (*fn)(const char *, FILE *), const char *dir, char **ret_out) {
        size_t size = 0;
        FILE *f = open_memstream(ret_out, &size);
        ck_assert_ptr_nonnull(f);
        int r = fn(dir, f);
        fclose(f);
        return r;
}

/* Nothing there is not corruption: -ENOENT and a message that says what is missing, never "corrupt". */
START_TEST(test_offline_tools_missing) {
        _cleanup_free_ char *empty = test_path("empty"), *out = NULL, *msg = NULL;
        const char *nonexistent = "/nonexistent/x";

        ck_assert_int_eq(offline(engine_verify, nonexistent, &out), -ENOENT);
        ck_assert_msg(strstr(out, "error: /nonexistent/x: No such file or directory") && !strstr(out, "corrupt"),
                      "%s", out);
        out = mfree(out);
        ck_assert_int_eq(mkdir(empty, 0700), 0);
        ck_assert_int_eq(offline(engine_verify, empty, &out), -ENOENT);
        ck_assert_msg(strstr(out, "jet.chk: missing") && strstr(out, "not a jetsnap instance directory") &&
                      !strstr(out, "corrupt"), "%s", out);
        out = mfree(out);
        ck_assert_int_eq(offline(engine_dump_checkpoint, empty, &out), -ENOENT);
        ck_assert_msg(strstr(out, "/empty/jet.chk: No such file or directory"), "%s", out);
        out = mfree(out);
        ck_assert_int_eq(offline(engine_dump_log_headers, nonexistent, &out), -ENOENT);
        out = mfree(out);
        ck_assert_int_eq(offline(engine_dump_log, "/nonexistent/x/logs/jet.log", &out), -ENOENT);
        out = mfree(out);
        ck_assert_int_eq(engine_recover_offline(nonexistent, NULL, 0, NULL, &msg), -ENOENT);
        ck_assert_msg(msg && strstr(msg, "not a jetsnap instance directory"), "%s", msg);
        ck_assert(!file_exists(nonexistent));
        msg = mfree(msg);
        ck_assert_int_eq(engine_recover_offline(empty, NULL, 0, NULL, &msg), -ENOENT);
        ck_assert_msg(msg && strstr(msg, "empty/jet.chk: missing"), "%s", msg);

        /* Logs without jet.chk are damage, not absence. */
        Engine *e = test_open(&tc.config);
        ck_assert_int_eq(test_put(e, "a", "t", "x", "1", NULL), 0);
        e = engine_close(e);
        _cleanup_free_ char *inst = test_path("inst"), *chk = test_path("inst/jet.chk");
        ck_assert_int_eq(unlink(chk), 0);
        ck_assert_int_eq(offline(engine_verify, inst, &out), -EBADMSG);
        ck_assert_msg(strstr(out, "jet.chk: missing, but the log directory has generations") &&
                      strstr(out, "result: corrupt"), "%s", out);
}
END_TEST

static Suite *offline_suite(void) {
        Suite *s = suite_create("engine-offline");
        TCase *tc_errors = tcase_create("Errors");
        tcase_add_checked_fixture(tc_errors, setup, test_dir_teardown);
        tcase_set_timeout(tc_errors, 30);
        tcase_add_test(tc_errors, test_offline_tools_missing);
        suite_add_tcase(s, tc_errors);
        return s;
}

int main(void) {
        return run_suite(offline_suite());
}
