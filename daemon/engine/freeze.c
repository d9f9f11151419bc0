/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Snapshot support: freeze/thaw (the handshake itself lives in the two
 * threads, see engine.c invariant 5), backup bookkeeping, truncation,
 * and the read-only accessors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine-internal.h"

int engine_freeze(Engine *e, engine_freeze_cb cb, void *userdata) {
        Completion *c;

        if (!e)
                return -EINVAL;
        c = calloc(1, sizeof(Completion));
        if (!c)
                return -ENOMEM;
        pthread_mutex_lock(&e->lock);
        if (e->state != ENGINE_RUNNING) {
                int r = e->state == ENGINE_FAILED ? e->error : -EBUSY;
                pthread_mutex_unlock(&e->lock);
                free(c);
                return r;
        }
        e->state = ENGINE_FREEZING;
        e->freeze_seq++;
        *c = (Completion) { .type = COMPLETION_FREEZE, .cb.freeze = cb, .userdata = userdata,
                            .freeze_seq = e->freeze_seq };
        e->freeze_completion = c;
        e->freeze_info = (EngineFreezeInfo) {};
        e->freeze_requested = true;
        pthread_cond_signal(&e->writer_cond);
        pthread_mutex_unlock(&e->lock);
        return 0;
}

int engine_thaw(Engine *e) {
        if (!e)
                return -EINVAL;
        pthread_mutex_lock(&e->lock);
        if (e->state != ENGINE_FREEZING && e->state != ENGINE_FROZEN) {
                pthread_mutex_unlock(&e->lock);
                return -EBUSY;
        }
        engine_thaw_locked(e);
        pthread_mutex_unlock(&e->lock);
        return 0;
}

static bool is_incremental(EngineBackupKind kind) {
        return kind == ENGINE_BACKUP_INCREMENTAL || kind == ENGINE_BACKUP_INCREMENTAL_COPY;
}

/* First generation an incremental backup needs: after the newest full/incremental in every database. */
static int incremental_base_locked(Engine *e, uint32_t *ret) {
        uint32_t from = UINT32_MAX;

        if (e->circular)
                return -EOPNOTSUPP;
        for (size_t i = 0; i < e->n_databases; i++) {
                const EngineBackupRecord *full = &e->databases[i].backups[ENGINE_BACKUP_FULL],
                                         *inc = &e->databases[i].backups[ENGINE_BACKUP_INCREMENTAL];
                if (full->time_usec == 0)
                        return -ENODATA;
                from = MIN(from, MAX(full->gen_high, inc->time_usec ? inc->gen_high : 0) + 1);
        }
        *ret = from;
        return 0;
}

static int generations_present(Engine *e, uint32_t from, uint32_t to) {
        for (uint32_t g = from; g <= to && g != 0; g++) {
                _cleanup_free_ char *p = log_generation_path(e->log_dir, g);
                if (!p)
                        return -ENOMEM;
                if (access(p, F_OK) < 0)
                        return errno == ENOENT ? -ESTALE : -errno;
        }
        return 0;
}

int engine_check_backup(Engine *e, EngineBackupKind kind) {
        uint32_t from, last_archived;
        int r;

        if (!e || kind < 0 || kind >= _ENGINE_BACKUP_KIND_MAX)
                return -EINVAL;
        pthread_mutex_lock(&e->lock);
        /* Frozen: the current generation was just archived. Otherwise it is jet.log and still open. */
        last_archived = e->log_archived ? e->current_gen : e->current_gen - 1;
        if (is_incremental(kind))
                r = incremental_base_locked(e, &from);
        else {
                from = LSN_GEN(e->checkpoint_lsn);
                r = 0;
        }
        pthread_mutex_unlock(&e->lock);
        if (r < 0)
                return r;
        return generations_present(e, from, last_archived);
}

static int strv_push(char ***l, size_t *n, char *s) {
        if (!s)
                return -ENOMEM;
        char **nl = realloc(*l, (*n + 2) * sizeof(char *));
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        nl[(*n)++] = s;
        nl[*n] = NULL;
        *l = nl;
        return 0;
}

int engine_backup_files(Engine *e, EngineBackupKind kind, const EngineFreezeInfo *info, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        uint32_t from;
        size_t n = 0;
        int r;

        if (!e || !info || !ret || kind < 0 || kind >= _ENGINE_BACKUP_KIND_MAX)
                return -EINVAL;
        if (is_incremental(kind)) {
                pthread_mutex_lock(&e->lock);
                r = incremental_base_locked(e, &from);
                pthread_mutex_unlock(&e->lock);
                if (r < 0)
                        return r;
        } else {
                from = info->checkpoint_generation;
                r = strv_push(&l, &n, strdup(e->chk_path));
                if (r < 0)
                        return r;
        }
        r = generations_present(e, from, info->closed_generation);
        if (r < 0)
                return r;
        for (uint32_t g = from; g <= info->closed_generation && g != 0; g++) {
                r = strv_push(&l, &n, log_generation_path(e->log_dir, g));
                if (r < 0)
                        return r;
        }
        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int engine_truncate_logs(Engine *e, uint32_t below_generation, engine_done_cb cb, void *userdata) {
        TruncateRequest *t;

        if (!e)
                return -EINVAL;
        t = calloc(1, sizeof(TruncateRequest));
        if (!t)
                return -ENOMEM;
        *t = (TruncateRequest) { .below = below_generation, .cb = cb, .userdata = userdata };
        pthread_mutex_lock(&e->lock);
        if (e->state != ENGINE_RUNNING) {
                int r = e->state == ENGINE_FAILED ? e->error : -EBUSY;
                pthread_mutex_unlock(&e->lock);
                free(t);
                return r;
        }
        TruncateRequest **tail = &e->truncates;
        while (*tail)
                tail = &(*tail)->next;
        *tail = t;
        pthread_cond_signal(&e->ckpt_cond);
        pthread_mutex_unlock(&e->lock);
        return 0;
}

/* The record every database agrees is there: the oldest one (by generation), or none if one lacks it. */
static EngineBackupRecord common_backup_locked(Engine *e, EngineBackupKind k) {
        EngineBackupRecord b = e->databases[0].backups[k];
        for (size_t i = 1; i < e->n_databases; i++) {
                const EngineBackupRecord *x = &e->databases[i].backups[k];
                if (x->time_usec == 0)
                        return (EngineBackupRecord) {};
                if (x->gen_high < b.gen_high)
                        b = *x;
        }
        return b;
}

int engine_get_info(Engine *e, EngineInfo *ret) {
        if (!e || !ret)
                return -EINVAL;
        pthread_mutex_lock(&e->lock);
        *ret = (EngineInfo) {
                .state = e->state,
                /* While frozen: the generation thaw will start. */
                .current_generation = e->log_archived ? e->current_gen + 1 : e->current_gen,
                .checkpoint_generation = LSN_GEN(e->checkpoint_lsn),
                .committed_transactions = e->committed,
                .last_lsn = e->last_lsn,
                .pending_commits = e->pending.n,
                .circular_logging = e->circular,
                .last_full = common_backup_locked(e, ENGINE_BACKUP_FULL),
                .last_incremental = common_backup_locked(e, ENGINE_BACKUP_INCREMENTAL),
                .last_copy = common_backup_locked(e, ENGINE_BACKUP_COPY),
                .error = e->state == ENGINE_FAILED ? e->error : 0,
        };
        memcpy(ret->signature, e->signature, sizeof(ret->signature));
        pthread_mutex_unlock(&e->lock);
        return 0;
}

size_t engine_get_n_databases(Engine *e) {
        return e ? e->n_databases : 0;
}

const char *engine_get_database_name(Engine *e, size_t i) {
        return e && i < e->n_databases ? e->databases[i].name : NULL;
}

const char *engine_get_database_path(Engine *e, size_t i) {
        return e && i < e->n_databases ? e->databases[i].path : NULL;
}

const char *engine_get_log_directory(Engine *e) {
        return e ? e->log_dir : NULL;
}

const char *engine_get_name(Engine *e) {
        return e ? e->name : NULL;
}
