/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The checkpoint file jet.chk and the checkpointer thread.
 *
 * jet.chk (replaced atomically: write jet.chk.tmp, fsync, rename, fsync
 * the directory) is
 *
 *     magic[8] version:le32 size:le32 signature[16] lsn:le64 created:le64
 *     n_databases:le32 reserved:le32
 *     n_databases x { name_size:le16 path_size:le16 name path }
 *     crc32c:le32 of everything before it
 *
 * The database list (paths relative to the instance directory when the
 * database lies inside it) lets offline recovery of a restored directory
 * find the databases without the daemon's configuration.
 *
 * The checkpointer thread is the only writer of LMDB. Each round takes all
 * acknowledged changes, applies them in slices of at most
 * CHECKPOINT_TXN_BYTES, one LMDB transaction per database per slice
 * (recording the applied LSN in it), removes each slice from the overlay,
 * and then advances jet.chk once. Between rounds it also runs
 * truncation requests, deletes old generations under circular logging and
 * preallocates the next log generation (logs/jet.spare). On freeze it
 * finishes a jet.chk write in progress, abandons an LMDB transaction that
 * has not started to commit, and reports the engine frozen.
 */
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine-internal.h"

#define CHECKPOINT_FILE_SIZE_MAX (64u << 10)

typedef struct ChkHeader {
        char magic[8];
        uint32_t version;
        uint32_t size;                  /* bytes of the whole file, checksum included */
        uint8_t signature[16];
        uint64_t lsn;
        uint64_t created_usec;
        uint32_t n_databases;
        uint32_t reserved;
} ChkHeader;
_Static_assert(sizeof(ChkHeader) == 56, "ChkHeader layout");

void checkpoint_done(Checkpoint *c) {
        for (size_t i = 0; i < c->n_databases; i++) {
                free(c->databases[i].name);
                free(c->databases[i].path);
        }
        free(c->databases);
        *c = (Checkpoint) {};
}

int checkpoint_read(const EngineIO *io, const char *path, Checkpoint *ret, char **reterr_message) {
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        Checkpoint c = {};
        ChkHeader h;
        uint32_t crc;
        ssize_t n;

        fd = io->open(io->userdata, path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
                return fd;
        buf = malloc(CHECKPOINT_FILE_SIZE_MAX);
        if (!buf)
                return -ENOMEM;
        n = io->pread(io->userdata, fd, buf, CHECKPOINT_FILE_SIZE_MAX, 0);
        if (n < 0)
                return (int) n;
        memcpy(&h, buf, MIN(sizeof(h), (size_t) n));
        if ((size_t) n < sizeof(h) + 4 || memcmp(h.magic, CHECKPOINT_MAGIC, 8) != 0) {
                (void) asprintf_safe(reterr_message, "%s: offset 0: not a jetsnap checkpoint (bad magic or size)",
                                     path);
                return -EBADMSG;
        }
        if (h.size != (size_t) n || h.size < sizeof(h) + 4) {
                (void) asprintf_safe(reterr_message, "%s: offset 12: size %u does not match the file (%zd bytes)",
                                     path, h.size, n);
                return -EBADMSG;
        }
        memcpy(&crc, buf + h.size - 4, 4);
        if (crc != crc32c(0, buf, h.size - 4)) {
                (void) asprintf_safe(reterr_message, "%s: offset %u: checkpoint checksum mismatch", path,
                                     h.size - 4);
                return -EBADMSG;
        }
        if (h.version != CHECKPOINT_FORMAT_VERSION || h.n_databases > ENGINE_DATABASES_MAX) {
                (void) asprintf_safe(reterr_message, "%s: offset 8: unsupported checkpoint version %u", path,
                                     h.version);
                return -EBADMSG;
        }
        memcpy(c.signature, h.signature, 16);
        c.lsn = h.lsn;
        c.created_usec = h.created_usec;
        c.databases = calloc(MAX(h.n_databases, 1u), sizeof(CheckpointDatabase));
        if (!c.databases)
                return -ENOMEM;
        size_t o = sizeof(h);
        for (uint32_t i = 0; i < h.n_databases; i++) {
                uint16_t ns, ps;
                if (o + 4 > h.size - 4)
                        goto bad;
                memcpy(&ns, buf + o, 2);
                memcpy(&ps, buf + o + 2, 2);
                o += 4;
                if ((size_t) ns + ps > h.size - 4 - o)
                        goto bad;
                c.databases[i].name = strndup((const char *) buf + o, ns);
                c.databases[i].path = strndup((const char *) buf + o + ns, ps);
                c.n_databases++;
                if (!c.databases[i].name || !c.databases[i].path) {
                        checkpoint_done(&c);
                        return -ENOMEM;
                }
                o += (size_t) ns + ps;
        }
        if (o != h.size - 4)
                goto bad;
        *ret = c;
        return 0;
bad:
        checkpoint_done(&c);
        (void) asprintf_safe(reterr_message, "%s: offset %zu: malformed database list", path, o);
        return -EBADMSG;
}

static const char *relative_to(const char *path, const char *dir) {
        size_t n = strlen(dir);
        if (strncmp(path, dir, n) == 0 && path[n] == '/')
                return path + n + 1;
        return path;
}

int checkpoint_write(Engine *e, uint64_t lsn) {
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        ChkHeader h = {
                .version = CHECKPOINT_FORMAT_VERSION,
                .lsn = lsn,
                .created_usec = now_usec(),
                .n_databases = (uint32_t) e->n_databases,
        };
        size_t o = sizeof(h);
        ssize_t k;
        int r;

        buf = malloc(CHECKPOINT_FILE_SIZE_MAX);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < e->n_databases; i++) {
                const char *name = e->databases[i].name, *p = relative_to(e->databases[i].path, e->path);
                uint16_t ns = (uint16_t) strlen(name), ps = (uint16_t) strlen(p);
                if (o + 4 + ns + ps + 4 > CHECKPOINT_FILE_SIZE_MAX)
                        return -ENAMETOOLONG;
                memcpy(buf + o, &ns, 2);
                memcpy(buf + o + 2, &ps, 2);
                memcpy(buf + o + 4, name, ns);
                memcpy(buf + o + 4 + ns, p, ps);
                o += 4u + ns + ps;
        }
        memcpy(h.magic, CHECKPOINT_MAGIC, 8);
        memcpy(h.signature, e->signature, 16);
        h.size = (uint32_t) (o + 4);
        memcpy(buf, &h, sizeof(h));
        uint32_t crc = crc32c(0, buf, o);
        memcpy(buf + o, &crc, 4);

        if (asprintf(&tmp, "%s.tmp", e->chk_path) < 0)
                return -ENOMEM;
        fd = e->io.open(e->io.userdata, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0)
                return fd;
        k = e->io.pwrite(e->io.userdata, fd, buf, o + 4, 0);
        if (k < 0)
                return (int) k;
        r = e->io.fsync(e->io.userdata, fd);
        if (r < 0)
                return r;
        r = e->io.rename(e->io.userdata, tmp, e->chk_path);
        if (r < 0)
                return r;
        r = engine_fsync_dir(e, e->path);
        if (r < 0)
                return r;
        pthread_mutex_lock(&e->lock);
        e->checkpoint_lsn = lsn;
        pthread_mutex_unlock(&e->lock);
        return 0;
}

/* Deletes archived generations below `below` (never the current one); returns how many. */
static int delete_generations(Engine *e, uint32_t below) {
        _cleanup_free_ uint32_t *gens = NULL;
        uint32_t current;
        size_t n;
        int r, count = 0;

        pthread_mutex_lock(&e->lock);
        current = e->current_gen;
        pthread_mutex_unlock(&e->lock);
        below = MIN(below, current);

        r = log_list_generations(e->log_dir, &gens, &n, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && gens[i] < below; i++) {
                _cleanup_free_ char *p = log_generation_path(e->log_dir, gens[i]);
                if (!p)
                        return -ENOMEM;
                r = e->io.unlink(e->io.userdata, p);
                if (r < 0 && r != -ENOENT)
                        return r;
                count++;
        }
        if (count > 0) {
                r = engine_fsync_dir(e, e->log_dir);
                if (r < 0)
                        return r;
        }
        return count;
}

static void prune_overlays(Engine *e, uint64_t lsn) {
        pthread_rwlock_wrlock(&e->overlay_lock);
        for (size_t i = 0; i < e->n_databases; i++)
                for (size_t t = 0; t < e->databases[i].n_tables; t++)
                        overlay_prune(&e->databases[i].tables[t]->overlay, lsn);
        pthread_rwlock_unlock(&e->overlay_lock);
}

/*
 * checkpoint_run() - apply a queue of records (in LSN order) to every
 * database and advance jet.chk to its last LSN.
 *
 * The queue is applied in slices of at most txn_bytes_max payload bytes
 * (always at least one record), one LMDB transaction per database per
 * slice, and each slice leaves the overlay as soon as every database holds
 * it (invariant 3). A freeze between slices, or within one before its
 * commit, stops the round with -ECANCELED: the caller requeues all of it,
 * and database_apply() later skips what a database already applied. jet.chk
 * is written once, after the last slice, so it only names an LSN every
 * database has (invariant 6).
 *
 * Return: 0, -ECANCELED (freeze requested), or negative errno.
 */
int checkpoint_run(Engine *e, LogQueue *q, uint64_t txn_bytes_max) {
        uint64_t up_to;
        int r;

        if (!q->tail)
                return 0;
        up_to = q->tail->lsn;
        for (LogItem *first = q->head; first;) {
                LogItem *last = first;
                uint64_t bytes = first->payload_size;

                while (last->next && bytes + last->next->payload_size <= txn_bytes_max) {
                        last = last->next;
                        bytes += last->payload_size;
                }
                if (first != q->head && atomic_flag_get(&e->pause_requested) && !atomic_flag_get(&e->closing))
                        return -ECANCELED;
                for (size_t i = 0; i < e->n_databases; i++) {
                        r = database_apply(e, &e->databases[i], first, last->lsn);
                        if (r < 0)
                                return r;
                }
                prune_overlays(e, last->lsn);
                first = last->next;
        }

        /* Once started, a jet.chk write finishes even if a freeze arrives (invariant 5). */
        r = checkpoint_write(e, up_to);
        if (r < 0)
                return r;
        if (e->circular) {
                r = delete_generations(e, LSN_GEN(up_to));
                if (r < 0)
                        return r;
        }
        return 0;
}

static void build_spare(Engine *e) {
        _cleanup_free_ char *spare = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint32_t gen, prev;
        int r;

        gen = e->current_gen + 1;
        prev = e->current_checksum;
        e->need_spare = false;
        pthread_mutex_unlock(&e->lock);
        if (asprintf(&spare, "%s/jet.spare", e->log_dir) < 0)
                r = -ENOMEM;
        else
                r = log_create_generation(e, spare, gen, prev, &e->spare_cancel, &fd);
        pthread_mutex_lock(&e->lock);
        if (r == -ECANCELED)
                e->need_spare = true; /* frozen or closed half way: start over after thaw */
        else if (r >= 0 && e->current_gen + 1 == gen && e->current_checksum == prev)
                e->spare_gen = gen;
        /* Other errors: the writer creates the generation itself when it needs it, and reports the error then. */
}

static void run_truncations_locked(Engine *e) {
        while (e->truncates) {
                TruncateRequest *t = e->truncates;
                uint32_t below;
                int r;

                e->truncates = t->next;
                below = MIN(t->below, LSN_GEN(e->checkpoint_lsn));
                pthread_mutex_unlock(&e->lock);
                r = delete_generations(e, below);
                pthread_mutex_lock(&e->lock);
                Completion *c = calloc(1, sizeof(Completion));
                if (c) {
                        *c = (Completion) { .type = COMPLETION_DONE, .cb.done = t->cb, .userdata = t->userdata, .r = r };
                        engine_post_locked(e, c);
                }
                free(t);
        }
}

static void timespec_after(struct timespec *ts, uint64_t usec) {
        clock_gettime(CLOCK_MONOTONIC, ts);
        ts->tv_sec += (time_t) (usec / USEC_PER_SEC);
        ts->tv_nsec += (long) (usec % USEC_PER_SEC * NSEC_PER_USEC);
        if (ts->tv_nsec >= (long) NSEC_PER_SEC) {
                ts->tv_sec++;
                ts->tv_nsec -= (long) NSEC_PER_SEC;
        }
}

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/*
 * After a burst of commits the freed records and overlay nodes stay in the
 * malloc arenas of the engine's threads (the idle daemon kept 10+ MiB).
 * Once a round emptied the overlay, hand that memory back; malloc_trim()
 * walks every arena, so at most once per MALLOC_TRIM_INTERVAL_USEC. Runs
 * without locks: it only touches the allocator.
 */
static void trim_memory(Engine *e, uint64_t *last_trim) {
        uint64_t now = mono_usec();
        bool empty;

        pthread_mutex_lock(&e->lock);
        empty = e->applied.n == 0;
        pthread_mutex_unlock(&e->lock);
        /* A freeze is waiting for us to report it: trimming can take milliseconds on a large heap. */
        if (!empty || now - *last_trim < MALLOC_TRIM_INTERVAL_USEC || atomic_flag_get(&e->pause_requested))
                return;
        *last_trim = now;
        (void) malloc_trim(0);
}

void *checkpointer_main(void *userdata) {
        Engine *e = userdata;
        uint64_t last = mono_usec(), last_trim = 0;
        int r;

        pthread_mutex_lock(&e->lock);
        for (;;) {
                if (e->pause_requested && !e->paused) {
                        e->paused = true;
                        if (e->state == ENGINE_FREEZING)
                                e->state = ENGINE_FROZEN;
                        if (e->freeze_completion) {
                                Completion *c = TAKE_PTR(e->freeze_completion);
                                c->r = 0;
                                c->info = e->freeze_info;
                                c->info.checkpoint_generation = LSN_GEN(e->checkpoint_lsn);
                                engine_post_locked(e, c);
                        }
                        continue;
                }
                if (e->state == ENGINE_FAILED || (e->paused && !e->ckpt_exit)) {
                        if (e->ckpt_exit)
                                break;
                        pthread_cond_wait(&e->ckpt_cond, &e->lock);
                        continue;
                }
                if (e->truncates) {
                        run_truncations_locked(e);
                        continue;
                }
                uint64_t now = mono_usec();
                if (e->applied.n > 0 && (e->ckpt_exit || e->applied.bytes >= CHECKPOINT_EARLY_BYTES ||
                                         now - last >= e->checkpoint_interval_usec)) {
                        LogQueue q;
                        log_queue_take(&e->applied, &q);
                        pthread_mutex_unlock(&e->lock);
                        r = checkpoint_run(e, &q, e->checkpoint_txn_bytes);
                        if (r >= 0) {
                                log_queue_free(&q);
                                trim_memory(e, &last_trim);
                        }
                        pthread_mutex_lock(&e->lock);
                        last = mono_usec();
                        if (r == -ECANCELED) {
                                log_queue_prepend(&e->applied, &q);
                                continue;
                        }
                        if (r < 0) {
                                log_queue_free(&q);
                                engine_fail_locked(e, r);
                        }
                        continue;
                }
                if (e->ckpt_exit)
                        break;
                if (e->need_spare && !e->closing) {
                        build_spare(e);
                        continue;
                }
                if (e->applied.n > 0) {
                        struct timespec ts;
                        timespec_after(&ts, e->checkpoint_interval_usec - (now - last));
                        pthread_cond_timedwait(&e->ckpt_cond, &e->lock, &ts);
                } else
                        pthread_cond_wait(&e->ckpt_cond, &e->lock);
        }
        pthread_mutex_unlock(&e->lock);
        return NULL;
}
