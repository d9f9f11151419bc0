/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-recovery: how fast an instance comes back.
 *
 * A child process writes SIZE MiB of log with the engine and _exit()s
 * without engine_close(), as a crash would leave it. The engine checkpoints
 * early once 32 MiB are waiting, so once the instance is open the child
 * holds its checkpointer in the before_lmdb_commit hook of the IO seam:
 * the whole log is left to replay. The parent then times engine_open(), which replays
 * every generation from the checkpoint on, against reading the same files
 * and checksumming them (the ceiling: what replay has to do at least), then
 * engine_close() (the final checkpoint) and an engine_open() after that
 * clean shutdown.
 */

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bench-util.h"
#include "engine.h"

/*
 * One transaction: OPS_PER_TXN rows of VALUE_SIZE bytes over a key space of
 * KEYS (64 MiB of data), an update-heavy workload. Values stay below LMDB's
 * inline limit (about 2 KiB with 4 KiB pages): a 4 KiB value would take two
 * overflow pages and measure LMDB's write amplification instead of replay.
 */
#define OPS_PER_TXN 64
#define VALUE_SIZE 1024
#define KEYS 65536
#define WRITER_THREADS 4
#define READ_CHUNK (UINT64_C(1) << 20)

static const char *arg_dir = NULL;
static uint64_t arg_size_mib = 1024;

typedef struct WriteReport {
        int error;
        uint64_t payload_bytes;
        uint64_t commits;
        double seconds;
        uint32_t checkpoint_generation;
        uint32_t current_generation;
} WriteReport;

typedef struct Writer {
        Engine *e;
        unsigned id;
        uint64_t txns;
        int error;
} Writer;

static void help(void) {
        printf("bench-recovery -d DIR [-s MIB]\n\n"
               "Replay speed of the engine after a crash, and open time after a clean shutdown.\n"
               "  -d DIR    work directory (an instance is created in DIR/instance)\n"
               "  -s MIB    log to write before the crash (default 1024)\n");
}

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hd:s:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'd':
                        arg_dir = optarg;
                        break;
                case 's':
                        arg_size_mib = arg_unsigned(optarg);
                        break;
                default:
                        return -EINVAL;
                }
        if (!arg_dir || optind < argc) {
                help();
                return -EINVAL;
        }
        return 1;
}

/* Filled once before the writers start; every row carries the same value. */
static uint8_t value[VALUE_SIZE];

static void *writer_thread(void *p) {
        Writer *w = p;
        uint8_t keys[OPS_PER_TXN][BENCH_KEY_SIZE];
        EngineOp ops[OPS_PER_TXN];

        for (uint64_t t = 0; t < w->txns; t++) {
                uint64_t lsn;

                for (size_t i = 0; i < OPS_PER_TXN; i++) {
                        uint64_t k = ((t * WRITER_THREADS + w->id) * OPS_PER_TXN + i) % KEYS;

                        bench_key(keys[i], 0, k);
                        ops[i] = (EngineOp) {
                                .kind = ENGINE_OP_PUT,
                                .database = "main",
                                .table = "bench",
                                .key = keys[i],
                                .key_size = BENCH_KEY_SIZE,
                                .value = value,
                                .value_size = sizeof(value),
                        };
                }
                w->error = engine_commit_wait(w->e, ops, OPS_PER_TXN, &lsn);
                if (w->error < 0)
                        break;
        }
        return NULL;
}

static void config_init(EngineConfig *c, EngineDatabaseConfig *db, const char *path, const char *db_path) {
        *db = (EngineDatabaseConfig) { .name = "main", .path = db_path };
        *c = (EngineConfig) {
                .name = "recovery",
                .path = path,
                .n_databases = 1,
                .databases = db,
        };
}

static bool holding = false;

/* The checkpointer calls this without engine locks held; once holding, it never returns: the crash ends it. */
static int hold_checkpoint(void *userdata, const char *database_path) {
        if (!__atomic_load_n(&holding, __ATOMIC_ACQUIRE))
                return 0;
        for (;;)
                (void) pause();
}
/* In the child: write, report through the pipe, and "crash". */
_Noreturn static void write_and_crash(const EngineConfig *base, int fd) {
        _cleanup_free_ char *msg = NULL;
        EngineIO io = engine_io_default;
        EngineConfig cfg = *base, *config = &cfg;
        WriteReport rep = {};
        Writer w[WRITER_THREADS];
        pthread_t th[WRITER_THREADS];
        Engine *e;
        EngineInfo info;
        uint64_t per_txn = OPS_PER_TXN * VALUE_SIZE, txns = arg_size_mib * (UINT64_C(1) << 20) / per_txn;

        io.before_lmdb_commit = hold_checkpoint;
        cfg.io = &io;
        rep.error = engine_open(config, &e, &msg);
        if (rep.error < 0) {
                fprintf(stderr, "engine_open: %s\n", msg ?: strerror(-rep.error));
                (void) write(fd, &rep, sizeof(rep));
                _exit(EXIT_FAILURE);
        }

        for (size_t i = 0; i + BENCH_ROW_SIZE <= sizeof(value); i += BENCH_ROW_SIZE)
                bench_row(value + i, 0, i);

        __atomic_store_n(&holding, true, __ATOMIC_RELEASE);

        uint64_t t0 = now_ns();
        for (unsigned i = 0; i < WRITER_THREADS; i++) {
                w[i] = (Writer) { .e = e, .id = i, .txns = txns / WRITER_THREADS };
                rep.error = -pthread_create(&th[i], NULL, writer_thread, &w[i]);
                if (rep.error < 0)
                        _exit(EXIT_FAILURE);
        }
        for (unsigned i = 0; i < WRITER_THREADS; i++) {
                (void) pthread_join(th[i], NULL);
                if (w[i].error < 0 && rep.error == 0)
                        rep.error = w[i].error;
                rep.commits += w[i].txns;
        }
        rep.seconds = (double) (now_ns() - t0) / 1e9;
        rep.payload_bytes = rep.commits * per_txn;
        if (engine_get_info(e, &info) >= 0) {
                rep.checkpoint_generation = info.checkpoint_generation;
                rep.current_generation = info.current_generation;
        }
        (void) write(fd, &rep, sizeof(rep));
        /* No engine_close(): every commit was acknowledged, nothing was checkpointed. */
        _exit(rep.error < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

static int parse_generation(const char *name, uint32_t *ret) {
        unsigned g;
        int n = -1;

        if (sscanf(name, "jet%8X.log%n", &g, &n) != 1 || n != (int) strlen(name) || strlen(name) != 15)
                return -EINVAL;
        *ret = g;
        return 0;
}

/* Reads and checksums every archived generation >= from: what replay cannot avoid doing. */
static int read_logs(const char *log_dir, uint32_t from, uint64_t *ret_bytes, uint32_t *ret_files) {
        _cleanup_free_ uint8_t *buf = malloc(READ_CHUNK);
        DIR *d;
        struct dirent *de;
        uint64_t bytes = 0;
        uint32_t files = 0, crc = 0;
        int r = 0;

        if (!buf)
                return -ENOMEM;
        d = opendir(log_dir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_close_ int fd = -EBADF;
                uint32_t g;
                ssize_t n;

                if (parse_generation(de->d_name, &g) < 0 || g < from)
                        continue;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        r = -errno;
                        break;
                }
                while ((n = read(fd, buf, READ_CHUNK)) > 0) {
                        crc = crc32c(crc, buf, (size_t) n);
                        bytes += (uint64_t) n;
                }
                if (n < 0) {
                        r = -errno;
                        break;
                }
                files++;
        }
        closedir(d);
        /* Keep the checksum loop from being optimized away. */
        if (crc == 0x12345678)
                fputc(' ', stderr);
        *ret_bytes = bytes;
        *ret_files = files;
        return r;
}

static void row(const char *name, double seconds, double mib, double ceiling_mbs) {
        char s[32] = "-", m[32] = "-", rate[32] = "-", ratio[32] = "-";

        (void) snprintf(s, sizeof(s), "%.3f", seconds);
        if (mib > 0) {
                (void) snprintf(m, sizeof(m), "%.0f", mib);
                (void) snprintf(rate, sizeof(rate), "%.0f", mib * 1.048576 / seconds);
                if (ceiling_mbs > 0)
                        (void) snprintf(ratio, sizeof(ratio), "%.2fx", mib * 1.048576 / seconds / ceiling_mbs);
        }
        printf("%-46s %9s %9s %9s %9s\n", name, s, m, rate, ratio);
}

static int run(int argc, char *argv[]) {
        _cleanup_free_ char *path = NULL, *db_path = NULL, *log_dir = NULL, *msg = NULL;
        EngineDatabaseConfig db;
        EngineConfig config;
        WriteReport rep = {};
        Engine *e = NULL;
        int pipefd[2], status, r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;
        if (asprintf(&path, "%s/instance", arg_dir) < 0 || asprintf(&db_path, "%s/main.jdb", path) < 0 ||
            asprintf(&log_dir, "%s/logs", path) < 0)
                return -ENOMEM;
        r = rm_rf(path);
        if (r < 0)
                return r;
        r = mkdir_p(arg_dir, 0755);
        if (r < 0)
                return r;
        config_init(&config, &db, path, db_path);

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                safe_close(pipefd[0]);
                write_and_crash(&config, pipefd[1]);
        }
        safe_close(pipefd[1]);
        ssize_t n = read(pipefd[0], &rep, sizeof(rep));
        safe_close(pipefd[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (n != sizeof(rep) || rep.error < 0) {
                fprintf(stderr, "The writer failed: %s\n", n != sizeof(rep) ? "no report" : strerror(-rep.error));
                return rep.error < 0 ? rep.error : -EIO;
        }

        uint64_t log_bytes = 0;
        uint32_t files = 0;
        uint64_t t = now_ns();
        r = read_logs(log_dir, rep.checkpoint_generation, &log_bytes, &files);
        if (r < 0)
                return r;
        double read_s = (double) (now_ns() - t) / 1e9;
        double log_mib = (double) log_bytes / (1 << 20);
        double ceiling = log_mib * 1.048576 / read_s;

        t = now_ns();
        r = engine_open(&config, &e, &msg);
        double replay_s = (double) (now_ns() - t) / 1e9;
        if (r < 0) {
                fprintf(stderr, "engine_open (recovery): %s\n", msg ?: strerror(-r));
                return r;
        }
        t = now_ns();
        engine_close(e);
        double close_s = (double) (now_ns() - t) / 1e9;

        t = now_ns();
        r = engine_open(&config, &e, &msg);
        double clean_s = (double) (now_ns() - t) / 1e9;
        if (r < 0) {
                fprintf(stderr, "engine_open (clean): %s\n", msg ?: strerror(-r));
                return r;
        }
        engine_close(e);

        printf("\n== Recovery: %.0f MiB of log left by a crash (%" PRIu64 " commits of %u x %u B in %.1f s), %s (%s)\n",
               (double) rep.payload_bytes / (1 << 20), rep.commits, OPS_PER_TXN, VALUE_SIZE, rep.seconds, arg_dir,
               fs_type_name(arg_dir));
        printf("%-46s %9s %9s %9s %9s\n", "operation", "seconds", "MiB", "MB/s", "ratio");
        row("ceiling: read + crc32c the same log files", read_s, log_mib, ceiling);
        row("engine_open() with replay (after the crash)", replay_s, log_mib, ceiling);
        row("engine_close() (final checkpoint)", close_s, 0, 0);
        row("engine_open() after a clean shutdown", clean_s, 0, 0);
        table_note("log replayed: %u archived generations from %u (the current one not counted), warm page cache",
                   files, rep.checkpoint_generation);
        double mbs = log_mib * 1.048576 / replay_s;
        table_target(mbs >= 200, "replay >= 200 MB/s (%.0f MB/s)", mbs);

        (void) rm_rf(path);
        return 0;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        if (r < 0)
                fprintf(stderr, "bench-recovery: %s\n", strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
