/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The jetsnap storage engine: one ESE-style instance per Engine.
 *
 * DURABILITY MODEL
 *
 * An instance is one write-ahead log stream (generation files under
 * <path>/logs/), a checkpoint file <path>/jet.chk and up to
 * ENGINE_DATABASES_MAX attached databases (LMDB files, MDB_NOSUBDIR), each
 * holding named tables of ordered key/value records.
 *
 * A commit is one log record holding all of its operations, possibly on
 * several databases of the instance: it is atomic across them. The log
 * writer thread batches concurrent commits into one write + fdatasync
 * (group commit) and only then acknowledges them. An acknowledged commit
 * is visible to engine_get()/engine_scan() at once (an in-memory table of
 * committed, not yet applied changes sits in front of LMDB). The
 * checkpointer thread applies those changes to LMDB in large batches, one
 * LMDB transaction per database that also stores the LSN applied up to,
 * and then advances jet.chk. LMDB is written by the checkpointer only.
 *
 * Recovery (engine_open()) replays every record after each database's
 * applied LSN. A torn record at the end of the newest generation is the
 * normal end of the log; anything else that does not check out is
 * corruption and engine_open() fails with a message naming file and offset.
 * Recovery streams: it applies the log in bounded batches as it reads it
 * (memory does not grow with the log), and a crash during recovery is
 * itself recovered by the next engine_open().
 *
 * FREEZE
 *
 * engine_freeze() lets the in-flight log write + fdatasync finish, closes
 * the current generation (jet.log is renamed jetNNNNNNNN.log), stops the
 * checkpointer (an LMDB transaction not yet committing is aborted) and then
 * reports frozen. From then until engine_thaw() no write IO reaches any
 * log, checkpoint or database file of the instance: new commits wait in
 * memory, unacknowledged; reads go on. engine_thaw() starts a new
 * generation and releases the waiting commits; a freeze requested right
 * after a thaw still waits for that, so every freeze closes a generation
 * of its own.
 *
 * TRUNCATION AND BACKUPS
 *
 * Without circular logging, archived generations are kept until
 * engine_truncate_logs() deletes those below a given generation (the
 * snapshot layer passes the checkpoint generation at freeze time). With
 * circular logging the checkpointer deletes generations older than the
 * checkpoint itself. engine_record_backup() stores a backup record
 * (durably, through the log) in every database; those records drive which
 * generations an incremental backup needs.
 *
 * THREADING
 *
 * Each Engine owns two threads (log writer, checkpointer). All functions
 * below may be called from one "owner" thread (the daemon's main loop);
 * engine_commit(), engine_commit_wait(), engine_get(), engine_scan() and
 * engine_get_info() may be called from any thread. Callbacks always run
 * in the thread calling engine_dispatch() (or engine_close()). No function below blocks on disk IO except engine_open(),
 * engine_close(), engine_commit_wait() and the offline tools. Completions
 * of asynchronous operations are queued and delivered by
 * engine_dispatch() in the owner thread; engine_get_event_fd() becomes
 * readable (EPOLLIN) whenever there is something to dispatch.
 *
 * ERRORS
 *
 * Functions return >= 0 on success or a negative errno:
 *   -EINVAL     bad argument: unknown database, empty/oversized key, bad op kind
 *   -ENOENT     record (or table) not found
 *   -E2BIG      value or transaction larger than the configured limits, or
 *               a put would create more than ENGINE_TABLES_MAX tables
 *   -EAGAIN     too many pending commits (backpressure), try later
 *   -EBUSY      operation not possible in the current state (frozen, failed, closing)
 *   -EIO        the instance failed (an fdatasync or write failed); see engine_get_info()
 *   -ENOSPC     no space left for the log (the instance fails with it: a
 *               failed instance returns the error that failed it, -EIO or
 *               -ENOSPC, for every later commit)
 *   -ECANCELED  (callbacks) a freeze undone by engine_thaw() before it was
 *               reported, a truncation still queued at engine_close()
 *   -EBADMSG    corruption found (engine_open(), offline tools)
 *   -ENODATA    incremental backup without a recorded full backup
 *   -EOPNOTSUPP incremental backup with circular logging
 *   -ESTALE     a log generation a backup needs is missing
 * Where a function has a reterr_message parameter, it receives (caller
 * frees) a human-readable message on failure, e.g.
 * "logs/jet00000003.log: offset 8192: record checksum mismatch".
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define ENGINE_DATABASES_MAX 16
#define ENGINE_TABLES_MAX 128           /* named tables per database, reserved table excluded */
#define ENGINE_KEY_SIZE_MAX 511         /* LMDB's default maximum key size */
#define ENGINE_NAME_SIZE_MAX 255        /* database and table names */
#define ENGINE_VALUE_SIZE_MAX_DEFAULT (UINT64_C(16) << 20)
#define ENGINE_TXN_SIZE_MAX_DEFAULT (UINT64_C(64) << 20)
#define ENGINE_PENDING_COMMITS_MAX_DEFAULT 65536
#define ENGINE_LOG_FILE_SIZE_DEFAULT (UINT64_C(1) << 20)
#define ENGINE_LOG_FILE_SIZE_MIN (UINT64_C(64) << 10)
#define ENGINE_LOG_FILE_SIZE_MAX (UINT64_C(1) << 31)
#define ENGINE_MAP_SIZE_DEFAULT (UINT64_C(8) << 30)

/* The reserved LMDB table holding signatures, applied LSN and backup records. Not visible to clients. */
#define ENGINE_RESERVED_TABLE "__jetsnap"

typedef struct Engine Engine;

/*
 * The IO seam: every read, write, sync, rename, unlink and truncate of
 * log, checkpoint and directory files goes through this table (LMDB does
 * its own IO; the checkpointer's LMDB commits are counted through
 * before_lmdb_commit). Tests wrap it to count calls and inject faults.
 * All functions return >= 0 or a negative errno (never -1/errno).
 */
typedef struct EngineIO {
        int (*open)(void *userdata, const char *path, int flags, mode_t mode);
        ssize_t (*pread)(void *userdata, int fd, void *buf, size_t n, uint64_t offset);
        ssize_t (*pwrite)(void *userdata, int fd, const void *buf, size_t n, uint64_t offset);
        int (*fdatasync)(void *userdata, int fd);
        int (*fsync)(void *userdata, int fd);
        int (*ftruncate)(void *userdata, int fd, uint64_t size);
        int (*rename)(void *userdata, const char *from, const char *to);
        int (*unlink)(void *userdata, const char *path);
        /* Called right before an LMDB transaction commit; a negative return aborts that transaction. */
        int (*before_lmdb_commit)(void *userdata, const char *database_path);
        void *userdata;
} EngineIO;

/* The default table: plain syscalls. */
extern const EngineIO engine_io_default;

typedef struct EngineDatabaseConfig {
        const char *name;               /* unique within the instance, [A-Za-z0-9_.-]+ */
        const char *path;               /* the LMDB file (MDB_NOSUBDIR) */
        uint64_t map_size;              /* 0: ENGINE_MAP_SIZE_DEFAULT */
} EngineDatabaseConfig;

typedef struct EngineConfig {
        const char *name;               /* instance name */
        const char *path;               /* instance directory; created if missing */
        uint64_t log_file_size;         /* 0: default; preallocated size of each generation */
        bool circular_logging;
        uint64_t value_size_max;        /* 0: default */
        uint64_t txn_size_max;          /* 0: default; also capped by what fits a generation */
        size_t pending_commits_max;     /* 0: default */
        uint64_t checkpoint_interval_usec; /* 0: default (1s); how often the checkpointer runs at most */
        uint64_t recovery_batch_size;   /* 0: default (32 MiB); log payload bytes recovery replays per LMDB
                                         * transaction: bounds its memory, whatever the size of the log */
        size_t n_databases;             /* 1..ENGINE_DATABASES_MAX */
        const EngineDatabaseConfig *databases;
        const EngineIO *io;             /* NULL: engine_io_default; must outlive the Engine */
} EngineConfig;

typedef enum EngineState {
        ENGINE_RUNNING,
        ENGINE_FREEZING,
        ENGINE_FROZEN,
        ENGINE_FAILED,
        ENGINE_CLOSING,
        _ENGINE_STATE_MAX,
        _ENGINE_STATE_INVALID = -EINVAL,
} EngineState;

const char *engine_state_to_string(EngineState s);

typedef enum EngineBackupKind {
        ENGINE_BACKUP_FULL,
        ENGINE_BACKUP_INCREMENTAL,
        ENGINE_BACKUP_COPY,
        ENGINE_BACKUP_INCREMENTAL_COPY,
        _ENGINE_BACKUP_KIND_MAX,
        _ENGINE_BACKUP_KIND_INVALID = -EINVAL,
} EngineBackupKind;

const char *engine_backup_kind_to_string(EngineBackupKind k);

typedef struct EngineBackupRecord {
        uint32_t gen_low, gen_high;     /* generation range the backup contained; all 0 if none */
        uint64_t time_usec;             /* CLOCK_REALTIME of End; 0 if none */
} EngineBackupRecord;

typedef struct EngineInfo {
        EngineState state;
        uint8_t signature[16];          /* instance signature, random at creation */
        uint32_t current_generation;    /* generation of jet.log (while frozen: the next one) */
        uint32_t checkpoint_generation; /* generation of the checkpoint LSN */
        uint64_t committed_transactions;/* acknowledged commits since open */
        uint64_t last_lsn;              /* LSN of the newest acknowledged commit */
        uint64_t pending_commits;       /* queued, not yet acknowledged */
        bool circular_logging;
        EngineBackupRecord last_full, last_incremental, last_copy;
        int error;                      /* ENGINE_FAILED: the negative errno that failed it */
} EngineInfo;

/*
 * engine_open() - open (creating if needed) and recover an instance.
 * Blocks for the duration of recovery. On success *ret owns the Engine;
 * its threads are running and it is in ENGINE_RUNNING. On failure *ret is
 * untouched and *reterr_message (if non-NULL) gets a message naming file
 * and offset where that applies (caller frees).
 * Return: 0, -EINVAL (bad config), -EBUSY (the instance directory is open
 * in another Engine, in this or another process), -EBADMSG (corruption,
 * including a database that belongs to another instance), -ENOENT (a
 * generation is missing), -EIO/-ENOSPC/... from the file system.
 */
int engine_open(const EngineConfig *config, Engine **ret, char **reterr_message);

/*
 * engine_close() - clean shutdown: waits for queued commits (thawing a
 * frozen engine first), checkpoints everything, stops the threads and
 * frees the Engine. Pending completions are delivered by callbacks called
 * from inside engine_close(). Accepts NULL, returns NULL.
 */
Engine *engine_close(Engine *e);

/* Completions are delivered from engine_dispatch(). */
int engine_get_event_fd(Engine *e);

/*
 * Runs every queued completion callback in the caller's thread. Callbacks
 * may call any engine function except engine_close() on the same Engine.
 * Returns the number dispatched or negative errno.
 */
int engine_dispatch(Engine *e);

typedef enum EngineOpKind {
        ENGINE_OP_PUT = 'p',
        ENGINE_OP_DELETE = 'd',
} EngineOpKind;

typedef struct EngineOp {
        EngineOpKind kind;
        const char *database;           /* configured database name */
        const char *table;              /* created on first put; ENGINE_RESERVED_TABLE is refused */
        const void *key;
        size_t key_size;                /* 1..ENGINE_KEY_SIZE_MAX */
        const void *value;              /* ignored for delete */
        size_t value_size;
} EngineOp;

/* r is 0 (durable, lsn valid) or negative errno (-EIO, -EBUSY when closing...). */
typedef void (*engine_commit_cb)(Engine *e, int r, uint64_t lsn, void *userdata);

/*
 * engine_commit() - validate and queue a transaction; the callback runs
 * from engine_dispatch() once the record is durable (or failed). The ops
 * and everything they point to are copied before return. Validation
 * errors are returned at once and the callback is not called.
 * While frozen the commit waits, unacknowledged, until engine_thaw().
 * Return: 0 queued; -EINVAL, -E2BIG, -EAGAIN, -EIO (failed), -EBUSY (closing).
 */
int engine_commit(Engine *e, const EngineOp *ops, size_t n_ops, engine_commit_cb cb, void *userdata);

/* Blocking variant for tools, tests and benchmarks; may be called from any thread. */
int engine_commit_wait(Engine *e, const EngineOp *ops, size_t n_ops, uint64_t *ret_lsn);

/*
 * engine_get() - look a key up. *ret_value is malloc'd (caller frees).
 * Return: 0, -ENOENT (no such key or table), -EINVAL (unknown database, bad key).
 */
int engine_get(Engine *e, const char *database, const char *table, const void *key, size_t key_size,
               void **ret_value, size_t *ret_value_size);

typedef struct EngineRecord {
        void *key;
        size_t key_size;
        void *value;
        size_t value_size;
} EngineRecord;

/*
 * engine_scan() - records with from <= key < to in key order (memcmp order,
 * shorter first on a common prefix). An empty `from` means the start, an
 * empty `to` the end. limit 0 means no limit. *ret is an array of *ret_n
 * records; free it with engine_records_free().
 * Return: 0 (an unknown table yields 0 records), -EINVAL.
 */
int engine_scan(Engine *e, const char *database, const char *table, const void *from, size_t from_size,
                const void *to, size_t to_size, uint32_t limit, EngineRecord **ret, size_t *ret_n);
void engine_records_free(EngineRecord *r, size_t n);

typedef struct EngineFreezeInfo {
        uint32_t closed_generation;     /* the generation archived by this freeze */
        uint32_t checkpoint_generation; /* checkpoint generation at freeze time */
} EngineFreezeInfo;

/* r is 0 (frozen, info valid) or negative errno (the engine is running again). */
typedef void (*engine_freeze_cb)(Engine *e, int r, const EngineFreezeInfo *info, void *userdata);

/*
 * engine_freeze() - start freezing; the callback runs from engine_dispatch()
 * once no more write IO will be issued. Only from ENGINE_RUNNING.
 * Return: 0 started; -EBUSY not running; -EIO failed.
 */
int engine_freeze(Engine *e, engine_freeze_cb cb, void *userdata);

/*
 * engine_thaw() - resume: start a new generation, release waiting commits,
 * restart the checkpointer. Does not block. Also cancels a freeze still in
 * progress (its callback then reports -ECANCELED).
 * Return: 0; -EBUSY if neither frozen nor freezing.
 */
int engine_thaw(Engine *e);

/*
 * engine_check_backup() - may a backup of this kind be taken now?
 * Return: 0; -EOPNOTSUPP incremental with circular logging; -ENODATA
 * incremental without a full backup recorded in every database; -ESTALE a
 * generation needed since the last backup is missing on disk.
 */
int engine_check_backup(Engine *e, EngineBackupKind kind);

/*
 * engine_backup_files() - absolute paths of the files a backup of the
 * current freeze must copy, NULL-terminated, caller frees (strv).
 * Full/copy: jet.chk and generations checkpoint_generation..closed_generation.
 * Incremental: generations after the last recorded full or incremental
 * backup up to closed_generation. Databases are not listed (see
 * engine_get_databases()).
 */
int engine_backup_files(Engine *e, EngineBackupKind kind, const EngineFreezeInfo *info, char ***ret);

/* r is 0 or negative errno. */
typedef void (*engine_done_cb)(Engine *e, int r, void *userdata);

/*
 * engine_truncate_logs() - delete archived generations below
 * below_generation (never the current one, never at or above the
 * checkpoint). Runs on the checkpointer thread; the callback runs from
 * engine_dispatch() with r >= 0 the number of generations deleted.
 * Return: 0 started; -EBUSY frozen/freezing/closing; the failure error of
 * a failed instance.
 */
int engine_truncate_logs(Engine *e, uint32_t below_generation, engine_done_cb cb, void *userdata);

/*
 * engine_record_backup() - durably record a finished backup (kind and
 * generation range) in every database; the callback runs once durable.
 * The record is a log record like a commit (it waits while frozen, counts
 * against pending_commits_max) and the checkpointer stores it in each
 * database's reserved table. EngineInfo shows it as soon as it is durable.
 * Return: 0 queued; -EINVAL, -EAGAIN, -EBUSY (closing), failure error.
 */
int engine_record_backup(Engine *e, EngineBackupKind kind, uint32_t gen_low, uint32_t gen_high,
                         uint64_t time_usec, engine_done_cb cb, void *userdata);

/* Snapshot of the instance's state; callable from any thread. */
int engine_get_info(Engine *e, EngineInfo *ret);

/* Configured name and absolute path of database i (0..n-1); borrowed, valid while e lives. */
size_t engine_get_n_databases(Engine *e);
const char *engine_get_database_name(Engine *e, size_t i);
const char *engine_get_database_path(Engine *e, size_t i);
const char *engine_get_log_directory(Engine *e);   /* absolute */
const char *engine_get_name(Engine *e);

/*
 * Offline tools (eseutil-style). They never modify anything except
 * engine_recover_offline(). Output goes to f; the return value is 0 when
 * everything checked out, -EBADMSG when corruption was found (and
 * described in the output), or another negative errno. Output is line
 * based and stable (scripts may parse it); problems are lines starting
 * with "error: ", remarks with "note: ".
 *
 * engine_dump_checkpoint():
 *     file: <dir>/jet.chk
 *     format-version: 1
 *     signature: <32 hex digits>
 *     checkpoint-lsn: 0x<16 hex digits>
 *     checkpoint-generation: <decimal>
 *     checkpoint-offset: <decimal>
 *     created-usec: <decimal, CLOCK_REALTIME>
 *     databases: <n>
 *     database: <name> <path as stored, relative to dir when inside it>   (n times)
 *
 * engine_dump_log_headers(): one line per generation file, oldest first,
 * jet.log last:
 *     log: <path> generation=<n> signature=<hex> created-usec=<n> prev-checksum=0x<8 hex> checksum=0x<8 hex>
 *
 * engine_dump_log(): the header line above, then one line per record and
 * one indented line per operation, then how the generation ends:
 *     record: lsn=0x<16 hex> offset=<n> type=txn|backup size=<payload bytes> batch=<offset>[ batch-end]
 *       put <database>/<table> key=<hex> value-size=<n>
 *       del <database>/<table> key=<hex>
 *       backup kind=full|incremental|copy|incremental-copy generations=<low>-<high> time-usec=<n>
 *     end: closed at offset <n>             (END record: an archived generation)
 *     end: open, log ends at offset <n>     (jet.log: the rest is unwritten or a torn tail)
 *
 * engine_verify(): "checkpoint: <path> ok (generation <n>)", the header
 * lines, "database: <path> ok" per database listed in jet.chk, problems as
 * "error: <file>: offset <n>: <what>", and finally "result: ok" or
 * "result: corrupt" (-EBADMSG). A generation missing from the checkpoint's
 * on (recovery would refuse) is corruption; older ones are a "note: ".
 * Absence is not corruption: a missing directory, or one with neither
 * jet.chk nor log files, returns -ENOENT (-ENOTDIR for a file) with one
 * "error: " line saying so and no "result: " line; so does a file that
 * cannot be read at all (-EACCES, -EIO...). The other tools follow the same
 * rule: -EBADMSG only for damage they read.
 *
 * engine_recover_offline() prints
 *     recovered: <dir> checkpoint-generation=<n> next-generation=<n>
 */
int engine_dump_checkpoint(const char *instance_dir, FILE *f);
int engine_dump_log_headers(const char *instance_dir, FILE *f);
int engine_dump_log(const char *log_file, FILE *f);
int engine_verify(const char *instance_dir, FILE *f);

/*
 * engine_recover_offline() - run recovery on an instance directory (for
 * example restored from a snapshot) and checkpoint it, without a daemon.
 * Database paths come from jet.chk (which stores each database's name and
 * its path relative to the instance directory where it lies inside it);
 * `databases` (may be NULL) overrides them by name.
 */
int engine_recover_offline(const char *instance_dir, const EngineDatabaseConfig *databases, size_t n_databases,
                           FILE *f, char **reterr_message);

/* CRC32C (Castagnoli), hardware instruction where available, table otherwise. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t n);
