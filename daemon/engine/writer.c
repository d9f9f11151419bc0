/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The log writer thread: group commit, generation roll, freeze/thaw of
 * the log.
 *
 * Each round takes *every* queued commit, lays the records out back to back
 * in one buffer, writes it with one pwrite and makes it durable with one
 * fdatasync, and only then publishes the changes to the overlay and
 * acknowledges the commits (see engine.c, invariants 1-3). Commits that
 * arrive while a round is on disk form the next round, so the batch grows
 * with the load and the number of fdatasyncs per second stays bounded by
 * the device, not by the number of committers.
 *
 * A generation is rolled when the next record (plus an END record) no
 * longer fits: END is appended to the same write, then jet.log is renamed
 * jetNNNNNNNN.log and the next generation, preallocated in the background
 * by the checkpointer as logs/jet.spare when possible, becomes jet.log.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"

static int ensure_batch(Engine *e, size_t need) {
        if (need <= e->batch_alloc)
                return 0;
        size_t n = MAX(need, e->batch_alloc * 2);
        uint8_t *b = realloc(e->batch, n);
        if (!b)
                return -ENOMEM;
        e->batch = b;
        e->batch_alloc = n;
        return 0;
}

/* Makes generation gen the current jet.log; writer thread (or open, before the threads run). */
int writer_open_generation(Engine *e, uint32_t gen, uint32_t prev_checksum) {
        _cleanup_free_ char *cur = NULL, *spare = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        LogHeader h;
        bool use_spare;
        ssize_t k;
        int r;

        if (asprintf(&cur, "%s/jet.log", e->log_dir) < 0 || asprintf(&spare, "%s/jet.spare", e->log_dir) < 0 ||
            asprintf(&tmp, "%s/jet.tmp", e->log_dir) < 0)
                return -ENOMEM;

        pthread_mutex_lock(&e->lock);
        use_spare = e->spare_gen == gen;
        e->spare_gen = 0;
        pthread_mutex_unlock(&e->lock);

        if (use_spare) {
                /* Belt and braces: a spare is used only if its header is exactly the one we would write. */
                fd = e->io.open(e->io.userdata, spare, O_RDWR | O_CLOEXEC, 0);
                if (fd >= 0) {
                        k = e->io.pread(e->io.userdata, fd, &h, sizeof(h), 0);
                        use_spare = k == (ssize_t) sizeof(h) && log_header_check(&h, spare, NULL) >= 0 &&
                                    h.generation == gen && h.prev_checksum == prev_checksum &&
                                    memcmp(h.signature, e->signature, sizeof(h.signature)) == 0;
                        if (!use_spare)
                                fd = safe_close(fd);
                } else
                        use_spare = false;
        }
        if (use_spare) {
                r = e->io.rename(e->io.userdata, spare, cur);
                if (r < 0)
                        return r;
        } else {
                r = log_create_generation(e, tmp, gen, prev_checksum, NULL, &fd);
                if (r < 0)
                        return r;
                r = e->io.rename(e->io.userdata, tmp, cur);
                if (r < 0)
                        return r;
        }
        /* The new name must be durable before a record in it is acknowledged. */
        r = engine_fsync_dir(e, e->log_dir);
        if (r < 0)
                return r;
        k = e->io.pread(e->io.userdata, fd, &h, sizeof(h), 0);
        if (k < 0)
                return (int) k;
        if ((size_t) k != sizeof(h) || h.generation != gen || h.prev_checksum != prev_checksum)
                return -EBADMSG;

        safe_close(e->log_fd);
        e->log_fd = TAKE_FD(fd);
        e->log_gen = gen;
        e->log_offset = LOG_HEADER_SIZE;
        e->log_size = MAX(e->log_file_size, (uint64_t) LOG_HEADER_SIZE);
        e->log_header_checksum = h.checksum;

        pthread_mutex_lock(&e->lock);
        e->current_gen = gen;
        e->current_checksum = h.checksum;
        e->need_spare = true;
        pthread_cond_signal(&e->ckpt_cond);
        pthread_mutex_unlock(&e->lock);
        return 0;
}

/* Writes buf[0..used) at the current offset and makes it durable. */
static int write_durable(Engine *e, size_t used) {
        ssize_t k;

        if (used == 0)
                return 0;
        k = e->io.pwrite(e->io.userdata, e->log_fd, e->batch, used, e->log_offset);
        if (k < 0)
                return (int) k;
        /* fdatasync also covers the size change when an oversized record grew the file. */
        int r = e->io.fdatasync(e->io.userdata, e->log_fd);
        if (r < 0)
                return r;
        e->log_offset += used;
        e->log_size = MAX(e->log_size, e->log_offset);
        return 0;
}

static size_t append_end(Engine *e, size_t used) {
        uint64_t off = e->log_offset + used;
        log_record_encode(e->batch + used, LOG_RECORD_END, LSN_MAKE(e->log_gen, off), (uint32_t) e->log_offset,
                          NULL, 0);
        LogRecordHeader *h = (LogRecordHeader *) (e->batch + used);
        h->flags = LOG_RECORD_FLAG_BATCH_END;
        log_record_seal(e->batch + used);
        return used + LOG_RECORD_SIZE(0);
}

/* Closes the current generation: END record, fdatasync, rename to its archive name, fsync the directory. */
int writer_archive_generation(Engine *e) {
        _cleanup_free_ char *cur = NULL, *archived = NULL;
        int r;

        if (e->log_fd < 0)
                return 0;
        r = ensure_batch(e, LOG_RECORD_SIZE(0));
        if (r < 0)
                return r;
        r = write_durable(e, append_end(e, 0));
        if (r < 0)
                return r;
        if (asprintf(&cur, "%s/jet.log", e->log_dir) < 0)
                return -ENOMEM;
        archived = log_generation_path(e->log_dir, e->log_gen);
        if (!archived)
                return -ENOMEM;
        r = e->io.rename(e->io.userdata, cur, archived);
        if (r < 0)
                return r;
        r = engine_fsync_dir(e, e->log_dir);
        if (r < 0)
                return r;
        e->log_fd = safe_close(e->log_fd);
        return 0;
}

static void mark_batch_end(Engine *e, size_t last) {
        LogRecordHeader *h = (LogRecordHeader *) (e->batch + last);
        h->flags |= LOG_RECORD_FLAG_BATCH_END;
        log_record_seal(e->batch + last);
}

/* Writes all items of q (in order), rolling generations as needed; assigns their LSNs. */
static int write_batch(Engine *e, LogQueue *q) {
        size_t used = 0, last = 0;
        int r;

        for (LogItem *i = q->head; i; i = i->next) {
                uint64_t rs = LOG_RECORD_SIZE(i->payload_size);
                uint64_t end_size = LOG_RECORD_SIZE(0);

                /* Roll when this record would not fit, unless the generation is empty: then it simply grows. */
                if (e->log_offset + used + rs + end_size > e->log_size &&
                    e->log_offset + used > LOG_HEADER_SIZE) {
                        _cleanup_free_ char *archived = NULL, *cur = NULL;
                        uint32_t gen = e->log_gen, checksum = e->log_header_checksum;

                        r = ensure_batch(e, used + end_size);
                        if (r < 0)
                                return r;
                        r = write_durable(e, append_end(e, used));
                        if (r < 0)
                                return r;
                        used = 0;
                        if (asprintf(&cur, "%s/jet.log", e->log_dir) < 0)
                                return -ENOMEM;
                        archived = log_generation_path(e->log_dir, gen);
                        if (!archived)
                                return -ENOMEM;
                        r = e->io.rename(e->io.userdata, cur, archived);
                        if (r < 0)
                                return r;
                        /* Durable before the next rename reuses the name jet.log: never two renames in flight. */
                        r = engine_fsync_dir(e, e->log_dir);
                        if (r < 0)
                                return r;
                        r = writer_open_generation(e, gen + 1, checksum);
                        if (r < 0)
                                return r;
                }
                if (e->log_offset + used + rs > UINT32_MAX)
                        return -E2BIG; /* cannot happen with the size limits; LSN offsets are 32 bits */
                r = ensure_batch(e, used + rs + end_size);
                if (r < 0)
                        return r;
                i->lsn = LSN_MAKE(e->log_gen, e->log_offset + used);
                log_record_encode(e->batch + used, i->type, i->lsn, (uint32_t) e->log_offset, i->payload,
                                  i->payload_size);
                last = used;
                used += rs;
                if (i->next)
                        log_record_seal(e->batch + last);
        }
        if (used > 0)
                mark_batch_end(e, last);
        return write_durable(e, used);
}

/* Publishes durable changes to the overlay, before anybody hears of them. */
static int publish(Engine *e, LogQueue *q) {
        int r = 0;

        pthread_rwlock_wrlock(&e->overlay_lock);
        for (LogItem *i = q->head; i && r >= 0; i = i->next) {
                size_t offset = 0;
                LogOpView op;

                if (i->type != LOG_RECORD_TXN)
                        continue;
                while (r >= 0 && txn_payload_next(i->payload, i->payload_size, &offset, &op) > 0) {
                        Table *t = NULL;
                        Database *d = engine_find_database(e, op.database, op.database_size);
                        if (d)
                                t = database_find_table(d, op.table, op.table_size);
                        if (!t) {
                                r = -EINVAL; /* engine_commit() created every table it names */
                                break;
                        }
                        r = overlay_put(&t->overlay, op.key, op.key_size, op.value, op.value_size,
                                        op.kind == ENGINE_OP_DELETE, i->lsn);
                }
        }
        pthread_rwlock_unlock(&e->overlay_lock);
        return r;
}

static void acknowledge_locked(Engine *e, LogQueue *q) {
        for (LogItem *i = q->head, *next; i; i = next) {
                next = i->next;
                if (i->type == LOG_RECORD_BACKUP) {
                        LogBackupPayload b;
                        memcpy(&b, i->payload, sizeof(b));
                        for (size_t d = 0; d < e->n_databases; d++)
                                e->databases[d].backups[b.kind] = (EngineBackupRecord) {
                                        .gen_low = b.gen_low, .gen_high = b.gen_high, .time_usec = b.time_usec };
                }
                e->committed++;
                e->last_lsn = i->lsn;
                engine_complete_item_locked(e, i, 0);
        }
        *q = (LogQueue) {};
}

void *writer_main(void *userdata) {
        Engine *e = userdata;
        int r;

        pthread_mutex_lock(&e->lock);
        for (;;) {
                if (e->state == ENGINE_FAILED) {
                        if (e->closing)
                                break;
                        pthread_cond_wait(&e->writer_cond, &e->lock);
                        continue;
                }
                if (e->freeze_requested && !e->pause_requested && !e->thaw_pending) {
                        if (!e->log_archived) {
                                pthread_mutex_unlock(&e->lock);
                                r = writer_archive_generation(e);
                                pthread_mutex_lock(&e->lock);
                                if (r < 0) {
                                        engine_fail_locked(e, r);
                                        continue;
                                }
                                e->log_archived = true;
                        }
                        if (!e->freeze_requested || e->thaw_pending)
                                continue; /* thawed while we archived: a new generation comes first */
                        e->freeze_info.closed_generation = e->log_gen;
                        /* The log is quiet; now the checkpointer (invariant 5). */
                        __atomic_store_n(&e->pause_requested, true, __ATOMIC_RELEASE);
                        __atomic_store_n(&e->spare_cancel, true, __ATOMIC_RELEASE);
                        pthread_cond_signal(&e->ckpt_cond);
                        continue;
                }
                if (e->log_archived && (e->thaw_pending || !e->freeze_requested) &&
                    (!e->closing || e->pending.n > 0)) {
                        uint32_t gen = e->log_gen + 1, checksum = e->log_header_checksum;
                        pthread_mutex_unlock(&e->lock);
                        r = writer_open_generation(e, gen, checksum);
                        pthread_mutex_lock(&e->lock);
                        if (r < 0) {
                                engine_fail_locked(e, r);
                                continue;
                        }
                        e->log_archived = false;
                        continue;
                }
                if (e->pending.n > 0 && !e->log_archived) {
                        LogQueue q;
                        log_queue_take(&e->pending, &q);
                        pthread_mutex_unlock(&e->lock);
                        r = write_batch(e, &q);
                        if (r >= 0)
                                r = publish(e, &q);
                        pthread_mutex_lock(&e->lock);
                        if (r < 0) {
                                /* Never retry: after a failed fdatasync the page cache may lie (invariant 4). */
                                engine_fail_locked(e, r);
                                for (LogItem *i = q.head, *next; i; i = next) {
                                        next = i->next;
                                        engine_complete_item_locked(e, i, e->error);
                                }
                                continue;
                        }
                        bool was_empty = e->applied.n == 0;
                        acknowledge_locked(e, &q);
                        e->thaw_pending = false; /* what waited through the freeze is out */
                        /* The checkpointer runs on its timer; it needs a wakeup only to start that timer, or
                         * early when a lot is waiting. No wakeup per batch. */
                        if (was_empty || e->applied.bytes >= CHECKPOINT_EARLY_BYTES)
                                pthread_cond_signal(&e->ckpt_cond);
                        continue;
                }
                if (e->thaw_pending && e->pending.n == 0 && (!e->log_archived || e->closing)) {
                        e->thaw_pending = false;
                        continue;
                }
                if (e->closing && e->pending.n == 0) {
                        if (!e->log_archived) {
                                pthread_mutex_unlock(&e->lock);
                                r = writer_archive_generation(e);
                                pthread_mutex_lock(&e->lock);
                                e->log_archived = true;
                                if (r < 0)
                                        engine_fail_locked(e, r);
                        }
                        break;
                }
                pthread_cond_wait(&e->writer_cond, &e->lock);
        }
        e->writer_done = true;
        pthread_cond_broadcast(&e->writer_cond);
        pthread_mutex_unlock(&e->lock);
        return NULL;
}
