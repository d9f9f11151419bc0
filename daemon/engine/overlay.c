/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The overlay: per table, the committed changes the checkpointer has not
 * yet applied to LMDB, as a skip list ordered like LMDB orders keys
 * (memcmp, shorter first on a common prefix). A skip list because it
 * keeps order for scans, needs no rebalancing, and pruning everything up
 * to an LSN is one linear walk.
 *
 * Each key has at most one node holding its newest change (value or
 * tombstone) and that change's LSN. Locking is the caller's
 * (Engine.overlay_lock).
 */
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"

#define OVERLAY_LEVELS 24 /* 4^24 entries before the top level fills: far beyond any backlog */

struct OverlayNode {
        uint8_t *key;                   /* points behind next[]: one allocation per node */
        size_t key_size;
        void *value;
        size_t value_size;
        bool tombstone;
        uint64_t lsn;
        unsigned level;
        OverlayNode *next[];
};

int key_compare(const void *a, size_t an, const void *b, size_t bn) {
        int c = MIN(an, bn) > 0 ? memcmp(a, b, MIN(an, bn)) : 0;
        if (c != 0)
                return c;
        return an < bn ? -1 : an > bn;
}

int overlay_init(Overlay *o) {
        *o = (Overlay) { .level = 1, .rng = 0x9E3779B97F4A7C15u ^ (uintptr_t) o };
        o->head = calloc(1, sizeof(OverlayNode) + OVERLAY_LEVELS * sizeof(OverlayNode *));
        if (!o->head)
                return -ENOMEM;
        o->head->level = OVERLAY_LEVELS;
        return 0;
}

static void node_free(OverlayNode *n) {
        free(n->value);
        free(n);
}

void overlay_done(Overlay *o) {
        if (!o->head)
                return;
        for (OverlayNode *n = o->head->next[0], *next; n; n = next) {
                next = n->next[0];
                node_free(n);
        }
        free(o->head);
        o->head = NULL;
        o->n = 0;
}

static unsigned random_level(Overlay *o) {
        /* xorshift64: the distribution matters, the quality hardly; p = 1/4 per level. */
        o->rng ^= o->rng << 13;
        o->rng ^= o->rng >> 7;
        o->rng ^= o->rng << 17;
        unsigned l = 1;
        for (uint64_t r = o->rng; (r & 3) == 0 && l < OVERLAY_LEVELS; r >>= 2)
                l++;
        return l;
}

/* Fills update[] with the last node < key on each level; returns the first node >= key. */
static OverlayNode *find_ge(Overlay *o, const void *key, size_t key_size, OverlayNode **update) {
        OverlayNode *x = o->head;

        for (int i = (int) o->level - 1; i >= 0; i--) {
                while (x->next[i] && key_compare(x->next[i]->key, x->next[i]->key_size, key, key_size) < 0)
                        x = x->next[i];
                if (update)
                        update[i] = x;
        }
        return x->next[0];
}

int overlay_put(Overlay *o, const void *key, size_t key_size, const void *value, size_t value_size, bool tombstone,
                uint64_t lsn) {
        OverlayNode *update[OVERLAY_LEVELS];
        _cleanup_free_ void *v = NULL;

        if (!tombstone) {
                v = malloc(MAX(value_size, 1u));
                if (!v)
                        return -ENOMEM;
                memcpy(v, value, value_size);
        }

        OverlayNode *x = find_ge(o, key, key_size, update);
        if (x && key_compare(x->key, x->key_size, key, key_size) == 0) {
                free(x->value);
                x->value = TAKE_PTR(v);
                x->value_size = tombstone ? 0 : value_size;
                x->tombstone = tombstone;
                x->lsn = lsn;
                return 0;
        }

        unsigned level = random_level(o);
        OverlayNode *n = calloc(1, sizeof(OverlayNode) + level * sizeof(OverlayNode *) + key_size);
        if (!n)
                return -ENOMEM;
        n->key = (uint8_t *) &n->next[level];
        memcpy(n->key, key, key_size);
        n->key_size = key_size;
        n->value = TAKE_PTR(v);
        n->value_size = tombstone ? 0 : value_size;
        n->tombstone = tombstone;
        n->lsn = lsn;
        n->level = level;
        for (unsigned i = o->level; i < level; i++)
                update[i] = o->head;
        if (level > o->level)
                o->level = level;
        for (unsigned i = 0; i < level; i++) {
                n->next[i] = update[i]->next[i];
                update[i]->next[i] = n;
        }
        o->n++;
        return 0;
}

int overlay_get(Overlay *o, const void *key, size_t key_size, void **ret_value, size_t *ret_size) {
        OverlayNode *x = find_ge(o, key, key_size, NULL);

        if (!x || key_compare(x->key, x->key_size, key, key_size) != 0)
                return 0;
        if (x->tombstone)
                return -ENOENT;
        void *v = malloc(MAX(x->value_size, 1u));
        if (!v)
                return -ENOMEM;
        memcpy(v, x->value, x->value_size);
        *ret_value = v;
        *ret_size = x->value_size;
        return 1;
}

void overlay_prune(Overlay *o, uint64_t lsn) {
        OverlayNode *update[OVERLAY_LEVELS];

        /* update[i] is the last kept node on level i; removed nodes are unlinked from it. */
        for (unsigned i = 0; i < o->level; i++)
                update[i] = o->head;
        for (OverlayNode *x = o->head->next[0], *next; x; x = next) {
                next = x->next[0];
                if (x->lsn <= lsn) {
                        for (unsigned i = 0; i < x->level; i++)
                                update[i]->next[i] = x->next[i];
                        node_free(x);
                        o->n--;
                } else
                        for (unsigned i = 0; i < x->level; i++)
                                update[i] = x;
        }
        while (o->level > 1 && !o->head->next[o->level - 1])
                o->level--;
}

void overlay_entries_free(OverlayEntry *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(e[i].key);
                free(e[i].value);
        }
        free(e);
}

int overlay_copy_range(Overlay *o, const void *from, size_t from_size, const void *to, size_t to_size,
                       size_t max_live, OverlayEntry **ret, size_t *ret_n) {
        OverlayEntry *v = NULL;
        size_t n = 0, alloc = 0, live = 0;

        for (OverlayNode *x = find_ge(o, from, from_size, NULL); x; x = x->next[0]) {
                if (to_size > 0 && key_compare(x->key, x->key_size, to, to_size) >= 0)
                        break;
                /* A scan with a limit needs nothing after its limit-th live entry: that many records come first. */
                if (max_live > 0 && live == max_live)
                        break;
                live += !x->tombstone;
                if (n == alloc) {
                        alloc = MAX(alloc * 2, 16u);
                        OverlayEntry *nv = realloc(v, alloc * sizeof(OverlayEntry));
                        if (!nv)
                                goto oom;
                        v = nv;
                }
                OverlayEntry *en = &v[n];
                *en = (OverlayEntry) { .key_size = x->key_size, .value_size = x->value_size };
                en->key = malloc(x->key_size);
                if (!en->key)
                        goto oom;
                memcpy(en->key, x->key, x->key_size);
                n++;
                if (!x->tombstone) {
                        en->value = malloc(MAX(x->value_size, 1u));
                        if (!en->value)
                                goto oom;
                        memcpy(en->value, x->value, x->value_size);
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
oom:
        overlay_entries_free(v, n);
        return -ENOMEM;
}
