/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Snapshot session state machine (ese-semantics.md): pure logic, no bus,
 * no engine. It decides what a call means in the current state, updates
 * the Snapshot and returns the actions the caller must carry out.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Prepare grbits */
#define JET_bitIncrementalSnapshot UINT32_C(0x1)
#define JET_bitCopySnapshot UINT32_C(0x2)
#define JET_bitContinueAfterThaw UINT32_C(0x4)
#define JET_bitExplicitPrepare UINT32_C(0x8)
/* TruncateLog[Instance] grbits */
#define JET_bitAllDatabasesSnapshot UINT32_C(0x1)
/* End grbits */
#define JET_bitAbortSnapshot UINT32_C(0x1)

#define SNAPSHOT_INSTANCES_MAX 64

typedef enum SnapshotState {
        SNAPSHOT_PREPARED,
        SNAPSHOT_FREEZING,      /* Freeze called, waiting for every instance to report frozen */
        SNAPSHOT_FROZEN,
        SNAPSHOT_FREEZE_FAILED,
        SNAPSHOT_TIMED_OUT,
        SNAPSHOT_THAWED,
        SNAPSHOT_LOG_TRUNCATED,
        SNAPSHOT_ENDED,         /* over; its last engine IO (backup record) may still be running */
        _SNAPSHOT_STATE_MAX,
        _SNAPSHOT_STATE_INVALID = -EINVAL,
} SnapshotState;

typedef enum SnapshotCall {
        SNAPSHOT_CALL_PREPARE,
        SNAPSHOT_CALL_PREPARE_INSTANCE,
        SNAPSHOT_CALL_FREEZE,
        SNAPSHOT_CALL_GET_FREEZE_INFO,
        SNAPSHOT_CALL_THAW,
        SNAPSHOT_CALL_TRUNCATE_LOG,
        SNAPSHOT_CALL_TRUNCATE_LOG_INSTANCE,
        SNAPSHOT_CALL_ABORT,
        SNAPSHOT_CALL_END,
        _SNAPSHOT_CALL_MAX,
        _SNAPSHOT_CALL_INVALID = -EINVAL,
} SnapshotCall;

/* What the caller must do after a call, in this order. */
typedef enum SnapshotAction {
        SNAPSHOT_ACTION_FREEZE = 1 << 0,        /* freeze every instance; report back with snapshot_freeze_finished() */
        SNAPSHOT_ACTION_INFO = 1 << 1,          /* the reply carries the freeze info (else an empty array) */
        SNAPSHOT_ACTION_THAW = 1 << 2,          /* thaw (or cancel the freeze of) every instance */
        SNAPSHOT_ACTION_TRUNCATE = 1 << 3,      /* delete logs below the checkpoint at freeze time */
        SNAPSHOT_ACTION_RECORD = 1 << 4,        /* record the backup in every instance */
        SNAPSHOT_ACTION_END = 1 << 5,           /* the session is over (state SNAPSHOT_ENDED) */
} SnapshotAction;

typedef struct Snapshot {
        uint64_t id;
        SnapshotState state;
        uint32_t flags;                 /* the Prepare grbits */
        char **instances;               /* names in the session, NULL-terminated, owned */
        size_t n_instances;
} Snapshot;

typedef struct SnapshotStep {
        unsigned actions;               /* SnapshotAction bits; may be set even when an error is returned */
        char message[256];              /* on error: what was wrong, for the D-Bus error */
} SnapshotStep;

/* Arguments of one call; instance only for PrepareInstance/TruncateLogInstance. */
typedef struct SnapshotCallArgs {
        SnapshotCall call;
        uint64_t id;
        uint32_t flags;
        const char *instance;
        bool instance_running;          /* PrepareInstance: is it running now? */
} SnapshotCallArgs;

const char *snapshot_state_to_string(SnapshotState s);
const char *snapshot_state_to_public_string(SnapshotState s);
SnapshotState snapshot_state_from_string(const char *s);
const char *snapshot_call_to_string(SnapshotCall c);

int snapshot_prepare(const Snapshot *active, uint64_t id, uint32_t flags, char *const *running,
                     Snapshot **ret, SnapshotStep *ret_step);
int snapshot_call(Snapshot *s, const SnapshotCallArgs *args, SnapshotStep *ret_step);
int snapshot_freeze_finished(Snapshot *s, bool ok, SnapshotStep *ret_step);
void snapshot_timeout(Snapshot *s, SnapshotStep *ret_step);
void snapshot_cancel(Snapshot *s, SnapshotStep *ret_step);

bool snapshot_has_instance(const Snapshot *s, const char *name);
Snapshot *snapshot_free(Snapshot *s);

static inline void snapshot_freep(Snapshot **s) {
        if (*s)
                *s = snapshot_free(*s);
}
