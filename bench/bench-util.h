/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared machinery of the benchmarks: a load generator that runs N workers
 * (processes or threads) doing one transaction per call for a fixed time,
 * per-transaction latency samples in shared memory, percentiles and the
 * table printer.
 *
 * Benchmarks measure, they never assert timings: every program prints a
 * table with ratios against the baseline of the same run and a "target"
 * line saying met/missed, and exits 0 unless something failed outright.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* A row key of the commit benchmarks: unique per worker and sequence number, big endian so rows append. */
#define BENCH_KEY_SIZE 8
#define BENCH_ROW_SIZE 100

uint64_t now_ns(void);
void bench_key(uint8_t key[static BENCH_KEY_SIZE], unsigned worker, uint64_t seq);
void bench_row(uint8_t row[static BENCH_ROW_SIZE], unsigned worker, uint64_t seq);

/* One worker's side of a benchmark. Everything runs inside the worker (child process or thread). */
typedef struct BenchWorkerOps {
        /* Opens the worker's connection/handle; *ret_ctx is passed to op() and teardown(). */
        int (*setup)(void *arg, unsigned worker, void **ret_ctx);
        /* One durable transaction; returns >= 0 or a negative errno (counted, the worker goes on). */
        int (*op)(void *ctx, unsigned worker, uint64_t seq);
        void (*teardown)(void *ctx);
} BenchWorkerOps;

typedef enum BenchMode {
        BENCH_PROCESSES,
        BENCH_THREADS,
} BenchMode;

typedef struct BenchSample {
        uint64_t start_ns;      /* CLOCK_MONOTONIC when the call was made */
        uint64_t lat_ns;        /* until it returned */
} BenchSample;

typedef struct BenchLoad BenchLoad;

/*
 * bench_load_start() - spawn n workers, wait until all finished setup, then
 * let them run op() in a loop until bench_load_stop(). Returns with the load
 * running. Return: 0, or a negative errno if a worker failed its setup
 * (everything is torn down again).
 */
int bench_load_start(BenchMode mode, const BenchWorkerOps *ops, void *arg, unsigned n, BenchLoad **ret);

/* The moment the workers were released. */
uint64_t bench_load_t0(BenchLoad *l);

typedef struct BenchResult {
        uint64_t ops;           /* transactions completed within [t0, t_stop] */
        uint64_t errors;
        int first_error;        /* negative errno of the first failed op, 0 if none */
        double seconds;         /* t_stop - t0 */
        double per_sec;         /* ops / seconds */
        double p50_ms, p99_ms, p999_ms, max_ms;
        BenchSample *samples;   /* every recorded sample of every worker (caller frees via bench_result_done) */
        size_t n_samples;
} BenchResult;

/* Stops the workers, reaps them and fills *ret. Frees l. */
int bench_load_stop(BenchLoad *l, BenchResult *ret);

/* Start, sleep duration_usec, stop. */
int bench_load_run(BenchMode mode, const BenchWorkerOps *ops, void *arg, unsigned n, uint64_t duration_usec,
                   BenchResult *ret);

void bench_result_done(BenchResult *r);

/*
 * Adds the samples, transactions and time of from to into (which may be
 * empty) and recomputes the rates and percentiles; from is emptied. The
 * benchmarks run each system in several short rounds, round-robin, so a
 * change in background load on a shared machine hits every system alike.
 */
int bench_result_merge(BenchResult *into, BenchResult *from);

/* One contender of a comparison table. */
typedef struct BenchSystem {
        const char *name;
        BenchMode mode;
        const BenchWorkerOps *ops;
        void *arg;
        int (*before_round)(void *arg);         /* e.g. fresh files; may be NULL */
        void (*after_round)(void *arg);         /* may be NULL */
        bool skip;                              /* not run, not printed (--only) */
        BenchResult result;                     /* accumulated over the rounds */
} BenchSystem;

/*
 * Runs every system with n workers for duration_usec in total, split into
 * rounds taken round-robin, and leaves the merged result in each
 * system's result. Return: 0 or the first negative errno.
 */
int bench_systems_run(BenchSystem *systems, size_t n_systems, unsigned n, unsigned rounds, uint64_t duration_usec);

/* The longest latency of a transaction that was in flight at some point of [t0, t1]. */
uint64_t bench_result_max_overlapping(const BenchResult *r, uint64_t t0, uint64_t t1);

/* Percentile (0..1) of a sorted array of nanoseconds, in milliseconds. */
double percentile_ms(const uint64_t *sorted_ns, size_t n, double p);
int cmp_u64(const void *a, const void *b);

/* "ext4", "btrfs", "tmpfs"... of the file system holding path. Static buffer. */
const char *fs_type_name(const char *path);

/* mkdir -p of path; 0 or negative errno. */
int mkdir_p(const char *path, mode_t mode);
/* rm -rf of path's contents and path itself; 0 or negative errno. */
int rm_rf(const char *path);

/* Table output: a title, then rows added with table_row(). Columns are fixed for all benchmarks. */
void table_header(const char *title, const char *first_column);
void table_row(const char *name, const BenchResult *r, double baseline_per_sec);
/* A system's row; nothing for a skipped one. */
void table_system(const BenchSystem *s, double baseline_per_sec);
/* Marks every system whose name does not contain only (if non-NULL) as skipped. */
void bench_systems_only(BenchSystem *systems, size_t n_systems, const char *only);
/* Latency-only tables (freeze, stall): p50/p99/max of a set of calls, ratio of p99 against a baseline p99. */
typedef struct LatStats {
        size_t n;
        double p50_ms, p99_ms, max_ms;
} LatStats;

/* Sorts ns in place. */
void lat_stats(uint64_t *ns, size_t n, LatStats *ret);
void lat_table_header(const char *title, const char *first_column, const char *ratio_column);
void lat_table_row(const char *name, const LatStats *s, double baseline_p99_ms);

void table_note(const char *fmt, ...) _printf_(1, 2);
/* One "target" line: met or missed, with the numbers that decide it. */
void table_target(bool met, const char *fmt, ...) _printf_(2, 3);

/* Parses "-d DIR -t SECONDS"-style values; exits with a message on garbage. */
uint64_t arg_seconds_usec(const char *s);
unsigned arg_unsigned(const char *s);
/* "1,8,32" into v[] (at most max entries); returns the count; exits with a message on garbage. */
size_t arg_unsigned_list(char *s, unsigned *v, size_t max);
