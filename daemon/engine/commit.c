/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The write API: validate a transaction, encode it as one log record
 * payload, and queue it for the log writer (writer.c). Everything is
 * checked and copied here, in the caller's thread, so the writer only ever
 * sees well-formed records and never allocates on its acknowledge path.
 */
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"

static bool table_name_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        return n > 0 && n <= ENGINE_NAME_SIZE_MAX && !streq(s, ENGINE_RESERVED_TABLE);
}

static int validate(Engine *e, const EngineOp *ops, size_t n_ops, size_t *ret_size) {
        uint64_t size = 8;

        if (n_ops == 0 || !ops)
                return -EINVAL;
        for (size_t i = 0; i < n_ops; i++) {
                const EngineOp *op = &ops[i];
                if (op->kind != ENGINE_OP_PUT && op->kind != ENGINE_OP_DELETE)
                        return -EINVAL;
                if (!op->database || !engine_find_database(e, op->database, strlen(op->database)))
                        return -EINVAL;
                if (!table_name_valid(op->table))
                        return -EINVAL;
                if (!op->key || op->key_size == 0 || op->key_size > ENGINE_KEY_SIZE_MAX)
                        return -EINVAL;
                if (op->kind == ENGINE_OP_PUT) {
                        if (op->value_size > e->value_size_max)
                                return -E2BIG;
                        if (op->value_size > 0 && !op->value)
                                return -EINVAL;
                }
                size += sizeof(LogOpHeader) + strlen(op->database) + strlen(op->table) + op->key_size +
                        (op->kind == ENGINE_OP_PUT ? op->value_size : 0);
                if (size > e->txn_size_max)
                        return -E2BIG;
        }
        *ret_size = (size_t) size;
        return 0;
}

/* Creates the tables the ops name; the count limit is checked before anything is created. */
static int ensure_tables(Engine *e, const EngineOp *ops, size_t n_ops) {
        bool all = true;
        int r = 0;

        /* The common case, every table exists, needs no lock: tables are never removed (database_find_table()). */
        for (size_t i = 0; i < n_ops && all; i++)
                all = database_find_table(engine_find_database(e, ops[i].database, strlen(ops[i].database)),
                                          ops[i].table, strlen(ops[i].table));
        if (all)
                return 0;

        pthread_rwlock_wrlock(&e->overlay_lock);
        for (size_t d = 0; d < e->n_databases && r >= 0; d++) {
                Database *db = &e->databases[d];
                size_t missing = 0;
                for (size_t i = 0; i < n_ops; i++) {
                        if (!streq(ops[i].database, db->name) ||
                            database_find_table(db, ops[i].table, strlen(ops[i].table)))
                                continue;
                        bool dup = false;
                        for (size_t j = 0; j < i && !dup; j++)
                                dup = streq(ops[j].database, db->name) && streq(ops[j].table, ops[i].table);
                        missing += !dup;
                }
                if (db->n_tables + missing > ENGINE_TABLES_MAX) {
                        r = -E2BIG;
                        break;
                }
                for (size_t i = 0; i < n_ops && r >= 0; i++)
                        if (streq(ops[i].database, db->name) &&
                            !database_find_table(db, ops[i].table, strlen(ops[i].table)))
                                r = database_add_table(db, ops[i].table, strlen(ops[i].table), NULL);
        }
        pthread_rwlock_unlock(&e->overlay_lock);
        return r;
}

static void encode(LogItem *item, const EngineOp *ops, size_t n_ops) {
        uint8_t *p = item->payload;
        uint32_t n = (uint32_t) n_ops, zero = 0;

        memcpy(p, &n, 4);
        memcpy(p + 4, &zero, 4);
        p += 8;
        for (size_t i = 0; i < n_ops; i++) {
                const EngineOp *op = &ops[i];
                size_t vs = op->kind == ENGINE_OP_PUT ? op->value_size : 0;
                LogOpHeader h = {
                        .kind = (uint8_t) op->kind,
                        .database_size = (uint8_t) strlen(op->database),
                        .table_size = (uint8_t) strlen(op->table),
                        .key_size = (uint16_t) op->key_size,
                        .value_size = (uint32_t) vs,
                };
                memcpy(p, &h, sizeof(h));
                p += sizeof(h);
                memcpy(p, op->database, h.database_size);
                p += h.database_size;
                memcpy(p, op->table, h.table_size);
                p += h.table_size;
                memcpy(p, op->key, op->key_size);
                p += op->key_size;
                if (vs > 0)
                        memcpy(p, op->value, vs);
                p += vs;
        }
}

static int state_error_locked(Engine *e) {
        if (e->state == ENGINE_FAILED)
                return e->error;
        if (e->closing)
                return -EBUSY;
        if (e->pending.n >= e->pending_max)
                return -EAGAIN;
        return 0;
}

/* Queues a prepared item; takes ownership of it in every case. */
static int enqueue(Engine *e, LogItem *item) {
        int r;

        pthread_mutex_lock(&e->lock);
        r = state_error_locked(e);
        if (r < 0) {
                pthread_mutex_unlock(&e->lock);
                free(item->completion);
                free(item);
                return r;
        }
        log_queue_push(&e->pending, item);
        /* The writer only waits when the queue was empty, so a wakeup is needed only then. */
        if (e->pending.n == 1)
                pthread_cond_signal(&e->writer_cond);
        pthread_mutex_unlock(&e->lock);
        return 0;
}

static int prepare(Engine *e, const EngineOp *ops, size_t n_ops, LogItem **ret) {
        size_t size;
        LogItem *item;
        int r;

        r = validate(e, ops, n_ops, &size);
        if (r < 0)
                return r;
        pthread_mutex_lock(&e->lock);
        r = state_error_locked(e);
        pthread_mutex_unlock(&e->lock);
        if (r < 0)
                return r;
        r = ensure_tables(e, ops, n_ops);
        if (r < 0)
                return r;
        r = log_item_new(LOG_RECORD_TXN, size, &item);
        if (r < 0)
                return r;
        encode(item, ops, n_ops);
        *ret = item;
        return 0;
}

int engine_commit(Engine *e, const EngineOp *ops, size_t n_ops, engine_commit_cb cb, void *userdata) {
        LogItem *item;
        int r;

        if (!e)
                return -EINVAL;
        r = prepare(e, ops, n_ops, &item);
        if (r < 0)
                return r;
        item->completion = calloc(1, sizeof(Completion));
        if (!item->completion) {
                free(item);
                return -ENOMEM;
        }
        *item->completion = (Completion) { .type = COMPLETION_COMMIT, .cb.commit = cb, .userdata = userdata };
        return enqueue(e, item);
}

int engine_commit_wait(Engine *e, const EngineOp *ops, size_t n_ops, uint64_t *ret_lsn) {
        Waiter w = {};
        LogItem *item;
        int r;

        if (!e)
                return -EINVAL;
        r = prepare(e, ops, n_ops, &item);
        if (r < 0)
                return r;
        /* One condition variable per waiter: an acknowledged batch wakes exactly its own committers. */
        pthread_cond_init(&w.cond, NULL);
        item->waiter = &w;
        r = enqueue(e, item);
        if (r >= 0) {
                pthread_mutex_lock(&e->lock);
                while (!w.done)
                        pthread_cond_wait(&w.cond, &e->lock);
                pthread_mutex_unlock(&e->lock);
        }
        pthread_cond_destroy(&w.cond);
        if (r < 0)
                return r;
        if (w.r < 0)
                return w.r;
        if (ret_lsn)
                *ret_lsn = w.lsn;
        return 0;
}

int engine_record_backup(Engine *e, EngineBackupKind kind, uint32_t gen_low, uint32_t gen_high,
                         uint64_t time_usec, engine_done_cb cb, void *userdata) {
        LogBackupPayload b = { .kind = (uint32_t) kind, .gen_low = gen_low, .gen_high = gen_high,
                               .time_usec = time_usec };
        LogItem *item;
        int r;

        if (!e || kind < 0 || kind >= _ENGINE_BACKUP_KIND_MAX || gen_low > gen_high)
                return -EINVAL;
        r = log_item_new(LOG_RECORD_BACKUP, sizeof(b), &item);
        if (r < 0)
                return r;
        memcpy(item->payload, &b, sizeof(b));
        item->completion = calloc(1, sizeof(Completion));
        if (!item->completion) {
                free(item);
                return -ENOMEM;
        }
        *item->completion = (Completion) { .type = COMPLETION_DONE, .cb.done = cb, .userdata = userdata };
        return enqueue(e, item);
}
