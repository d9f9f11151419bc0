/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "snapshot-id.h"

/*
 * The file holds one decimal number: every id below it may have been
 * handed out. It is replaced atomically (write temp, fsync, rename, fsync
 * the directory) before any id of the new block is used, so a crash at any
 * point leaves a mark at or above every id a client has seen.
 */
static int write_mark(const SnapshotIds *ids, uint64_t mark) {
        _cleanup_free_ char *tmp = NULL, *dir = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        char buf[32];
        int n;

        if (asprintf(&tmp, "%s.tmp", ids->path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", mark);
        if (write(fd, buf, (size_t) n) != n)
                return errno > 0 ? -errno : -EIO;
        if (fsync(fd) < 0)
                return -errno;
        if (rename(tmp, ids->path) < 0)
                return -errno;

        dir = strdup(ids->path);
        if (!dir)
                return -ENOMEM;
        *strrchr(dir, '/') = 0;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        return RET_NERRNO(fsync(dfd));
}

/* mkdir -p: --user state lives under ~/.local/state, which may not exist yet. */
static int mkdir_parents(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int reserve(SnapshotIds *ids) {
        uint64_t mark = ids->next + SNAPSHOT_ID_BLOCK;
        int r;

        r = write_mark(ids, mark);
        if (r < 0)
                return r;
        ids->reserved = mark;
        return 0;
}

/*
 * snapshot_ids_open() - read the mark from @state_dir (created if needed)
 * and reserve the first block. A missing file starts at 1; an unreadable
 * or garbled one is an error rather than a silent restart at 1.
 * Return: 0 or negative errno.
 */
int snapshot_ids_open(SnapshotIds *ids, const char *state_dir) {
        _cleanup_free_ char *path = NULL;
        uint64_t mark = 1;
        FILE *f;
        int r;

        r = mkdir_parents(state_dir);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/snapshot-id", state_dir) < 0)
                return -ENOMEM;

        f = fopen(path, "re");
        if (f) {
                char line[32], *end;

                errno = 0;
                if (!fgets(line, sizeof(line), f)) {
                        fclose(f);
                        return -EBADMSG;
                }
                fclose(f);
                mark = strtoull(line, &end, 10);
                if (errno != 0 || end == line || (*end != '\n' && *end != 0) || mark == 0 ||
                    mark > UINT64_MAX - 2 * SNAPSHOT_ID_BLOCK)
                        return -EBADMSG;
        } else if (errno != ENOENT)
                return -errno;

        *ids = (SnapshotIds) { .path = TAKE_PTR(path), .next = mark };
        r = reserve(ids);
        if (r < 0) {
                snapshot_ids_done(ids);
                return r;
        }
        return 0;
}

/* The next id: > 0, strictly increasing, never handed out before. Return: 0 or negative errno. */
int snapshot_ids_next(SnapshotIds *ids, uint64_t *ret) {
        int r;

        if (ids->next >= ids->reserved) {
                r = reserve(ids);
                if (r < 0)
                        return r;
        }
        *ret = ids->next++;
        return 0;
}

void snapshot_ids_done(SnapshotIds *ids) {
        free(ids->path);
        ids->path = NULL;
}
