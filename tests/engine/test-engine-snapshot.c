/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Freeze/thaw, truncation and backup bookkeeping: a frozen engine issues
 * no write at all (counted through the IO seam and checked on the files
 * themselves) while commits wait unacknowledged, and thaw releases them.
 */
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine-test-util.h"
#include "macro.h"
#include "check-run.h"

static TestConfig tc;
static FaultIO fio;
static EngineIO io;

static void setup(void) {
        test_dir_setup();
        fault_io_init(&fio, &io);
        test_config_init(&tc, &io);
}

typedef struct FreezeResult {
        bool done;
        int r;
        EngineFreezeInfo info;
} FreezeResult;

static void on_freeze(Engine *e, int r, const EngineFreezeInfo *info, void *userdata) {
        FreezeResult *f = userdata;
        f->done = true;
        f->r = r;
        if (info)
                f->info = *info;
}

static EngineFreezeInfo freeze(Engine *e) {
        FreezeResult f = {};
        ck_assert_int_eq(engine_freeze(e, on_freeze, &f), 0);
        dispatch_until(e, &f.done);
        ck_assert_int_eq(f.r, 0);
        EngineInfo info;
        ck_assert_int_eq(engine_get_info(e, &info), 0);
        ck_assert_int_eq(info.state, ENGINE_FROZEN);
        return f.info;
}

typedef struct DoneResult {
        bool done;
        int r;
} DoneResult;

static void on_done(Engine *e, int r, void *userdata) {
        DoneResult *d = userdata;
        d->done = true;
        d->r = r;
}

/* Size and mtime of every file of the instance, as one string. */
static char *snapshot_files(void) {
        _cleanup_free_ char *inst = test_path("inst"), *logs = test_path("inst/logs");
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        const char *dirs[] = { inst, logs };

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                struct dirent **list;
                int n = scandir(dirs[i], &list, NULL, alphasort);
                ck_assert_int_ge(n, 0);
                for (int k = 0; k < n; k++) {
                        struct stat st;
                        char p[1024];
                        snprintf(p, sizeof(p), "%s/%s", dirs[i], list[k]->d_name);
                        ck_assert_int_eq(lstat(p, &st), 0);
                        /* LMDB's -lock file is shared memory for readers, not data. */
                        if (S_ISREG(st.st_mode) && !strstr(p, "-lock"))
                                fprintf(f, "%s %lld %lld.%09ld\n", p, (long long) st.st_size, (long long) st.st_mtim.tv_sec,
                                        st.st_mtim.tv_nsec);
                        free(list[k]);
                }
                free(list);
        }
        fclose(f);
        return out;
}

typedef struct Committer {
        Engine *e;
        int id;
        int r;
        bool done;
} Committer;

static void *commit_thread(void *userdata) {
        Committer *c = userdata;
        char key[32];
        snprintf(key, sizeof(key), "frozen-%d", c->id);
        c->r = test_put(c->e, c->id % 2 ? "a" : "b", "t", key, key, NULL);
        __atomic_store_n(&c->done, true, __ATOMIC_RELEASE);
        return NULL;
}

START_TEST(test_freeze_issues_no_writes) {
        Engine *e = test_open(&tc.config);
        Committer c[4];
        pthread_t threads[4];
        char key[32];

        for (int i = 0; i < 50; i++) {
                snprintf(key, sizeof(key), "before-%d", i);
                ck_assert_int_eq(test_put(e, "a", "t", key, key, NULL), 0);
        }
        EngineFreezeInfo info = freeze(e);
        ck_assert_uint_ge(info.closed_generation, 1);
        ck_assert_uint_le(info.checkpoint_generation, info.closed_generation);
        _cleanup_free_ char *cur = test_path("inst/logs/jet.log");
        _cleanup_free_ char *closed = test_path("inst/logs/jet%08X.log", info.closed_generation);
        ck_assert(!file_exists(cur));
        ck_assert(file_exists(closed));

        _cleanup_free_ char *before = snapshot_files();
        uint64_t writes = fault_io_write_calls(&fio);

        for (int i = 0; i < 4; i++) {
                c[i] = (Committer) { .e = e, .id = i };
                ck_assert_int_eq(pthread_create(&threads[i], NULL, commit_thread, &c[i]), 0);
        }
        EngineOp op = { .kind = ENGINE_OP_PUT, .database = "a", .table = "t", .key = "async", .key_size = 5, .value = "1", .value_size = 1 };
        ck_assert_int_eq(engine_commit(e, &op, 1, NULL, NULL), 0);
        /* Give the threads every chance to do something wrong; reads go on meanwhile. */
        for (int i = 0; i < 20; i++) {
                assert_value(e, "a", "t", "before-7", "before-7");
                assert_missing(e, "a", "t", "async");
                usleep(10000);
        }
        EngineInfo ei;
        ck_assert_int_eq(engine_get_info(e, &ei), 0);
        ck_assert_uint_eq(ei.pending_commits, 5);
        for (int i = 0; i < 4; i++)
                ck_assert(!__atomic_load_n(&c[i].done, __ATOMIC_ACQUIRE));
        ck_assert_uint_eq(fault_io_write_calls(&fio), writes);
        _cleanup_free_ char *after = snapshot_files();
        ck_assert_str_eq(before, after);

        ck_assert_int_eq(engine_freeze(e, NULL, NULL), -EBUSY);
        ck_assert_int_eq(engine_truncate_logs(e, 100, NULL, NULL), -EBUSY);
        ck_assert_int_eq(engine_thaw(e), 0);
        for (int i = 0; i < 4; i++) {
                ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
                ck_assert_int_eq(c[i].r, 0);
        }
        ck_assert_uint_gt(fault_io_write_calls(&fio), writes);
        assert_value(e, "a", "t", "frozen-1", "frozen-1");
        assert_value(e, "b", "t", "frozen-2", "frozen-2");
        ck_assert(file_exists(cur));
        ck_assert_int_eq(engine_get_info(e, &ei), 0);
        ck_assert_uint_eq(ei.current_generation, info.closed_generation + 1);
        ck_assert_int_eq(engine_thaw(e), -EBUSY);
        e = engine_close(e);

        /* The frozen image (closed generation, no jet.log) is what a backup copies; it reopens. */
        e = test_open(&tc.config);
        assert_value(e, "a", "t", "frozen-3", "frozen-3");
        assert_value(e, "a", "t", "async", "1");
        e = engine_close(e);
}
END_TEST

START_TEST(test_thaw_cancels_freeze) {
        Engine *e = test_open(&tc.config);
        FreezeResult f = {};

        ck_assert_int_eq(test_put(e, "a", "t", "k", "v", NULL), 0);
        ck_assert_int_eq(engine_freeze(e, on_freeze, &f), 0);
        ck_assert_int_eq(engine_thaw(e), 0);
        dispatch_until(e, &f.done);
        ck_assert_int_eq(f.r, -ECANCELED);
        /* Running normally afterwards. */
        ck_assert_int_eq(test_put(e, "a", "t", "k2", "v2", NULL), 0);
        EngineFreezeInfo info = freeze(e);
        ck_assert_uint_ge(info.closed_generation, 1);
        ck_assert_int_eq(engine_thaw(e), 0);
        ck_assert_int_eq(test_put(e, "a", "t", "k3", "v3", NULL), 0);
        e = engine_close(e);
}
END_TEST

START_TEST(test_close_while_frozen) {
        Engine *e = test_open(&tc.config);
        ck_assert_int_eq(test_put(e, "a", "t", "k", "v", NULL), 0);
        (void) freeze(e);
        EngineOp op = { .kind = ENGINE_OP_PUT, .database = "a", .table = "t", .key = "q", .key_size = 1, .value = "1", .value_size = 1 };
        ck_assert_int_eq(engine_commit(e, &op, 1, NULL, NULL), 0);
        e = engine_close(e); /* thaws, drains the queued commit */
        e = test_open(&tc.config);
        assert_value(e, "a", "t", "q", "1");
        e = engine_close(e);
}
END_TEST

static void fill(Engine *e, int n, size_t value_size, const char *prefix) {
        char key[64];
        char *v = malloc(value_size + 1);
        ck_assert_ptr_nonnull(v);
        memset(v, 'x', value_size);
        v[value_size] = 0;
        for (int i = 0; i < n; i++) {
                snprintf(key, sizeof(key), "%s-%d", prefix, i);
                ck_assert_int_eq(test_put(e, "a", "t", key, v, NULL), 0);
        }
        free(v);
}

static bool generation_exists(uint32_t g) {
        _cleanup_free_ char *p = test_path("inst/logs/jet%08X.log", g);
        return file_exists(p);
}

START_TEST(test_truncate_logs) {
        Engine *e = test_open(&tc.config);
        DoneResult d = {};

        fill(e, 40, 8000, "x"); /* ~5 generations of 64 KiB */
        e = engine_close(e);
        e = test_open(&tc.config); /* checkpoint is now at the newest record */
        EngineFreezeInfo info = freeze(e);
        ck_assert_int_eq(engine_thaw(e), 0);
        ck_assert_uint_ge(info.checkpoint_generation, 4);
        for (uint32_t g = 1; g <= info.closed_generation; g++)
                ck_assert(generation_exists(g));

        /* Never at or above the checkpoint, whatever is asked. */
        ck_assert_int_eq(engine_truncate_logs(e, UINT32_MAX, on_done, &d), 0);
        dispatch_until(e, &d.done);
        ck_assert_int_eq(d.r, (int) info.checkpoint_generation - 1);
        for (uint32_t g = 1; g < info.checkpoint_generation; g++)
                ck_assert(!generation_exists(g));
        for (uint32_t g = info.checkpoint_generation; g <= info.closed_generation; g++)
                ck_assert(generation_exists(g));
        d = (DoneResult) {};
        ck_assert_int_eq(engine_truncate_logs(e, 2, on_done, &d), 0);
        dispatch_until(e, &d.done);
        ck_assert_int_eq(d.r, 0);
        e = engine_close(e);
        e = test_open(&tc.config);
        char expected[8001];
        memset(expected, 'x', 8000);
        expected[8000] = 0;
        assert_value(e, "a", "t", "x-39", expected);
        e = engine_close(e);
}
END_TEST

START_TEST(test_truncate_partial) {
        Engine *e = test_open(&tc.config);
        DoneResult d = {};

        fill(e, 40, 8000, "x");
        e = engine_close(e);
        e = test_open(&tc.config);
        EngineFreezeInfo info = freeze(e);
        ck_assert_int_eq(engine_thaw(e), 0);
        ck_assert_uint_ge(info.checkpoint_generation, 4);
        ck_assert_int_eq(engine_truncate_logs(e, 3, on_done, &d), 0);
        dispatch_until(e, &d.done);
        ck_assert_int_eq(d.r, 2);
        ck_assert(!generation_exists(1));
        ck_assert(!generation_exists(2));
        ck_assert(generation_exists(3));
        e = engine_close(e);
}
END_TEST

START_TEST(test_backup_records_drive_incremental) {
        Engine *e = test_open(&tc.config);
        DoneResult d = {};
        _cleanup_strv_free_ char **files = NULL;
        EngineInfo ei;

        fill(e, 5, 100, "a");
        ck_assert_int_eq(engine_check_backup(e, ENGINE_BACKUP_INCREMENTAL), -ENODATA);
        ck_assert_int_eq(engine_check_backup(e, ENGINE_BACKUP_FULL), 0);

        EngineFreezeInfo full = freeze(e);
        ck_assert_int_eq(engine_backup_files(e, ENGINE_BACKUP_INCREMENTAL, &full, &files), -ENODATA);
        ck_assert_int_eq(engine_backup_files(e, ENGINE_BACKUP_FULL, &full, &files), 0);
        _cleanup_free_ char *chk = test_path("inst/jet.chk");
        ck_assert_str_eq(files[0], chk);
        size_t n = 0;
        while (files[n])
                n++;
        ck_assert_uint_eq(n, 1 + full.closed_generation - full.checkpoint_generation + 1);
        ck_assert_int_eq(engine_thaw(e), 0);
        ck_assert_int_eq(engine_record_backup(e, ENGINE_BACKUP_FULL, full.checkpoint_generation, full.closed_generation,
                                              1234, on_done, &d),
                         0);
        dispatch_until(e, &d.done);
        ck_assert_int_eq(d.r, 0);
        ck_assert_int_eq(engine_get_info(e, &ei), 0);
        ck_assert_uint_eq(ei.last_full.gen_high, full.closed_generation);
        ck_assert_uint_eq(ei.last_full.time_usec, 1234);
        ck_assert_uint_eq(ei.last_incremental.time_usec, 0);

        /* Two freezes later, an incremental needs exactly the generations after the full one. */
        fill(e, 5, 100, "b");
        EngineFreezeInfo mid = freeze(e);
        ck_assert_int_eq(engine_thaw(e), 0);
        fill(e, 5, 100, "c");
        ck_assert_int_eq(engine_check_backup(e, ENGINE_BACKUP_INCREMENTAL), 0);
        EngineFreezeInfo inc = freeze(e);
        ck_assert_uint_gt(inc.closed_generation, mid.closed_generation);
        strv_free(TAKE_PTR(files));
        ck_assert_int_eq(engine_backup_files(e, ENGINE_BACKUP_INCREMENTAL, &inc, &files), 0);
        n = 0;
        for (uint32_t g = full.closed_generation + 1; g <= inc.closed_generation; g++, n++) {
                _cleanup_free_ char *p = test_path("inst/logs/jet%08X.log", g);
                ck_assert_ptr_nonnull(files[n]);
                ck_assert_str_eq(files[n], p);
        }
        ck_assert_ptr_null(files[n]);
        ck_assert_int_eq(engine_thaw(e), 0);
        d = (DoneResult) {};
        ck_assert_int_eq(engine_record_backup(e, ENGINE_BACKUP_INCREMENTAL, full.closed_generation + 1,
                                              inc.closed_generation, 5678, on_done, &d),
                         0);
        dispatch_until(e, &d.done);
        ck_assert_int_eq(d.r, 0);
        e = engine_close(e);

        /* Records are durable (replayed or in LMDB). */
        e = test_open(&tc.config);
        ck_assert_int_eq(engine_get_info(e, &ei), 0);
        ck_assert_uint_eq(ei.last_full.gen_high, full.closed_generation);
        ck_assert_uint_eq(ei.last_incremental.gen_low, full.closed_generation + 1);
        ck_assert_uint_eq(ei.last_incremental.gen_high, inc.closed_generation);
        ck_assert_uint_eq(ei.last_incremental.time_usec, 5678);
        ck_assert_int_eq(engine_check_backup(e, ENGINE_BACKUP_INCREMENTAL), 0);

        /* A generation the next incremental needs disappears: -ESTALE. */
        fill(e, 3, 100, "d");
        EngineFreezeInfo next = freeze(e);
        ck_assert_int_eq(engine_thaw(e), 0);
        _cleanup_free_ char *victim = test_path("inst/logs/jet%08X.log", inc.closed_generation + 1);
        ck_assert_int_eq(unlink(victim), 0);
        ck_assert_int_eq(engine_check_backup(e, ENGINE_BACKUP_INCREMENTAL), -ESTALE);
        strv_free(TAKE_PTR(files));
        ck_assert_int_eq(engine_backup_files(e, ENGINE_BACKUP_INCREMENTAL, &next, &files), -ESTALE);
        ck_assert_int_eq(engine_check_backup(e, 99), -EINVAL);
        e = engine_close(e);
}
END_TEST

START_TEST(test_circular_logging) {
        tc.config.circular_logging = true;
        Engine *e = test_open(&tc.config);
        EngineInfo ei;

        ck_assert_int_eq(engine_check_backup(e, ENGINE_BACKUP_INCREMENTAL), -EOPNOTSUPP);
        ck_assert_int_eq(engine_check_backup(e, ENGINE_BACKUP_FULL), 0);
        fill(e, 40, 8000, "x");
        e = engine_close(e); /* final checkpoint deletes what it no longer needs */
        e = test_open(&tc.config);
        ck_assert_int_eq(engine_get_info(e, &ei), 0);
        ck_assert(ei.circular_logging);
        ck_assert_uint_ge(ei.checkpoint_generation, 4);
        for (uint32_t g = 1; g < ei.checkpoint_generation; g++)
                ck_assert(!generation_exists(g));
        EngineFreezeInfo info = freeze(e);
        _cleanup_strv_free_ char **files = NULL;
        ck_assert_int_eq(engine_backup_files(e, ENGINE_BACKUP_INCREMENTAL, &info, &files), -EOPNOTSUPP);
        ck_assert_int_eq(engine_thaw(e), 0);
        e = engine_close(e);
}
END_TEST


START_TEST(test_frozen_image_recovers) {
        Engine *e = test_open(&tc.config);
        char cmd[4096];

        fill(e, 30, 3000, "before"); /* spans generations, some of it not yet checkpointed */
        EngineFreezeInfo info = freeze(e);
        _cleanup_free_ char *inst = test_path("inst"), *image = test_path("image");
        snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", inst, image);
        ck_assert_int_eq(system(cmd), 0);
        ck_assert_int_eq(engine_thaw(e), 0);
        fill(e, 5, 10, "after");
        e = engine_close(e);

        /* The image has no jet.log; offline recovery finds the databases through jet.chk. */
        _cleanup_free_ char *image_log = test_path("image/logs/jet.log"), *msg = NULL;
        ck_assert(!file_exists(image_log));
        FILE *f = fopen("/dev/null", "w");
        ck_assert_int_eq(engine_verify(image, f), 0);
        ck_assert_int_eq(engine_recover_offline(image, NULL, 0, f, &msg), 0);
        fclose(f);

        TestConfig restored;
        test_config_init(&restored, NULL);
        snprintf(restored.path, sizeof(restored.path), "%s", image);
        snprintf(restored.a, sizeof(restored.a), "%s/a.jdb", image);
        snprintf(restored.b, sizeof(restored.b), "%s/b.jdb", image);
        e = test_open(&restored.config);
        char expected[3001];
        memset(expected, 'x', 3000);
        expected[3000] = 0;
        assert_value(e, "a", "t", "before-0", expected);
        assert_value(e, "a", "t", "before-29", expected);
        assert_missing(e, "a", "t", "after-0");
        EngineInfo ei;
        ck_assert_int_eq(engine_get_info(e, &ei), 0);
        ck_assert_uint_gt(ei.current_generation, info.closed_generation);
        e = engine_close(e);
}
END_TEST


typedef struct Churn {
        Engine *e;
        int id;
        int failed;                     /* first error, 0 if none */
        int commits;
        bool stop;                      /* atomic */
} Churn;

static void *churn_thread(void *userdata) {
        Churn *c = userdata;
        char key[32];
        while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
                snprintf(key, sizeof(key), "%d-%d", c->id, c->commits);
                int r = test_put(c->e, "a", "churn", key, key, NULL);
                if (r < 0) {
                        c->failed = r;
                        break;
                }
                c->commits++;
        }
        return NULL;
}

START_TEST(test_freeze_thaw_under_load) {
        Engine *e = test_open(&tc.config);
        Churn c[4];
        pthread_t th[4];
        uint32_t last_closed = 0;

        for (int i = 0; i < 4; i++) {
                c[i] = (Churn) { .e = e, .id = i };
                ck_assert_int_eq(pthread_create(&th[i], NULL, churn_thread, &c[i]), 0);
        }
        for (int cycle = 0; cycle < 40; cycle++) {
                EngineFreezeInfo info = freeze(e);
                /* Each freeze closes a generation of its own, even right after a thaw, and it is on disk. */
                ck_assert_uint_gt(info.closed_generation, last_closed);
                last_closed = info.closed_generation;
                ck_assert(generation_exists(info.closed_generation));
                ck_assert_int_eq(engine_thaw(e), 0);
                usleep(1000 * (cycle % 4));
        }
        for (int i = 0; i < 4; i++) {
                __atomic_store_n(&c[i].stop, true, __ATOMIC_RELEASE);
                ck_assert_int_eq(pthread_join(th[i], NULL), 0);
                ck_assert_int_eq(c[i].failed, 0);
        }
        e = engine_close(e);
        e = test_open(&tc.config);
        for (int i = 0; i < 4; i++)
                for (int n = 0; n < c[i].commits; n += 7) {
                        char key[32];
                        snprintf(key, sizeof(key), "%d-%d", i, n);
                        assert_value(e, "a", "churn", key, key);
                }
        e = engine_close(e);
        _cleanup_free_ char *inst = test_path("inst");
        FILE *f = fopen("/dev/null", "w");
        ck_assert_int_eq(engine_verify(inst, f), 0);
        fclose(f);
}
END_TEST


static void on_commit_flag(Engine *e, int r, uint64_t lsn, void *userdata) {
        *(int *) userdata = r == 0 ? 1 : r;
}

START_TEST(test_thaw_releases_before_next_freeze) {
        Engine *e = test_open(&tc.config);
        int acked = 0;

        EngineFreezeInfo first = freeze(e);
        EngineOp op = { .kind = ENGINE_OP_PUT, .database = "a", .table = "t", .key = "w", .key_size = 1, .value = "1", .value_size = 1 };
        ck_assert_int_eq(engine_commit(e, &op, 1, on_commit_flag, &acked), 0);
        /* Thaw and freeze again at once: the waiting commit still goes out, in a generation of its own. */
        ck_assert_int_eq(engine_thaw(e), 0);
        EngineFreezeInfo second = freeze(e);
        ck_assert_int_eq(acked, 1);
        ck_assert_uint_eq(second.closed_generation, first.closed_generation + 1);
        assert_value(e, "a", "t", "w", "1");
        ck_assert_int_eq(engine_thaw(e), 0);
        e = engine_close(e);
}
END_TEST

/*
 * engine_close() drains in every state: whatever state it finds (running
 * with a queue, freezing, frozen, just thawed, thawed while freezing,
 * failed), it returns, every queued commit gets its callback, and what was
 * acknowledged is there after a reopen.
 */
enum {
        CLOSE_RUNNING,
        CLOSE_FREEZING,
        CLOSE_FROZEN,
        CLOSE_JUST_THAWED,
        CLOSE_THAWED_FREEZING,
        CLOSE_REFROZEN,
        CLOSE_FAILED,
        CLOSE_THAW_FAILS,
        _CLOSE_MAX,
};

typedef struct CommitTally {
        int acked, failed, last_error;
} CommitTally;

static void on_commit_tally(Engine *e, int r, uint64_t lsn, void *userdata) {
        CommitTally *t = userdata;
        if (r == 0)
                t->acked++;
        else {
                t->failed++;
                t->last_error = r;
        }
}

START_TEST(test_close_in_every_state) {
        Engine *e = test_open(&tc.config);
        CommitTally tally = {};
        FreezeResult f = {};
        int refused = 0, r;
        char key[32];

        ck_assert_int_eq(test_put(e, "a", "t", "before", "1", NULL), 0);
        switch (_i % _CLOSE_MAX) {
        case CLOSE_FREEZING:
        case CLOSE_THAWED_FREEZING:
                ck_assert_int_eq(engine_freeze(e, on_freeze, &f), 0);
                break;
        case CLOSE_FROZEN:
        case CLOSE_JUST_THAWED:
        case CLOSE_REFROZEN:
        case CLOSE_THAW_FAILS:
                (void) freeze(e);
                break;
        case CLOSE_FAILED:
                fio.fail_error = -EIO;
                fio.persistent = true;
                fio.fail_at = atomic_load(&fio.calls) + 1;
                break;
        }
        for (int k = 0; k < 50; k++) {
                EngineOp op = { .kind = ENGINE_OP_PUT, .database = k % 2 ? "a" : "b", .table = "t", .key = key,
                                .key_size = (size_t) snprintf(key, sizeof(key), "q%d", k), .value = "v",
                                .value_size = 1 };
                r = engine_commit(e, &op, 1, on_commit_tally, &tally);
                if (r == -EIO && _i % _CLOSE_MAX == CLOSE_FAILED)
                        refused++; /* the checkpointer may have failed the engine already */
                else
                        ck_assert_int_eq(r, 0);
        }
        switch (_i % _CLOSE_MAX) {
        case CLOSE_JUST_THAWED:
        case CLOSE_THAWED_FREEZING:
                ck_assert_int_eq(engine_thaw(e), 0);
                break;
        case CLOSE_REFROZEN:
                ck_assert_int_eq(engine_thaw(e), 0);
                ck_assert_int_eq(engine_freeze(e, on_freeze, &f), 0);
                break;
        case CLOSE_THAW_FAILS:
                /* The new generation cannot be started: the engine fails with the commits still queued. */
                fio.fail_error = -EIO;
                fio.persistent = true;
                fio.fail_at = atomic_load(&fio.calls) + 1;
                ck_assert_int_eq(engine_thaw(e), 0);
                break;
        }
        e = engine_close(e);
        ck_assert_int_eq(tally.acked + tally.failed + refused, 50);
        if (_i % _CLOSE_MAX == CLOSE_FAILED || _i % _CLOSE_MAX == CLOSE_THAW_FAILS) {
                ck_assert_int_eq(tally.acked, 0);
                if (tally.failed > 0)
                        ck_assert_int_eq(tally.last_error, -EIO);
                fio.fail_at = 0;
        } else
                ck_assert_int_eq(tally.acked, 50);

        e = test_open(&tc.config);
        assert_value(e, "a", "t", "before", "1");
        for (int k = 0; k < 50 && tally.acked == 50; k++) {
                snprintf(key, sizeof(key), "q%d", k);
                assert_value(e, k % 2 ? "a" : "b", "t", key, "v");
        }
        e = engine_close(e);
}
END_TEST

static Suite *snapshot_suite(void) {
        Suite *s = suite_create("engine-snapshot");
        TCase *tc_freeze = tcase_create("Freeze");
        tcase_add_checked_fixture(tc_freeze, setup, test_dir_teardown);
        tcase_set_timeout(tc_freeze, 60);
        tcase_add_test(tc_freeze, test_freeze_issues_no_writes);
        tcase_add_test(tc_freeze, test_thaw_cancels_freeze);
        tcase_add_test(tc_freeze, test_close_while_frozen);
        tcase_add_test(tc_freeze, test_freeze_thaw_under_load);
        tcase_add_test(tc_freeze, test_thaw_releases_before_next_freeze);
        tcase_add_loop_test(tc_freeze, test_close_in_every_state, 0, 20 * _CLOSE_MAX);
        suite_add_tcase(s, tc_freeze);

        TCase *tc_logs = tcase_create("Logs");
        tcase_add_checked_fixture(tc_logs, setup, test_dir_teardown);
        tcase_set_timeout(tc_logs, 60);
        tcase_add_test(tc_logs, test_truncate_logs);
        tcase_add_test(tc_logs, test_truncate_partial);
        tcase_add_test(tc_logs, test_backup_records_drive_incremental);
        tcase_add_test(tc_logs, test_circular_logging);
        tcase_add_test(tc_logs, test_frozen_image_recovers);
        suite_add_tcase(s, tc_logs);
        return s;
}

int main(void) {
        return run_suite(snapshot_suite());
}
