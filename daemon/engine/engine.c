/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NOTES ON THE DESIGN OF THE ENGINE
 *
 * An Engine is one instance: a log writer thread (writer.c), a
 * checkpointer thread (checkpoint.c) and the owner's thread calling the
 * API below. These invariants hold at all times:
 *
 * (1) A commit is acknowledged only after the fdatasync that covers its
 *     log record returned 0, and after the directory entry of its
 *     generation file was fsync'd.
 * (2) A commit's changes are in the overlay before it is acknowledged, and
 *     all changes of one commit enter the overlay under one hold of
 *     overlay_lock, so a reader sees all of a transaction or none of it.
 * (3) The overlay only loses an entry after the LMDB transaction that holds
 *     the same change committed, so get/scan, which look at the overlay
 *     and open their LMDB read transaction under overlay_lock, always see
 *     every acknowledged commit.
 * (4) After a failed write or fdatasync the engine is ENGINE_FAILED and
 *     never acknowledges again: the page cache may claim data that is not
 *     on disk. Reopening recovers exactly what was durable.
 * (5) Freeze: the writer finishes its round, closes and archives the
 *     generation, and only then asks the checkpointer to pause; the
 *     checkpointer finishes a jet.chk write in progress, abandons an LMDB
 *     transaction that has not started to commit (it looks every
 *     APPLY_CHECK_OPS ops, and one holds at most CHECKPOINT_TXN_BYTES, so
 *     a freeze never waits for a whole round) and a generation
 *     preallocation, and only then reports FROZEN. From then on neither
 *     thread issues a write until engine_thaw().
 * (6) LMDB is written by the checkpointer only (and by recovery before the
 *     threads start); the applied LSN is stored in the same LMDB txn as the
 *     data, and jet.chk only names an LSN every database has applied.
 * (7) A record's LSN is (generation << 32) | offset; an LSN is assigned
 *     once, by the writer, in log order, so LSN order is commit order.
 * (8) Only the newest generation may end in a torn record; archived ones
 *     end with an END record written and fdatasync'd before the rename.
 *
 * STATES
 *
 *     RUNNING --engine_freeze--> FREEZING --(checkpointer paused)--> FROZEN
 *     FREEZING|FROZEN --engine_thaw--> RUNNING
 *     any --(write/fdatasync/LMDB error)--> FAILED
 *     any --engine_close--> CLOSING (thaws first, drains, checkpoints)
 *
 * LOCKS: Engine.lock guards queues, state and counters; overlay_lock
 * guards tables and overlays. No code path holds both, so there is no lock
 * order to get wrong. Neither is held across disk IO, except that readers
 * begin their LMDB read transaction under overlay_lock (invariant 3).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "engine-internal.h"

static const char *const state_table[_ENGINE_STATE_MAX] = {
        [ENGINE_RUNNING] = "running",
        [ENGINE_FREEZING] = "freezing",
        [ENGINE_FROZEN] = "frozen",
        [ENGINE_FAILED] = "failed",
        [ENGINE_CLOSING] = "stopping",
};

const char *engine_state_to_string(EngineState s) {
        return s >= 0 && s < _ENGINE_STATE_MAX ? state_table[s] : NULL;
}

static const char *const backup_kind_table[_ENGINE_BACKUP_KIND_MAX] = {
        [ENGINE_BACKUP_FULL] = "full",
        [ENGINE_BACKUP_INCREMENTAL] = "incremental",
        [ENGINE_BACKUP_COPY] = "copy",
        [ENGINE_BACKUP_INCREMENTAL_COPY] = "incremental-copy",
};

const char *engine_backup_kind_to_string(EngineBackupKind k) {
        return k >= 0 && k < _ENGINE_BACKUP_KIND_MAX ? backup_kind_table[k] : NULL;
}

uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

int engine_fsync_dir(Engine *e, const char *dir) {
        int fd = e->io.open(e->io.userdata, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
                return fd;
        int r = e->io.fsync(e->io.userdata, fd);
        safe_close(fd);
        return r;
}

/* "PREFIX/NAME" for top -H, perf and /proc/PID/task/TID/comm; set here rather than in the thread, so it is in
 * place when engine_open() returns. */
static void set_thread_name(Engine *e, pthread_t thread, const char *prefix) {
        char name[16]; /* TASK_COMM_LEN: pthread_setname_np() refuses longer names rather than cutting them */

        (void) snprintf(name, sizeof(name), "%s/%s", prefix, e->name);
        (void) pthread_setname_np(thread, name);
}

Database *engine_find_database(Engine *e, const char *name, size_t name_size) {
        for (size_t i = 0; i < e->n_databases; i++)
                if (strlen(e->databases[i].name) == name_size && memcmp(e->databases[i].name, name, name_size) == 0)
                        return &e->databases[i];
        return NULL;
}

/* ---- queues and completions ---- */

void log_queue_push(LogQueue *q, LogItem *i) {
        i->next = NULL;
        if (q->tail)
                q->tail->next = i;
        else
                q->head = i;
        q->tail = i;
        q->n++;
        q->bytes += i->payload_size;
}

void log_queue_take(LogQueue *q, LogQueue *ret) {
        *ret = *q;
        *q = (LogQueue) {};
}

void log_queue_prepend(LogQueue *q, LogQueue *front) {
        if (!front->head)
                return;
        front->tail->next = q->head;
        if (!q->tail)
                q->tail = front->tail;
        q->head = front->head;
        q->n += front->n;
        q->bytes += front->bytes;
        *front = (LogQueue) {};
}

void log_queue_free(LogQueue *q) {
        for (LogItem *i = q->head, *next; i; i = next) {
                next = i->next;
                free(i->completion);
                free(i);
        }
        *q = (LogQueue) {};
}

void engine_post_locked(Engine *e, Completion *c) {
        bool was_empty = !e->completions;

        c->next = NULL;
        if (e->completions_tail)
                e->completions_tail->next = c;
        else
                e->completions = c;
        e->completions_tail = c;
        /* Only the empty -> non-empty edge needs a wakeup: one eventfd write per batch, not per commit. */
        if (was_empty) {
                uint64_t one = 1;
                (void) !write(e->event_fd, &one, sizeof(one));
        }
}

void engine_complete_item_locked(Engine *e, LogItem *i, int r) {
        if (i->waiter) {
                i->waiter->done = true;
                i->waiter->r = r;
                i->waiter->lsn = i->lsn;
                pthread_cond_signal(&i->waiter->cond);
        } else if (i->completion) {
                Completion *c = TAKE_PTR(i->completion);
                c->r = r;
                c->lsn = r >= 0 ? i->lsn : 0;
                engine_post_locked(e, c);
        }
        if (r >= 0)
                log_queue_push(&e->applied, i);
        else {
                free(i->completion);
                free(i);
        }
}

void engine_fail_locked(Engine *e, int error) {
        if (e->state == ENGINE_FAILED)
                return;
        e->state = ENGINE_FAILED;
        e->error = error < 0 ? error : -EIO;
        for (LogItem *i = e->pending.head, *next; i; i = next) {
                next = i->next;
                engine_complete_item_locked(e, i, e->error);
        }
        e->pending = (LogQueue) {};
        if (e->freeze_completion) {
                Completion *c = TAKE_PTR(e->freeze_completion);
                c->r = e->error;
                engine_post_locked(e, c);
        }
        pthread_cond_broadcast(&e->writer_cond);
        pthread_cond_broadcast(&e->ckpt_cond);
}

int engine_get_event_fd(Engine *e) {
        if (!e)
                return -EINVAL;
        return e->event_fd;
}

int engine_dispatch(Engine *e) {
        Completion *list;
        uint64_t v;
        unsigned seq;
        int n = 0;

        if (!e)
                return -EINVAL;
        /* Drain the eventfd before taking the list: a post after the take re-arms it. */
        (void) !read(e->event_fd, &v, sizeof(v));
        pthread_mutex_lock(&e->lock);
        list = e->completions;
        e->completions = e->completions_tail = NULL;
        seq = e->freeze_seq;
        pthread_mutex_unlock(&e->lock);

        for (Completion *c = list, *next; c; c = next) {
                next = c->next;
                switch (c->type) {
                case COMPLETION_COMMIT:
                        if (c->cb.commit)
                                c->cb.commit(e, c->r, c->lsn, c->userdata);
                        break;
                case COMPLETION_DONE:
                        if (c->cb.done)
                                c->cb.done(e, c->r, c->userdata);
                        break;
                case COMPLETION_FREEZE:
                        /* Thawed before the owner heard of the freeze: report it as cancelled. */
                        if (c->r >= 0 && c->freeze_seq != seq)
                                c->r = -ECANCELED;
                        if (c->cb.freeze)
                                c->cb.freeze(e, c->r, c->r >= 0 ? &c->info : NULL, c->userdata);
                        break;
                }
                free(c);
                n++;
        }
        return n;
}

/* ---- lifecycle ---- */

static bool name_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > ENGINE_NAME_SIZE_MAX)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_' || *p == '.' || *p == '-'))
                        return false;
        return true;
}

static char *absolute(const char *path) {
        if (path[0] == '/')
                return strdup(path);
        char *cwd = getcwd(NULL, 0), *p = NULL;
        if (cwd && asprintf(&p, "%s/%s", cwd, path) < 0)
                p = NULL;
        free(cwd);
        return p;
}

static void engine_free(Engine *e) {
        if (!e)
                return;
        for (size_t i = 0; i < e->n_databases; i++) {
                database_close(&e->databases[i]);
                free(e->databases[i].name);
                free(e->databases[i].path);
        }
        free(e->databases);
        log_queue_free(&e->pending);
        log_queue_free(&e->applied);
        while (e->truncates) {
                TruncateRequest *t = e->truncates;
                e->truncates = t->next;
                free(t);
        }
        for (Completion *c = e->completions, *next; c; c = next) {
                next = c->next;
                free(c);
        }
        free(e->freeze_completion);
        safe_close(e->log_fd);
        safe_close(e->event_fd);
        safe_close(e->dir_fd); /* releases the flock() */
        free(e->batch);
        pthread_rwlock_destroy(&e->overlay_lock);
        pthread_mutex_destroy(&e->lock);
        pthread_cond_destroy(&e->writer_cond);
        pthread_cond_destroy(&e->ckpt_cond);
        free(e->name);
        free(e->path);
        free(e->log_dir);
        free(e->chk_path);
        free(e);
}

static int engine_new(const EngineConfig *c, Engine **ret) {
        pthread_rwlockattr_t rwa;
        pthread_condattr_t ca;
        Engine *e;

        if (!c || !name_valid(c->name) || isempty(c->path) || c->n_databases < 1 ||
            c->n_databases > ENGINE_DATABASES_MAX || !c->databases)
                return -EINVAL;
        if (c->log_file_size != 0 &&
            (c->log_file_size < ENGINE_LOG_FILE_SIZE_MIN || c->log_file_size > ENGINE_LOG_FILE_SIZE_MAX))
                return -EINVAL;
        for (size_t i = 0; i < c->n_databases; i++) {
                if (!name_valid(c->databases[i].name) || isempty(c->databases[i].path))
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (streq(c->databases[i].name, c->databases[j].name) ||
                            streq(c->databases[i].path, c->databases[j].path))
                                return -EINVAL;
        }

        e = calloc(1, sizeof(Engine));
        if (!e)
                return -ENOMEM;
        e->log_fd = e->event_fd = e->dir_fd = -EBADF;
        pthread_mutex_init(&e->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&e->writer_cond, NULL);
        pthread_cond_init(&e->ckpt_cond, &ca);
        pthread_condattr_destroy(&ca);
        /* Writers (the log writer publishing a batch) must not starve behind a stream of readers. */
        pthread_rwlockattr_init(&rwa);
        pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&e->overlay_lock, &rwa);
        pthread_rwlockattr_destroy(&rwa);

        e->io = c->io ? *c->io : engine_io_default;
        e->log_file_size = c->log_file_size ?: ENGINE_LOG_FILE_SIZE_DEFAULT;
        e->value_size_max = MIN(c->value_size_max ?: ENGINE_VALUE_SIZE_MAX_DEFAULT, (uint64_t) UINT32_MAX >> 1);
        e->txn_size_max = MIN(c->txn_size_max ?: ENGINE_TXN_SIZE_MAX_DEFAULT, ENGINE_LOG_FILE_SIZE_MAX / 2);
        e->pending_max = c->pending_commits_max ?: ENGINE_PENDING_COMMITS_MAX_DEFAULT;
        e->checkpoint_interval_usec = c->checkpoint_interval_usec ?: USEC_PER_SEC;
        e->recovery_batch_size = c->recovery_batch_size ?: RECOVERY_BATCH_SIZE_DEFAULT;
        e->checkpoint_txn_bytes = CHECKPOINT_TXN_BYTES;
        e->circular = c->circular_logging;
        e->name = strdup(c->name);
        e->path = absolute(c->path);
        e->databases = calloc(c->n_databases, sizeof(Database));
        if (!e->name || !e->path || !e->databases || asprintf(&e->log_dir, "%s/logs", e->path) < 0 ||
            asprintf(&e->chk_path, "%s/jet.chk", e->path) < 0) {
                engine_free(e);
                return -ENOMEM;
        }
        e->n_databases = c->n_databases;
        for (size_t i = 0; i < c->n_databases; i++) {
                Database *d = &e->databases[i];
                d->name = strdup(c->databases[i].name);
                d->path = absolute(c->databases[i].path);
                d->map_size = c->databases[i].map_size ?: ENGINE_MAP_SIZE_DEFAULT;
                if (!d->name || !d->path) {
                        engine_free(e);
                        return -ENOMEM;
                }
        }
        e->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (e->event_fd < 0) {
                int r = -errno;
                engine_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

int engine_open(const EngineConfig *config, Engine **ret, char **reterr_message) {
        Engine *e = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = engine_new(config, &e);
        if (r < 0) {
                if (r == -EINVAL)
                        (void) asprintf_safe(reterr_message, "invalid engine configuration");
                return r;
        }
        if ((mkdir(e->path, 0750) < 0 && errno != EEXIST) || (mkdir(e->log_dir, 0750) < 0 && errno != EEXIST)) {
                r = -errno;
                (void) asprintf_safe(reterr_message, "%s: cannot create instance directory: %s", e->path,
                                     strerror(-r));
                engine_free(e);
                return r;
        }
        /* One Engine per instance directory, across processes too: two log writers would interleave. */
        e->dir_fd = open(e->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (e->dir_fd < 0 || flock(e->dir_fd, LOCK_EX | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                (void) asprintf_safe(reterr_message, "%s: %s", e->path,
                                     r == -EBUSY ? "instance is open elsewhere" : strerror(-r));
                engine_free(e);
                return r;
        }
        r = recovery_run(e, reterr_message);
        if (r < 0) {
                engine_free(e);
                return r;
        }
        e->state = ENGINE_RUNNING;
        r = -pthread_create(&e->writer_thread, NULL, writer_main, e);
        if (r < 0) {
                engine_free(e);
                return r;
        }
        e->writer_started = true;
        set_thread_name(e, e->writer_thread, "jet-log");
        r = -pthread_create(&e->ckpt_thread, NULL, checkpointer_main, e);
        if (r < 0) {
                engine_close(e);
                return r;
        }
        e->ckpt_started = true;
        set_thread_name(e, e->ckpt_thread, "jet-ckpt");
        *ret = e;
        return 0;
}

void engine_thaw_locked(Engine *e) {
        if (e->freeze_completion) {
                Completion *c = TAKE_PTR(e->freeze_completion);
                c->r = -ECANCELED;
                engine_post_locked(e, c);
        }
        e->freeze_seq++;
        e->freeze_requested = false;
        e->thaw_pending = true;
        __atomic_store_n(&e->pause_requested, false, __ATOMIC_RELEASE);
        __atomic_store_n(&e->spare_cancel, false, __ATOMIC_RELEASE);
        e->paused = false;
        if (e->state == ENGINE_FREEZING || e->state == ENGINE_FROZEN)
                e->state = ENGINE_RUNNING;
        pthread_cond_signal(&e->writer_cond);
        pthread_cond_signal(&e->ckpt_cond);
}

/*
 * Drains from every state, so it always returns (tests/engine: test_close_in_every_state):
 *   running       the writer writes what is queued, archives jet.log, exits; the checkpointer then applies
 *                 everything and writes jet.chk;
 *   freezing,     thawed here first: thaw_pending makes the writer start a generation for the commits that
 *   frozen        waited (log_archived) or write them into the open one (a freeze not yet archived), then
 *                 as running; a pending freeze callback gets -ECANCELED;
 *   just thawed   the same, thaw_pending is still set;
 *   failed        nothing more is written: queued commits were already answered with the error, both threads
 *                 exit at once.
 * Commits cannot be queued once `closing` is set (engine_commit() says -EBUSY), so "queue empty" is final.
 */
Engine *engine_close(Engine *e) {
        if (!e)
                return NULL;
        pthread_mutex_lock(&e->lock);
        if (e->state == ENGINE_FREEZING || e->state == ENGINE_FROZEN)
                engine_thaw_locked(e);
        __atomic_store_n(&e->closing, true, __ATOMIC_RELEASE);
        __atomic_store_n(&e->spare_cancel, true, __ATOMIC_RELEASE);
        if (e->state != ENGINE_FAILED)
                e->state = ENGINE_CLOSING;
        pthread_cond_signal(&e->writer_cond);
        pthread_mutex_unlock(&e->lock);
        if (e->writer_started)
                pthread_join(e->writer_thread, NULL);

        pthread_mutex_lock(&e->lock);
        e->ckpt_exit = true;
        pthread_cond_signal(&e->ckpt_cond);
        pthread_mutex_unlock(&e->lock);
        if (e->ckpt_started)
                pthread_join(e->ckpt_thread, NULL);

        /* Truncation requests the checkpointer did not get to, and everything queued, are delivered now. */
        pthread_mutex_lock(&e->lock);
        while (e->truncates) {
                TruncateRequest *t = e->truncates;
                Completion *c = calloc(1, sizeof(Completion));
                e->truncates = t->next;
                if (c) {
                        *c = (Completion) { .type = COMPLETION_DONE, .cb.done = t->cb, .userdata = t->userdata,
                                            .r = -ECANCELED };
                        engine_post_locked(e, c);
                }
                free(t);
        }
        pthread_mutex_unlock(&e->lock);
        (void) engine_dispatch(e);
        engine_free(e);
        return NULL;
}
