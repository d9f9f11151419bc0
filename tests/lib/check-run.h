/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The main() of every libcheck binary: run the suite and map the result to
 * the exit status. CK_ENV honours CK_VERBOSITY (meson sets "normal", so the
 * "100%: Checks: N, Failures: 0, Errors: 0" line shows in CI) and defaults
 * to CK_NORMAL; CK_FORK=no (valgrind, gdb) is honoured by Check itself.
 */

#include <check.h>
#include <stdlib.h>

static inline int run_suite(Suite *s) {
        SRunner *sr = srunner_create(s);
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
