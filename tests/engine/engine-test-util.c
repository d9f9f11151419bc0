/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine-test-util.h"
#include "macro.h"

char *test_dir;

void test_dir_setup(void) {
        char tmpl[] = "/tmp/jetsnap-engine-XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(tmpl));
        test_dir = strdup(tmpl);
        ck_assert_ptr_nonnull(test_dir);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

void test_dir_teardown(void) {
        if (test_dir)
                ck_assert_int_eq(nftw(test_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
        free(test_dir);
        test_dir = NULL;
}

void test_config_init(TestConfig *t, const EngineIO *io) {
        *t = (TestConfig) {};
        snprintf(t->path, sizeof(t->path), "%s/inst", test_dir);
        snprintf(t->a, sizeof(t->a), "%s/inst/a.jdb", test_dir);
        snprintf(t->b, sizeof(t->b), "%s/inst/b.jdb", test_dir);
        t->databases[0] = (EngineDatabaseConfig) { .name = "a", .path = t->a, .map_size = 64 << 20 };
        t->databases[1] = (EngineDatabaseConfig) { .name = "b", .path = t->b, .map_size = 64 << 20 };
        t->config = (EngineConfig) {
                .name = "test",
                .path = t->path,
                .log_file_size = ENGINE_LOG_FILE_SIZE_MIN,
                .n_databases = 2,
                .databases = t->databases,
                .io = io,
                .checkpoint_interval_usec = 20 * USEC_PER_MSEC,
        };
}

/* ---- fault IO ---- */

static int maybe_fail(FaultIO *f) {
        uint64_t n = atomic_fetch_add(&f->calls, 1) + 1;
        if (f->fail_at == 0)
                return 0;
        if (n == f->fail_at || (f->persistent && n > f->fail_at)) {
                atomic_store(&f->failed, true);
                return f->fail_error;
        }
        return 0;
}

static int f_open(void *u, const char *path, int flags, mode_t mode) {
        FaultIO *f = u;
        atomic_fetch_add(&f->opens, 1);
        return engine_io_default.open(NULL, path, flags, mode);
}
static ssize_t f_pread(void *u, int fd, void *buf, size_t n, uint64_t off) {
        return engine_io_default.pread(NULL, fd, buf, n, off);
}
static ssize_t f_pwrite(void *u, int fd, const void *buf, size_t n, uint64_t off) {
        FaultIO *f = u;
        int r;
        atomic_fetch_add(&f->writes, 1);
        r = maybe_fail(f);
        if (r < 0) {
                /* A failing write may still have written part of the data, as on a real device. */
                if (n > 1)
                        (void) engine_io_default.pwrite(NULL, fd, buf, n / 2, off);
                return r;
        }
        return engine_io_default.pwrite(NULL, fd, buf, n, off);
}
static int f_fdatasync(void *u, int fd) {
        FaultIO *f = u;
        atomic_fetch_add(&f->syncs, 1);
        int r = maybe_fail(f);
        return r < 0 ? r : engine_io_default.fdatasync(NULL, fd);
}
static int f_fsync(void *u, int fd) {
        FaultIO *f = u;
        atomic_fetch_add(&f->syncs, 1);
        int r = maybe_fail(f);
        return r < 0 ? r : engine_io_default.fsync(NULL, fd);
}
static int f_ftruncate(void *u, int fd, uint64_t size) {
        FaultIO *f = u;
        atomic_fetch_add(&f->writes, 1);
        int r = maybe_fail(f);
        return r < 0 ? r : engine_io_default.ftruncate(NULL, fd, size);
}
static int f_rename(void *u, const char *a, const char *b) {
        FaultIO *f = u;
        atomic_fetch_add(&f->renames, 1);
        int r = maybe_fail(f);
        return r < 0 ? r : engine_io_default.rename(NULL, a, b);
}
static int f_unlink(void *u, const char *p) {
        FaultIO *f = u;
        atomic_fetch_add(&f->unlinks, 1);
        int r = maybe_fail(f);
        return r < 0 ? r : engine_io_default.unlink(NULL, p);
}
static int f_lmdb(void *u, const char *p) {
        FaultIO *f = u;
        atomic_fetch_add(&f->lmdb_commits, 1);
        return maybe_fail(f);
}

const EngineIO fault_io_template = {
        .open = f_open,
        .pread = f_pread,
        .pwrite = f_pwrite,
        .fdatasync = f_fdatasync,
        .fsync = f_fsync,
        .ftruncate = f_ftruncate,
        .rename = f_rename,
        .unlink = f_unlink,
        .before_lmdb_commit = f_lmdb,
};

void fault_io_init(FaultIO *f, EngineIO *io) {
        memset(f, 0, sizeof(*f));
        f->fail_error = -EIO;
        *io = fault_io_template;
        io->userdata = f;
}

uint64_t fault_io_write_calls(FaultIO *f) {
        return atomic_load(&f->writes) + atomic_load(&f->syncs) + atomic_load(&f->renames) +
               atomic_load(&f->unlinks) + atomic_load(&f->lmdb_commits);
}

/* ---- engine helpers ---- */

Engine *test_open(const EngineConfig *c) {
        _cleanup_free_ char *msg = NULL;
        Engine *e = NULL;
        int r = engine_open(c, &e, &msg);
        ck_assert_msg(r == 0, "engine_open: %d (%s)", r, msg ?: "-");
        ck_assert_ptr_nonnull(e);
        return e;
}

int test_put(Engine *e, const char *db, const char *table, const char *key, const char *value, uint64_t *ret_lsn) {
        EngineOp op = { .kind = ENGINE_OP_PUT, .database = db, .table = table, .key = key,
                        .key_size = strlen(key), .value = value, .value_size = strlen(value) };
        return engine_commit_wait(e, &op, 1, ret_lsn);
}

int test_del(Engine *e, const char *db, const char *table, const char *key) {
        EngineOp op = { .kind = ENGINE_OP_DELETE, .database = db, .table = table, .key = key, .key_size = strlen(key) };
        return engine_commit_wait(e, &op, 1, NULL);
}

int test_get(Engine *e, const char *db, const char *table, const char *key, char **ret) {
        void *v = NULL;
        size_t n = 0;
        int r = engine_get(e, db, table, key, strlen(key), &v, &n);
        if (r < 0)
                return r;
        char *s = malloc(n + 1);
        ck_assert_ptr_nonnull(s);
        memcpy(s, v, n);
        s[n] = 0;
        free(v);
        *ret = s;
        return 0;
}

void assert_value(Engine *e, const char *db, const char *table, const char *key, const char *expected) {
        _cleanup_free_ char *v = NULL;
        int r = test_get(e, db, table, key, &v);
        ck_assert_msg(r == 0, "get %s/%s/%s: %d", db, table, key, r);
        ck_assert_str_eq(v, expected);
}

void assert_missing(Engine *e, const char *db, const char *table, const char *key) {
        _cleanup_free_ char *v = NULL;
        ck_assert_int_eq(test_get(e, db, table, key, &v), -ENOENT);
}

void dispatch_until(Engine *e, const bool *done) {
        for (int i = 0; i < 30000 && !*done; i++) {
                struct pollfd p = { .fd = engine_get_event_fd(e), .events = POLLIN };
                (void) poll(&p, 1, 10);
                ck_assert_int_ge(engine_dispatch(e), 0);
        }
        ck_assert_msg(*done, "completion did not arrive");
}

char *test_path(const char *fmt, ...) {
        _cleanup_free_ char *rel = NULL;
        char *p;
        va_list ap;
        va_start(ap, fmt);
        ck_assert_int_ge(vasprintf(&rel, fmt, ap), 0);
        va_end(ap);
        ck_assert_int_ge(asprintf(&p, "%s/%s", test_dir, rel), 0);
        return p;
}

bool file_exists(const char *path) {
        return access(path, F_OK) == 0;
}

void flip_byte(const char *path, uint64_t offset) {
        uint8_t b;
        int fd = open(path, O_RDWR | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pread(fd, &b, 1, (off_t) offset), 1);
        b ^= 0x5a;
        ck_assert_int_eq(pwrite(fd, &b, 1, (off_t) offset), 1);
        close(fd);
}

uint64_t file_size(const char *path) {
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        return (uint64_t) st.st_size;
}

/* libcheck keeps the location string of the last passing assertion until the next one; under ASan builds
 * LeakSanitizer sees it at the forked child's exit. Not ours: suppress exactly that. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
        return "leak:send_loc_info\n";
}
