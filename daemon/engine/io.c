/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The default EngineIO: plain syscalls with EINTR handled and errors
 * turned into negative errno. Short writes are finished here, so callers
 * see either the full count or an error.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "engine-internal.h"

static int io_open(void *userdata, const char *path, int flags, mode_t mode) {
        return RET_NERRNO(open(path, flags | O_CLOEXEC, mode));
}

static ssize_t io_pread(void *userdata, int fd, void *buf, size_t n, uint64_t offset) {
        ssize_t k;

        do
                k = pread(fd, buf, n, (off_t) offset);
        while (k < 0 && errno == EINTR);
        return k < 0 ? -errno : k;
}

static ssize_t io_pwrite(void *userdata, int fd, const void *buf, size_t n, uint64_t offset) {
        const uint8_t *p = buf;
        size_t done = 0;

        while (done < n) {
                ssize_t k = pwrite(fd, p + done, n - done, (off_t) (offset + done));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

static int io_fdatasync(void *userdata, int fd) {
        return RET_NERRNO(fdatasync(fd));
}

static int io_fsync(void *userdata, int fd) {
        return RET_NERRNO(fsync(fd));
}

static int io_ftruncate(void *userdata, int fd, uint64_t size) {
        return RET_NERRNO(ftruncate(fd, (off_t) size));
}

static int io_rename(void *userdata, const char *from, const char *to) {
        return RET_NERRNO(rename(from, to));
}

static int io_unlink(void *userdata, const char *path) {
        return RET_NERRNO(unlink(path));
}

static int io_before_lmdb_commit(void *userdata, const char *database_path) {
        return 0;
}

const EngineIO engine_io_default = {
        .open = io_open,
        .pread = io_pread,
        .pwrite = io_pwrite,
        .fdatasync = io_fdatasync,
        .fsync = io_fsync,
        .ftruncate = io_ftruncate,
        .rename = io_rename,
        .unlink = io_unlink,
        .before_lmdb_commit = io_before_lmdb_commit,
};
