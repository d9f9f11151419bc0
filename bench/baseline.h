/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What a user would otherwise pick, doing the same rows (one 100-byte row
 * per durable transaction) in the same directory: SQLite in WAL mode with
 * one connection per writer, LMDB with its default (synchronous) commits,
 * and the file system's own floor, one write + fdatasync per transaction.
 */

#include <lmdb.h>

#include "bench-util.h"

typedef struct BaselineArg {
        const char *dir;
        /* SQLite: "FULL" or "NORMAL". */
        const char *synchronous;
        /* LMDB with threads: one environment shared by all workers, opened by baseline_before_round(). */
        bool shared_env;
        MDB_env *env;
} BaselineArg;

/* BenchSystem hooks: fresh files before each round (and the shared LMDB environment), closed after. */
int baseline_before_round(void *arg);
void baseline_after_round(void *arg);

extern const BenchWorkerOps baseline_sqlite_ops;
extern const BenchWorkerOps baseline_lmdb_ops;
extern const BenchWorkerOps baseline_fdatasync_ops;

/* Fresh files for the next data point: an empty WAL-mode SQLite database with table t, no LMDB file. */
int baseline_reset(const char *dir);

/* Opens the LMDB environment of dir. */
int baseline_lmdb_open(const char *dir, MDB_env **ret);
