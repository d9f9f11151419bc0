/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Engine internals shared by the engine's source files. Nothing here is
 * part of the API; see engine.h for that and engine.c for the invariants.
 *
 * All on-disk integers are little-endian. We only build for little-endian
 * hosts (checked below) and store structs as they are laid out in memory,
 * with explicit padding so the layout has no holes.
 */

#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "macro.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "on-disk format is little-endian, host must be too");

/* ---- log format (log.c) ---------------------------------------------- */

/* 8 bytes that no text file and no other log format starts with; the trailing digit is bumped only with LOG_FORMAT_VERSION. */
#define LOG_MAGIC "JSNPLOG1"
/* Bumped on any incompatible change of header or record layout; readers refuse other versions. */
#define LOG_FORMAT_VERSION 1u
/* Records start on the first page boundary, so a record write never rewrites the sector holding the header. */
#define LOG_HEADER_SIZE 4096u
/* Every record starts 8-byte aligned: the 64-bit LSN field is aligned and recovery scans 8-byte steps only. */
#define LOG_RECORD_ALIGN 8u

typedef struct LogHeader {
        char magic[8];
        uint32_t version;
        uint32_t header_size;           /* LOG_HEADER_SIZE */
        uint8_t signature[16];          /* instance signature */
        uint32_t generation;
        uint32_t reserved;
        uint64_t created_usec;          /* CLOCK_REALTIME */
        uint32_t prev_checksum;         /* checksum of the previous generation's header, 0 for generation 1 */
        uint32_t checksum;              /* crc32c of all fields above */
} LogHeader;
_Static_assert(sizeof(LogHeader) == 56, "LogHeader layout");

typedef enum LogRecordType {
        LOG_RECORD_TXN = 1,             /* one transaction: ops on one or more databases */
        LOG_RECORD_BACKUP = 2,          /* a finished backup (LogBackupPayload) */
        LOG_RECORD_END = 3,             /* end of generation: the generation was closed cleanly */
} LogRecordType;

/* Set on the last record of each write: a later record of the same write that checks out proves the write completed. */
#define LOG_RECORD_FLAG_BATCH_END 0x1u

typedef struct LogRecordHeader {
        uint32_t checksum;              /* crc32c of the bytes after this field, header and payload */
        uint32_t payload_size;
        uint64_t lsn;                   /* (generation << 32) | byte offset of this header */
        uint32_t batch_offset;          /* offset of the first record of the write this record was part of */
        uint16_t type;                  /* LogRecordType */
        uint16_t flags;                 /* 0 */
} LogRecordHeader;
_Static_assert(sizeof(LogRecordHeader) == 24, "LogRecordHeader layout");

/* One operation of a LOG_RECORD_TXN payload; followed by database name, table name, key and value bytes. */
typedef struct LogOpHeader {
        uint8_t kind;                   /* EngineOpKind */
        uint8_t database_size;
        uint8_t table_size;
        uint8_t reserved;
        uint16_t key_size;
        uint16_t reserved2;
        uint32_t value_size;
} LogOpHeader;
_Static_assert(sizeof(LogOpHeader) == 12, "LogOpHeader layout");

typedef struct LogBackupPayload {
        uint32_t kind;                  /* EngineBackupKind */
        uint32_t gen_low, gen_high;
        uint32_t reserved;
        uint64_t time_usec;
} LogBackupPayload;
_Static_assert(sizeof(LogBackupPayload) == 24, "LogBackupPayload layout");

#define LSN_MAKE(gen, off) (((uint64_t) (gen) << 32) | (uint64_t) (off))
#define LSN_GEN(lsn) ((uint32_t) ((lsn) >> 32))
#define LSN_OFFSET(lsn) ((uint32_t) (lsn))
#define ALIGN8(x) (((x) + 7u) & ~(uint64_t) 7u)
#define LOG_RECORD_SIZE(payload) ALIGN8(sizeof(LogRecordHeader) + (uint64_t) (payload))

/* ---- checkpoint format (checkpoint.c) --------------------------------- */

/* Distinct from LOG_MAGIC so a log copied over jet.chk (or the reverse) is refused at once. */
#define CHECKPOINT_MAGIC "JSNPCHK1"
#define CHECKPOINT_FORMAT_VERSION 1u

typedef struct CheckpointDatabase {
        char *name;
        char *path;                     /* as stored: relative to the instance directory when inside it */
} CheckpointDatabase;

typedef struct Checkpoint {
        uint8_t signature[16];
        uint64_t lsn;                   /* everything up to and including this LSN is in every database */
        uint64_t created_usec;
        size_t n_databases;
        CheckpointDatabase *databases;
} Checkpoint;

void checkpoint_done(Checkpoint *c);
int checkpoint_read(const EngineIO *io, const char *path, Checkpoint *ret, char **reterr_message);
int checkpoint_write(Engine *e, uint64_t lsn);

/* ---- overlay: committed, not yet applied changes (overlay.c) ----------- */

typedef struct OverlayNode OverlayNode;

typedef struct Overlay {
        OverlayNode *head;              /* sentinel with OVERLAY_LEVELS links */
        unsigned level;                 /* levels in use */
        uint64_t rng;
        size_t n;
} Overlay;

int overlay_init(Overlay *o);
void overlay_done(Overlay *o);
/* value NULL: a delete (tombstone). Replaces an existing entry of the key. */
int overlay_put(Overlay *o, const void *key, size_t key_size, const void *value, size_t value_size, bool tombstone,
                uint64_t lsn);
/* 1 found (value copied, caller frees), 0 not in overlay, -ENOENT tombstone, -ENOMEM. */
int overlay_get(Overlay *o, const void *key, size_t key_size, void **ret_value, size_t *ret_size);
/* Removes entries whose newest change has lsn <= lsn: they are in LMDB now. */
void overlay_prune(Overlay *o, uint64_t lsn);

typedef struct OverlayEntry {
        void *key;
        size_t key_size;
        void *value;                    /* NULL for a tombstone */
        size_t value_size;
} OverlayEntry;
/* Copies the entries with from <= key < to (empty bounds are open) in key order, tombstones included,
 * stopping after max_live non-tombstone entries (0: no limit). */
int overlay_copy_range(Overlay *o, const void *from, size_t from_size, const void *to, size_t to_size,
                       size_t max_live, OverlayEntry **ret, size_t *ret_n);
void overlay_entries_free(OverlayEntry *e, size_t n);
int key_compare(const void *a, size_t an, const void *b, size_t bn);

/* ---- databases (database.c) ------------------------------------------ */

typedef struct Table {
        char *name;
        Overlay overlay;                /* under Engine.overlay_lock */
        MDB_dbi dbi;
        bool has_dbi;                   /* the table exists in LMDB and dbi is valid for every txn */
        MDB_dbi new_dbi;                /* checkpointer: opened in its uncommitted write txn */
        bool has_new_dbi;
} Table;

typedef struct Database {
        char *name;
        char *path;                     /* absolute */
        uint64_t map_size;
        MDB_env *env;
        MDB_dbi reserved_dbi;
        Table *tables[ENGINE_TABLES_MAX]; /* grows only, never moves; n_tables read with acquire */
        size_t n_tables;
        uint64_t applied_lsn;           /* owned by the checkpointer (or recovery) */
        bool created;                   /* database_open() stamped it: it had no signature */
        EngineBackupRecord backups[_ENGINE_BACKUP_KIND_MAX]; /* under Engine.lock */
} Database;

int database_open(Engine *e, Database *d, bool must_exist, char **reterr_message);
void database_close(Database *d);
/* Lock-free lookups: tables[] has fixed capacity and entries are published with release semantics. */
Table *database_find_table(Database *d, const char *name, size_t name_size);
/* Caller holds Engine.overlay_lock for writing (or no other thread runs). */
int database_add_table(Database *d, const char *name, size_t name_size, Table **ret);
int lmdb_to_errno(int r);
/* Applies the given records (those with applied < lsn <= up_to_lsn) in one LMDB transaction; 0, -ECANCELED
 * (a freeze arrived before the commit started), or negative errno. */
typedef struct LogItem LogItem;
int database_apply(Engine *e, Database *d, LogItem *items, uint64_t up_to_lsn);

/* ---- queues, completions -------------------------------------------- */

typedef struct Completion Completion;

typedef struct Waiter {
        pthread_cond_t cond;            /* waited on with Engine.lock */
        bool done;
        int r;
        uint64_t lsn;
} Waiter;

struct LogItem {
        LogItem *next;
        uint16_t type;                  /* LogRecordType */
        uint64_t lsn;                   /* assigned by the writer */
        engine_commit_cb commit_cb;
        engine_done_cb done_cb;
        void *userdata;
        Waiter *waiter;                 /* engine_commit_wait(): signalled through Waiter.cond */
        Completion *completion;         /* preallocated, so acknowledging never allocates */
        size_t payload_size;
        uint8_t payload[];
};

typedef struct LogQueue {
        LogItem *head, *tail;
        size_t n;
        uint64_t bytes;
} LogQueue;

void log_queue_push(LogQueue *q, LogItem *i);
void log_queue_take(LogQueue *q, LogQueue *ret);
void log_queue_prepend(LogQueue *q, LogQueue *front);
void log_queue_free(LogQueue *q);

typedef enum CompletionType {
        COMPLETION_COMMIT,
        COMPLETION_DONE,
        COMPLETION_FREEZE,
} CompletionType;

struct Completion {
        Completion *next;
        CompletionType type;
        union {
                engine_commit_cb commit;
                engine_done_cb done;
                engine_freeze_cb freeze;
        } cb;
        void *userdata;
        int r;
        uint64_t lsn;
        unsigned freeze_seq;
        EngineFreezeInfo info;
};

typedef struct TruncateRequest {
        struct TruncateRequest *next;
        uint32_t below;
        engine_done_cb cb;
        void *userdata;
} TruncateRequest;

/* A checkpoint round starts early when this much is waiting: bounds overlay memory and replay time. */
#define CHECKPOINT_EARLY_BYTES (UINT64_C(32) << 20)
/* One LMDB transaction of a checkpoint round holds at most this much (at least one record): a freeze waits for
 * at most one such transaction to commit, and LMDB's dirty page list stays small. jet.chk is written once per
 * round, after all of its transactions. */
#define CHECKPOINT_TXN_BYTES (UINT64_C(4) << 20)
/* The apply loop looks for a freeze request this often (operations, or bytes of keys and values). */
#define APPLY_CHECK_OPS 256u
#define APPLY_CHECK_BYTES ((size_t) 1 << 20)
/* The checkpointer gives freed memory back to the kernel at most this often (malloc_trim()). */
#define MALLOC_TRIM_INTERVAL_USEC USEC_PER_SEC
/* Recovery applies the log in batches of this many payload bytes (EngineConfig.recovery_batch_size). */
#define RECOVERY_BATCH_SIZE_DEFAULT CHECKPOINT_EARLY_BYTES

/* ---- the instance ----------------------------------------------------- */

struct Engine {
        char *name;
        char *path;                     /* absolute instance directory */
        char *log_dir;                  /* <path>/logs */
        char *chk_path;                 /* <path>/jet.chk */
        EngineIO io;
        uint64_t log_file_size;
        uint64_t value_size_max;
        uint64_t txn_size_max;
        size_t pending_max;
        uint64_t checkpoint_interval_usec;
        uint64_t recovery_batch_size;
        bool circular;
        uint8_t signature[16];
        uint64_t checkpoint_txn_bytes;  /* CHECKPOINT_TXN_BYTES; tests lower it */
        void (*apply_op_hook)(Engine *e); /* tests: called (atomic load) after each op applied to LMDB */

        int event_fd;                   /* readable while completions wait for engine_dispatch() */
        int dir_fd;                     /* the instance directory, flock()ed while the Engine lives */

        Database *databases;
        size_t n_databases;
        pthread_rwlock_t overlay_lock;  /* tables and overlays; readers snapshot under it */

        pthread_mutex_t lock;           /* everything below up to the writer-owned part */
        pthread_cond_t writer_cond;
        pthread_cond_t ckpt_cond;
        EngineState state;
        int error;                      /* ENGINE_FAILED: why */

        LogQueue pending;               /* queued commits, not yet written */
        bool freeze_requested;          /* writer: archive the generation and write nothing */
        bool log_archived;              /* writer: no open generation (frozen or closing) */
        bool thaw_pending;              /* writer: before the next freeze, start a generation and write what
                                         * waited through the last one (thaw releases waiting commits) */
        bool closing;                   /* writer: drain, archive, exit (also read atomically) */
        bool writer_done;

        LogQueue applied;               /* durable, visible, not yet in LMDB */
        bool pause_requested, paused;   /* checkpointer freeze handshake (pause_requested also atomic) */
        bool ckpt_exit;
        unsigned freeze_seq;            /* bumped by freeze and thaw: a freeze reported after a thaw is -ECANCELED */
        EngineFreezeInfo freeze_info;
        Completion *freeze_completion;  /* posted by the checkpointer once paused */
        uint32_t current_checksum;      /* header checksum of the current generation (prev of the next) */
        TruncateRequest *truncates;
        bool need_spare;                /* checkpointer: preallocate the next generation */
        bool spare_cancel;              /* atomic: freeze or close stops a preallocation half way */
        uint32_t spare_gen;             /* generation of logs/jet.spare when ready, else 0 */

        Completion *completions, *completions_tail;

        uint64_t committed;
        uint64_t last_lsn;
        uint32_t current_gen;           /* generation of jet.log, or of the one just archived while log_archived */
        uint64_t checkpoint_lsn;

        /* Owned by the log writer thread (and by open/close while no thread runs). */
        int log_fd;
        uint32_t log_gen;
        uint64_t log_offset;            /* where the next record goes */
        uint64_t log_size;              /* file size */
        uint32_t log_header_checksum;
        uint8_t *batch;
        size_t batch_alloc;

        pthread_t writer_thread, ckpt_thread;
        bool writer_started, ckpt_started;
};

/* engine.c */
Database *engine_find_database(Engine *e, const char *name, size_t name_size);
void engine_post_locked(Engine *e, Completion *c);
void engine_complete_item_locked(Engine *e, LogItem *i, int r);
void engine_fail_locked(Engine *e, int error);
void engine_thaw_locked(Engine *e);
int engine_fsync_dir(Engine *e, const char *dir);
uint64_t now_usec(void);

/* log.c: file format */
char *log_generation_path(const char *log_dir, uint32_t gen);
void log_header_init(LogHeader *h, const uint8_t signature[16], uint32_t gen, uint32_t prev_checksum);
int log_header_check(const LogHeader *h, const char *file, char **reterr_message);
/* Creates a preallocated generation file at path (fsync'd, not yet renamed); *cancel (atomic) aborts it. */
int log_create_generation(Engine *e, const char *path, uint32_t gen, uint32_t prev_checksum, const bool *cancel,
                          int *ret_fd);
int log_list_generations(const char *log_dir, uint32_t **ret, size_t *ret_n, bool *ret_has_current);
void log_record_seal(uint8_t *buf);
size_t log_record_encode(uint8_t *buf, uint16_t type, uint64_t lsn, uint32_t batch_offset,
                         const void *payload, size_t payload_size);
int log_item_new(uint16_t type, size_t payload_size, LogItem **ret);
int txn_payload_validate(Engine *e, const uint8_t *p, size_t n, char **reterr_message);

typedef struct LogOpView {
        char kind;
        const char *database;
        size_t database_size;
        const char *table;
        size_t table_size;
        const void *key;
        size_t key_size;
        const void *value;
        size_t value_size;
} LogOpView;
/* Iterates ops of a validated TXN payload: returns 1 and fills *op, 0 at end. */
int txn_payload_next(const uint8_t *p, size_t n, size_t *offset, LogOpView *op);

/* Reads one generation file. */
typedef struct LogFile {
        int fd;
        char *path;
        uint64_t size;
        LogHeader header;
        uint8_t *window;                /* read-ahead: LOG_READ_WINDOW bytes from window_offset, or NULL */
        uint64_t window_offset;
        size_t window_size;
} LogFile;
/* Records are read front to back: one pread of this size serves many of them (not two preads per record). */
#define LOG_READ_WINDOW ((size_t) 1 << 20)
int log_file_open(const EngineIO *io, const char *path, LogFile *ret, char **reterr_message);
void log_file_close(LogFile *f);
typedef enum LogReadResult {
        LOG_READ_RECORD = 1,
        LOG_READ_EOF = 0,               /* zeros or end of file at a record boundary, or a torn tail */
} LogReadResult;
/* Reads the record at *offset into *buf (grown as needed). Returns LOG_READ_RECORD, LOG_READ_EOF or -EBADMSG. */
int log_read_record(const EngineIO *io, LogFile *f, uint64_t offset, LogRecordHeader *ret_hdr, uint8_t **buf,
                    size_t *buf_alloc, char **reterr_message);
/* After a bad record at offset: does a valid record of a later write follow? (then it is corruption, not a torn tail) */
int log_find_later_batch(const EngineIO *io, LogFile *f, uint64_t offset);

/* writer.c */
void *writer_main(void *userdata);
int writer_open_generation(Engine *e, uint32_t gen, uint32_t prev_checksum);
int writer_archive_generation(Engine *e);

/* checkpoint.c */
void *checkpointer_main(void *userdata);
/* Applies the queue (in LMDB transactions of at most txn_bytes_max bytes), prunes the overlay, writes jet.chk. */
int checkpoint_run(Engine *e, LogQueue *items, uint64_t txn_bytes_max);

/* recovery.c */
int recovery_run(Engine *e, char **reterr_message);
typedef int (*log_record_fn)(LogFile *f, uint64_t offset, const LogRecordHeader *h, const uint8_t *payload,
                             void *userdata, char **reterr_message);
/* Reads a generation's records up to END (ret_closed) or, for the newest one only, a torn tail. */
int log_walk_generation(const EngineIO *io, LogFile *f, bool newest, log_record_fn fn, void *userdata,
                        uint64_t *ret_end, bool *ret_closed, char **reterr_message);

/* crc32c.c */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t n);
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t n);
bool crc32c_hw_available(void);

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline bool atomic_flag_get(const bool *b) {
        return __atomic_load_n(b, __ATOMIC_ACQUIRE);
}

int asprintf_safe(char **ret, const char *fmt, ...) _printf_(2, 3);
