/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "baseline.h"

#define SQLITE_FILE "baseline.sqlite"
#define LMDB_FILE "baseline.mdb"
#define LMDB_MAP_SIZE (UINT64_C(4) << 30)
/* Each fdatasync worker rewrites a preallocated file, like a log generation, so no metadata changes. */
#define FDATASYNC_FILE_SIZE (UINT64_C(64) << 20)

static int path_in(const char *dir, const char *name, char **ret) {
        return asprintf(ret, "%s/%s", dir, name) < 0 ? -ENOMEM : 0;
}

static int sqlite_errno(int rc) {
        switch (rc) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        default:
                return -EIO;
        }
}

typedef struct SqliteCtx {
        sqlite3 *db;
        sqlite3_stmt *insert;
} SqliteCtx;

static void sqlite_teardown(void *p) {
        SqliteCtx *c = p;

        if (!c)
                return;
        sqlite3_finalize(c->insert);
        sqlite3_close(c->db);
        free(c);
}

static int sqlite_setup(void *p, unsigned worker, void **ret) {
        const BaselineArg *a = p;
        _cleanup_free_ char *path = NULL, *pragma = NULL;
        SqliteCtx *c;
        int r;

        r = path_in(a->dir, SQLITE_FILE, &path);
        if (r < 0)
                return r;
        if (asprintf(&pragma, "PRAGMA synchronous=%s;", a->synchronous) < 0)
                return -ENOMEM;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;

        /* One connection per writer, as the benchmark says; NOMUTEX since each is used by one thread. */
        r = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
        if (r == SQLITE_OK)
                r = sqlite3_busy_timeout(c->db, 60000);
        if (r == SQLITE_OK)
                r = sqlite3_exec(c->db, pragma, NULL, NULL, NULL);
        if (r == SQLITE_OK)
                r = sqlite3_prepare_v2(c->db, "INSERT INTO t(k, v) VALUES (?, ?);", -1, &c->insert, NULL);
        if (r != SQLITE_OK) {
                fprintf(stderr, "sqlite: %s: %s\n", path, sqlite3_errmsg(c->db));
                sqlite_teardown(c);
                return sqlite_errno(r);
        }
        *ret = c;
        return 0;
}

static int sqlite_op(void *p, unsigned worker, uint64_t seq) {
        SqliteCtx *c = p;
        uint8_t row[BENCH_ROW_SIZE];
        int rc;

        bench_row(row, worker, seq);
        (void) sqlite3_bind_int64(c->insert, 1, (sqlite3_int64) (((uint64_t) worker << 40) | seq));
        (void) sqlite3_bind_blob(c->insert, 2, row, sizeof(row), SQLITE_TRANSIENT);
        rc = sqlite3_step(c->insert);
        (void) sqlite3_reset(c->insert);
        return rc == SQLITE_DONE ? 0 : sqlite_errno(rc);
}

const BenchWorkerOps baseline_sqlite_ops = {
        .setup = sqlite_setup,
        .op = sqlite_op,
        .teardown = sqlite_teardown,
};

int baseline_lmdb_open(const char *dir, MDB_env **ret) {
        _cleanup_free_ char *path = NULL;
        MDB_env *env;
        int r;

        r = path_in(dir, LMDB_FILE, &path);
        if (r < 0)
                return r;
        r = mdb_env_create(&env);
        if (r != 0)
                return -r;
        r = mdb_env_set_mapsize(env, LMDB_MAP_SIZE);
        if (r == 0)
                /* Default flags: every commit is synchronous (fdatasync of the data file, then the meta page). */
                r = mdb_env_open(env, path, MDB_NOSUBDIR, 0644);
        if (r != 0) {
                fprintf(stderr, "lmdb: %s: %s\n", path, mdb_strerror(r));
                mdb_env_close(env);
                return r > 0 ? -r : -EIO;
        }
        *ret = env;
        return 0;
}

typedef struct LmdbCtx {
        MDB_env *env;
        bool own_env;
        MDB_dbi dbi;
} LmdbCtx;

static void lmdb_teardown(void *p) {
        LmdbCtx *c = p;

        if (!c)
                return;
        if (c->own_env)
                mdb_env_close(c->env);
        free(c);
}

static int lmdb_setup(void *p, unsigned worker, void **ret) {
        const BaselineArg *a = p;
        MDB_txn *txn;
        LmdbCtx *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        if (a->env)
                c->env = a->env;
        else {
                r = baseline_lmdb_open(a->dir, &c->env);
                if (r < 0) {
                        free(c);
                        return r;
                }
                c->own_env = true;
        }
        r = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
        if (r == 0) {
                r = mdb_dbi_open(txn, NULL, 0, &c->dbi);
                mdb_txn_abort(txn);
        }
        if (r != 0) {
                lmdb_teardown(c);
                return r > 0 ? -r : -EIO;
        }
        *ret = c;
        return 0;
}

static int lmdb_op(void *p, unsigned worker, uint64_t seq) {
        LmdbCtx *c = p;
        uint8_t key[BENCH_KEY_SIZE], row[BENCH_ROW_SIZE];
        MDB_val k = { .mv_size = sizeof(key), .mv_data = key }, v = { .mv_size = sizeof(row), .mv_data = row };
        MDB_txn *txn;
        int r;

        bench_key(key, worker, seq);
        bench_row(row, worker, seq);
        r = mdb_txn_begin(c->env, NULL, 0, &txn);
        if (r != 0)
                return r > 0 ? -r : -EIO;
        r = mdb_put(txn, c->dbi, &k, &v, 0);
        if (r != 0) {
                mdb_txn_abort(txn);
                return r > 0 ? -r : -EIO;
        }
        r = mdb_txn_commit(txn);
        return r == 0 ? 0 : r > 0 ? -r : -EIO;
}

const BenchWorkerOps baseline_lmdb_ops = {
        .setup = lmdb_setup,
        .op = lmdb_op,
        .teardown = lmdb_teardown,
};

typedef struct FsyncCtx {
        int fd;
        char *path;
} FsyncCtx;

static void fdatasync_teardown(void *p) {
        FsyncCtx *c = p;

        if (!c)
                return;
        safe_close(c->fd);
        (void) unlink(c->path);
        free(c->path);
        free(c);
}

static int fdatasync_setup(void *p, unsigned worker, void **ret) {
        const BaselineArg *a = p;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        FsyncCtx *c;
        int r;

        if (asprintf(&path, "%s/fdatasync-%u.dat", a->dir, worker) < 0)
                return -ENOMEM;
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        r = posix_fallocate(fd, 0, FDATASYNC_FILE_SIZE);
        if (r != 0)
                return -r;
        if (fsync(fd) < 0)
                return -errno;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->fd = TAKE_FD(fd);
        c->path = TAKE_PTR(path);
        *ret = c;
        return 0;
}

static int fdatasync_op(void *p, unsigned worker, uint64_t seq) {
        FsyncCtx *c = p;
        uint8_t row[BENCH_ROW_SIZE];
        ssize_t n;

        bench_row(row, worker, seq);
        n = pwrite(c->fd, row, sizeof(row), (seq * sizeof(row)) % FDATASYNC_FILE_SIZE);
        if (n < 0)
                return -errno;
        if (n != sizeof(row))
                return -EIO;
        return RET_NERRNO(fdatasync(c->fd));
}

const BenchWorkerOps baseline_fdatasync_ops = {
        .setup = fdatasync_setup,
        .op = fdatasync_op,
        .teardown = fdatasync_teardown,
};

int baseline_reset(const char *dir) {
        static const char *const files[] = {
                SQLITE_FILE, SQLITE_FILE "-wal", SQLITE_FILE "-shm", SQLITE_FILE "-journal",
                LMDB_FILE, LMDB_FILE "-lock",
        };
        sqlite3 *db = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *p = NULL;

                r = path_in(dir, files[i], &p);
                if (r < 0)
                        return r;
                if (unlink(p) < 0 && errno != ENOENT)
                        return -errno;
        }

        _cleanup_free_ char *path = NULL;
        r = path_in(dir, SQLITE_FILE, &path);
        if (r < 0)
                return r;
        r = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
        if (r == SQLITE_OK)
                /* journal_mode=WAL is persistent: every later connection uses it. */
                r = sqlite3_exec(db,
                                 "PRAGMA journal_mode=WAL;"
                                 "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL);",
                                 NULL, NULL, NULL);
        if (r != SQLITE_OK)
                fprintf(stderr, "sqlite: %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return r == SQLITE_OK ? 0 : sqlite_errno(r);
}

int baseline_before_round(void *arg) {
        BaselineArg *a = arg;
        int r;

        r = baseline_reset(a->dir);
        if (r < 0 || !a->shared_env)
                return r;
        /* LMDB allows one environment per process: threads share it. */
        return baseline_lmdb_open(a->dir, &a->env);
}

void baseline_after_round(void *arg) {
        BaselineArg *a = arg;

        if (a->env)
                mdb_env_close(a->env);
        a->env = NULL;
}
