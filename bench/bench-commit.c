/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-commit: durable commits over the bus against SQLite and LMDB.
 *
 * N client processes each commit one 100-byte row per transaction and wait
 * until it is durable: jetsnapd through org.jetsnap1.Instance.Commit (one
 * sd-bus connection per process), SQLite in WAL mode with
 * synchronous=FULL and =NORMAL (one connection per process), LMDB with
 * default (synchronous) commits, and the floor: write + fdatasync of a
 * preallocated file. The baselines live in DIR, which must be on the same
 * file system as the daemon's instance.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "bus-client.h"

static const char *arg_dir = NULL;
static uint64_t arg_duration_usec = 3 * USEC_PER_SEC;
static unsigned arg_clients[8] = { 1, 8, 32 };
static size_t arg_n_clients = 3;
static bool arg_bus = true;
static unsigned arg_rounds = 3;
static const char *arg_only = NULL;

static void help(void) {
        printf("bench-commit -d DIR [-t SECONDS] [-r ROUNDS] [-c N[,N...]] [--no-bus]\n\n"
               "Durable one-row commits from N processes: jetsnapd over the bus ($DBUS_SYSTEM_BUS_ADDRESS)\n"
               "against SQLite WAL (FULL, NORMAL), LMDB and write+fdatasync, all in DIR.\n"
               "  -d DIR       directory for the baselines, on the file system of the daemon's instance\n"
               "  -t SECONDS   duration of each data point (default 3)\n"
               "  -r ROUNDS    split it into rounds, all systems in turn (default 3)\n"
               "  --only TEXT  run only the systems whose name contains TEXT (for profiling)\n"
               "  -c LIST      client process counts (default 1,8,32)\n"
               "  --no-bus     baselines only\n");
}

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "only", required_argument, NULL, 'O' },
                { "no-bus", no_argument, NULL, 'B' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hd:t:r:c:", options, NULL)) >= 0)
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
                case 'c':
                        arg_n_clients = arg_unsigned_list(optarg, arg_clients, ELEMENTSOF(arg_clients));
                        break;
                case 'B':
                        arg_bus = false;
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

static int run(int argc, char *argv[]) {
        _cleanup_strv_free_ char **names = NULL, **paths = NULL;
        BusCommitArg bus_arg = {};
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        r = mkdir_p(arg_dir, 0755);
        if (r < 0)
                return r;

        if (arg_bus) {
                _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;

                r = bus_open(&bus);
                if (r < 0) {
                        fprintf(stderr, "Failed to connect to the bus: %s\n", strerror(-r));
                        return r;
                }
                r = bus_list_instances(bus, &names, &paths, &bus_arg.n_instances);
                if (r < 0)
                        return r;
                /* One instance, as an application would use it: the first one. */
                bus_arg.instance_paths = paths;
                bus_arg.n_instances = 1;
        }

        for (size_t i = 0; i < arg_n_clients; i++) {
                unsigned n = arg_clients[i];
                BaselineArg full = { .dir = arg_dir, .synchronous = "FULL" };
                BaselineArg normal = { .dir = arg_dir, .synchronous = "NORMAL" };
                BenchSystem systems[] = {
                        { "SQLite WAL synchronous=FULL", BENCH_PROCESSES, &baseline_sqlite_ops, &full,
                          baseline_before_round, baseline_after_round },
                        { "SQLite WAL synchronous=NORMAL (not durable)", BENCH_PROCESSES, &baseline_sqlite_ops, &normal,
                          baseline_before_round, baseline_after_round },
                        { "LMDB default sync", BENCH_PROCESSES, &baseline_lmdb_ops, &full, baseline_before_round,
                          baseline_after_round },
                        { "floor: write + fdatasync, own file each", BENCH_PROCESSES, &baseline_fdatasync_ops, &full },
                        { "jetsnapd, Commit over the bus", BENCH_PROCESSES, &bus_commit_ops, &bus_arg },
                        { "ceiling: Peer.Ping round trip to jetsnapd", BENCH_PROCESSES, &bus_ping_ops, &bus_arg },
                };
                size_t n_systems = arg_bus ? ELEMENTSOF(systems) : ELEMENTSOF(systems) - 2;
                bench_systems_only(systems, n_systems, arg_only);
                BenchResult *rf = &systems[0].result, *rj = &systems[4].result;
                char title[256];

                r = bench_systems_run(systems, n_systems, n, arg_rounds, arg_duration_usec);
                if (r < 0)
                        return r;

                (void) snprintf(title, sizeof(title),
                                "Durable commits, one %u-byte row per transaction, %u client process%s, %s (%s)",
                                BENCH_ROW_SIZE, n, n == 1 ? "" : "es", arg_dir, fs_type_name(arg_dir));
                table_header(title, "system (ratio: vs SQLite WAL FULL)");
                if (arg_bus)
                        table_system(&systems[4], rf->per_sec);
                for (size_t j = 0; j < 4; j++)
                        table_system(&systems[j], rf->per_sec);
                if (arg_bus)
                        table_system(&systems[5], rf->per_sec);
                if (arg_bus && n == 8 && !arg_only && streq(fs_type_name(arg_dir), "tmpfs"))
                        table_note("tmpfs: nothing here is durable, so no target; this is the bus path's CPU ceiling");
                else if (arg_bus && n == 8 && !arg_only)
                        table_target(rj->per_sec >= 3 * rf->per_sec && rj->p999_ms <= 20,
                                     "8 writers over the bus >= 3x SQLite WAL FULL (%.2fx) with p999 <= 20 ms (%.3f ms)",
                                     rj->per_sec / rf->per_sec, rj->p999_ms);
                for (size_t j = 0; j < ELEMENTSOF(systems); j++)
                        bench_result_done(&systems[j].result);
        }

        return baseline_reset(arg_dir);
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        if (r < 0)
                fprintf(stderr, "bench-commit: %s\n", strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
