/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared fixtures for the engine tests: a fresh mkdtemp directory per
 * test, a two-database configuration, and a counting / fault-injecting
 * EngineIO in the manner of SQLite's test_vfs.c.
 */

#include <check.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

extern char *test_dir;

void test_dir_setup(void);
void test_dir_teardown(void);

/* "<test_dir>/inst" with databases "a" (<inst>/a.jdb) and "b" (<inst>/b.jdb). */
typedef struct TestConfig {
        EngineConfig config;
        EngineDatabaseConfig databases[2];
        char path[1024], a[1024], b[1024];
} TestConfig;

void test_config_init(TestConfig *t, const EngineIO *io);

/* Counting/fault IO: every call is counted; the fail_at-th write-class call (pwrite, fdatasync, fsync, rename,
 * unlink, ftruncate, LMDB commit) fails with fail_error, and so does every later one when persistent. */
typedef struct FaultIO {
        atomic_uint_fast64_t writes, syncs, renames, unlinks, lmdb_commits, opens;
        atomic_uint_fast64_t calls;     /* write-class calls seen */
        uint64_t fail_at;               /* 0: never */
        bool persistent;
        int fail_error;
        atomic_bool failed;
} FaultIO;

extern const EngineIO fault_io_template;
void fault_io_init(FaultIO *f, EngineIO *io);
uint64_t fault_io_write_calls(FaultIO *f);

/* Opens or fails the test with the message. */
Engine *test_open(const EngineConfig *c);

int test_put(Engine *e, const char *db, const char *table, const char *key, const char *value, uint64_t *ret_lsn);
int test_del(Engine *e, const char *db, const char *table, const char *key);
/* Returns 0 and the value as a string (caller frees), or negative errno. */
int test_get(Engine *e, const char *db, const char *table, const char *key, char **ret);
void assert_value(Engine *e, const char *db, const char *table, const char *key, const char *expected);
void assert_missing(Engine *e, const char *db, const char *table, const char *key);

/* Runs engine_dispatch() until *done or the timeout; polls the event fd. */
void dispatch_until(Engine *e, const bool *done);

/* Paths */
char *test_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool file_exists(const char *path);
void flip_byte(const char *path, uint64_t offset);
uint64_t file_size(const char *path);
