/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Engine core: commits, reads, scans, limits, reopen, asynchronous
 * completion through engine_dispatch().
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-test-util.h"
#include "macro.h"
#include "check-run.h"

static TestConfig tc;

static void setup(void) {
        test_dir_setup();
        test_config_init(&tc, NULL);
}

START_TEST(test_put_get_reopen) {
        Engine *e = test_open(&tc.config);
        uint64_t lsn1 = 0, lsn2 = 0;

        ck_assert_int_eq(test_put(e, "a", "t", "k1", "v1", &lsn1), 0);
        ck_assert_int_eq(test_put(e, "a", "t", "k2", "v2", &lsn2), 0);
        ck_assert_uint_gt(lsn2, lsn1);
        assert_value(e, "a", "t", "k1", "v1");
        assert_value(e, "a", "t", "k2", "v2");
        assert_missing(e, "a", "t", "k3");
        assert_missing(e, "a", "other", "k1");
        assert_missing(e, "b", "t", "k1");
        ck_assert_int_eq(test_put(e, "a", "t", "k1", "v1b", NULL), 0);
        ck_assert_int_eq(test_del(e, "a", "t", "k2"), 0);
        assert_value(e, "a", "t", "k1", "v1b");
        assert_missing(e, "a", "t", "k2");
        EngineInfo before;
        ck_assert_int_eq(engine_get_info(e, &before), 0);
        e = engine_close(e);

        /* A clean close checkpoints everything: jet.chk names the last commit, nothing is left to replay. */
        _cleanup_free_ char *out = NULL, *inst = test_path("inst");
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        ck_assert_int_eq(engine_dump_checkpoint(inst, f), 0);
        fclose(f);
        char expected[64];
        snprintf(expected, sizeof(expected), "checkpoint-lsn: 0x%016" PRIx64 "\n", before.last_lsn);
        ck_assert_msg(strstr(out, expected), "%s", out);

        e = test_open(&tc.config);
        assert_value(e, "a", "t", "k1", "v1b");
        assert_missing(e, "a", "t", "k2");
        EngineInfo info;
        ck_assert_int_eq(engine_get_info(e, &info), 0);
        ck_assert_int_eq(info.state, ENGINE_RUNNING);
        ck_assert_uint_eq(info.committed_transactions, 0);
        e = engine_close(e);
}
END_TEST

START_TEST(test_multi_database_txn) {
        Engine *e = test_open(&tc.config);
        EngineOp ops[] = {
                { .kind = ENGINE_OP_PUT, .database = "a", .table = "x", .key = "k", .key_size = 1, .value = "1", .value_size = 1 },
                { .kind = ENGINE_OP_PUT, .database = "b", .table = "y", .key = "k", .key_size = 1, .value = "2", .value_size = 1 },
                { .kind = ENGINE_OP_PUT, .database = "b", .table = "y", .key = "empty", .key_size = 5, .value = NULL, .value_size = 0 },
        };
        ck_assert_int_eq(engine_commit_wait(e, ops, ELEMENTSOF(ops), NULL), 0);
        assert_value(e, "a", "x", "k", "1");
        assert_value(e, "b", "y", "k", "2");
        assert_value(e, "b", "y", "empty", "");
        e = engine_close(e);
        e = test_open(&tc.config);
        assert_value(e, "a", "x", "k", "1");
        assert_value(e, "b", "y", "k", "2");
        assert_value(e, "b", "y", "empty", "");
        e = engine_close(e);
}
END_TEST

static void assert_scan_table(Engine *e, const char *table, const char *from, const char *to, uint32_t limit,
                              const char *expected) {
        EngineRecord *r = NULL;
        size_t n = 0;
        char buf[2048] = "";

        ck_assert_int_eq(engine_scan(e, "a", table, from, strlen(from), to, strlen(to), limit, &r, &n), 0);
        for (size_t i = 0; i < n; i++) {
                strncat(buf, r[i].key, r[i].key_size);
                strcat(buf, "=");
                strncat(buf, r[i].value, r[i].value_size);
                strcat(buf, i + 1 < n ? "," : "");
        }
        engine_records_free(r, n);
        ck_assert_str_eq(buf, expected);
}

static void assert_scan(Engine *e, const char *from, const char *to, uint32_t limit, const char *expected) {
        assert_scan_table(e, "s", from, to, limit, expected);
}

START_TEST(test_scan_merges_overlay_and_lmdb) {
        TestConfig slow = tc;
        /* A long checkpoint interval keeps the second half of the changes in the overlay. */
        slow.config.checkpoint_interval_usec = 3600 * USEC_PER_SEC;
        Engine *e = test_open(&slow.config);

        ck_assert_int_eq(test_put(e, "a", "s", "b", "1", NULL), 0);
        ck_assert_int_eq(test_put(e, "a", "s", "d", "2", NULL), 0);
        ck_assert_int_eq(test_put(e, "a", "s", "f", "3", NULL), 0);
        e = engine_close(e); /* now in LMDB */
        e = test_open(&slow.config);
        ck_assert_int_eq(test_put(e, "a", "s", "a", "0", NULL), 0);
        ck_assert_int_eq(test_put(e, "a", "s", "d", "2b", NULL), 0);
        ck_assert_int_eq(test_del(e, "a", "s", "f"), 0);
        ck_assert_int_eq(test_put(e, "a", "s", "g", "4", NULL), 0);
        ck_assert_int_eq(test_put(e, "a", "s", "gg", "5", NULL), 0);

        assert_scan(e, "", "", 0, "a=0,b=1,d=2b,g=4,gg=5");
        assert_scan(e, "b", "g", 0, "b=1,d=2b");
        assert_scan(e, "c", "", 2, "d=2b,g=4");
        assert_scan(e, "g", "gg", 0, "g=4");
        assert_scan(e, "z", "", 0, "");

        EngineRecord *r = NULL;
        size_t n = 99;
        ck_assert_int_eq(engine_scan(e, "a", "nosuch", "", 0, "", 0, 0, &r, &n), 0);
        ck_assert_uint_eq(n, 0);
        engine_records_free(r, n);
        ck_assert_int_eq(engine_scan(e, "nosuch", "s", "", 0, "", 0, 0, &r, &n), -EINVAL);
        e = engine_close(e);
}
END_TEST

START_TEST(test_checkpoint_applies_to_lmdb) {
        Engine *e = test_open(&tc.config);
        _cleanup_free_ char *inst = test_path("inst");
        char key[32], expected[64];
        EngineInfo info;

        for (int i = 0; i < 200; i++) {
                snprintf(key, sizeof(key), "key%04d", i);
                ck_assert_int_eq(test_put(e, "b", "t", key, key, NULL), 0);
        }
        ck_assert_int_eq(engine_get_info(e, &info), 0);
        ck_assert_uint_eq(info.committed_transactions, 200);

        /* Without any close, the checkpointer gets jet.chk to the last commit (a wait, not a speed limit). */
        snprintf(expected, sizeof(expected), "checkpoint-lsn: 0x%016" PRIx64 "\n", info.last_lsn);
        bool reached = false;
        for (int round = 0; round < 1000 && !reached; round++) {
                _cleanup_free_ char *out = NULL;
                size_t size = 0;
                FILE *f = open_memstream(&out, &size);
                ck_assert_int_eq(engine_dump_checkpoint(inst, f), 0);
                fclose(f);
                reached = strstr(out, expected);
                if (!reached)
                        usleep(10000);
        }
        ck_assert(reached);
        /* Now served from LMDB (the overlay was pruned): still all there. */
        for (int i = 0; i < 200; i += 13) {
                snprintf(key, sizeof(key), "key%04d", i);
                assert_value(e, "b", "t", key, key);
        }
        e = engine_close(e);
}
END_TEST

START_TEST(test_limits) {
        TestConfig small = tc;
        small.config.value_size_max = 100;
        small.config.txn_size_max = 1000;
        Engine *e = test_open(&small.config);
        char big[2000];
        memset(big, 'x', sizeof(big));
        char key[ENGINE_KEY_SIZE_MAX + 1];
        memset(key, 'k', sizeof(key));

        EngineOp op = { .kind = ENGINE_OP_PUT, .database = "a", .table = "t", .key = key, .key_size = ENGINE_KEY_SIZE_MAX,
                        .value = big, .value_size = 100 };
        ck_assert_int_eq(engine_commit_wait(e, &op, 1, NULL), 0);
        op.key_size = ENGINE_KEY_SIZE_MAX + 1;
        ck_assert_int_eq(engine_commit_wait(e, &op, 1, NULL), -EINVAL);
        op.key_size = 0;
        ck_assert_int_eq(engine_commit_wait(e, &op, 1, NULL), -EINVAL);
        op.key_size = 1;
        op.value_size = 101;
        ck_assert_int_eq(engine_commit_wait(e, &op, 1, NULL), -E2BIG);
        op.value_size = 100;
        EngineOp many[12];
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = op;
        ck_assert_int_eq(engine_commit_wait(e, many, ELEMENTSOF(many), NULL), -E2BIG);
        op.database = "nosuch";
        ck_assert_int_eq(engine_commit_wait(e, &op, 1, NULL), -EINVAL);
        op.database = "a";
        op.table = ENGINE_RESERVED_TABLE;
        ck_assert_int_eq(engine_commit_wait(e, &op, 1, NULL), -EINVAL);
        op.table = "";
        ck_assert_int_eq(engine_commit_wait(e, &op, 1, NULL), -EINVAL);
        char long_name[ENGINE_NAME_SIZE_MAX + 2];
        memset(long_name, 'n', sizeof(long_name) - 1);
        long_name[ENGINE_NAME_SIZE_MAX + 1] = 0;
        op.table = long_name;
        ck_assert_int_eq(engine_commit_wait(e, &op, 1, NULL), -EINVAL);
        long_name[ENGINE_NAME_SIZE_MAX] = 0; /* exactly the maximum */
        ck_assert_int_eq(engine_commit_wait(e, &op, 1, NULL), 0);
        op.table = "t";
        op.kind = 'x';
        ck_assert_int_eq(engine_commit_wait(e, &op, 1, NULL), -EINVAL);
        ck_assert_int_eq(engine_commit_wait(e, &op, 0, NULL), -EINVAL);

        /* Table count: ENGINE_TABLES_MAX per database, the reserved one excluded. */
        op.kind = ENGINE_OP_PUT;
        op.value_size = 1;
        char name[32];
        for (int i = 2; i < ENGINE_TABLES_MAX; i++) { /* "t" and the long name exist */
                snprintf(name, sizeof(name), "t%d", i);
                op.table = name;
                ck_assert_int_eq(engine_commit_wait(e, &op, 1, NULL), 0);
        }
        op.table = "one-too-many";
        ck_assert_int_eq(engine_commit_wait(e, &op, 1, NULL), -E2BIG);
        e = engine_close(e);
        /* All of them survive a reopen (they are LMDB named databases now). */
        e = test_open(&small.config);
        ck_assert_int_eq(test_put(e, "a", "t5", "k", "v", NULL), 0);
        ck_assert_int_eq(test_put(e, "a", "one-too-many", "k", "v", NULL), -E2BIG);
        e = engine_close(e);
}
END_TEST

START_TEST(test_pending_limit) {
        TestConfig t = tc;
        t.config.pending_commits_max = 4;
        Engine *e = test_open(&t.config);
        bool done = false;
        EngineOp op = { .kind = ENGINE_OP_PUT, .database = "a", .table = "t", .key = "k", .key_size = 1, .value = "v", .value_size = 1 };

        /* Frozen: nothing drains, so the fifth pending commit is refused. */
        ck_assert_int_eq(engine_freeze(e, NULL, NULL), 0);
        for (int i = 0; i < 4; i++)
                ck_assert_int_eq(engine_commit(e, &op, 1, NULL, NULL), 0);
        ck_assert_int_eq(engine_commit(e, &op, 1, NULL, NULL), -EAGAIN);
        ck_assert_int_eq(engine_thaw(e), 0);
        (void) done;
        e = engine_close(e);
}
END_TEST

typedef struct Acks {
        int n;
        int last_r;
        uint64_t last_lsn;
        bool done;
        int want;
} Acks;

static void on_commit(Engine *e, int r, uint64_t lsn, void *userdata) {
        Acks *a = userdata;
        ck_assert_uint_gt(lsn, a->last_lsn); /* acknowledged in LSN order */
        a->last_r = r;
        a->last_lsn = lsn;
        a->done = ++a->n == a->want;
}

START_TEST(test_async_commit_dispatch) {
        Engine *e = test_open(&tc.config);
        Acks a = { .want = 500 };
        char key[32];

        for (int i = 0; i < a.want; i++) {
                snprintf(key, sizeof(key), "%d", i);
                EngineOp op = { .kind = ENGINE_OP_PUT, .database = "a", .table = "t", .key = key,
                                .key_size = strlen(key), .value = key, .value_size = strlen(key) };
                ck_assert_int_eq(engine_commit(e, &op, 1, on_commit, &a), 0);
        }
        dispatch_until(e, &a.done);
        ck_assert_int_eq(a.last_r, 0);
        assert_value(e, "a", "t", "499", "499");
        e = engine_close(e);
        /* Generations rolled (64 KiB each) and the log is still whole. */
        FILE *f = fopen("/dev/null", "w");
        _cleanup_free_ char *inst = test_path("inst");
        ck_assert_int_eq(engine_verify(inst, f), 0);
        fclose(f);
}
END_TEST

START_TEST(test_bad_config) {
        Engine *e = NULL;
        EngineConfig c = tc.config;
        c.n_databases = 0;
        ck_assert_int_eq(engine_open(&c, &e, NULL), -EINVAL);
        c = tc.config;
        c.log_file_size = 1000;
        ck_assert_int_eq(engine_open(&c, &e, NULL), -EINVAL);
        c = tc.config;
        c.name = "bad/name";
        ck_assert_int_eq(engine_open(&c, &e, NULL), -EINVAL);
        ck_assert_ptr_null(e);

        /* One Engine per instance directory. */
        Engine *first = test_open(&tc.config);
        _cleanup_free_ char *msg = NULL;
        ck_assert_int_eq(engine_open(&tc.config, &e, &msg), -EBUSY);
        ck_assert_ptr_null(e);
        ck_assert_msg(msg && strstr(msg, "open elsewhere"), "%s", msg);
        first = engine_close(first);
        e = test_open(&tc.config);
        e = engine_close(e);
}
END_TEST

START_TEST(test_big_record_grows_generation) {
        Engine *e = test_open(&tc.config);
        size_t n = 200 << 10; /* larger than the 64 KiB generation */
        char *v = malloc(n + 1);
        ck_assert_ptr_nonnull(v);
        memset(v, 'v', n);
        v[n] = 0;
        ck_assert_int_eq(test_put(e, "a", "t", "small", "1", NULL), 0);
        ck_assert_int_eq(test_put(e, "a", "t", "big", v, NULL), 0);
        ck_assert_int_eq(test_put(e, "a", "t", "after", "2", NULL), 0);
        e = engine_close(e);
        e = test_open(&tc.config);
        assert_value(e, "a", "t", "big", v);
        assert_value(e, "a", "t", "after", "2");
        e = engine_close(e);
        free(v);
}
END_TEST


/* ---- concurrency: no acknowledged change is ever invisible, while the checkpointer moves it to LMDB ---- */

#define CONC_WRITERS 4
#define CONC_COMMITS 300

typedef struct Shared {
        Engine *e;
        uint64_t acked[CONC_WRITERS];   /* atomic */
        bool stop;                      /* atomic */
        char failure[256];
        pthread_mutex_t failure_lock;
} Shared;

typedef struct Worker {
        Shared *s;
        int id;
} Worker;

static void fail_once(Shared *s, const char *message) {
        pthread_mutex_lock(&s->failure_lock);
        if (!s->failure[0])
                snprintf(s->failure, sizeof(s->failure), "%s", message);
        pthread_mutex_unlock(&s->failure_lock);
}

static void *conc_writer(void *userdata) {
        Worker *w = userdata;
        char key[16], value[32];
        snprintf(key, sizeof(key), "w%d", w->id);
        for (uint64_t n = 1; n <= CONC_COMMITS; n++) {
                snprintf(value, sizeof(value), "%" PRIu64, n);
                EngineOp ops[] = {
                        { .kind = ENGINE_OP_PUT, .database = "a", .table = "t", .key = key, .key_size = strlen(key), .value = value, .value_size = strlen(value) },
                        { .kind = ENGINE_OP_PUT, .database = "b", .table = "t", .key = key, .key_size = strlen(key), .value = value, .value_size = strlen(value) },
                };
                int r = engine_commit_wait(w->s->e, ops, 2, NULL);
                if (r < 0) {
                        char m[128];
                        snprintf(m, sizeof(m), "writer %d: commit %" PRIu64 " failed: %d", w->id, n, r);
                        fail_once(w->s, m);
                        return NULL;
                }
                __atomic_store_n(&w->s->acked[w->id], n, __ATOMIC_RELEASE);
        }
        return NULL;
}

static void *conc_reader(void *userdata) {
        Worker *w = userdata;
        while (!__atomic_load_n(&w->s->stop, __ATOMIC_ACQUIRE))
                for (int i = 0; i < CONC_WRITERS; i++) {
                        char key[16];
                        void *v = NULL;
                        size_t n = 0;
                        uint64_t want = __atomic_load_n(&w->s->acked[i], __ATOMIC_ACQUIRE);
                        snprintf(key, sizeof(key), "w%d", i);
                        int r = engine_get(w->s->e, w->id % 2 ? "a" : "b", "t", key, strlen(key), &v, &n);
                        uint64_t got = 0;
                        if (r == 0) {
                                char buf[32] = {};
                                memcpy(buf, v, MIN(n, sizeof(buf) - 1));
                                got = strtoull(buf, NULL, 10);
                                free(v);
                        } else if (r != -ENOENT) {
                                char m[128];
                                snprintf(m, sizeof(m), "reader %d: get failed: %d", w->id, r);
                                fail_once(w->s, m);
                        }
                        if (got < want) {
                                char m[128];
                                snprintf(m, sizeof(m), "key w%d: read %" PRIu64 " after %" PRIu64 " was acknowledged", i,
                                         got, want);
                                fail_once(w->s, m);
                        }
                }
        return NULL;
}

START_TEST(test_reads_see_acknowledged_commits) {
        TestConfig t = tc;
        t.config.checkpoint_interval_usec = 1; /* checkpoint all the time */
        Shared s = { .e = test_open(&t.config) };
        pthread_t wt[CONC_WRITERS], rt[2];
        Worker ww[CONC_WRITERS], rw[2];

        pthread_mutex_init(&s.failure_lock, NULL);
        for (int i = 0; i < 2; i++) {
                rw[i] = (Worker) { &s, i };
                ck_assert_int_eq(pthread_create(&rt[i], NULL, conc_reader, &rw[i]), 0);
        }
        for (int i = 0; i < CONC_WRITERS; i++) {
                ww[i] = (Worker) { &s, i };
                ck_assert_int_eq(pthread_create(&wt[i], NULL, conc_writer, &ww[i]), 0);
        }
        for (int i = 0; i < CONC_WRITERS; i++)
                ck_assert_int_eq(pthread_join(wt[i], NULL), 0);
        __atomic_store_n(&s.stop, true, __ATOMIC_RELEASE);
        for (int i = 0; i < 2; i++)
                ck_assert_int_eq(pthread_join(rt[i], NULL), 0);
        ck_assert_msg(!s.failure[0], "%s", s.failure);
        EngineInfo info;
        ck_assert_int_eq(engine_get_info(s.e, &info), 0);
        ck_assert_uint_eq(info.committed_transactions, CONC_WRITERS * CONC_COMMITS);
        s.e = engine_close(s.e);
        pthread_mutex_destroy(&s.failure_lock);
}
END_TEST


/* Random puts and deletes against a model, with the checkpointer moving data to LMDB all the time;
 * every so often a get of every key and a scan with random bounds and limit must match the model. */
#define MODEL_KEYS 48

START_TEST(test_random_against_model) {
        TestConfig t = tc;
        t.config.checkpoint_interval_usec = 1;
        Engine *e = test_open(&t.config);
        char model[MODEL_KEYS][16] = {};
        uint64_t x = 0x2545F4914F6CDD1Du + (uint64_t) _i;

        for (int step = 0; step < 1500; step++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                int k = (int) (x % MODEL_KEYS);
                char key[8];
                snprintf(key, sizeof(key), "k%02d", k);
                if (x >> 40 & 3) {
                        snprintf(model[k], sizeof(model[k]), "v%d", step);
                        ck_assert_int_eq(test_put(e, "a", "s", key, model[k], NULL), 0);
                } else {
                        model[k][0] = 0;
                        ck_assert_int_eq(test_del(e, "a", "s", key), 0);
                }
                if (step % 25 != 0)
                        continue;
                for (int i = 0; i < MODEL_KEYS; i++) {
                        snprintf(key, sizeof(key), "k%02d", i);
                        if (model[i][0])
                                assert_value(e, "a", "s", key, model[i]);
                        else
                                assert_missing(e, "a", "s", key);
                }
                int lo = (int) (x >> 8 & 63), hi = (int) (x >> 16 & 63);
                uint32_t limit = (uint32_t) (x >> 24 & 7);
                char from[8], to[8], want[2048] = "";
                snprintf(from, sizeof(from), "k%02d", lo);
                snprintf(to, sizeof(to), "k%02d", hi);
                uint32_t n = 0;
                for (int i = lo; i < MIN(hi, MODEL_KEYS) && (limit == 0 || n < limit); i++)
                        if (model[i][0]) {
                                char item[32];
                                snprintf(item, sizeof(item), "%sk%02d=%s", n ? "," : "", i, model[i]);
                                strcat(want, item);
                                n++;
                        }
                assert_scan_table(e, "s", from, to, limit, want);
        }
        e = engine_close(e);
}
END_TEST

static Suite *engine_txn_suite(void) {
        Suite *s = suite_create("engine-txn");
        TCase *tc_core = tcase_create("Core");
        tcase_add_checked_fixture(tc_core, setup, test_dir_teardown);
        tcase_set_timeout(tc_core, 60);
        tcase_add_test(tc_core, test_put_get_reopen);
        tcase_add_test(tc_core, test_multi_database_txn);
        tcase_add_test(tc_core, test_scan_merges_overlay_and_lmdb);
        tcase_add_test(tc_core, test_checkpoint_applies_to_lmdb);
        tcase_add_test(tc_core, test_async_commit_dispatch);
        tcase_add_test(tc_core, test_big_record_grows_generation);
        suite_add_tcase(s, tc_core);

        TCase *tc_limits = tcase_create("Limits");
        tcase_add_checked_fixture(tc_limits, setup, test_dir_teardown);
        tcase_set_timeout(tc_limits, 60);
        tcase_add_test(tc_limits, test_limits);
        tcase_add_test(tc_limits, test_pending_limit);
        tcase_add_test(tc_limits, test_bad_config);
        suite_add_tcase(s, tc_limits);

        TCase *tc_conc = tcase_create("Concurrency");
        tcase_add_checked_fixture(tc_conc, setup, test_dir_teardown);
        tcase_set_timeout(tc_conc, 90);
        tcase_add_test(tc_conc, test_reads_see_acknowledged_commits);
        tcase_add_loop_test(tc_conc, test_random_against_model, 0, 3);
        suite_add_tcase(s, tc_conc);
        return s;
}

int main(void) {
        return run_suite(engine_txn_suite());
}
