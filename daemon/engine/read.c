/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The read API. A read looks at the overlay first and falls back to LMDB;
 * both are captured under overlay_lock (the overlay copied, the LMDB read
 * transaction begun), so the checkpointer cannot move a change from one to
 * the other in between (engine.c, invariant 3). Callable from any thread.
 */
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"

static int lookup(Engine *e, const char *database, const char *table, Database **ret_db) {
        if (!e || !database || !table)
                return -EINVAL;
        Database *d = engine_find_database(e, database, strlen(database));
        if (!d)
                return -EINVAL;
        if (strlen(table) == 0 || strlen(table) > ENGINE_NAME_SIZE_MAX || streq(table, ENGINE_RESERVED_TABLE))
                return -EINVAL;
        *ret_db = d;
        return 0;
}

static void *memdup_nonnull(const void *p, size_t n) {
        void *v = malloc(MAX(n, 1u));
        if (v && n > 0)
                memcpy(v, p, n);
        return v;
}

int engine_get(Engine *e, const char *database, const char *table, const void *key, size_t key_size,
               void **ret_value, size_t *ret_value_size) {
        Database *d;
        Table *t;
        MDB_txn *txn = NULL;
        MDB_dbi dbi;
        MDB_val v;
        void *value = NULL;
        size_t size = 0;
        int r;

        r = lookup(e, database, table, &d);
        if (r < 0)
                return r;
        if (!key || key_size == 0 || key_size > ENGINE_KEY_SIZE_MAX || !ret_value)
                return -EINVAL;

        pthread_rwlock_rdlock(&e->overlay_lock);
        t = database_find_table(d, table, strlen(table));
        if (!t) {
                pthread_rwlock_unlock(&e->overlay_lock);
                return -ENOENT;
        }
        r = overlay_get(&t->overlay, key, key_size, &value, &size);
        if (r != 0 || !t->has_dbi) {
                pthread_rwlock_unlock(&e->overlay_lock);
                if (r == 0)
                        return -ENOENT;
                if (r < 0)
                        return r;
                goto found;
        }
        dbi = t->dbi;
        r = lmdb_to_errno(mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn));
        pthread_rwlock_unlock(&e->overlay_lock);
        if (r < 0)
                return r;
        r = mdb_get(txn, dbi, &(MDB_val) { key_size, (void *) key }, &v);
        if (r == 0) {
                value = memdup_nonnull(v.mv_data, v.mv_size);
                size = v.mv_size;
                r = value ? 0 : -ENOMEM;
        } else
                r = lmdb_to_errno(r);
        mdb_txn_abort(txn);
        if (r < 0)
                return r;
found:
        *ret_value = value;
        if (ret_value_size)
                *ret_value_size = size;
        return 0;
}

void engine_records_free(EngineRecord *r, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(r[i].key);
                free(r[i].value);
        }
        free(r);
}

typedef struct RecordArray {
        EngineRecord *v;
        size_t n, alloc;
} RecordArray;

static int record_add(RecordArray *a, const void *k, size_t ks, const void *v, size_t vs) {
        if (a->n == a->alloc) {
                size_t n = MAX(a->alloc * 2, 16u);
                EngineRecord *nv = realloc(a->v, n * sizeof(EngineRecord));
                if (!nv)
                        return -ENOMEM;
                a->v = nv;
                a->alloc = n;
        }
        EngineRecord *r = &a->v[a->n];
        r->key = memdup_nonnull(k, ks);
        r->value = memdup_nonnull(v, vs);
        if (!r->key || !r->value) {
                free(r->key);
                free(r->value);
                return -ENOMEM;
        }
        r->key_size = ks;
        r->value_size = vs;
        a->n++;
        return 0;
}

int engine_scan(Engine *e, const char *database, const char *table, const void *from, size_t from_size,
                const void *to, size_t to_size, uint32_t limit, EngineRecord **ret, size_t *ret_n) {
        OverlayEntry *ov = NULL;
        size_t n_ov = 0, io = 0;
        RecordArray a = {};
        MDB_txn *txn = NULL;
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        Database *d;
        Table *t;
        bool more;
        int r;

        r = lookup(e, database, table, &d);
        if (r < 0)
                return r;
        if (!ret || !ret_n || (from_size > 0 && !from) || (to_size > 0 && !to))
                return -EINVAL;

        pthread_rwlock_rdlock(&e->overlay_lock);
        t = database_find_table(d, table, strlen(table));
        if (t) {
                r = overlay_copy_range(&t->overlay, from, from_size, to, to_size, limit, &ov, &n_ov);
                if (r >= 0 && t->has_dbi) {
                        r = lmdb_to_errno(mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn));
                        if (r >= 0)
                                r = lmdb_to_errno(mdb_cursor_open(txn, t->dbi, &cur));
                }
        }
        pthread_rwlock_unlock(&e->overlay_lock);
        if (r < 0)
                goto finish;

        /* Merge LMDB and the overlay in key order; the overlay wins on equal keys, tombstones hide. */
        more = false;
        if (cur) {
                if (from_size > 0) {
                        k = (MDB_val) { from_size, (void *) from };
                        r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
                } else
                        r = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
                more = r == 0;
                if (r != 0 && r != MDB_NOTFOUND) {
                        r = lmdb_to_errno(r);
                        goto finish;
                }
                if (more && to_size > 0 && key_compare(k.mv_data, k.mv_size, to, to_size) >= 0)
                        more = false;
        }
        r = 0;
        while ((more || io < n_ov) && (limit == 0 || a.n < limit)) {
                int c = !more ? 1 : io >= n_ov ? -1 : key_compare(k.mv_data, k.mv_size, ov[io].key, ov[io].key_size);
                if (c < 0)
                        r = record_add(&a, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
                else if (ov[io].value)
                        r = record_add(&a, ov[io].key, ov[io].key_size, ov[io].value, ov[io].value_size);
                if (r < 0)
                        goto finish;
                if (c >= 0)
                        io++;
                if (c <= 0) {
                        int q = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
                        more = q == 0 && (to_size == 0 || key_compare(k.mv_data, k.mv_size, to, to_size) < 0);
                        if (q != 0 && q != MDB_NOTFOUND) {
                                r = lmdb_to_errno(q);
                                goto finish;
                        }
                }
        }
finish:
        if (cur)
                mdb_cursor_close(cur);
        if (txn)
                mdb_txn_abort(txn);
        overlay_entries_free(ov, n_ov);
        if (r < 0) {
                engine_records_free(a.v, a.n);
                return r;
        }
        *ret = a.v;
        *ret_n = a.n;
        return 0;
}
