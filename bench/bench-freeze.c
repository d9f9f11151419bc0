/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-freeze: how long a snapshot holds writers up.
 *
 * Under a load of W client processes committing over the bus, time
 *  - write + fdatasync of 100 bytes in the instances' directory (the file
 *    system's own floor, under the same load),
 *  - jetsnapd's Freeze and Thaw with 1, 8 and 32 instances in the session
 *    (ExplicitPrepare + PrepareInstance; the writers spread over exactly
 *    the instances being frozen),
 *  - the file system's own freeze, FIFREEZE/FITHAW (fsfreeze -f/-u), on its
 *    mount point,
 *  - the stall: the longest commit in flight across Freeze + Btrfs snapshot
 *    + Thaw, against the duration of the snapshot ioctl itself.
 */

#include <fcntl.h>
#include <getopt.h>
#include <linux/btrfs.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "bus-client.h"

#define JET_BIT_EXPLICIT_PREPARE 0x8
#define PROBE_FILE "fdatasync-probe.dat"
#define PROBE_FILE_SIZE (UINT64_C(16) << 20)
/* Gap between snapshot cycles so the writers refill their pipeline and each cycle meets a full load. */
#define CYCLE_GAP_USEC (20 * USEC_PER_MSEC)

static const char *arg_dir = NULL;
static const char *arg_fsfreeze = NULL;
static const char *arg_subvolume = NULL;
static const char *arg_snapshot_to = NULL;
static unsigned arg_writers = 8;
static unsigned arg_cycles = 50;
static unsigned arg_sets[8] = { 1, 8, 32 };
static size_t arg_n_sets = 3;

static void help(void) {
        printf("bench-freeze -d DIR [-w WRITERS] [-n CYCLES] [-i N[,N...]] [--fsfreeze MOUNTPOINT]\n"
               "             [--snapshot SUBVOLUME --snapshot-to DIR]\n\n"
               "Freeze latency and commit stall under load, against fdatasync and fsfreeze.\n"
               "  -d DIR                 the directory of the daemon's instances (fdatasync probe goes here)\n"
               "  -w WRITERS             client processes committing over the bus (default 8)\n"
               "  -n CYCLES              snapshots per measurement (default 50)\n"
               "  -i LIST                instance counts to freeze (default 1,8,32; capped by what the daemon has)\n"
               "  --fsfreeze MOUNTPOINT  also time FIFREEZE/FITHAW of this file system (root)\n"
               "  --snapshot SUBVOLUME   measure the stall with Btrfs snapshots of SUBVOLUME (root)\n"
               "  --snapshot-to DIR      where the snapshots go (same Btrfs)\n");
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_FSFREEZE = 0x100, ARG_SNAPSHOT, ARG_SNAPSHOT_TO };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "fsfreeze", required_argument, NULL, ARG_FSFREEZE },
                { "snapshot", required_argument, NULL, ARG_SNAPSHOT },
                { "snapshot-to", required_argument, NULL, ARG_SNAPSHOT_TO },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hd:w:n:i:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'd':
                        arg_dir = optarg;
                        break;
                case 'w':
                        arg_writers = arg_unsigned(optarg);
                        break;
                case 'n':
                        arg_cycles = arg_unsigned(optarg);
                        break;
                case 'i':
                        arg_n_sets = arg_unsigned_list(optarg, arg_sets, ELEMENTSOF(arg_sets));
                        break;
                case ARG_FSFREEZE:
                        arg_fsfreeze = optarg;
                        break;
                case ARG_SNAPSHOT:
                        arg_subvolume = optarg;
                        break;
                case ARG_SNAPSHOT_TO:
                        arg_snapshot_to = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        if (!arg_dir || optind < argc || !arg_subvolume != !arg_snapshot_to) {
                help();
                return -EINVAL;
        }
        return 1;
}

typedef struct Daemon {
        sd_bus *bus;
        char **names, **paths;
        size_t n;
} Daemon;

static void daemon_done(Daemon *d) {
        sd_bus_flush_close_unref(d->bus);
        strv_free(d->names);
        strv_free(d->paths);
}

/* A session holding instances 0..k-1: all of them with a plain Prepare, else explicitly. */
static int prepare_set(Daemon *d, size_t k, uint64_t *ret_id) {
        uint64_t id;
        int r;

        if (k >= d->n)
                return bus_prepare(d->bus, 0, ret_id);
        r = bus_prepare(d->bus, JET_BIT_EXPLICIT_PREPARE, &id);
        if (r < 0)
                return r;
        for (size_t i = 0; i < k; i++) {
                r = bus_prepare_instance(d->bus, id, d->names[i]);
                if (r < 0) {
                        (void) bus_abort(d->bus, id);
                        return r;
                }
        }
        *ret_id = id;
        return 0;
}

static int start_load(Daemon *d, size_t k, BusCommitArg *arg, BenchLoad **ret) {
        *arg = (BusCommitArg) { .instance_paths = d->paths, .n_instances = k };
        int r = bench_load_start(BENCH_PROCESSES, &bus_commit_ops, arg, arg_writers, ret);
        if (r < 0)
                return r;
        /* Let the pipeline fill before measuring. */
        (void) usleep(200 * USEC_PER_MSEC);
        return 0;
}

static void note_load(const char *what, int r, BenchResult *res) {
        if (r < 0) {
                table_note("%s: load failed: %s", what, strerror(-r));
                return;
        }
        table_note("%s: %u writers committed %.0f/s meanwhile (p99 %.3f ms, max %.3f ms)%s", what, arg_writers,
                   res->per_sec, res->p99_ms, res->max_ms, res->errors > 0 ? ", WITH ERRORS" : "");
        bench_result_done(res);
}

/* A cycle that fails is counted and skipped; a run where most fail gives up. */
typedef struct Failures {
        unsigned n;
        int first;
} Failures;

static bool give_up(Failures *f, int r) {
        if (f->n++ == 0)
                f->first = r;
        return f->n > arg_cycles / 2;
}

static int note_failures(const char *what, const Failures *f, unsigned n_ok) {
        if (f->n > 0)
                table_note("%s: %u of %u cycles FAILED, first: %s", what, f->n, f->n + n_ok, strerror(-f->first));
        return n_ok > 0 ? 0 : f->first;
}

/*
 * The file system's floor under the same load: write + fdatasync of 100
 * bytes (what every commit batch costs), and the sequence closing a log
 * generation needs at least -- write + fdatasync, rename, fsync of the
 * directory -- which a Freeze cannot avoid.
 */
static int probe_fdatasync(Daemon *d, LatStats *ret_sync, LatStats *ret_close) {
        _cleanup_free_ char *path = NULL, *renamed = NULL;
        _cleanup_free_ uint64_t *lat = NULL, *cl = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        BusCommitArg arg;
        BenchResult res;
        BenchLoad *load;
        size_t n = MAX(arg_cycles * 20, 500u), n_close = MAX(arg_cycles * 2, 50u);
        uint8_t row[BENCH_ROW_SIZE] = {};
        int r;

        if (asprintf(&path, "%s/" PROBE_FILE, arg_dir) < 0 || asprintf(&renamed, "%s/" PROBE_FILE ".1", arg_dir) < 0)
                return -ENOMEM;
        lat = calloc(n, sizeof(uint64_t));
        cl = calloc(n_close, sizeof(uint64_t));
        if (!lat || !cl)
                return -ENOMEM;
        dfd = open(arg_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        r = posix_fallocate(fd, 0, PROBE_FILE_SIZE);
        if (r != 0)
                return -r;
        if (fsync(fd) < 0)
                return -errno;

        r = start_load(d, 1, &arg, &load);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                uint64_t t = now_ns();

                if (pwrite(fd, row, sizeof(row), (i * sizeof(row)) % PROBE_FILE_SIZE) != sizeof(row) ||
                    fdatasync(fd) < 0) {
                        r = -errno;
                        break;
                }
                lat[i] = now_ns() - t;
        }
        for (size_t i = 0; r >= 0 && i < n_close; i++) {
                uint64_t t = now_ns();

                /* Ping-pong between two names so every round is a real rename. */
                if (pwrite(fd, row, sizeof(row), (i * sizeof(row)) % PROBE_FILE_SIZE) != sizeof(row) ||
                    fdatasync(fd) < 0 || rename(i % 2 ? renamed : path, i % 2 ? path : renamed) < 0 || fsync(dfd) < 0) {
                        r = -errno;
                        break;
                }
                cl[i] = now_ns() - t;
        }
        note_load("fdatasync probe", bench_load_stop(load, &res), &res);
        (void) unlink(path);
        (void) unlink(renamed);
        if (r < 0)
                return r;
        lat_stats(lat, n, ret_sync);
        lat_stats(cl, n_close, ret_close);
        return 0;
}

/* Freeze + Thaw cycles of instances 0..k-1; the stall is the longest commit in flight across each cycle. */
static int freeze_set(Daemon *d, size_t k, LatStats *ret_freeze, LatStats *ret_thaw, LatStats *ret_stall) {
        size_t n = arg_cycles;
        _cleanup_free_ uint64_t *fl = calloc(n, sizeof(uint64_t)), *tl = calloc(n, sizeof(uint64_t)),
                                *w0 = calloc(n, sizeof(uint64_t)), *stall = calloc(n, sizeof(uint64_t));
        BusCommitArg arg;
        BenchResult res;
        BenchLoad *load;
        Failures f = {};
        unsigned n_ok = 0;
        char what[64];
        int r;

        if (!fl || !tl || !w0 || !stall)
                return -ENOMEM;
        r = start_load(d, k, &arg, &load);
        if (r < 0)
                return r;
        for (unsigned c = 0; c < n; c++) {
                uint64_t id, t0, t1, t2;

                r = prepare_set(d, k, &id);
                if (r < 0) {
                        if (give_up(&f, r))
                                break;
                        continue;
                }
                t0 = now_ns();
                r = bus_freeze(d->bus, id);
                t1 = now_ns();
                if (r >= 0)
                        r = bus_thaw(d->bus, id);
                t2 = now_ns();
                if (r < 0) {
                        /* Whatever state the session is in, do not leave it behind for the next cycle. */
                        (void) bus_abort(d->bus, id);
                        if (give_up(&f, r))
                                break;
                        continue;
                }
                w0[n_ok] = t0;
                fl[n_ok] = t1 - t0;
                tl[n_ok++] = t2 - t1;
                (void) usleep(CYCLE_GAP_USEC);
        }
        (void) snprintf(what, sizeof(what), "%zu instance%s", k, k == 1 ? "" : "s");
        r = bench_load_stop(load, &res);
        if (r >= 0)
                for (unsigned c = 0; c < n_ok; c++)
                        stall[c] = bench_result_max_overlapping(&res, w0[c], w0[c] + fl[c] + tl[c]);
        note_load(what, r, &res);
        if (r < 0)
                return r;
        r = note_failures(what, &f, n_ok);
        if (r < 0)
                return r;
        lat_stats(fl, n_ok, ret_freeze);
        lat_stats(tl, n_ok, ret_thaw);
        lat_stats(stall, n_ok, ret_stall);
        return 0;
}

static int fsfreeze_cycles(Daemon *d, LatStats *ret_freeze, LatStats *ret_thaw) {
        _cleanup_free_ uint64_t *fl = calloc(arg_cycles, sizeof(uint64_t)), *tl = calloc(arg_cycles, sizeof(uint64_t));
        _cleanup_close_ int fd = -EBADF;
        BusCommitArg arg;
        BenchResult res;
        BenchLoad *load;
        int r = 0;

        if (!fl || !tl)
                return -ENOMEM;
        fd = open(arg_fsfreeze, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = start_load(d, 1, &arg, &load);
        if (r < 0)
                return r;
        for (unsigned c = 0; c < arg_cycles; c++) {
                uint64_t t = now_ns();

                if (ioctl(fd, FIFREEZE, 0) < 0) {
                        r = -errno;
                        break;
                }
                fl[c] = now_ns() - t;
                t = now_ns();
                /* Always thaw, whatever else failed: a frozen file system would hang the machine's writers. */
                if (ioctl(fd, FITHAW, 0) < 0) {
                        r = -errno;
                        break;
                }
                tl[c] = now_ns() - t;
                (void) usleep(CYCLE_GAP_USEC);
        }
        note_load("fsfreeze", bench_load_stop(load, &res), &res);
        if (r < 0)
                return r;
        lat_stats(fl, arg_cycles, ret_freeze);
        lat_stats(tl, arg_cycles, ret_thaw);
        return 0;
}

static int snapshot_name(char *buf, size_t size, unsigned c) {
        return snprintf(buf, size, "bench-freeze-%d-%u", (int) getpid(), c) < (int) size ? 0 : -ENAMETOOLONG;
}

/*
 * with_freeze=false is the baseline: the same snapshot, crash-consistent,
 * with jetsnapd not told: what the snapshot alone costs the writers.
 */
static int stall_cycles(Daemon *d, bool with_freeze, LatStats *ret_snap, LatStats *ret_window, LatStats *ret_stall,
                        LatStats *ret_excess) {
        size_t n = arg_cycles;
        _cleanup_free_ uint64_t *snap = calloc(n, sizeof(uint64_t)), *w0 = calloc(n, sizeof(uint64_t)),
                                *w1 = calloc(n, sizeof(uint64_t)), *stall = calloc(n, sizeof(uint64_t)),
                                *excess = calloc(n, sizeof(uint64_t));
        _cleanup_close_ int src = -EBADF, dst = -EBADF;
        BusCommitArg arg;
        BenchResult res = {};
        BenchLoad *load;
        Failures f = {};
        unsigned done = 0;
        int r = 0;

        if (!snap || !w0 || !w1 || !stall || !excess)
                return -ENOMEM;
        src = open(arg_subvolume, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (src < 0)
                return -errno;
        dst = open(arg_snapshot_to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dst < 0)
                return -errno;

        r = start_load(d, 1, &arg, &load);
        if (r < 0)
                return r;
        for (unsigned c = 0; c < n; c++) {
                struct btrfs_ioctl_vol_args_v2 va = { .fd = src, .flags = BTRFS_SUBVOL_RDONLY };
                uint64_t id = 0, t0, t1, t2, t3;

                r = snapshot_name(va.name, sizeof(va.name), c);
                if (r >= 0 && with_freeze)
                        r = prepare_set(d, 1, &id);
                if (r < 0) {
                        if (give_up(&f, r))
                                break;
                        continue;
                }
                t0 = now_ns();
                if (with_freeze)
                        r = bus_freeze(d->bus, id);
                t1 = now_ns();
                if (r >= 0)
                        r = RET_NERRNO(ioctl(dst, BTRFS_IOC_SNAP_CREATE_V2, &va));
                t2 = now_ns();
                if (r >= 0 && with_freeze)
                        r = bus_thaw(d->bus, id);
                t3 = now_ns();
                if (r < 0) {
                        if (id > 0)
                                (void) bus_abort(d->bus, id);
                        if (give_up(&f, r))
                                break;
                        continue;
                }
                w0[done] = t0;
                w1[done] = t3;
                snap[done++] = t2 - t1;
                (void) usleep(CYCLE_GAP_USEC);
        }
        r = bench_load_stop(load, &res);
        if (r >= 0)
                for (unsigned c = 0; c < done; c++) {
                        stall[c] = bench_result_max_overlapping(&res, w0[c], w1[c]);
                        excess[c] = stall[c] > snap[c] ? stall[c] - snap[c] : 0;
                        w1[c] -= w0[c];
                }
        note_load(with_freeze ? "stall" : "stall baseline", r, &res);

        for (unsigned c = 0; c < n; c++) {
                struct btrfs_ioctl_vol_args_v2 va = {};

                if (snapshot_name(va.name, sizeof(va.name), c) >= 0)
                        (void) ioctl(dst, BTRFS_IOC_SNAP_DESTROY_V2, &va);
        }
        /* Deletion is lazy in Btrfs: wait for the cleaner so the next measurement does not pay for it. */
        {
                uint64_t transid = 0;
                if (ioctl(dst, BTRFS_IOC_START_SYNC, &transid) >= 0)
                        (void) ioctl(dst, BTRFS_IOC_WAIT_SYNC, &transid);
        }
        if (r < 0)
                return r;
        r = note_failures(with_freeze ? "stall" : "stall baseline", &f, done);
        if (r < 0)
                return r;
        lat_stats(snap, done, ret_snap);
        lat_stats(w1, done, ret_window);
        lat_stats(stall, done, ret_stall);
        lat_stats(excess, done, ret_excess);
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(daemon_done) Daemon d = {};
        LatStats sync, close_floor, freeze[ELEMENTSOF(arg_sets)], thaw[ELEMENTSOF(arg_sets)],
                cycle_stall[ELEMENTSOF(arg_sets)];
        size_t sets[ELEMENTSOF(arg_sets)], n_sets = 0;
        char title[512];
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        r = bus_open(&d.bus);
        if (r < 0)
                return r;
        r = bus_list_instances(d.bus, &d.names, &d.paths, &d.n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < arg_n_sets; i++)
                if (arg_sets[i] <= d.n)
                        sets[n_sets++] = arg_sets[i];
                else
                        fprintf(stderr, "Skipping %u instances: the daemon has %zu.\n", arg_sets[i], d.n);

        (void) snprintf(title, sizeof(title), "Freeze under load: %u writer processes over the bus, %s (%s), %u cycles",
                        arg_writers, arg_dir, fs_type_name(arg_dir), arg_cycles);
        printf("\n== %s\n", title);
        r = probe_fdatasync(&d, &sync, &close_floor);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_sets; i++) {
                r = freeze_set(&d, sets[i], &freeze[i], &thaw[i], &cycle_stall[i]);
                if (r < 0)
                        return r;
        }
        LatStats ff = {}, ft = {};
        if (arg_fsfreeze) {
                r = fsfreeze_cycles(&d, &ff, &ft);
                if (r < 0)
                        return r;
        }

        lat_table_header(title, "operation", "p99 vs fdatasync");
        lat_table_row("write + fdatasync 100 B, same fs, same load", &sync, sync.p99_ms);
        lat_table_row("generation close floor: +rename +fsync dir", &close_floor, sync.p99_ms);
        for (size_t i = 0; i < n_sets; i++) {
                char name[64];

                (void) snprintf(name, sizeof(name), "jetsnapd Freeze, %zu instance%s", sets[i], sets[i] == 1 ? "" : "s");
                lat_table_row(name, &freeze[i], sync.p99_ms);
        }
        for (size_t i = 0; i < n_sets; i++) {
                char name[64];

                (void) snprintf(name, sizeof(name), "jetsnapd Thaw (ends session), %zu instance%s", sets[i],
                                sets[i] == 1 ? "" : "s");
                lat_table_row(name, &thaw[i], sync.p99_ms);
        }
        for (size_t i = 0; i < n_sets; i++) {
                char name[64];

                (void) snprintf(name, sizeof(name), "stall across Freeze+Thaw, %zu instance%s", sets[i],
                                sets[i] == 1 ? "" : "s");
                lat_table_row(name, &cycle_stall[i], sync.p99_ms);
        }
        if (arg_fsfreeze) {
                lat_table_row("fsfreeze -f (FIFREEZE) of the mount", &ff, sync.p99_ms);
                lat_table_row("fsfreeze -u (FITHAW) of the mount", &ft, sync.p99_ms);
        }
        if (n_sets > 0 && sets[0] == 1)
                table_target(freeze[0].p99_ms <= 3 * sync.p99_ms,
                             "Freeze p99 under load <= 3x fdatasync p99 (%.3f ms vs %.3f ms: %.2fx)", freeze[0].p99_ms,
                             sync.p99_ms, freeze[0].p99_ms / sync.p99_ms);
        if (n_sets > 1 && sets[0] == 1)
                table_target(freeze[n_sets - 1].p50_ms <= 2 * freeze[0].p50_ms,
                             "Freeze of %zu instances <= 2x 1 instance (p50 %.3f ms vs %.3f ms: %.2fx; p99 %.2fx)",
                             sets[n_sets - 1], freeze[n_sets - 1].p50_ms, freeze[0].p50_ms,
                             freeze[n_sets - 1].p50_ms / freeze[0].p50_ms, freeze[n_sets - 1].p99_ms / freeze[0].p99_ms);

        if (arg_subvolume) {
                LatStats snap, window, stall, excess, bsnap, bwindow, bstall, bexcess;

                r = stall_cycles(&d, false, &bsnap, &bwindow, &bstall, &bexcess);
                if (r < 0)
                        return r;
                r = stall_cycles(&d, true, &snap, &window, &stall, &excess);
                if (r < 0)
                        return r;
                (void) snprintf(title, sizeof(title),
                                "Stall: longest commit across Freeze + Btrfs snapshot + Thaw, %u writers, 1 instance",
                                arg_writers);
                lat_table_header(title, "per snapshot", "p99 vs snapshot");
                lat_table_row("baseline: snapshot alone (crash-consistent)", &bsnap, snap.p99_ms);
                lat_table_row("baseline: longest commit across it", &bstall, snap.p99_ms);
                lat_table_row("btrfs subvolume snapshot -r (ioctl)", &snap, snap.p99_ms);
                lat_table_row("Freeze + snapshot + Thaw, as the caller sees it", &window, snap.p99_ms);
                lat_table_row("longest commit in flight (stall)", &stall, snap.p99_ms);
                lat_table_row("stall minus that snapshot's duration", &excess, snap.p99_ms);
                table_target(excess.max_ms <= 5, "stall <= snapshot duration + 5 ms in every cycle (worst excess %.3f ms)",
                             excess.max_ms);
        }
        return 0;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        if (r < 0)
                fprintf(stderr, "bench-freeze: %s\n", strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
