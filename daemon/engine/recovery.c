/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Recovery, run by engine_open() before the threads start (and so by
 * engine_recover_offline()).
 *
 *   1. Read jet.chk (or create the instance if there is neither a
 *      checkpoint nor a log). Open the databases; one that belongs to
 *      another instance, or one jet.chk lists that is gone, stops us.
 *   2. Walk the generations from the oldest LSN some database still needs
 *      to the newest: every header must check out and chain to the
 *      previous one; every archived generation must read cleanly up to its
 *      END record; the newest one (jet.log) may end in a torn write, which
 *      is cut off — unless a later complete write follows the damage, which
 *      means acknowledged data is unreadable: corruption.
 *   3. While walking, apply what the databases lack in batches of
 *      recovery_batch_size bytes (database_apply() skips what each has):
 *      one LMDB transaction per database per batch, holding the applied
 *      LSN, then jet.chk — the same code path as the checkpointer. So
 *      memory stays bounded however long the log is.
 *   4. Close the recovered jet.log (END record at the cut, rename) and start
 *      a new generation, so nothing is ever appended after a torn region
 *      and a recovered log is never written again.
 *
 * WHY APPLYING BEFORE THE WHOLE LOG IS READ IS SAFE
 *
 * A batch is applied only once every record in it was read and checked:
 * its generation's header checks out, belongs to this instance and chains
 * to the previous generation; the record's CRC32C and LSN (which encodes
 * generation and offset) check out; its payload parses and names only
 * configured databases. What can still be found later is damage *after*
 * the batch: a bad record, a missing generation, a broken chain, a torn
 * tail. Each of these only ever cuts the log at or after the point where it
 * is found — the torn-tail rule discards records after the first bad one,
 * never before it, and corruption refuses to open without touching what
 * precedes it. So every record we apply early is one that the
 * all-at-once approach would also have applied (when recovery succeeds),
 * or else the databases hold a prefix of the log in commit order (LSN
 * order is commit order, and a record is one whole transaction, applied
 * in one LMDB transaction), which is a state the instance really was in,
 * stamped with the LSN it corresponds to. Nothing that might turn out to
 * be garbage is ever applied, and nothing acknowledged is dropped: a
 * refused instance whose log is repaired (a missing generation put back)
 * resumes from each database's applied LSN.
 *
 * A crash (or SIGKILL) during recovery is recoverable for the same reason
 * a crash of the checkpointer is: each database's applied LSN is committed
 * in the same LMDB transaction as the data, so a database is always at a
 * record boundary; jet.chk only ever names an LSN every database has
 * applied; the log is not written until step 4, whose two steps (END
 * record + fdatasync, then rename + directory fsync) are each either done
 * or not, and a stale jet.tmp from the new generation is removed at start.
 *
 * Recovery deletes no generation, even with circular logging (current_gen
 * stays 0 until the walk is done, which makes delete_generations() a
 * no-op): until the walk is done, we do not know the instance will open.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "engine-internal.h"

int log_walk_generation(const EngineIO *io, LogFile *f, bool newest, log_record_fn fn, void *userdata,
                        uint64_t *ret_end, bool *ret_closed, char **reterr_message) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t buf_alloc = 0;
        uint64_t offset = LOG_HEADER_SIZE;
        int r;

        for (;;) {
                _cleanup_free_ char *msg = NULL;
                LogRecordHeader h;

                r = log_read_record(io, f, offset, &h, &buf, &buf_alloc, &msg);
                if (r == LOG_READ_RECORD) {
                        if (h.type == LOG_RECORD_END) {
                                *ret_end = offset;
                                *ret_closed = true;
                                return 0;
                        }
                        if (fn) {
                                r = fn(f, offset, &h, buf, userdata, reterr_message);
                                if (r < 0)
                                        return r;
                        }
                        offset += LOG_RECORD_SIZE(h.payload_size);
                        continue;
                }
                if (r != LOG_READ_EOF && r != -EBADMSG)
                        return r;
                if (!newest) {
                        if (r == LOG_READ_EOF)
                                (void) asprintf_safe(reterr_message,
                                                     "%s: offset %" PRIu64
                                                     ": archived generation ends without an end-of-generation record",
                                                     f->path, offset);
                        else if (reterr_message)
                                *reterr_message = TAKE_PTR(msg);
                        return -EBADMSG;
                }
                r = log_find_later_batch(io, f, offset);
                if (r < 0)
                        return r;
                if (r > 0) {
                        if (msg && reterr_message)
                                *reterr_message = TAKE_PTR(msg);
                        else
                                (void) asprintf_safe(reterr_message,
                                                     "%s: offset %" PRIu64
                                                     ": unreadable region followed by later complete records",
                                                     f->path, offset);
                        return -EBADMSG;
                }
                *ret_end = offset; /* torn tail: the normal end of the log */
                *ret_closed = false;
                return 0;
        }
}

typedef struct ReplayContext {
        Engine *e;
        uint64_t after_lsn;
        LogQueue queue;                 /* checked records not yet applied: at most one batch */
        uint64_t last_lsn;
} ReplayContext;

/* Applies and drops the queued records (step 3); also the final apply. */
static int replay_flush(ReplayContext *c, char **reterr_message) {
        int r;

        /* One LMDB transaction per database for the whole batch: recovery_batch_size already bounds it. */
        r = checkpoint_run(c->e, &c->queue, UINT64_MAX);
        log_queue_free(&c->queue);
        if (r < 0)
                (void) asprintf_safe(reterr_message, "applying the log to the databases failed: %s", strerror(-r));
        return r;
}

static int replay_record(LogFile *f, uint64_t offset, const LogRecordHeader *h, const uint8_t *payload,
                         void *userdata, char **reterr_message) {
        ReplayContext *c = userdata;
        Engine *e = c->e;
        LogItem *item;
        int r;

        c->last_lsn = h->lsn;
        if (h->lsn <= c->after_lsn)
                return 0;
        if (h->type == LOG_RECORD_TXN) {
                _cleanup_free_ char *msg = NULL;
                size_t o = 0;
                LogOpView op;

                r = txn_payload_validate(e, payload, h->payload_size, &msg);
                if (r < 0) {
                        (void) asprintf_safe(reterr_message, "%s: offset %" PRIu64 ": %s", f->path, offset,
                                             msg ?: "malformed transaction record");
                        return r;
                }
                while (txn_payload_next(payload, h->payload_size, &o, &op) > 0) {
                        Database *d = engine_find_database(e, op.database, op.database_size);
                        if (!database_find_table(d, op.table, op.table_size)) {
                                r = database_add_table(d, op.table, op.table_size, NULL);
                                if (r < 0)
                                        return r;
                        }
                }
        } else if (h->type == LOG_RECORD_BACKUP) {
                LogBackupPayload b;
                if (h->payload_size != sizeof(b)) {
                        (void) asprintf_safe(reterr_message, "%s: offset %" PRIu64 ": malformed backup record",
                                             f->path, offset);
                        return -EBADMSG;
                }
                memcpy(&b, payload, sizeof(b));
                if (b.kind >= _ENGINE_BACKUP_KIND_MAX)
                        return -EBADMSG;
                for (size_t i = 0; i < e->n_databases; i++)
                        if (h->lsn > e->databases[i].applied_lsn)
                                e->databases[i].backups[b.kind] = (EngineBackupRecord) {
                                        .gen_low = b.gen_low, .gen_high = b.gen_high, .time_usec = b.time_usec };
        }
        r = log_item_new(h->type, h->payload_size, &item);
        if (r < 0)
                return r;
        memcpy(item->payload, payload, h->payload_size);
        item->lsn = h->lsn;
        log_queue_push(&c->queue, item);
        /* Count the items themselves too: a log of tiny records must not grow memory either. */
        if (c->queue.bytes + c->queue.n * sizeof(LogItem) >= e->recovery_batch_size)
                return replay_flush(c, reterr_message);
        return 0;
}

static void remove_stale(Engine *e) {
        static const char *const names[] = { "logs/jet.spare", "logs/jet.tmp", "jet.chk.tmp" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/%s", e->path, names[i]) >= 0)
                        (void) e->io.unlink(e->io.userdata, p);
        }
}

static int create_instance(Engine *e, char **reterr_message) {
        int r;

        if (getrandom(e->signature, sizeof(e->signature), 0) != sizeof(e->signature))
                return -errno;
        /* jet.chk first: it is what makes the directory an instance. Until generation 1 holds a record,
         * a crash anywhere in here leaves an instance that opens as empty (see recovery_run()). */
        r = checkpoint_write(e, LSN_MAKE(1, 0));
        if (r < 0)
                return r;
        for (size_t i = 0; i < e->n_databases; i++) {
                r = database_open(e, &e->databases[i], false, reterr_message);
                if (r < 0)
                        return r;
        }
        return writer_open_generation(e, 1, 0);
}

/* Closes a recovered jet.log: END at the cut, then the archive name. */
static int close_recovered(Engine *e, uint32_t gen, uint64_t end, bool closed) {
        _cleanup_free_ char *cur = NULL, *archived = NULL;
        int r;

        if (asprintf(&cur, "%s/jet.log", e->log_dir) < 0 || !(archived = log_generation_path(e->log_dir, gen)))
                return -ENOMEM;
        if (!closed) {
                e->log_fd = e->io.open(e->io.userdata, cur, O_RDWR | O_CLOEXEC, 0);
                if (e->log_fd < 0)
                        return e->log_fd;
                e->log_gen = gen;
                e->log_offset = end;
                r = writer_archive_generation(e); /* END, fdatasync, rename, fsync dir */
                e->log_fd = safe_close(e->log_fd);
                return r;
        }
        r = e->io.rename(e->io.userdata, cur, archived);
        if (r < 0)
                return r;
        return engine_fsync_dir(e, e->log_dir);
}

int recovery_run(Engine *e, char **reterr_message) {
        _cleanup_free_ uint32_t *gens = NULL;
        _cleanup_(checkpoint_done) Checkpoint chk = {};
        ReplayContext ctx = { .e = e };
        uint32_t newest = 0, start_gen, prev_checksum = 0, current = 0;
        bool has_current;
        size_t n_gens;
        uint64_t start;
        int r;

        remove_stale(e);
        r = log_list_generations(e->log_dir, &gens, &n_gens, &has_current);
        if (r < 0)
                return r;
        r = checkpoint_read(&e->io, e->chk_path, &chk, reterr_message);
        if (r == -ENOENT) {
                if (n_gens > 0 || has_current) {
                        (void) asprintf_safe(reterr_message, "%s: missing, but the log directory has generations",
                                             e->chk_path);
                        return -EBADMSG;
                }
                return create_instance(e, reterr_message);
        }
        if (r < 0)
                return r;
        memcpy(e->signature, chk.signature, sizeof(e->signature));
        e->checkpoint_lsn = chk.lsn;

        start = chk.lsn;
        for (size_t i = 0; i < e->n_databases; i++) {
                Database *d = &e->databases[i];
                bool listed = false, pristine = chk.lsn == LSN_MAKE(1, 0);
                for (size_t j = 0; j < chk.n_databases && !listed; j++)
                        listed = streq(chk.databases[j].name, d->name);
                /* A listed database may only be missing if nothing was ever checkpointed into it. */
                r = database_open(e, d, listed && !pristine, reterr_message);
                if (r < 0)
                        return r;
                if (d->created && listed && !pristine) {
                        (void) asprintf_safe(reterr_message, "%s: database listed in jet.chk has no jetsnap signature",
                                             d->path);
                        return -EBADMSG;
                }
                /* Applied LSN 0: stamped, never checkpointed into; the log starts at generation 1. */
                if (!d->created)
                        start = MIN(start, MAX(d->applied_lsn, LSN_MAKE(1, 0)));
        }
        start_gen = LSN_GEN(start);

        if (n_gens > 0)
                newest = gens[n_gens - 1];
        if (has_current) {
                _cleanup_free_ char *p = NULL;
                LogFile f;
                if (asprintf(&p, "%s/jet.log", e->log_dir) < 0)
                        return -ENOMEM;
                r = log_file_open(&e->io, p, &f, reterr_message);
                if (r < 0)
                        return r;
                current = f.header.generation;
                log_file_close(&f);
                if (current <= newest) {
                        (void) asprintf_safe(reterr_message,
                                             "%s: offset 0: generation %u, but archived generation %u exists", p,
                                             current, newest);
                        return -EBADMSG;
                }
                newest = current;
        }
        if (newest == 0 && LSN_OFFSET(chk.lsn) == 0 && LSN_GEN(chk.lsn) == 1)
                /* Created, but generation 1 never made it to disk: nothing was ever committed. */
                return writer_open_generation(e, 1, 0);
        if (newest < start_gen) {
                (void) asprintf_safe(reterr_message, "%s/jet%08X.log: missing (recovery starts there)", e->log_dir,
                                     start_gen);
                return -ENOENT;
        }

        uint32_t last_gen = 0;
        for (uint32_t g = start_gen; g <= newest; g++) {
                _cleanup_free_ char *p = g == current ? NULL : log_generation_path(e->log_dir, g);
                bool closed = false;
                uint64_t end = 0;
                LogFile f;

                if (g == current && asprintf(&p, "%s/jet.log", e->log_dir) < 0)
                        return -ENOMEM;
                if (!p)
                        return -ENOMEM;
                r = log_file_open(&e->io, p, &f, reterr_message);
                if (r == -ENOENT) {
                        if (reterr_message) /* replaces log_file_open()'s "cannot open" */
                                *reterr_message = mfree(*reterr_message);
                        (void) asprintf_safe(reterr_message, "%s: missing (needed by recovery)", p);
                        log_queue_free(&ctx.queue);
                        return -ENOENT;
                }
                if (r >= 0 && memcmp(f.header.signature, e->signature, 16) != 0) {
                        (void) asprintf_safe(reterr_message, "%s: offset 0: log belongs to another instance", p);
                        r = -EBADMSG;
                } else if (r >= 0 && f.header.generation != g) {
                        (void) asprintf_safe(reterr_message, "%s: offset 0: header names generation %u", p,
                                             f.header.generation);
                        r = -EBADMSG;
                } else if (r >= 0 && g > start_gen && f.header.prev_checksum != prev_checksum) {
                        (void) asprintf_safe(reterr_message,
                                             "%s: offset 0: header chain broken (previous generation's checksum "
                                             "0x%08x, header expects 0x%08x)",
                                             p, prev_checksum, f.header.prev_checksum);
                        r = -EBADMSG;
                }
                if (r >= 0) {
                        ctx.after_lsn = start;
                        r = log_walk_generation(&e->io, &f, g == current, replay_record, &ctx, &end, &closed,
                                                reterr_message);
                        prev_checksum = f.header.checksum;
                }
                log_file_close(&f);
                if (r >= 0 && g == current)
                        r = close_recovered(e, g, end, closed);
                if (r < 0) {
                        log_queue_free(&ctx.queue);
                        return r;
                }
                last_gen = g;
        }

        e->current_gen = last_gen + 1;
        e->last_lsn = ctx.last_lsn;
        r = replay_flush(&ctx, reterr_message);
        if (r < 0)
                return r;
        return writer_open_generation(e, last_gen + 1, prev_checksum);
}
