/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The checkpointer's bounds: a freeze that arrives while a large round is
 * being applied abandons that round within APPLY_CHECK_OPS operations
 * instead of applying all of it first; a round is applied in LMDB
 * transactions of at most checkpoint_txn_bytes; the engine's threads are
 * named. White-box: the tests reach into Engine (engine-internal.h) for
 * the apply hook and to start a round at a chosen moment, never for timing.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine-internal.h"
#include "engine-test-util.h"
#include "check-run.h"

static TestConfig tc;
static FaultIO fio;
static EngineIO io;

static void setup(void) {
        test_dir_setup();
        fault_io_init(&fio, &io);
        test_config_init(&tc, &io);
        /* No round starts on its own: start_round() decides when. */
        tc.config.checkpoint_interval_usec = 3600 * USEC_PER_SEC;
        tc.config.log_file_size = 16 << 20;
}

#define TXN_OPS 200
#define VALUE_SIZE 100

/* Commits n_txns transactions of TXN_OPS puts to database "a" (keys k00000...); returns the last LSN. */
static uint64_t fill(Engine *e, int n_txns) {
        static char keys[TXN_OPS][16], value[VALUE_SIZE];
        EngineOp ops[TXN_OPS];
        uint64_t lsn = 0;

        memset(value, 'v', sizeof(value));
        for (int t = 0; t < n_txns; t++) {
                for (int i = 0; i < TXN_OPS; i++) {
                        snprintf(keys[i], sizeof(keys[i]), "k%05d", t * TXN_OPS + i);
                        ops[i] = (EngineOp) { .kind = ENGINE_OP_PUT, .database = "a", .table = "t",
                                              .key = keys[i], .key_size = strlen(keys[i]),
                                              .value = value, .value_size = sizeof(value) };
                }
                ck_assert_int_eq(engine_commit_wait(e, ops, TXN_OPS, &lsn), 0);
        }
        return lsn;
}

static void assert_filled(Engine *e, int n_txns) {
        char key[16], value[VALUE_SIZE + 1];

        memset(value, 'v', VALUE_SIZE);
        value[VALUE_SIZE] = 0;
        for (int i = 0; i < n_txns * TXN_OPS; i += 97) {
                snprintf(key, sizeof(key), "k%05d", i);
                assert_value(e, "a", "t", key, value);
        }
        snprintf(key, sizeof(key), "k%05d", n_txns * TXN_OPS - 1);
        assert_value(e, "a", "t", key, value);
        snprintf(key, sizeof(key), "k%05d", n_txns * TXN_OPS);
        assert_missing(e, "a", "t", key);
}

/* Makes the checkpointer run a round over everything acknowledged so far. */
static void start_round(Engine *e) {
        pthread_mutex_lock(&e->lock);
        e->checkpoint_interval_usec = 0;
        pthread_cond_signal(&e->ckpt_cond);
        pthread_mutex_unlock(&e->lock);
}

static uint64_t checkpoint_lsn(Engine *e) {
        pthread_mutex_lock(&e->lock);
        uint64_t lsn = e->checkpoint_lsn;
        pthread_mutex_unlock(&e->lock);
        return lsn;
}

static void wait_checkpoint(Engine *e, uint64_t lsn) {
        for (int i = 0; i < 30000 && checkpoint_lsn(e) < lsn; i++)
                usleep(1000);
        ck_assert_uint_eq(checkpoint_lsn(e), lsn);
}

static bool hook_started;
static uint64_t hook_ops, hook_ops_after_request;

/*
 * Runs on the checkpointer after each op applied to LMDB. The first op of
 * the round waits until the freeze has reached the checkpointer
 * (pause_requested), so every later op of the round counts as applied
 * after the request, however the threads are scheduled.
 */
static void hold_first_op(Engine *e) {
        if (!__atomic_exchange_n(&hook_started, true, __ATOMIC_ACQ_REL)) {
                while (!atomic_flag_get(&e->pause_requested))
                        usleep(100);
        } else if (atomic_flag_get(&e->pause_requested))
                __atomic_add_fetch(&hook_ops_after_request, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&hook_ops, 1, __ATOMIC_RELAXED);
}

typedef struct FreezeResult {
        bool done;
        int r;
} FreezeResult;

static void on_freeze(Engine *e, int r, const EngineFreezeInfo *info, void *userdata) {
        FreezeResult *f = userdata;
        f->done = true;
        f->r = r;
}

START_TEST(test_freeze_abandons_round_early) {
        const int n_txns = 100; /* 20000 ops, ~3 MiB: one round, one slice */
        FreezeResult f = {};
        Engine *e = test_open(&tc.config);
        uint64_t last = fill(e, n_txns), lmdb_commits;

        __atomic_store_n(&e->apply_op_hook, hold_first_op, __ATOMIC_RELEASE);
        start_round(e);
        while (!__atomic_load_n(&hook_started, __ATOMIC_ACQUIRE))
                usleep(100);
        lmdb_commits = atomic_load(&fio.lmdb_commits);
        ck_assert_int_eq(engine_freeze(e, on_freeze, &f), 0);
        dispatch_until(e, &f.done);
        ck_assert_int_eq(f.r, 0);

        /* The freeze cut the round short: no LMDB transaction committed and at most one check interval of
         * ops went into the abandoned one after the request (it used to be all 20000). */
        ck_assert_uint_eq(atomic_load(&fio.lmdb_commits), lmdb_commits);
        ck_assert_uint_lt(__atomic_load_n(&hook_ops_after_request, __ATOMIC_RELAXED), APPLY_CHECK_OPS);
        ck_assert_uint_lt(__atomic_load_n(&hook_ops, __ATOMIC_RELAXED), APPLY_CHECK_OPS + 1);
        ck_assert_uint_lt(checkpoint_lsn(e), last);
        assert_filled(e, n_txns); /* still served from the overlay */

        /* After thaw the whole round is applied again and checkpointed. */
        __atomic_store_n(&e->apply_op_hook, NULL, __ATOMIC_RELEASE);
        ck_assert_int_eq(engine_thaw(e), 0);
        wait_checkpoint(e, last);
        assert_filled(e, n_txns);
        e = engine_close(e);
        e = test_open(&tc.config);
        assert_filled(e, n_txns);
        e = engine_close(e);
}
END_TEST

START_TEST(test_round_in_bounded_transactions) {
        const int n_txns = 40;
        Engine *e = test_open(&tc.config);
        uint64_t per_slice, n_items, item_bytes, lmdb_commits;

        e->checkpoint_txn_bytes = 64 << 10;
        uint64_t last = fill(e, n_txns);

        /* Every record has the same size, so the slices are known: as many records as fit the cap. */
        pthread_mutex_lock(&e->lock);
        n_items = e->applied.n;
        item_bytes = e->applied.bytes / n_items;
        ck_assert_uint_eq(e->applied.bytes % n_items, 0);
        pthread_mutex_unlock(&e->lock);
        ck_assert_uint_eq(n_items, (uint64_t) n_txns);
        per_slice = (64 << 10) / item_bytes;
        ck_assert_uint_ge(per_slice, 1);
        ck_assert_uint_lt(per_slice, n_items);

        lmdb_commits = atomic_load(&fio.lmdb_commits);
        start_round(e);
        wait_checkpoint(e, last);
        /* One LMDB transaction per database (two of them) per slice. */
        ck_assert_uint_eq(atomic_load(&fio.lmdb_commits) - lmdb_commits,
                          2 * ((n_items + per_slice - 1) / per_slice));
        assert_filled(e, n_txns);
        e = engine_close(e);
        e = test_open(&tc.config);
        assert_filled(e, n_txns);
        e = engine_close(e);
}
END_TEST

static bool have_thread(const char *comm) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *de;
        bool found = false;

        ck_assert_ptr_nonnull(d);
        while (!found && (de = readdir(d))) {
                char path[320], name[64] = {};
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
                FILE *f = fopen(path, "re");
                if (!f)
                        continue; /* the thread just exited */
                if (fgets(name, sizeof(name), f))
                        name[strcspn(name, "\n")] = 0;
                fclose(f);
                found = streq(name, comm);
        }
        closedir(d);
        return found;
}

START_TEST(test_thread_names) {
        Engine *e = test_open(&tc.config);
        ck_assert(have_thread("jet-log/test"));
        ck_assert(have_thread("jet-ckpt/test"));
        e = engine_close(e);
        ck_assert(!have_thread("jet-log/test"));

        /* Cut to the kernel's 15 bytes rather than left unnamed. */
        tc.config.name = "a-rather-long-instance-name";
        e = test_open(&tc.config);
        ck_assert(have_thread("jet-log/a-rathe"));
        ck_assert(have_thread("jet-ckpt/a-rath"));
        e = engine_close(e);
}
END_TEST

static Suite *checkpoint_suite(void) {
        Suite *s = suite_create("engine-checkpoint");
        TCase *tc_case = tcase_create("checkpointer");
        tcase_add_checked_fixture(tc_case, setup, test_dir_teardown);
        tcase_set_timeout(tc_case, 60);
        tcase_add_test(tc_case, test_freeze_abandons_round_early);
        tcase_add_test(tc_case, test_round_in_bounded_transactions);
        tcase_add_test(tc_case, test_thread_names);
        suite_add_tcase(s, tc_case);
        return s;
}

int main(void) {
        return run_suite(checkpoint_suite());
}
