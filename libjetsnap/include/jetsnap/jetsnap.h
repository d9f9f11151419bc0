/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef JETSNAP_JETSNAP_H
#define JETSNAP_JETSNAP_H

/*
 * libjetsnap - client library of jetsnapd, the ESE OS-snapshot writer for Linux.
 *
 * OVERVIEW
 *
 * jetsnapd hosts ESE-style storage-engine instances (a write-ahead log in
 * generation files, a checkpoint, LMDB databases) and lets a backup agent
 * take a consistent file-level snapshot of them: the agent prepares a
 * snapshot session, freezes the instances (no write IO reaches any of their
 * files until thaw; commits wait, unacknowledged), copies or snapshots the
 * files listed in the freeze info, thaws, lets the daemon truncate the logs
 * the backup made redundant, and ends the session, which records the backup.
 * This header is the native API; <jetsnap/esent.h> is the same protocol
 * with ESE's JetOSSnapshot* names and codes.
 *
 * Most callers want jetsnap_snapshot(), which runs the whole sequence
 * around a callback and ends the session correctly on every path.
 *
 * SESSION STATES (one session at a time per daemon)
 *
 *                 prepare_instance (EXPLICIT only)
 *                     +----+
 *                     v    |
 *   prepare ------> PREPARED --freeze--> FROZEN --thaw--> THAWED --truncate_log--> LOG-TRUNCATED
 *                     |                    |                 |                          |
 *                freeze error           timeout              +------- end(0) -----------+--> ended,
 *                     v                    v                                                 backup recorded
 *               FREEZE-FAILED          TIMED-OUT (instances already thawed by the daemon;
 *                                                 thaw, truncate_log, end(0) say -ETIMEDOUT)
 *
 *   end(JETSNAP_END_ABORT) or abort(), from any state: thaw if frozen, ended, nothing recorded.
 *   end(0) from PREPARED or FREEZE-FAILED: ended, nothing recorded.
 *
 * Without JETSNAP_PREPARE_CONTINUE_AFTER_THAW, thaw ends the session as
 * end(0) does (so there is no truncation step). A call that is not legal
 * in the current state fails with -EPROTO and changes nothing. Once a
 * session ended its id is invalid (-ESRCH); ids are never reused, not even
 * across daemon restarts.
 *
 * GUARANTEES
 *
 * Between a successful jetsnap_freeze() and jetsnap_thaw(), the files of
 * the frozen instances recover to exactly the commits acknowledged before
 * the freeze. A freeze never outlives its timeout: the daemon thaws by
 * itself and thaw then reports -ETIMEDOUT, meaning the copy taken may be
 * inconsistent and must be discarded. A session prepared with
 * bind_to_caller is aborted when the client's bus connection closes.
 *
 * ERRORS
 *
 * Every function returning int returns >= 0 on success or a negative
 * errno. The daemon's D-Bus errors map to errnos as follows (the daemon's
 * human-readable message is available through
 * jetsnap_client_get_error_message()):
 *   -EINVAL      InvalidParameter: bad flag bits, unknown instance or database, bad key
 *   -ENOMEM      OutOfMemory (also local allocation failures)
 *   -EAGAIN      OutOfThreads: too many pending commits, try later
 *   -EPROTO      OSSnapshotInvalidSequence: call not legal in the session's state
 *   -ETIMEDOUT   OSSnapshotTimeOut: the freeze window expired (also: no reply in time)
 *   -EBUSY       OSSnapshotNotAllowed: instance not running or already in the session
 *   -ESRCH       OSSnapshotInvalidSnapId: no such session
 *   -ENOENT      RecordNotFound
 *   -ENODATA     MissingFullBackup: incremental without a full backup
 *   -EOPNOTSUPP  InvalidBackup: incremental with circular logging
 *   -ESTALE      MissingFileToBackup: a log generation needed is missing
 *   -EACCES      AccessDenied: neither root nor in an allowed group
 * plus transport errors of sd-bus (-ECONNRESET, -ENOTCONN, -EHOSTUNREACH
 * when jetsnapd is not on the bus, ...).
 *
 * THREADING
 *
 * A jetsnap_client is not thread-safe: use it from one thread at a time
 * (like sd_bus). Different clients may be used concurrently. A client must
 * not be used in a child after fork(). The library never logs, never
 * exits and never installs signal handlers.
 *
 * OWNERSHIP
 *
 * Every output parameter says who frees it: "caller frees with X()" or
 * "borrowed, valid until the next call on this client". On failure output
 * parameters are left untouched.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags of jetsnap_prepare() (ESE's JET_bit* values, passed to the daemon unchanged). */
#define JETSNAP_PREPARE_INCREMENTAL             0x1u    /* only log files since the last backup */
#define JETSNAP_PREPARE_COPY                    0x2u    /* no truncation, not a base for incrementals */
#define JETSNAP_PREPARE_CONTINUE_AFTER_THAW     0x4u    /* session survives thaw, needs end */
#define JETSNAP_PREPARE_EXPLICIT                0x8u    /* starts empty; add with prepare_instance */
/* Flag of jetsnap_truncate_log(): every database was in the snapshot, so logs may be deleted. */
#define JETSNAP_TRUNCATE_ALL_DATABASES          0x1u
/* Flag of jetsnap_end(): the snapshot failed; nothing is recorded. */
#define JETSNAP_END_ABORT                       0x1u

/* timeout_usec of jetsnap_prepare_with_options(): use the daemon's snapshot.freeze-timeout. */
#define JETSNAP_TIMEOUT_DEFAULT                 UINT64_MAX

/*
 * How long Freeze and Commit may take before the client gives up: they can
 * wait out a whole freeze window (a commit to a frozen instance is answered
 * after thaw). Sessions with a TimeoutUSec above this may see -ETIMEDOUT
 * from a commit that still completes later. Other calls use sd-bus's
 * default of 25 s.
 */
#define JETSNAP_LONG_CALL_TIMEOUT_USEC          (UINT64_C(600) * 1000000)

typedef struct jetsnap_client jetsnap_client;

/*
 * jetsnap_client_open_system() - connect to jetsnapd on the system bus
 * ($DBUS_SYSTEM_BUS_ADDRESS is honoured).
 * jetsnap_client_open_user() - the same on the session bus (jetsnapd --user).
 * jetsnap_client_open_address() - the same on the bus at a D-Bus address.
 * jetsnap_client_open_remote() - the system bus of another machine,
 * reached as "[USER@]HOST" through ssh and systemd-stdio-bridge.
 * @ret: the new client, one reference; caller frees with jetsnap_client_unref().
 *
 * Connecting does not check that jetsnapd runs; the first call does.
 * Return: 0; -EINVAL (NULL argument), -ENOMEM, or a connection error (-ENOENT
 * no bus socket, -ECONNREFUSED, -EACCES...).
 */
int jetsnap_client_open_system(jetsnap_client **ret);
int jetsnap_client_open_user(jetsnap_client **ret);
int jetsnap_client_open_address(const char *address, jetsnap_client **ret);
int jetsnap_client_open_remote(const char *host, jetsnap_client **ret);

/* Reference counting; both accept NULL. _unref() closes the connection with the last reference and returns NULL. */
jetsnap_client *jetsnap_client_ref(jetsnap_client *c);
jetsnap_client *jetsnap_client_unref(jetsnap_client *c);

/*
 * jetsnap_client_get_error_message() - the daemon's (or sd-bus's) message
 * for the last failed call on @c, e.g. "snapshot 7 is frozen; Prepare is
 * not allowed until it ends"; NULL if the last call succeeded or failed
 * locally (bad argument, out of memory).
 * jetsnap_client_get_error_name() - the D-Bus error name of that failure.
 * Return: borrowed, valid until the next call on @c.
 */
const char *jetsnap_client_get_error_message(jetsnap_client *c);
const char *jetsnap_client_get_error_name(jetsnap_client *c);

/* Frees a NULL-terminated string array returned by this library; accepts NULL, returns NULL. */
char **jetsnap_strv_free(char **l);

/*
 * Manager properties.
 * jetsnap_get_version() - @ret: jetsnapd's version string, caller frees with free().
 * jetsnap_get_freeze_timeout() - @ret_usec: the daemon's default freeze timeout.
 * jetsnap_get_active_snapshot_id() - @ret_id: the id of the current session, 0 if none.
 * jetsnap_get_active_snapshot_state() - @ret: its state ("prepared", "frozen",
 * "freeze-failed", "timed-out", "thawed", "log-truncated"; "" if none), caller frees with free().
 * Return: 0, -EINVAL (NULL argument), -ENOMEM, transport errors.
 */
int jetsnap_get_version(jetsnap_client *c, char **ret);
int jetsnap_get_freeze_timeout(jetsnap_client *c, uint64_t *ret_usec);
int jetsnap_get_active_snapshot_id(jetsnap_client *c, uint64_t *ret_id);
int jetsnap_get_active_snapshot_state(jetsnap_client *c, char **ret);

/*
 * jetsnap_prepare() - start a snapshot session (Manager.Prepare).
 * jetsnap_prepare_with_options() - the same with a per-session freeze
 * timeout (JETSNAP_TIMEOUT_DEFAULT: the daemon's; 0: time out at once) and
 * @bind_to_caller (non-zero: the daemon aborts the session when this
 * client's connection closes, so a crashed agent never blocks backups).
 * @flags: JETSNAP_PREPARE_* bits.
 * @ret_id: the new session's id (never 0).
 * Return: 0; -EINVAL unknown flag bits; -EPROTO another session exists;
 * -EACCES not authorized.
 */
int jetsnap_prepare(jetsnap_client *c, uint32_t flags, uint64_t *ret_id);
int jetsnap_prepare_with_options(jetsnap_client *c, uint32_t flags, uint64_t timeout_usec, int bind_to_caller,
                                 uint64_t *ret_id);

/*
 * jetsnap_prepare_instance() - add an instance to a session prepared with
 * JETSNAP_PREPARE_EXPLICIT (Manager.PrepareInstance). @flags must be 0.
 * Return: 0; -EINVAL non-zero flags or unknown instance; -EBUSY instance
 * not running or already in the session; -EPROTO session not in
 * "prepared"; -ESRCH no such session.
 */
int jetsnap_prepare_instance(jetsnap_client *c, uint64_t id, const char *instance, uint32_t flags);

/* One database of a frozen instance. Strings borrowed from the enclosing jetsnap_freeze_info. */
typedef struct jetsnap_database {
        const char *path;               /* absolute path of the database file */
        const char *display_name;       /* configured name */
} jetsnap_database;

/* What a backup of one frozen instance must copy. Strings borrowed from the enclosing jetsnap_freeze_info. */
typedef struct jetsnap_instance_info {
        uint64_t id;                    /* Instance property Id (ESE's JET_INSTANCE) */
        const char *name;
        size_t n_databases;
        const jetsnap_database *databases;
        const char *log_directory;      /* absolute */
        size_t n_files;
        const char *const *files;       /* absolute paths of the checkpoint and log generations; NULL-terminated */
} jetsnap_instance_info;

typedef struct jetsnap_freeze_info {
        size_t n_instances;
        const jetsnap_instance_info *instances;
} jetsnap_freeze_info;

/* Frees a freeze info with everything it points to; accepts NULL, returns NULL. */
jetsnap_freeze_info *jetsnap_freeze_info_free(jetsnap_freeze_info *info);

/*
 * jetsnap_freeze() - freeze every instance of the session (Manager.Freeze).
 * Returns once no more write IO reaches their files; the freeze timer
 * starts then. May take long (in-flight fdatasync): the call waits up to
 * JETSNAP_LONG_CALL_TIMEOUT_USEC. @flags must be 0.
 * @ret_info: may be NULL; else the files to copy, caller frees with jetsnap_freeze_info_free().
 * Return: 0; -EINVAL non-zero flags; -EPROTO not "prepared"; -ESRCH no such
 * session; -EBUSY an instance is not running (nothing stays frozen);
 * -ENODATA/-EOPNOTSUPP/-ESTALE incremental not possible (see ERRORS).
 */
int jetsnap_freeze(jetsnap_client *c, uint64_t id, uint32_t flags, jetsnap_freeze_info **ret_info);

/*
 * jetsnap_get_freeze_info() - the freeze info again (Manager.GetFreezeInfo);
 * empty (n_instances 0) after a failed freeze or a timeout. @flags must be 0.
 * @ret_info: caller frees with jetsnap_freeze_info_free().
 * Return: 0; -EINVAL; -ESRCH.
 */
int jetsnap_get_freeze_info(jetsnap_client *c, uint64_t id, uint32_t flags, jetsnap_freeze_info **ret_info);

/*
 * jetsnap_thaw() - resume the instances (Manager.Thaw). Without
 * CONTINUE_AFTER_THAW the session ends here as with jetsnap_end(0).
 * @flags must be 0.
 * Return: 0; -ETIMEDOUT the freeze had already timed out (the copy must be
 * discarded); -EPROTO not frozen; -EINVAL; -ESRCH.
 */
int jetsnap_thaw(jetsnap_client *c, uint64_t id, uint32_t flags);

/*
 * jetsnap_truncate_log() - delete the log generations this (non-copy)
 * snapshot made redundant, in every instance of the session
 * (Manager.TruncateLog); with @flags 0 nothing is deleted.
 * jetsnap_truncate_log_instance() - the same for one instance.
 * @flags: 0 or JETSNAP_TRUNCATE_ALL_DATABASES.
 * Return: 0; -EPROTO not thawed, or a copy snapshot; -ETIMEDOUT timed out;
 * -EINVAL bad flags, or @instance not in the session; -ESRCH.
 */
int jetsnap_truncate_log(jetsnap_client *c, uint64_t id, uint32_t flags);
int jetsnap_truncate_log_instance(jetsnap_client *c, uint64_t id, const char *instance, uint32_t flags);

/*
 * jetsnap_abort() - end the session without recording a backup, thawing
 * first if frozen (Manager.Abort). @flags must be 0.
 * Return: 0; -EINVAL; -ESRCH.
 */
int jetsnap_abort(jetsnap_client *c, uint64_t id, uint32_t flags);

/*
 * jetsnap_end() - end the session (Manager.End). With flags 0 from
 * "thawed" or "log-truncated" the backup is recorded; with
 * JETSNAP_END_ABORT nothing is, from any state.
 * Return: 0; -EPROTO still frozen (End(0)); -ETIMEDOUT the freeze timed
 * out (the session ends anyway); -EINVAL bad flags; -ESRCH.
 */
int jetsnap_end(jetsnap_client *c, uint64_t id, uint32_t flags);

/*
 * jetsnap_list_instances() - names of the configured instances (Manager.ListInstances).
 * @ret: NULL-terminated array, caller frees with jetsnap_strv_free().
 * Return: 0, -ENOMEM, transport errors.
 */
int jetsnap_list_instances(jetsnap_client *c, char ***ret);

/* Properties of one instance (org.jetsnap1.Instance); allocated by the library, may grow at the end. */
typedef struct jetsnap_instance_status {
        const char *name;
        uint64_t id;
        const char *state;              /* "running", "frozen", "recovering", "failed", "stopping" */
        const char *path;
        size_t n_databases;
        const jetsnap_database *databases;
        uint64_t current_generation;
        uint64_t checkpoint_generation;
        uint64_t last_full_backup_generation;   /* 0 if none */
        uint64_t last_full_backup_usec;         /* CLOCK_REALTIME, 0 if none */
        uint64_t last_incremental_backup_generation;
        uint64_t last_incremental_backup_usec;
        int circular_logging;
        uint64_t committed_transactions;
} jetsnap_instance_status;

/*
 * jetsnap_get_instance_status() - read every property of @instance at once.
 * @ret: caller frees with jetsnap_instance_status_free().
 * Return: 0; -EINVAL no such instance; -ENOMEM; transport errors.
 */
int jetsnap_get_instance_status(jetsnap_client *c, const char *instance, jetsnap_instance_status **ret);
jetsnap_instance_status *jetsnap_instance_status_free(jetsnap_instance_status *s);

/* Kinds of jetsnap_op. */
#define JETSNAP_OP_PUT    'p'
#define JETSNAP_OP_DELETE 'd'

/* One operation of a transaction. Nothing is retained after the call. */
typedef struct jetsnap_op {
        int kind;                       /* JETSNAP_OP_PUT or JETSNAP_OP_DELETE */
        const char *database;
        const char *table;
        const void *key;
        size_t key_size;
        const void *value;              /* ignored for delete */
        size_t value_size;
} jetsnap_op;

/*
 * jetsnap_commit() - commit @ops atomically to @instance (Instance.Commit);
 * returns once the transaction is durable. While the instance is frozen
 * this waits (up to JETSNAP_LONG_CALL_TIMEOUT_USEC) until thaw.
 * @ret_lsn: may be NULL; the log sequence number of the commit.
 * Return: 0; -EINVAL bad op, unknown database, bad key; -EAGAIN too many
 * pending commits; -EACCES not in the instance's access-groups; -EINVAL also for no such instance.
 */
int jetsnap_commit(jetsnap_client *c, const char *instance, const jetsnap_op *ops, size_t n_ops, uint64_t *ret_lsn);

/*
 * jetsnap_get() - look @key up (Instance.Get).
 * @ret_value: caller frees with free(); @ret_size its size (both required).
 * Return: 0; -ENOENT no such key or table; -EINVAL (also: no such instance or
 * database); -EACCES.
 */
int jetsnap_get(jetsnap_client *c, const char *instance, const char *database, const char *table,
                const void *key, size_t key_size, void **ret_value, size_t *ret_size);

typedef struct jetsnap_record {
        const void *key;
        size_t key_size;
        const void *value;
        size_t value_size;
} jetsnap_record;

/*
 * jetsnap_scan() - records with @from <= key < @to in key order
 * (Instance.Scan); empty @from / @to (size 0) mean the start / the end;
 * @limit 0 means no limit.
 * @ret: array of @ret_n records (NULL when there are none), caller frees
 * with jetsnap_records_free().
 * Return: 0 (an unknown table has no records); -EINVAL (also: no such
 * instance or database); -EACCES.
 */
int jetsnap_scan(jetsnap_client *c, const char *instance, const char *database, const char *table,
                 const void *from, size_t from_size, const void *to, size_t to_size, uint32_t limit,
                 jetsnap_record **ret, size_t *ret_n);
jetsnap_record *jetsnap_records_free(jetsnap_record *r, size_t n);

/* The steps of jetsnap_snapshot(), reported for the one that failed. */
typedef enum jetsnap_step {
        JETSNAP_STEP_NONE,              /* nothing failed */
        JETSNAP_STEP_ARGUMENTS,         /* bad arguments, nothing was done */
        JETSNAP_STEP_PREPARE,
        JETSNAP_STEP_PREPARE_INSTANCE,
        JETSNAP_STEP_FREEZE,
        JETSNAP_STEP_CALLBACK,
        JETSNAP_STEP_THAW,
        JETSNAP_STEP_TRUNCATE_LOG,
        JETSNAP_STEP_END,
        _JETSNAP_STEP_MAX
} jetsnap_step;

/* "prepare", "freeze", ...; NULL for values out of range. Static string. */
const char *jetsnap_step_to_string(int step);

/*
 * The callback of jetsnap_snapshot(): runs while the instances are frozen.
 * It may call read-only functions on @c (properties, get, scan); a commit
 * to a frozen instance would wait until the timeout. Return >= 0 to let
 * the snapshot complete, a negative errno to abort it.
 */
typedef int (*jetsnap_snapshot_callback)(jetsnap_client *c, uint64_t id, const jetsnap_freeze_info *info,
                                         void *userdata);

/*
 * jetsnap_snapshot() - take a whole snapshot in one call: prepare (bound to
 * this client, with CONTINUE_AFTER_THAW, and EXPLICIT plus
 * prepare_instance for each of @instances if given), freeze, @callback,
 * thaw, truncate logs with JETSNAP_TRUNCATE_ALL_DATABASES (not for copy
 * snapshots), end(0). On any failure after prepare the session is ended
 * with JETSNAP_END_ABORT (nothing recorded, instances thawed), and the
 * first error is returned.
 * @flags: JETSNAP_PREPARE_INCREMENTAL and/or JETSNAP_PREPARE_COPY.
 * @instances: NULL or NULL-terminated names; NULL or empty: every running instance.
 * @timeout_usec: freeze timeout, JETSNAP_TIMEOUT_DEFAULT for the daemon's.
 * @ret_failed_step: may be NULL; the step that failed, JETSNAP_STEP_NONE on success.
 *
 * The message of a failure stays available through
 * jetsnap_client_get_error_message() (the abort does not overwrite it).
 * Return: 0; -EINVAL bad arguments; the callback's negative return; or the
 * error of the failing step, e.g. -ETIMEDOUT from thaw when the callback
 * outlived the freeze timeout, -EPROTO when another session exists.
 */
int jetsnap_snapshot(jetsnap_client *c, uint32_t flags, const char *const *instances, uint64_t timeout_usec,
                     jetsnap_snapshot_callback callback, void *userdata, jetsnap_step *ret_failed_step);

/* Cleanup helpers for callers: __attribute__((cleanup(jetsnap_client_unrefp))). */
#define JETSNAP_DEFINE_POINTER_CLEANUP(type, func)              \
        static __inline__ void func##p(type **p) {             \
                if (*p)                                         \
                        func(*p);                               \
        }

JETSNAP_DEFINE_POINTER_CLEANUP(jetsnap_client, jetsnap_client_unref)
JETSNAP_DEFINE_POINTER_CLEANUP(jetsnap_freeze_info, jetsnap_freeze_info_free)
JETSNAP_DEFINE_POINTER_CLEANUP(jetsnap_instance_status, jetsnap_instance_status_free)
JETSNAP_DEFINE_POINTER_CLEANUP(char *, jetsnap_strv_free)

#ifdef __cplusplus
}
#endif

#endif
