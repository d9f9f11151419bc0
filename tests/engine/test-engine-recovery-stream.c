/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Streaming recovery: a log many times the recovery batch size is applied
 * in bounded batches (counted through the IO seam's LMDB commit hook), and
 * a recovery SIGKILLed at any write it issues is itself recovered by the
 * next open, with every acknowledged commit present.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine-test-util.h"
#include "macro.h"
#include "check-run.h"

#define N_COMMITS 1200
#define VALUE_SIZE 2000         /* ~2.4 MiB of log: ~38 generations of 64 KiB */
#define BATCH_SIZE (UINT64_C(64) << 10)

static TestConfig tc;

static void setup(void) {
        test_dir_setup();
        test_config_init(&tc, NULL);
        /* Nothing reaches LMDB or jet.chk before the crash: recovery must replay all of it. */
        tc.config.checkpoint_interval_usec = 3600 * USEC_PER_SEC;
        tc.config.recovery_batch_size = BATCH_SIZE;
}

static void make_value(char *buf, int i) {
        memset(buf, 'a' + i % 26, VALUE_SIZE);
        snprintf(buf, VALUE_SIZE, "value-%d", i);
        buf[strlen(buf)] = '-';
        buf[VALUE_SIZE] = 0;
}

typedef struct Acks {
        int n, failed;
        bool done;
} Acks;

static void on_ack(Engine *e, int r, uint64_t lsn, void *userdata) {
        Acks *a = userdata;
        if (r < 0)
                a->failed++;
        if (++a->n == N_COMMITS)
                a->done = true;
}

/* In a child: commit N_COMMITS transactions (grouped, asynchronously), wait for every ack, exit without
 * closing: a crash with the whole log still to replay. */
static void crash_after_commits(void) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                static char value[VALUE_SIZE + 1];
                Acks acks = {};
                Engine *e = NULL;
                char key[16];

                if (engine_open(&tc.config, &e, NULL) < 0)
                        _exit(1);
                for (int i = 0; i < N_COMMITS; i++) {
                        make_value(value, i);
                        snprintf(key, sizeof(key), "k%d", i);
                        EngineOp op = { .kind = ENGINE_OP_PUT, .database = i % 2 ? "a" : "b", .table = "t",
                                        .key = key, .key_size = strlen(key), .value = value,
                                        .value_size = VALUE_SIZE };
                        if (engine_commit(e, &op, 1, on_ack, &acks) < 0)
                                _exit(2);
                }
                dispatch_until(e, &acks.done);
                _exit(acks.failed == 0 ? 0 : 3);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
}

static void expect_all_commits(Engine *e) {
        static char value[VALUE_SIZE + 1];
        char key[16];

        for (int i = 0; i < N_COMMITS; i++) {
                make_value(value, i);
                snprintf(key, sizeof(key), "k%d", i);
                assert_value(e, i % 2 ? "a" : "b", "t", key, value);
        }
}

static void verify_ok(void) {
        _cleanup_free_ char *inst = test_path("inst"), *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        ck_assert_ptr_nonnull(f);
        int r = engine_verify(inst, f);
        fclose(f);
        ck_assert_msg(r == 0, "verify: %d\n%s", r, out);
}

START_TEST(test_log_larger_than_batch) {
        FaultIO fio;
        EngineIO io;

        crash_after_commits();
        fault_io_init(&fio, &io);
        tc.config.io = &io;
        Engine *e = test_open(&tc.config);
        /* One LMDB transaction per database per batch: many batches, not one transaction holding it all. */
        uint64_t log_bytes = (uint64_t) N_COMMITS * VALUE_SIZE;
        uint64_t commits = atomic_load(&fio.lmdb_commits);
        ck_assert_uint_ge(commits, 2 * (log_bytes / BATCH_SIZE) / 2);
        ck_assert_uint_le(commits, 2 * (log_bytes / BATCH_SIZE + 2));
        expect_all_commits(e);
        e = engine_close(e);
        verify_ok();

        /* Recovered and checkpointed: the next open replays nothing. */
        tc.config.recovery_batch_size = 0;
        fault_io_init(&fio, &io);
        e = test_open(&tc.config);
        ck_assert_uint_eq(atomic_load(&fio.lmdb_commits), 0);
        expect_all_commits(e);
        e = engine_close(e);
}
END_TEST

/* ---- SIGKILL at the n-th write-class call of a recovery ---- */

static uint64_t kill_at;
static uint64_t kill_calls;

static void kill_point(void) {
        if (++kill_calls == kill_at)
                (void) kill(getpid(), SIGKILL);
}

static int k_open(void *u, const char *path, int flags, mode_t mode) {
        return engine_io_default.open(NULL, path, flags, mode);
}
static ssize_t k_pread(void *u, int fd, void *buf, size_t n, uint64_t off) {
        return engine_io_default.pread(NULL, fd, buf, n, off);
}
static ssize_t k_pwrite(void *u, int fd, const void *buf, size_t n, uint64_t off) {
        kill_point();
        return engine_io_default.pwrite(NULL, fd, buf, n, off);
}
static int k_fdatasync(void *u, int fd) {
        kill_point();
        return engine_io_default.fdatasync(NULL, fd);
}
static int k_fsync(void *u, int fd) {
        kill_point();
        return engine_io_default.fsync(NULL, fd);
}
static int k_ftruncate(void *u, int fd, uint64_t size) {
        kill_point();
        return engine_io_default.ftruncate(NULL, fd, size);
}
static int k_rename(void *u, const char *from, const char *to) {
        kill_point();
        return engine_io_default.rename(NULL, from, to);
}
static int k_unlink(void *u, const char *path) {
        kill_point();
        return engine_io_default.unlink(NULL, path);
}
static int k_before_lmdb_commit(void *u, const char *database_path) {
        kill_point();
        return 0;
}

static const EngineIO kill_io = {
        .open = k_open,
        .pread = k_pread,
        .pwrite = k_pwrite,
        .fdatasync = k_fdatasync,
        .fsync = k_fsync,
        .ftruncate = k_ftruncate,
        .rename = k_rename,
        .unlink = k_unlink,
        .before_lmdb_commit = k_before_lmdb_commit,
};

/* Opens in a child that SIGKILLs itself at write-class call number at; returns whether it was killed. */
static bool open_killed_at(uint64_t at) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                Engine *e = NULL;
                kill_at = at;
                kill_calls = 0;
                tc.config.io = &kill_io;
                /* Exit right after the open: only recovery's writes are counted. */
                _exit(engine_open(&tc.config, &e, NULL) < 0 ? 1 : 0);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status)) {
                ck_assert_int_eq(WTERMSIG(status), SIGKILL);
                return true;
        }
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
        return false;
}

/*
 * Loop i kills the recovery at write-class call 1 + 7 * i. The recovery of
 * this workload issues 240 such calls (38 batches of two LMDB commits and a
 * jet.chk write of four calls, then the close of the recovered jet.log and
 * the creation of the next generation); a stride of 7 against a cycle of 6
 * lands on every kind of call. The last iteration reaches past the end.
 * After a kill, the recovery of that recovery is killed once more; then a
 * real open must find every acknowledged commit.
 */
#define KILL_STRIDE 7
#define KILL_ITERATIONS 36

START_TEST(test_sigkill_during_recovery) {
        crash_after_commits();
        bool killed = open_killed_at(1 + KILL_STRIDE * (uint64_t) _i);
        /* Every kill but the last must land inside recovery, or the loop does not cover it. */
        ck_assert_msg(killed == (_i < KILL_ITERATIONS - 1), "iteration %d: killed=%d", _i, killed);
        if (killed)
                (void) open_killed_at(3);
        Engine *e = test_open(&tc.config);
        expect_all_commits(e);
        e = engine_close(e);
        verify_ok();
}
END_TEST

static Suite *recovery_stream_suite(void) {
        Suite *s = suite_create("engine-recovery-stream");
        TCase *tc_core = tcase_create("Core");
        tcase_add_checked_fixture(tc_core, setup, test_dir_teardown);
        tcase_set_timeout(tc_core, 120);
        tcase_add_test(tc_core, test_log_larger_than_batch);
        suite_add_tcase(s, tc_core);

        TCase *tc_crash = tcase_create("Crash");
        tcase_add_checked_fixture(tc_crash, setup, test_dir_teardown);
        tcase_set_timeout(tc_crash, 120);
        tcase_add_loop_test(tc_crash, test_sigkill_during_recovery, 0, KILL_ITERATIONS);
        suite_add_tcase(s, tc_crash);
        return s;
}

int main(void) {
        return run_suite(recovery_stream_suite());
}
