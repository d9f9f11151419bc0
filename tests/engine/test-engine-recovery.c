/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Recovery: torn tails at every byte, corruption in every region, crashes
 * (SIGKILL of a committing child) and IO faults at every write/sync of a
 * workload. The rule checked throughout: nothing acknowledged is lost,
 * nothing half-applied shows, and damage that is not a torn tail refuses
 * to open with -EBADMSG and a message naming file and offset.
 */
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine-internal.h"
#include "engine-test-util.h"
#include "macro.h"
#include "check-run.h"

static TestConfig tc;

static void setup(void) {
        test_dir_setup();
        test_config_init(&tc, NULL);
        /* Nothing reaches LMDB or jet.chk before the crash: recovery must replay all of it. */
        tc.config.checkpoint_interval_usec = 3600 * USEC_PER_SEC;
}

/* In a child: open, commit n single-key transactions "k<i>", exit without closing (a crash). */
static void crash_after_commits(int n, uint64_t *ret_last_lsn, uint64_t *ret_prev_lsn) {
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                Engine *e = NULL;
                uint64_t lsn[2] = {};
                char key[16], value[64];
                if (engine_open(&tc.config, &e, NULL) < 0)
                        _exit(1);
                for (int i = 0; i < n; i++) {
                        snprintf(key, sizeof(key), "k%d", i);
                        snprintf(value, sizeof(value), "value-%d-%s", i, "padding-padding");
                        lsn[0] = lsn[1];
                        if (test_put(e, i % 2 ? "a" : "b", "t", key, value, &lsn[1]) < 0)
                                _exit(1);
                }
                if (write(p[1], lsn, sizeof(lsn)) != sizeof(lsn))
                        _exit(1);
                _exit(0);
        }
        uint64_t lsn[2];
        close(p[1]);
        ck_assert_int_eq(read(p[0], lsn, sizeof(lsn)), sizeof(lsn));
        close(p[0]);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (ret_last_lsn)
                *ret_last_lsn = lsn[1];
        if (ret_prev_lsn)
                *ret_prev_lsn = lsn[0];
}

static void expect_commits(Engine *e, int n_present, int n_total) {
        char key[16], value[64];
        for (int i = 0; i < n_total; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                snprintf(value, sizeof(value), "value-%d-%s", i, "padding-padding");
                if (i < n_present)
                        assert_value(e, i % 2 ? "a" : "b", "t", key, value);
                else
                        assert_missing(e, i % 2 ? "a" : "b", "t", key);
        }
}

static void run(const char *cmd) {
        ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_crash_replays_everything) {
        crash_after_commits(20, NULL, NULL);
        Engine *e = test_open(&tc.config);
        expect_commits(e, 20, 21);
        e = engine_close(e);
        /* And again: the recovered log was closed, and a second recovery changes nothing. */
        e = test_open(&tc.config);
        expect_commits(e, 20, 21);
        e = engine_close(e);
}
END_TEST

START_TEST(test_torn_tail_every_byte) {
        uint64_t last, prev;
        crash_after_commits(6, &last, &prev);
        _cleanup_free_ char *inst = test_path("inst"), *pristine = test_path("pristine"),
                           *log = test_path("inst/logs/jet.log");
        char cmd[4096];
        snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", inst, pristine);
        run(cmd);

        /* The last record starts at the last LSN's offset and ends where the next one would. */
        uint32_t start = (uint32_t) last;
        uint32_t size = (uint32_t) last - (uint32_t) prev; /* records are all the same size */
        ck_assert_uint_eq(last >> 32, 1);
        for (uint32_t cut = start; cut < start + size; cut++) {
                snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", inst, pristine, inst);
                run(cmd);
                ck_assert_int_eq(truncate(log, cut), 0);
                Engine *e = test_open(&tc.config);
                expect_commits(e, 5, 5);
                /* The last one is all there (the cut fell into its padding) or not there at all. */
                _cleanup_free_ char *v = NULL;
                int r = test_get(e, "a", "t", "k5", &v);
                if (cut < start + size - 7)
                        ck_assert_int_eq(r, -ENOENT);
                else if (r == 0)
                        ck_assert_str_eq(v, "value-5-padding-padding");
                else
                        ck_assert_int_eq(r, -ENOENT);
                e = engine_close(e);
        }
        /* Untouched, it is all there. */
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s' && rm -rf '%s'", inst, pristine, inst, pristine);
        run(cmd);
        Engine *e = test_open(&tc.config);
        expect_commits(e, 6, 6);
        e = engine_close(e);
}
END_TEST

/* Finds the first occurrence of needle in a file; returns its offset, or UINT64_MAX (when !must). */
static uint64_t find_in_file(const char *path, const void *needle, size_t n, bool must) {
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t size = file_size(path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        buf = malloc(size);
        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(pread(fd, buf, size, 0), (ssize_t) size);
        close(fd);
        for (uint64_t i = 0; i + n <= size; i++)
                if (memcmp(buf + i, needle, n) == 0)
                        return i;
        ck_assert_msg(!must, "pattern not found in %s", path);
        return UINT64_MAX;
}

enum {
        REGION_LOG_HEADER,
        REGION_RECORD_HEADER,
        REGION_RECORD_PAYLOAD,
        REGION_ARCHIVED_RECORD,
        REGION_CHECKPOINT,
        REGION_DATABASE_SIGNATURE,
        REGION_HEADER_CHAIN,
        _REGION_MAX,
};

START_TEST(test_corruption_detected) {
        static const char *const names[] = { "jet.log", "jet.log", "jet.log", "jet00000001.log", "jet.chk", "a.jdb",
                                             "jet.log" };
        /* ("offset" for jet.chk: its message names the field's offset; a database has no byte offset to give) */
        static const char *const offsets[] = { "offset 0", "offset 4096", "offset 4096", "offset 4096", "offset", "",
                                               "header chain broken" };
        uint64_t last;
        Engine *e;

        /* Generation 1 archived (a clean close), then a crashed generation with several records. */
        e = test_open(&tc.config);
        ck_assert_int_eq(test_put(e, "a", "t", "x", "1", NULL), 0);
        ck_assert_int_eq(test_put(e, "a", "t", "y", "2", NULL), 0);
        e = engine_close(e);
        /* The checkpoint would let recovery skip generation 1; move it back so generation 1 is read. */
        crash_after_commits(6, &last, NULL);
        ck_assert_uint_gt(last >> 32, 1);

        _cleanup_free_ char *log = test_path("inst/logs/jet.log"), *archived = test_path("inst/logs/jet00000001.log"),
                           *chk = test_path("inst/jet.chk"), *db = test_path("inst/a.jdb");
        switch (_i) {
        case REGION_LOG_HEADER:
                flip_byte(log, 20); /* instance signature field */
                break;
        case REGION_RECORD_HEADER:
                flip_byte(log, 4096 + 8); /* first record's LSN */
                break;
        case REGION_RECORD_PAYLOAD:
                flip_byte(log, 4096 + 24 + 13); /* first record's operation */
                break;
        case REGION_ARCHIVED_RECORD:
                /* The checkpoint lies in generation 1 (the clean close applied "y"), so recovery reads it. */
                flip_byte(archived, 4096 + 24 + 13);
                break;
        case REGION_CHECKPOINT:
                flip_byte(chk, 40);
                break;
        case REGION_HEADER_CHAIN: {
                /* A header that checks out by itself but does not follow its predecessor. */
                LogHeader h;
                int fd = open(log, O_RDWR | O_CLOEXEC);
                ck_assert_int_ge(fd, 0);
                ck_assert_int_eq(pread(fd, &h, sizeof(h), 0), sizeof(h));
                h.prev_checksum ^= 1;
                h.checksum = crc32c(0, &h, offsetof(LogHeader, checksum));
                ck_assert_int_eq(pwrite(fd, &h, sizeof(h), 0), sizeof(h));
                close(fd);
                break;
        }
        case REGION_DATABASE_SIGNATURE: {
                uint8_t sig[16];
                int fd = open(chk, O_RDONLY | O_CLOEXEC);
                ck_assert_int_ge(fd, 0);
                ck_assert_int_eq(pread(fd, sig, 16, 16), 16); /* ChkHeader.signature */
                close(fd);
                /* LMDB is copy-on-write: older copies of the page hold it too. Damage every copy. */
                for (int copies = 0;; copies++) {
                        uint64_t off = find_in_file(db, sig, 16, copies == 0);
                        if (off == UINT64_MAX)
                                break;
                        flip_byte(db, off + 3);
                }
                break;
        }
        }

        _cleanup_free_ char *msg = NULL;
        e = NULL;
        int r = engine_open(&tc.config, &e, &msg);
        ck_assert_int_eq(r, -EBADMSG);
        ck_assert_ptr_null(e);
        ck_assert_ptr_nonnull(msg);
        ck_assert_msg(strstr(msg, names[_i]) && strstr(msg, offsets[_i]), "message: %s", msg);
        if (_i != REGION_DATABASE_SIGNATURE) {
                _cleanup_free_ char *out = NULL;
                size_t size = 0;
                _cleanup_free_ char *inst = test_path("inst");
                FILE *f = open_memstream(&out, &size);
                ck_assert_int_eq(engine_verify(inst, f), -EBADMSG);
                fclose(f);
                ck_assert_msg(strstr(out, "result: corrupt") && strstr(out, names[_i]), "verify: %s", out);
        }
}
END_TEST

START_TEST(test_missing_generation) {
        Engine *e = test_open(&tc.config);
        ck_assert_int_eq(test_put(e, "a", "t", "x", "1", NULL), 0);
        e = engine_close(e);
        e = test_open(&tc.config);
        e = engine_close(e);
        crash_after_commits(3, NULL, NULL);
        /* The checkpoint still points into generation 1 ("x"); generation 3 is jet.log. Drop 2. */
        _cleanup_free_ char *g2 = test_path("inst/logs/jet00000002.log");
        ck_assert(file_exists(g2));
        ck_assert_int_eq(unlink(g2), 0);
        _cleanup_free_ char *msg = NULL;
        ck_assert_int_eq(engine_open(&tc.config, &e, &msg), -ENOENT);
        ck_assert_msg(msg && strstr(msg, "jet00000002.log"), "message: %s", msg);

        /* verify must not call a directory recovery refuses "ok". */
        _cleanup_free_ char *inst = test_path("inst"), *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        ck_assert_int_eq(engine_verify(inst, f), -EBADMSG);
        fclose(f);
        ck_assert_msg(strstr(out, "generations 2..2 are missing") && strstr(out, "result: corrupt"), "%s", out);
}
END_TEST

START_TEST(test_database_of_other_instance) {
        Engine *e = test_open(&tc.config);
        ck_assert_int_eq(test_put(e, "a", "t", "x", "1", NULL), 0);
        e = engine_close(e);
        /* A second instance elsewhere, pointed at the first one's database. */
        TestConfig other = tc;
        snprintf(other.path, sizeof(other.path), "%s/other", test_dir);
        other.config.path = other.path;
        _cleanup_free_ char *msg = NULL;
        ck_assert_int_eq(engine_open(&other.config, &e, &msg), -EBADMSG);
        ck_assert_msg(msg && strstr(msg, "a.jdb") && strstr(msg, "another instance"), "message: %s", msg);
}
END_TEST

START_TEST(test_offline_tools) {
        crash_after_commits(4, NULL, NULL);
        _cleanup_free_ char *inst = test_path("inst"), *log = test_path("inst/logs/jet.log");
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);

        ck_assert_int_eq(engine_dump_checkpoint(inst, f), 0);
        ck_assert_int_eq(engine_dump_log_headers(inst, f), 0);
        ck_assert_int_eq(engine_dump_log(log, f), 0);
        ck_assert_int_eq(engine_verify(inst, f), 0);
        fflush(f);
        ck_assert_msg(strstr(out, "checkpoint-generation: 1\n"), "%s", out);
        ck_assert_msg(strstr(out, "database: a a.jdb\n"), "%s", out);
        ck_assert_msg(strstr(out, "generation=1 "), "%s", out);
        ck_assert_msg(strstr(out, "  put b/t key=6b30 value-size="), "%s", out);
        ck_assert_msg(strstr(out, "end: open, log ends at offset"), "%s", out);
        ck_assert_msg(strstr(out, "result: ok"), "%s", out);
        fclose(f);

        /* Offline recovery of a restored copy elsewhere: database paths come from jet.chk. */
        _cleanup_free_ char *copy = test_path("restored"), *msg = NULL;
        char cmd[2048];
        snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", inst, copy);
        run(cmd);
        f = fopen("/dev/null", "w");
        ck_assert_int_eq(engine_recover_offline(copy, NULL, 0, f, &msg), 0);
        ck_assert_int_eq(engine_verify(copy, f), 0);
        fclose(f);
        TestConfig restored = tc;
        snprintf(restored.path, sizeof(restored.path), "%s", copy);
        snprintf(restored.a, sizeof(restored.a), "%s/a.jdb", copy);
        snprintf(restored.b, sizeof(restored.b), "%s/b.jdb", copy);
        Engine *e = test_open(&restored.config);
        expect_commits(e, 4, 5);
        e = engine_close(e);
}
END_TEST


START_TEST(test_database_set_changes) {
        /* Added to the configuration later: starts empty, the rest is untouched. */
        tc.config.n_databases = 1;
        Engine *e = test_open(&tc.config);
        ck_assert_int_eq(test_put(e, "a", "t", "x", "1", NULL), 0);
        e = engine_close(e);
        tc.config.n_databases = 2;
        e = test_open(&tc.config);
        assert_value(e, "a", "t", "x", "1");
        assert_missing(e, "b", "t", "x");
        ck_assert_int_eq(test_put(e, "b", "t", "y", "2", NULL), 0);
        e = engine_close(e);

        /* Dropped from the configuration while the log still holds changes for it: refuse, say which. */
        crash_after_commits(4, NULL, NULL);
        tc.config.n_databases = 1;
        _cleanup_free_ char *msg = NULL;
        ck_assert_int_eq(engine_open(&tc.config, &e, &msg), -EINVAL);
        ck_assert_msg(msg && strstr(msg, "'b'") && strstr(msg, "jet.log"), "message: %s", msg);
        /* And a database jet.chk lists that vanished is refused too. */
        tc.config.n_databases = 2;
        _cleanup_free_ char *b = test_path("inst/b.jdb");
        ck_assert_int_eq(unlink(b), 0);
        free(msg);
        msg = NULL;
        ck_assert_int_eq(engine_open(&tc.config, &e, &msg), -ENOENT);
        ck_assert_msg(msg && strstr(msg, "b.jdb"), "message: %s", msg);
}
END_TEST

/* ---- SIGKILL under load ---- */

#define KILL_THREADS 4

typedef struct Ack {
        uint32_t thread, seq;
} Ack;

typedef struct ChildThread {
        Engine *e;
        int fd;
        uint32_t id;
} ChildThread;

static void *child_committer(void *userdata) {
        ChildThread *t = userdata;
        for (uint32_t seq = 0;; seq++) {
                char key[32], value[32];
                snprintf(key, sizeof(key), "%u-%u", t->id, seq);
                snprintf(value, sizeof(value), "v%u", seq);
                /* One transaction over both databases, and a delete of the previous key in b. */
                char prev[32];
                snprintf(prev, sizeof(prev), "%u-%u", t->id, seq - 1);
                EngineOp ops[] = {
                        { .kind = ENGINE_OP_PUT, .database = "a", .table = "t", .key = key, .key_size = strlen(key), .value = value, .value_size = strlen(value) },
                        { .kind = ENGINE_OP_PUT, .database = "b", .table = "t", .key = key, .key_size = strlen(key), .value = value, .value_size = strlen(value) },
                        { .kind = ENGINE_OP_DELETE, .database = "b", .table = "gone", .key = prev, .key_size = strlen(prev) },
                };
                if (engine_commit_wait(t->e, ops, ELEMENTSOF(ops), NULL) < 0)
                        _exit(3);
                Ack a = { t->id, seq };
                if (write(t->fd, &a, sizeof(a)) != sizeof(a))
                        _exit(4);
        }
        return NULL;
}

static char *table_dump(Engine *e, const char *db) {
        EngineRecord *r = NULL;
        size_t n = 0;
        char *out = NULL;
        size_t size = 0;
        ck_assert_int_eq(engine_scan(e, db, "t", "", 0, "", 0, 0, &r, &n), 0);
        FILE *f = open_memstream(&out, &size);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%.*s=%.*s\n", (int) r[i].key_size, (char *) r[i].key, (int) r[i].value_size,
                        (char *) r[i].value);
        fclose(f);
        engine_records_free(r, n);
        return out;
}

static void child_on_freeze(Engine *e, int r, const EngineFreezeInfo *info, void *userdata) {
        if (r < 0)
                _exit(8);
        *(bool *) userdata = true;
}

START_TEST(test_sigkill_under_load) {
        int p[2];
        tc.config.checkpoint_interval_usec = 2 * USEC_PER_MSEC; /* the checkpointer is busy when the kill lands */
        ck_assert_int_eq(pipe(p), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                Engine *e = NULL;
                ChildThread t[KILL_THREADS];
                pthread_t th[KILL_THREADS];
                close(p[0]);
                if (engine_open(&tc.config, &e, NULL) < 0)
                        _exit(2);
                for (uint32_t i = 0; i < KILL_THREADS; i++) {
                        t[i] = (ChildThread) { .e = e, .fd = p[1], .id = i };
                        pthread_create(&th[i], NULL, child_committer, &t[i]);
                }
                /* Every other run also freezes and thaws all the time, so kills land in those paths too. */
                for (;;) {
                        if (_i % 2 == 0) {
                                pause();
                                continue;
                        }
                        bool frozen = false;
                        if (engine_freeze(e, child_on_freeze, &frozen) < 0)
                                _exit(5);
                        while (!frozen) {
                                struct pollfd pfd = { .fd = engine_get_event_fd(e), .events = POLLIN };
                                (void) poll(&pfd, 1, -1);
                                if (engine_dispatch(e) < 0)
                                        _exit(6);
                        }
                        usleep(500);
                        if (engine_thaw(e) < 0)
                                _exit(7);
                        usleep(2000);
                }
        }
        close(p[1]);
        /* Kill at a different point each iteration. */
        size_t want = 20 + (size_t) _i * 7 % 200, got = 0, alloc = 256;
        Ack *acks = malloc(alloc * sizeof(Ack));
        ck_assert_ptr_nonnull(acks);
        for (;;) {
                if (got == want)
                        ck_assert_int_eq(kill(pid, SIGKILL), 0);
                if (got == alloc) {
                        alloc *= 2;
                        acks = realloc(acks, alloc * sizeof(Ack));
                        ck_assert_ptr_nonnull(acks);
                }
                ssize_t k = read(p[0], &acks[got], sizeof(Ack));
                if (k == 0)
                        break;
                ck_assert_int_eq(k, sizeof(Ack));
                got++;
        }
        close(p[0]);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status), "child ended with status %d before the kill", status);

        Engine *e = test_open(&tc.config);
        for (size_t i = 0; i < got; i++) {
                char key[32], value[32];
                snprintf(key, sizeof(key), "%u-%u", acks[i].thread, acks[i].seq);
                snprintf(value, sizeof(value), "v%u", acks[i].seq);
                assert_value(e, "a", "t", key, value);
        }
        /* Atomicity across databases: a and b hold exactly the same transactions. */
        _cleanup_free_ char *a = table_dump(e, "a"), *b = table_dump(e, "b");
        ck_assert_str_eq(a, b);
        e = engine_close(e);
        free(acks);
}
END_TEST

/* ---- IO faults at every step ---- */

#define WORKLOAD_STEPS 7

typedef struct FreezeWait {
        bool done;
        int r;
} FreezeWait;

static void on_freeze(Engine *e, int r, const EngineFreezeInfo *info, void *userdata) {
        FreezeWait *w = userdata;
        w->r = r;
        w->done = true;
}

/* Step `step` of the fault workload; counts it in *acked when acknowledged. */
static void workload_step(Engine *e, int step, int *acked) {
        static char big[30000];
        memset(big, 'B', sizeof(big) - 1);
        int r;
        switch (step) {
        case 0:
                r = test_put(e, "a", "t", "k1", "v1", NULL);
                break;
        case 1: {
                EngineOp ops[] = {
                        { .kind = ENGINE_OP_PUT, .database = "a", .table = "t", .key = "k2", .key_size = 2, .value = "v2", .value_size = 2 },
                        { .kind = ENGINE_OP_PUT, .database = "b", .table = "t", .key = "k2", .key_size = 2, .value = "v2", .value_size = 2 },
                };
                r = engine_commit_wait(e, ops, 2, NULL);
                break;
        }
        case 2: {
                EngineOp ops[] = {
                        { .kind = ENGINE_OP_DELETE, .database = "a", .table = "t", .key = "k1", .key_size = 2 },
                        { .kind = ENGINE_OP_PUT, .database = "b", .table = "t", .key = "x", .key_size = 1, .value = "1", .value_size = 1 },
                };
                r = engine_commit_wait(e, ops, 2, NULL);
                break;
        }
        case 3:
                r = test_put(e, "a", "t", "big1", big, NULL); /* 30 KB: rolls the 64 KiB generations */
                break;
        case 4:
                r = test_put(e, "a", "t", "big2", big, NULL);
                break;
        case 5: {
                /* A freeze/thaw cycle first: archive and new generation under faults too. */
                FreezeWait w = {};
                if (engine_freeze(e, on_freeze, &w) == 0) {
                        dispatch_until(e, &w.done);
                        if (w.r == 0)
                                ck_assert_int_eq(engine_thaw(e), 0);
                        else
                                ck_assert_msg(w.r == -EIO || w.r == -ENOSPC, "freeze: %d", w.r);
                }
                r = test_put(e, "b", "t", "k2", "v2b", NULL);
                break;
        }
        default: {
                EngineOp ops[] = {
                        { .kind = ENGINE_OP_PUT, .database = "a", .table = "t", .key = "k3", .key_size = 2, .value = "v3", .value_size = 2 },
                        { .kind = ENGINE_OP_DELETE, .database = "b", .table = "t", .key = "x", .key_size = 1 },
                };
                r = engine_commit_wait(e, ops, 2, NULL);
                break;
        }
        }
        if (r == 0)
                (*acked)++;
        else
                ck_assert_msg(r == -EIO || r == -ENOSPC, "step %d: %d", step, r);
}

static char *state_string(Engine *e) {
        _cleanup_free_ char *a = table_dump(e, "a"), *b = table_dump(e, "b");
        char *s;
        /* Abbreviate the big values. */
        for (char *p = a; (p = strstr(p, "BBBB"));)
                memmove(p + 1, p + strspn(p, "B"), strlen(p + strspn(p, "B")) + 1);
        ck_assert_int_ge(asprintf(&s, "a:\n%sb:\n%s", a, b), 0);
        return s;
}

static char *expected_states[WORKLOAD_STEPS + 1];

static void compute_expected(void) {
        /* Run the workload without faults, recording the state after each step. */
        TestConfig t;
        char dir[600];
        test_config_init(&t, NULL);
        snprintf(dir, sizeof(dir), "%s/model", test_dir);
        snprintf(t.path, sizeof(t.path), "%s", dir);
        snprintf(t.a, sizeof(t.a), "%s/a.jdb", dir);
        snprintf(t.b, sizeof(t.b), "%s/b.jdb", dir);
        Engine *e = test_open(&t.config);
        int acked = 0;
        expected_states[0] = state_string(e);
        for (int s = 0; s < WORKLOAD_STEPS; s++) {
                workload_step(e, s, &acked);
                expected_states[s + 1] = state_string(e);
        }
        ck_assert_int_eq(acked, WORKLOAD_STEPS);
        e = engine_close(e);
}

static uint64_t fault_run(uint64_t fail_at, int error, bool persistent) {
        FaultIO fio;
        EngineIO io;
        TestConfig t;
        char dir[600];
        int acked = 0;

        fault_io_init(&fio, &io);
        fio.fail_at = fail_at;
        fio.fail_error = error;
        fio.persistent = persistent;
        test_config_init(&t, &io);
        snprintf(dir, sizeof(dir), "%s/run-%" PRIu64 "-%d", test_dir, fail_at, persistent);
        snprintf(t.path, sizeof(t.path), "%s", dir);
        snprintf(t.a, sizeof(t.a), "%s/a.jdb", dir);
        snprintf(t.b, sizeof(t.b), "%s/b.jdb", dir);

        Engine *e = NULL;
        if (engine_open(&t.config, &e, NULL) == 0) {
                for (int s = 0; s < WORKLOAD_STEPS && acked == s; s++)
                        workload_step(e, s, &acked);
                e = engine_close(e);
        }
        uint64_t calls = atomic_load(&fio.calls);

        /* Reopen with the real IO: the state is that before or after the step that failed. */
        t.config.io = NULL;
        e = test_open(&t.config);
        _cleanup_free_ char *state = state_string(e);
        e = engine_close(e);
        bool ok = streq(state, expected_states[acked]) ||
                  (acked < WORKLOAD_STEPS && streq(state, expected_states[acked + 1]));
        ck_assert_msg(ok, "fail_at=%" PRIu64 " acked=%d state:\n%s\nexpected:\n%s", fail_at, acked, state,
                      expected_states[acked]);
        /* And the engine that recovered it verifies clean. */
        FILE *f = fopen("/dev/null", "w");
        ck_assert_int_eq(engine_verify(dir, f), 0);
        fclose(f);
        return calls;
}

START_TEST(test_fault_every_write) {
        compute_expected();
        uint64_t total = fault_run(0, -EIO, true);
        ck_assert_uint_gt(total, 10);
        fprintf(stderr, "fault loop: %" PRIu64 " write-class calls\n", total);
        for (uint64_t n = 1; n <= total + 2; n++) {
                fault_run(n, -EIO, true);
                fault_run(n, -EIO, false);
        }
        for (uint64_t n = 1; n <= total; n += 3)
                fault_run(n, -ENOSPC, true);
        for (int i = 0; i <= WORKLOAD_STEPS; i++)
                free(expected_states[i]);
}
END_TEST

START_TEST(test_enospc_is_reported) {
        FaultIO fio;
        EngineIO io;
        fault_io_init(&fio, &io);
        tc.config.io = &io;
        Engine *e = test_open(&tc.config);
        ck_assert_int_eq(test_put(e, "a", "t", "k", "v", NULL), 0);
        fio.fail_error = -ENOSPC;
        fio.fail_at = atomic_load(&fio.calls) + 1;
        fio.persistent = true;
        /* A record larger than the generation makes it grow: that write hits the full disk. */
        static char big[100000];
        memset(big, 'b', sizeof(big) - 1);
        ck_assert_int_eq(test_put(e, "a", "t", "big", big, NULL), -ENOSPC);
        ck_assert_int_eq(test_put(e, "a", "t", "k2", "v2", NULL), -ENOSPC);
        EngineInfo info;
        ck_assert_int_eq(engine_get_info(e, &info), 0);
        ck_assert_int_eq(info.state, ENGINE_FAILED);
        ck_assert_int_eq(info.error, -ENOSPC);
        e = engine_close(e);
        /* Not corruption: with space again, it opens with everything acknowledged. */
        tc.config.io = NULL;
        e = test_open(&tc.config);
        assert_value(e, "a", "t", "k", "v");
        assert_missing(e, "a", "t", "big");
        e = engine_close(e);
}
END_TEST

START_TEST(test_failed_engine_refuses) {
        FaultIO fio;
        EngineIO io;
        fault_io_init(&fio, &io);
        tc.config.io = &io;
        Engine *e = test_open(&tc.config);
        ck_assert_int_eq(test_put(e, "a", "t", "k", "v", NULL), 0);
        fio.fail_at = atomic_load(&fio.calls) + 1;
        fio.persistent = true;
        ck_assert_int_eq(test_put(e, "a", "t", "k2", "v2", NULL), -EIO);
        ck_assert_int_eq(test_put(e, "a", "t", "k3", "v3", NULL), -EIO);
        EngineInfo info;
        ck_assert_int_eq(engine_get_info(e, &info), 0);
        ck_assert_int_eq(info.state, ENGINE_FAILED);
        ck_assert_int_eq(info.error, -EIO);
        ck_assert_int_eq(engine_freeze(e, NULL, NULL), -EIO);
        assert_value(e, "a", "t", "k", "v"); /* reads go on */
        e = engine_close(e);
        tc.config.io = NULL;
        e = test_open(&tc.config);
        assert_value(e, "a", "t", "k", "v");
        e = engine_close(e);
}
END_TEST

static Suite *recovery_suite(void) {
        Suite *s = suite_create("engine-recovery");
        TCase *tc_core = tcase_create("Core");
        tcase_add_checked_fixture(tc_core, setup, test_dir_teardown);
        tcase_set_timeout(tc_core, 120);
        tcase_add_test(tc_core, test_crash_replays_everything);
        tcase_add_test(tc_core, test_torn_tail_every_byte);
        tcase_add_test(tc_core, test_offline_tools);
        tcase_add_test(tc_core, test_database_set_changes);
        suite_add_tcase(s, tc_core);

        TCase *tc_corrupt = tcase_create("Corruption");
        tcase_add_checked_fixture(tc_corrupt, setup, test_dir_teardown);
        tcase_set_timeout(tc_corrupt, 60);
        tcase_add_loop_test(tc_corrupt, test_corruption_detected, 0, _REGION_MAX);
        tcase_add_test(tc_corrupt, test_missing_generation);
        tcase_add_test(tc_corrupt, test_database_of_other_instance);
        suite_add_tcase(s, tc_corrupt);

        TCase *tc_crash = tcase_create("Crash");
        tcase_add_checked_fixture(tc_crash, setup, test_dir_teardown);
        tcase_set_timeout(tc_crash, 30);
        tcase_add_loop_test(tc_crash, test_sigkill_under_load, 0, 100);
        suite_add_tcase(s, tc_crash);

        TCase *tc_faults = tcase_create("Faults");
        tcase_add_checked_fixture(tc_faults, setup, test_dir_teardown);
        tcase_set_timeout(tc_faults, 180);
        tcase_add_test(tc_faults, test_fault_every_write);
        tcase_add_test(tc_faults, test_failed_engine_refuses);
        tcase_add_test(tc_faults, test_enospc_is_reported);
        suite_add_tcase(s, tc_faults);
        return s;
}

int main(void) {
        return run_suite(recovery_suite());
}
