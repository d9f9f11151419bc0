/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Databases: one LMDB environment per database file (MDB_NOSUBDIR), one
 * LMDB named database per table, plus the reserved table
 * ENGINE_RESERVED_TABLE holding
 *
 *     "instance-signature"  16 bytes: the instance this database belongs to
 *     "database-signature"  16 bytes: random at creation
 *     "applied-lsn"         le64: every record up to this LSN is applied
 *     "backup-<kind>"       EngineBackupRecord as le32, le32, le64
 *
 * The checkpointer is the only writer (invariant 6 in engine.c); it stores
 * "applied-lsn" in the same LMDB transaction as the data it applied, so the
 * two can never disagree after a crash.
 *
 * LMDB's rule that a dbi must not be opened by two transactions at once is
 * kept by opening every existing table at database_open() and new ones in
 * the checkpointer's write transaction only; readers use only handles that
 * were published (has_dbi) after that transaction committed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "engine-internal.h"

static const char *const backup_keys[_ENGINE_BACKUP_KIND_MAX] = {
        [ENGINE_BACKUP_FULL] = "backup-full",
        [ENGINE_BACKUP_INCREMENTAL] = "backup-incremental",
        [ENGINE_BACKUP_COPY] = "backup-copy",
        [ENGINE_BACKUP_INCREMENTAL_COPY] = "backup-incremental-copy",
};

int lmdb_to_errno(int r) {
        if (r == 0)
                return 0;
        if (r > 0)
                return -r;
        switch (r) {
        case MDB_NOTFOUND:
                return -ENOENT;
        case MDB_MAP_FULL:
        case MDB_DBS_FULL:
        case MDB_TXN_FULL:
                return -ENOSPC;
        case MDB_INVALID:
        case MDB_CORRUPTED:
        case MDB_PAGE_NOTFOUND:
        case MDB_VERSION_MISMATCH:
                return -EBADMSG;
        default:
                return -EIO;
        }
}

Table *database_find_table(Database *d, const char *name, size_t name_size) {
        size_t n = __atomic_load_n(&d->n_tables, __ATOMIC_ACQUIRE);

        for (size_t i = 0; i < n; i++)
                if (strlen(d->tables[i]->name) == name_size && memcmp(d->tables[i]->name, name, name_size) == 0)
                        return d->tables[i];
        return NULL;
}

int database_add_table(Database *d, const char *name, size_t name_size, Table **ret) {
        Table *t;
        int r;

        if (d->n_tables >= ENGINE_TABLES_MAX)
                return -E2BIG;
        t = calloc(1, sizeof(Table));
        if (!t)
                return -ENOMEM;
        t->name = strndup(name, name_size);
        r = t->name ? overlay_init(&t->overlay) : -ENOMEM;
        if (r < 0) {
                free(t->name);
                free(t);
                return r;
        }
        d->tables[d->n_tables] = t;
        __atomic_store_n(&d->n_tables, d->n_tables + 1, __ATOMIC_RELEASE);
        if (ret)
                *ret = t;
        return 0;
}

static int read_reserved(Database *d, MDB_txn *txn, Engine *e, bool *ret_new, char **reterr_message) {
        MDB_val v;
        int r;

        r = mdb_get(txn, d->reserved_dbi, &(MDB_val) { .mv_size = 18, .mv_data = (void *) "instance-signature" },
                    &v);
        if (r == MDB_NOTFOUND) {
                uint8_t dbsig[16];
                uint64_t zero = 0;
                if (getrandom(dbsig, sizeof(dbsig), 0) != sizeof(dbsig))
                        return -errno;
                r = mdb_put(txn, d->reserved_dbi, &(MDB_val) { 18, (void *) "instance-signature" },
                            &(MDB_val) { 16, e->signature }, 0);
                if (r == 0)
                        r = mdb_put(txn, d->reserved_dbi, &(MDB_val) { 18, (void *) "database-signature" },
                                    &(MDB_val) { 16, dbsig }, 0);
                if (r == 0)
                        r = mdb_put(txn, d->reserved_dbi, &(MDB_val) { 11, (void *) "applied-lsn" },
                                    &(MDB_val) { 8, &zero }, 0);
                *ret_new = true;
                return lmdb_to_errno(r);
        }
        if (r != 0)
                return lmdb_to_errno(r);
        if (v.mv_size != 16 || memcmp(v.mv_data, e->signature, 16) != 0) {
                (void) asprintf_safe(reterr_message,
                                     "%s: reserved table: instance signature mismatch (the database belongs to "
                                     "another instance)",
                                     d->path);
                return -EBADMSG;
        }
        r = mdb_get(txn, d->reserved_dbi, &(MDB_val) { 11, (void *) "applied-lsn" }, &v);
        if (r != 0 || v.mv_size != 8) {
                (void) asprintf_safe(reterr_message, "%s: reserved table: applied LSN missing or malformed",
                                     d->path);
                return -EBADMSG;
        }
        memcpy(&d->applied_lsn, v.mv_data, 8);
        for (int k = 0; k < _ENGINE_BACKUP_KIND_MAX; k++) {
                r = mdb_get(txn, d->reserved_dbi, &(MDB_val) { strlen(backup_keys[k]), (void *) backup_keys[k] },
                            &v);
                if (r == MDB_NOTFOUND)
                        continue;
                if (r != 0)
                        return lmdb_to_errno(r);
                if (v.mv_size != sizeof(EngineBackupRecord))
                        return -EBADMSG;
                memcpy(&d->backups[k], v.mv_data, sizeof(EngineBackupRecord));
        }
        *ret_new = false;
        return 0;
}

/* Opens every table LMDB already has, so readers never need mdb_dbi_open(). */
static int open_tables(Database *d, MDB_txn *txn) {
        MDB_cursor *c;
        MDB_dbi main_dbi;
        MDB_val k, v;
        int r;

        r = mdb_dbi_open(txn, NULL, 0, &main_dbi);
        if (r != 0)
                return lmdb_to_errno(r);
        r = mdb_cursor_open(txn, main_dbi, &c);
        if (r != 0)
                return lmdb_to_errno(r);
        for (r = mdb_cursor_get(c, &k, &v, MDB_FIRST); r == 0; r = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
                Table *t;
                MDB_dbi dbi;
                if (k.mv_size == strlen(ENGINE_RESERVED_TABLE) &&
                    memcmp(k.mv_data, ENGINE_RESERVED_TABLE, k.mv_size) == 0)
                        continue;
                _cleanup_free_ char *name = strndup(k.mv_data, k.mv_size);
                if (!name) {
                        r = ENOMEM;
                        break;
                }
                r = mdb_dbi_open(txn, name, 0, &dbi);
                if (r != 0)
                        break;
                r = database_add_table(d, k.mv_data, k.mv_size, &t);
                if (r < 0) {
                        mdb_cursor_close(c);
                        return r;
                }
                t->dbi = dbi;
                t->has_dbi = true;
        }
        mdb_cursor_close(c);
        return r == MDB_NOTFOUND ? 0 : lmdb_to_errno(r);
}

int database_open(Engine *e, Database *d, bool must_exist, char **reterr_message) {
        MDB_txn *txn = NULL;
        bool created = false;
        int r;

        if (must_exist && access(d->path, F_OK) < 0) {
                r = -errno;
                (void) asprintf_safe(reterr_message, "%s: database listed in jet.chk cannot be opened: %s", d->path,
                                     strerror(-r));
                return r;
        }
        r = mdb_env_create(&d->env);
        if (r == 0)
                r = mdb_env_set_mapsize(d->env, d->map_size);
        if (r == 0)
                r = mdb_env_set_maxdbs(d->env, ENGINE_TABLES_MAX + 1);
        /* MDB_NOTLS: read transactions are begun from any thread (engine_get() is thread-safe). */
        if (r == 0)
                r = mdb_env_open(d->env, d->path, MDB_NOSUBDIR | MDB_NOTLS, 0640);
        if (r != 0) {
                (void) asprintf_safe(reterr_message, "%s: cannot open database: %s", d->path, mdb_strerror(r));
                return lmdb_to_errno(r);
        }
        r = mdb_txn_begin(d->env, NULL, 0, &txn);
        if (r != 0)
                return lmdb_to_errno(r);
        r = mdb_dbi_open(txn, ENGINE_RESERVED_TABLE, MDB_CREATE, &d->reserved_dbi);
        if (r != 0) {
                mdb_txn_abort(txn);
                return lmdb_to_errno(r);
        }
        r = read_reserved(d, txn, e, &created, reterr_message);
        d->created = created;
        if (r >= 0)
                r = open_tables(d, txn);
        if (r < 0) {
                mdb_txn_abort(txn);
                return r;
        }
        r = lmdb_to_errno(mdb_txn_commit(txn));
        if (r < 0)
                (void) asprintf_safe(reterr_message, "%s: cannot initialise database: %s", d->path, strerror(-r));
        return r;
}

void database_close(Database *d) {
        for (size_t i = 0; i < d->n_tables; i++) {
                overlay_done(&d->tables[i]->overlay);
                free(d->tables[i]->name);
                free(d->tables[i]);
        }
        d->n_tables = 0;
        if (d->env)
                mdb_env_close(d->env);
        d->env = NULL;
}

/* What one database_apply() has done since it last looked at a freeze request. */
typedef struct ApplyProgress {
        size_t ops, bytes;
} ApplyProgress;

/*
 * A freeze must not wait for a large round to be applied only to throw it
 * away (invariant 5), so the apply loop looks at pause_requested every
 * APPLY_CHECK_OPS operations or APPLY_CHECK_BYTES of keys and values,
 * whichever comes first: an acquire load is cheap, but not free next to
 * an mdb_put() of a small row. While closing, the round must finish.
 */
static int apply_progress(Engine *e, ApplyProgress *p, size_t bytes) {
        void (*hook)(Engine *e) = __atomic_load_n(&e->apply_op_hook, __ATOMIC_ACQUIRE);

        if (hook)
                hook(e);
        p->ops++;
        p->bytes += bytes;
        if (p->ops < APPLY_CHECK_OPS && p->bytes < APPLY_CHECK_BYTES)
                return 0;
        *p = (ApplyProgress) {};
        if (atomic_flag_get(&e->pause_requested) && !atomic_flag_get(&e->closing))
                return -ECANCELED;
        return 0;
}

static int apply_txn(Engine *e, Database *d, MDB_txn *txn, const LogItem *i, Table **created, size_t *n_created,
                     ApplyProgress *progress) {
        size_t offset = 0;
        LogOpView op;
        int r;

        while ((r = txn_payload_next(i->payload, i->payload_size, &offset, &op)) > 0) {
                Table *t;
                if (op.database_size != strlen(d->name) || memcmp(op.database, d->name, op.database_size) != 0)
                        continue;
                t = database_find_table(d, op.table, op.table_size);
                if (!t)
                        return -EINVAL;
                if (!t->has_dbi && !t->has_new_dbi) {
                        r = mdb_dbi_open(txn, t->name, MDB_CREATE, &t->new_dbi);
                        if (r != 0)
                                return lmdb_to_errno(r);
                        /* Valid in this txn only until it commits; published by database_apply(). */
                        t->has_new_dbi = true;
                        created[(*n_created)++] = t;
                }
                MDB_dbi dbi = t->has_dbi ? t->dbi : t->new_dbi;
                if (op.kind == ENGINE_OP_PUT)
                        r = mdb_put(txn, dbi, &(MDB_val) { op.key_size, (void *) op.key },
                                    &(MDB_val) { op.value_size, (void *) op.value }, 0);
                else {
                        r = mdb_del(txn, dbi, &(MDB_val) { op.key_size, (void *) op.key }, NULL);
                        if (r == MDB_NOTFOUND)
                                r = 0;
                }
                if (r != 0)
                        return lmdb_to_errno(r);
                r = apply_progress(e, progress, op.key_size + op.value_size);
                if (r < 0)
                        return r;
        }
        return r;
}

int database_apply(Engine *e, Database *d, LogItem *items, uint64_t up_to_lsn) {
        Table *created[ENGINE_TABLES_MAX];
        size_t n_created = 0;
        MDB_txn *txn = NULL;
        int r;

        if (up_to_lsn <= d->applied_lsn)
                return 0;
        r = mdb_txn_begin(d->env, NULL, 0, &txn);
        if (r != 0)
                return lmdb_to_errno(r);
        ApplyProgress progress = {};
        /* Items are in LSN order: stop at the first one past up_to_lsn. */
        for (LogItem *i = items; i && i->lsn <= up_to_lsn && r >= 0; i = i->next) {
                if (i->lsn <= d->applied_lsn)
                        continue;
                if (i->type == LOG_RECORD_TXN)
                        r = apply_txn(e, d, txn, i, created, &n_created, &progress);
                else if (i->type == LOG_RECORD_BACKUP) {
                        LogBackupPayload b;
                        memcpy(&b, i->payload, sizeof(b));
                        EngineBackupRecord rec = { .gen_low = b.gen_low, .gen_high = b.gen_high,
                                                   .time_usec = b.time_usec };
                        r = lmdb_to_errno(mdb_put(txn, d->reserved_dbi,
                                                  &(MDB_val) { strlen(backup_keys[b.kind]), (void *) backup_keys[b.kind] },
                                                  &(MDB_val) { sizeof(rec), &rec }, 0));
                }
        }
        if (r >= 0)
                r = lmdb_to_errno(mdb_put(txn, d->reserved_dbi, &(MDB_val) { 11, (void *) "applied-lsn" },
                                          &(MDB_val) { 8, &up_to_lsn }, 0));
        /* Freeze: a transaction not yet committing is abandoned (invariant 5). */
        if (r >= 0 && atomic_flag_get(&e->pause_requested) && !atomic_flag_get(&e->closing))
                r = -ECANCELED;
        if (r >= 0)
                r = e->io.before_lmdb_commit(e->io.userdata, d->path);
        if (r < 0) {
                mdb_txn_abort(txn);
                for (size_t k = 0; k < n_created; k++)
                        created[k]->has_new_dbi = false;
                return r;
        }
        r = lmdb_to_errno(mdb_txn_commit(txn));
        if (n_created > 0) {
                pthread_rwlock_wrlock(&e->overlay_lock);
                for (size_t k = 0; k < n_created; k++) {
                        created[k]->dbi = created[k]->new_dbi;
                        created[k]->has_dbi = r >= 0;
                        created[k]->has_new_dbi = false;
                }
                pthread_rwlock_unlock(&e->overlay_lock);
        }
        if (r < 0)
                return r;
        d->applied_lsn = up_to_lsn;
        return 0;
}
