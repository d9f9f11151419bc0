/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libjetsnap: instances, their properties, and Commit/Get/Scan against a real jetsnapd. */

#include <string.h>

#include "client-test.h"

#define PUT(db, t, k, v) \
        { .kind = JETSNAP_OP_PUT, .database = (db), .table = (t), .key = (k), .key_size = strlen(k), \
          .value = (v), .value_size = strlen(v) }
#define DEL(db, t, k) \
        { .kind = JETSNAP_OP_DELETE, .database = (db), .table = (t), .key = (k), .key_size = strlen(k) }

START_TEST(test_list_instances) {
        _cleanup_client_ jetsnap_client *c = test_client();
        __attribute__((cleanup(jetsnap_strv_freep))) char **names = NULL;

        ck_assert_int_eq(jetsnap_list_instances(c, &names), 0);
        ck_assert_ptr_nonnull(names);
        ck_assert_str_eq(names[0], "alpha");
        ck_assert_str_eq(names[1], "beta");
        ck_assert_ptr_null(names[2]);
}
END_TEST

START_TEST(test_instance_status) {
        _cleanup_client_ jetsnap_client *c = test_client();
        __attribute__((cleanup(jetsnap_instance_status_freep))) jetsnap_instance_status *a = NULL, *b = NULL;
        jetsnap_instance_status *none = NULL;

        ck_assert_int_eq(jetsnap_get_instance_status(c, "alpha", &a), 0);
        ck_assert_str_eq(a->name, "alpha");
        ck_assert_str_eq(a->state, "running");
        ck_assert_uint_gt(a->id, 0);
        ck_assert_ptr_nonnull(strstr(a->path, "/alpha"));
        ck_assert_uint_eq(a->n_databases, 1);
        ck_assert_str_eq(a->databases[0].display_name, "main");
        ck_assert_ptr_nonnull(strstr(a->databases[0].path, "/alpha/main.jdb"));
        ck_assert_uint_ge(a->current_generation, a->checkpoint_generation);
        ck_assert_int_eq(a->circular_logging, 0);

        ck_assert_int_eq(jetsnap_get_instance_status(c, "beta", &b), 0);
        ck_assert_uint_eq(b->n_databases, 2);
        ck_assert_str_eq(b->databases[1].display_name, "two");
        ck_assert_uint_ne(a->id, b->id);

        ck_assert_int_eq(jetsnap_get_instance_status(c, "no-such-instance", &none), -EINVAL);
        ck_assert_ptr_null(none);
}
END_TEST

START_TEST(test_commit_get_delete) {
        _cleanup_client_ jetsnap_client *c = test_client();
        jetsnap_op ops[] = {
                PUT("main", "users", "k1", "v1"),
                PUT("main", "users", "k2", "value two"),
        };
        jetsnap_op del[] = { DEL("main", "users", "k1") };
        jetsnap_instance_status *s = NULL;
        uint64_t lsn1 = 0, lsn2 = 0, commits;
        void *v = NULL;
        size_t n = 0;

        ck_assert_int_eq(jetsnap_get_instance_status(c, "alpha", &s), 0);
        commits = s->committed_transactions;
        jetsnap_instance_status_free(s);

        ck_assert_int_eq(jetsnap_commit(c, "alpha", ops, 2, &lsn1), 0);
        ck_assert_uint_gt(lsn1, 0);
        ck_assert_int_eq(jetsnap_get(c, "alpha", "main", "users", "k2", 2, &v, &n), 0);
        ck_assert_uint_eq(n, 9);
        ck_assert_mem_eq(v, "value two", 9);
        free(v);

        ck_assert_int_eq(jetsnap_commit(c, "alpha", del, 1, &lsn2), 0);
        ck_assert_uint_gt(lsn2, lsn1);
        v = NULL;
        ck_assert_int_eq(jetsnap_get(c, "alpha", "main", "users", "k1", 2, &v, &n), -ENOENT);
        ck_assert_ptr_null(v);
        ck_assert_str_eq(jetsnap_client_get_error_name(c), "org.jetsnap1.Error.RecordNotFound");
        ck_assert_int_eq(jetsnap_get(c, "alpha", "main", "no-such-table", "k2", 2, &v, &n), -ENOENT);

        ck_assert_int_eq(jetsnap_get_instance_status(c, "alpha", &s), 0);
        ck_assert_uint_eq(s->committed_transactions, commits + 2);
        jetsnap_instance_status_free(s);

        /* A value may be empty and binary. */
        {
                const char bin[] = { 0, 1, 2, (char) 0xff };
                jetsnap_op op = { .kind = JETSNAP_OP_PUT, .database = "main", .table = "bin",
                                  .key = bin, .key_size = 4, .value = NULL, .value_size = 0 };
                ck_assert_int_eq(jetsnap_commit(c, "alpha", &op, 1, NULL), 0);
                ck_assert_int_eq(jetsnap_get(c, "alpha", "main", "bin", bin, 4, &v, &n), 0);
                ck_assert_uint_eq(n, 0);
                free(v);
        }
}
END_TEST

START_TEST(test_commit_errors) {
        _cleanup_client_ jetsnap_client *c = test_client();
        jetsnap_op bad_db[] = { PUT("nope", "t", "k", "v") };
        jetsnap_op across[] = { PUT("one", "t", "k", "v"), PUT("main", "t", "k", "v") };
        jetsnap_op empty_key[] = { PUT("main", "t", "", "v") };
        jetsnap_op bad_kind[] = { PUT("main", "t", "k", "v") };
        void *v = NULL;
        size_t n;

        ck_assert_int_eq(jetsnap_commit(c, "alpha", bad_db, 1, NULL), -EINVAL);
        ck_assert_str_eq(jetsnap_client_get_error_name(c), "org.jetsnap1.Error.InvalidParameter");
        /* "main" is alpha's, not beta's: the whole transaction is refused, nothing of it applied. */
        ck_assert_int_eq(jetsnap_commit(c, "beta", across, 2, NULL), -EINVAL);
        ck_assert_int_eq(jetsnap_get(c, "beta", "one", "t", "k", 1, &v, &n), -ENOENT);
        ck_assert_int_eq(jetsnap_commit(c, "alpha", empty_key, 1, NULL), -EINVAL);
        ck_assert_int_eq(jetsnap_commit(c, "no-such-instance", bad_kind, 1, NULL), -EINVAL);
        ck_assert_int_eq(jetsnap_get(c, "alpha", "nope", "t", "k", 1, &v, &n), -EINVAL);

        /* Refused locally, before any bus traffic. */
        bad_kind[0].kind = 'x';
        ck_assert_int_eq(jetsnap_commit(c, "alpha", bad_kind, 1, NULL), -EINVAL);
        ck_assert_ptr_null(jetsnap_client_get_error_message(c));
        ck_assert_int_eq(jetsnap_commit(c, NULL, bad_db, 1, NULL), -EINVAL);
        ck_assert_int_eq(jetsnap_get(c, "alpha", "main", "t", "k", 1, NULL, &n), -EINVAL);
}
END_TEST

START_TEST(test_scan) {
        _cleanup_client_ jetsnap_client *c = test_client();
        jetsnap_op ops[] = {
                PUT("two", "s", "a", "1"),
                PUT("two", "s", "b", "2"),
                PUT("two", "s", "c", "3"),
                PUT("two", "s", "d", "4"),
        };
        jetsnap_record *r = NULL;
        size_t n = 0;

        ck_assert_int_eq(jetsnap_commit(c, "beta", ops, 4, NULL), 0);

        ck_assert_int_eq(jetsnap_scan(c, "beta", "two", "s", NULL, 0, NULL, 0, 0, &r, &n), 0);
        ck_assert_uint_eq(n, 4);
        ck_assert_mem_eq(r[0].key, "a", 1);
        ck_assert_mem_eq(r[3].value, "4", 1);
        jetsnap_records_free(r, n);

        /* from inclusive, to exclusive */
        ck_assert_int_eq(jetsnap_scan(c, "beta", "two", "s", "b", 1, "d", 1, 0, &r, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_mem_eq(r[0].key, "b", 1);
        ck_assert_mem_eq(r[1].key, "c", 1);
        ck_assert_uint_eq(r[1].value_size, 1);
        jetsnap_records_free(r, n);

        ck_assert_int_eq(jetsnap_scan(c, "beta", "two", "s", "b", 1, NULL, 0, 1, &r, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_mem_eq(r[0].key, "b", 1);
        jetsnap_records_free(r, n);

        /* An unknown table has no records; an unknown database is an error. */
        ck_assert_int_eq(jetsnap_scan(c, "beta", "two", "nothing-here", NULL, 0, NULL, 0, 0, &r, &n), 0);
        ck_assert_uint_eq(n, 0);
        jetsnap_records_free(r, n);
        ck_assert_int_eq(jetsnap_scan(c, "beta", "nope", "s", NULL, 0, NULL, 0, 0, &r, &n), -EINVAL);
}
END_TEST

START_TEST(test_reads_while_frozen) {
        _cleanup_client_ jetsnap_client *c = test_client();
        jetsnap_op ops[] = { PUT("main", "frozen", "k", "before") };
        jetsnap_instance_status *s = NULL;
        uint64_t id;
        void *v = NULL;
        size_t n;

        ck_assert_int_eq(jetsnap_commit(c, "alpha", ops, 1, NULL), 0);
        ck_assert_int_eq(jetsnap_prepare(c, 0, &id), 0);
        ck_assert_int_eq(jetsnap_freeze(c, id, 0, NULL), 0);
        ck_assert_int_eq(jetsnap_get_instance_status(c, "alpha", &s), 0);
        ck_assert_str_eq(s->state, "frozen");
        jetsnap_instance_status_free(s);
        ck_assert_int_eq(jetsnap_get(c, "alpha", "main", "frozen", "k", 1, &v, &n), 0);
        ck_assert_mem_eq(v, "before", 6);
        free(v);
        ck_assert_int_eq(jetsnap_thaw(c, id, 0), 0);
        ck_assert_int_eq(jetsnap_get_instance_status(c, "alpha", &s), 0);
        ck_assert_str_eq(s->state, "running");
        jetsnap_instance_status_free(s);
}
END_TEST

static Suite *data_suite(void) {
        Suite *s = suite_create("client-data");
        TCase *tc = tcase_create("Data");

        tcase_add_checked_fixture(tc, NULL, abort_leftover_session);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_list_instances);
        tcase_add_test(tc, test_instance_status);
        tcase_add_test(tc, test_commit_get_delete);
        tcase_add_test(tc, test_commit_errors);
        tcase_add_test(tc, test_scan);
        tcase_add_test(tc, test_reads_while_frozen);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite(data_suite());
}
