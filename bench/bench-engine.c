/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-engine: the storage engine in-process, no bus. N threads call
 * engine_commit_wait() with one 100-byte row each, against SQLite WAL
 * (FULL, NORMAL; one connection per thread), LMDB (one environment, default
 * sync) and write + fdatasync, all in the same directory.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "engine.h"
#include "parse-util.h"

#define ENGINE_DIR "engine"

static const char *arg_dir = NULL;
static uint64_t arg_duration_usec = 3 * USEC_PER_SEC;
static unsigned arg_threads[8] = { 1, 8 };
static size_t arg_n_threads = 2;
static unsigned arg_rounds = 3;
static const char *arg_only = NULL;
static uint64_t arg_log_file_size = 0;

static void help(void) {
        printf("bench-engine -d DIR [-t SECONDS] [-r ROUNDS] [-c N[,N...]] [-l SIZE]\n\n"
               "Durable one-row commits from N threads: the engine in-process (engine_commit_wait)\n"
               "against SQLite WAL (FULL, NORMAL), LMDB and write+fdatasync, all in DIR.\n"
               "  -d DIR       work directory (emptied of our files before each data point)\n"
               "  -t SECONDS   duration of each data point (default 3)\n"
               "  -r ROUNDS    split it into rounds, all systems in turn (default 3)\n"
               "  --only TEXT  run only the systems whose name contains TEXT (for profiling)\n"
               "  -l SIZE      log-file-size of the engine (default: the engine's, as jetsnapd uses it)\n"
               "  -c LIST      thread counts (default 1,8)\n");
}

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "only", required_argument, NULL, 'O' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hd:t:r:c:l:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'd':
                        arg_dir = optarg;
                        break;
                case 't':
                        arg_duration_usec = arg_seconds_usec(optarg);
                        break;
                case 'r':
                        arg_rounds = arg_unsigned(optarg);
                        break;
                case 'O':
                        arg_only = optarg;
                        break;
                case 'l':
                        if (parse_size(optarg, &arg_log_file_size) < 0) {
                                fprintf(stderr, "Invalid size: %s\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'c':
                        arg_n_threads = arg_unsigned_list(optarg, arg_threads, ELEMENTSOF(arg_threads));
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

static int engine_setup(void *arg, unsigned worker, void **ret_ctx) {
        *ret_ctx = arg;
        return 0;
}

static int engine_op(void *ctx, unsigned worker, uint64_t seq) {
        uint8_t key[BENCH_KEY_SIZE], row[BENCH_ROW_SIZE];
        EngineOp op = {
                .kind = ENGINE_OP_PUT,
                .database = "main",
                .table = "bench",
                .key = key,
                .key_size = sizeof(key),
                .value = row,
                .value_size = sizeof(row),
        };
        uint64_t lsn;

        bench_key(key, worker, seq);
        bench_row(row, worker, seq);
        return engine_commit_wait(ctx, &op, 1, &lsn);
}

static const BenchWorkerOps engine_ops = {
        .setup = engine_setup,
        .op = engine_op,
};

static int engine_start(const char *dir, Engine **ret) {
        _cleanup_free_ char *path = NULL, *db = NULL, *msg = NULL;
        int r;

        if (asprintf(&path, "%s/" ENGINE_DIR, dir) < 0 || asprintf(&db, "%s/main.jdb", path) < 0)
                return -ENOMEM;
        r = rm_rf(path);
        if (r < 0)
                return r;

        /* The daemon's defaults: what an instance without tuning gets. */
        EngineDatabaseConfig dbc = { .name = "main", .path = db };
        EngineConfig config = {
                .name = "bench",
                .path = path,
                .log_file_size = arg_log_file_size,
                .n_databases = 1,
                .databases = &dbc,
        };
        r = engine_open(&config, ret, &msg);
        if (r < 0)
                fprintf(stderr, "engine_open(%s): %s\n", path, msg ?: strerror(-r));
        return r;
}

static void engine_stop(const char *dir, Engine *e) {
        _cleanup_free_ char *path = NULL;

        engine_close(e);
        if (asprintf(&path, "%s/" ENGINE_DIR, dir) >= 0)
                (void) rm_rf(path);
}

static int run(int argc, char *argv[]) {
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;
        r = mkdir_p(arg_dir, 0755);
        if (r < 0)
                return r;

        for (size_t i = 0; i < arg_n_threads; i++) {
                unsigned n = arg_threads[i];
                BaselineArg full = { .dir = arg_dir, .synchronous = "FULL", .shared_env = true };
                BaselineArg normal = { .dir = arg_dir, .synchronous = "NORMAL" };
                Engine *e;

                r = engine_start(arg_dir, &e);
                if (r < 0)
                        return r;

                BenchSystem systems[] = {
                        { "jetsnap engine, engine_commit_wait()", BENCH_THREADS, &engine_ops, e },
                        { "SQLite WAL synchronous=FULL", BENCH_THREADS, &baseline_sqlite_ops, &full,
                          baseline_before_round, baseline_after_round },
                        { "SQLite WAL synchronous=NORMAL (not durable)", BENCH_THREADS, &baseline_sqlite_ops, &normal,
                          baseline_before_round, baseline_after_round },
                        { "LMDB default sync, one environment", BENCH_THREADS, &baseline_lmdb_ops, &full,
                          baseline_before_round, baseline_after_round },
                        { "floor: write + fdatasync, own file each", BENCH_THREADS, &baseline_fdatasync_ops, &full },
                };
                BenchResult *rf = &systems[1].result, *re = &systems[0].result;
                char title[256];

                bench_systems_only(systems, ELEMENTSOF(systems), arg_only);
                r = bench_systems_run(systems, ELEMENTSOF(systems), n, arg_rounds, arg_duration_usec);
                engine_stop(arg_dir, e);
                if (r < 0)
                        return r;

                (void) snprintf(title, sizeof(title),
                                "In-process durable commits, one %u-byte row per transaction, %u thread%s, %s (%s)",
                                BENCH_ROW_SIZE, n, n == 1 ? "" : "s", arg_dir, fs_type_name(arg_dir));
                table_header(title, "system (ratio: vs SQLite WAL FULL)");
                for (size_t j = 0; j < ELEMENTSOF(systems); j++)
                        table_system(&systems[j], rf->per_sec);
                if (n == 8 && !arg_only)
                        table_target(re->per_sec >= 5 * rf->per_sec, "8 threads in-process >= 5x SQLite WAL FULL (%.2fx)",
                                     re->per_sec / rf->per_sec);
                for (size_t j = 0; j < ELEMENTSOF(systems); j++)
                        bench_result_done(&systems[j].result);
        }

        return baseline_reset(arg_dir);
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        if (r < 0)
                fprintf(stderr, "bench-engine: %s\n", strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
