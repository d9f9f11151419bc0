/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * THE SNAPSHOT SESSION STATE MACHINE
 *
 * Pure logic after ese-semantics.md: no bus, no engine, no clock. Every
 * entry point checks, in this order, the grbits (InvalidParameter), the
 * snapshot id (InvalidSnapId), the instance argument, then the state
 * (InvalidSequence); an illegal call never changes the session. It then
 * moves the state and returns the actions the caller must carry out
 * (session.c talks to the engines, manager-dbus.c replies).
 *
 *                    Prepare
 *                       |
 *                       v        PrepareInstance
 *                  +----------+ <-------+
 *                  | prepared | --------+
 *                  +----------+
 *                       | Freeze
 *                       v
 *                  +----------+  an instance failed  +---------------+
 *                  | freezing | -------------------> | freeze-failed |
 *                  +----------+                      +---------------+
 *                       |  \  timer fired: the freeze itself hung
 *                       |   +----------------------------------------+
 *                       | all frozen                                 |
 *                       v                                            |
 *                  +----------+   timer fired         +-----------+  |
 *                  |  frozen  | --------------------> | timed-out | <+
 *                  +----------+   (instances thawed)  +-----------+
 *                       | Thaw (ContinueAfterThaw; without it the session ends as by End(0))
 *                       v
 *                  +----------+  TruncateLog  +---------------+
 *                  |  thawed  | ------------> | log-truncated | --+ TruncateLog
 *                  +----------+               +---------------+ <-+
 *
 * From every state, End and Abort lead to "ended" (the id is invalid from
 * then on); End(0) records the backup only from thawed/log-truncated.
 *
 * TRANSITIONS              (performed by)
 *   -> prepared            snapshot_prepare()
 *   prepared -> freezing   snapshot_call(Freeze)
 *   freezing -> frozen     snapshot_freeze_finished(ok)
 *   freezing -> freeze-failed  snapshot_freeze_finished(!ok)
 *   frozen -> timed-out    snapshot_timeout()
 *   freezing -> timed-out  snapshot_timeout() (the freeze itself hung past the timeout)
 *   frozen -> thawed       snapshot_call(Thaw) with ContinueAfterThaw
 *   thawed -> log-truncated    snapshot_call(TruncateLog[Instance])
 *   any -> ended           snapshot_call(End/Abort/Thaw without C), snapshot_cancel()
 *
 * GUARANTEES PER STATE (kept by the caller, session.c)
 *   prepared:      no instance is frozen; the idle timer is armed.
 *   freezing:      engine_freeze() was called on every instance; the
 *                  Freeze reply waits for all callbacks; with a timeout
 *                  above 0 the freeze timer is armed already.
 *   frozen:        every instance reported frozen; the freeze timer is armed.
 *   freeze-failed, timed-out, thawed, log-truncated: no instance is frozen
 *                  by this session.
 *   ended:         nothing frozen; only the backup record may be in flight.
 *
 * THE TABLE (ese-semantics.md "States and calls"; F = freezing, an
 * internal state the seed does not have: a freeze in progress)
 *
 *   call \ state    prepared   F          frozen       freeze-failed timed-out   thawed     log-truncated
 *   PrepareInst.    add        -2401      -2401        -2401        -2401       -2401      -2401
 *   Freeze          freezing   -2401      -2401        -2401        -2401       -2401      -2401
 *   GetFreezeInfo   info       empty      info         empty        empty       info       info
 *   Thaw            -2401      -2401      C: thawed    -2401        -2402;      -2401      -2401
 *                                         !C: End(0)                !C: ends
 *   TruncateLog     -2401      -2401      -2401        -2401        -2402       truncate   truncate
 *   End(0)          ends       -2401      -2401        ends         -2402, ends record,end record,end
 *   Abort           ends       thaw,ends  thaw,ends    ends         ends        ends       ends
 */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "snapshot.h"

static const char *const state_names[_SNAPSHOT_STATE_MAX] = {
        [SNAPSHOT_PREPARED] = "prepared",
        [SNAPSHOT_FREEZING] = "freezing",
        [SNAPSHOT_FROZEN] = "frozen",
        [SNAPSHOT_FREEZE_FAILED] = "freeze-failed",
        [SNAPSHOT_TIMED_OUT] = "timed-out",
        [SNAPSHOT_THAWED] = "thawed",
        [SNAPSHOT_LOG_TRUNCATED] = "log-truncated",
        [SNAPSHOT_ENDED] = "ended",
};

static const char *const call_names[_SNAPSHOT_CALL_MAX] = {
        [SNAPSHOT_CALL_PREPARE] = "Prepare",
        [SNAPSHOT_CALL_PREPARE_INSTANCE] = "PrepareInstance",
        [SNAPSHOT_CALL_FREEZE] = "Freeze",
        [SNAPSHOT_CALL_GET_FREEZE_INFO] = "GetFreezeInfo",
        [SNAPSHOT_CALL_THAW] = "Thaw",
        [SNAPSHOT_CALL_TRUNCATE_LOG] = "TruncateLog",
        [SNAPSHOT_CALL_TRUNCATE_LOG_INSTANCE] = "TruncateLogInstance",
        [SNAPSHOT_CALL_ABORT] = "Abort",
        [SNAPSHOT_CALL_END] = "End",
};

/* The grbits each call accepts; anything else is InvalidParameter. */
static const uint32_t call_flags_allowed[_SNAPSHOT_CALL_MAX] = {
        [SNAPSHOT_CALL_PREPARE] = JET_bitIncrementalSnapshot | JET_bitCopySnapshot | JET_bitContinueAfterThaw |
                                  JET_bitExplicitPrepare,
        [SNAPSHOT_CALL_TRUNCATE_LOG] = JET_bitAllDatabasesSnapshot,
        [SNAPSHOT_CALL_TRUNCATE_LOG_INSTANCE] = JET_bitAllDatabasesSnapshot,
        [SNAPSHOT_CALL_END] = JET_bitAbortSnapshot,
};

const char *snapshot_state_to_string(SnapshotState s) {
        if (s < 0 || s >= _SNAPSHOT_STATE_MAX)
                return NULL;
        return state_names[s];
}

/*
 * The State the bus shows: the six states of ese-semantics.md. "freezing"
 * is ours (a freeze in progress); as in ESE, whose session stays in its
 * prepare state until the freeze has succeeded, clients see "prepared"
 * until the instances have frozen, then "frozen" or "freeze-failed".
 */
const char *snapshot_state_to_public_string(SnapshotState s) {
        return snapshot_state_to_string(s == SNAPSHOT_FREEZING ? SNAPSHOT_PREPARED : s);
}

SnapshotState snapshot_state_from_string(const char *s) {
        for (size_t i = 0; s && i < _SNAPSHOT_STATE_MAX; i++)
                if (streq(state_names[i], s))
                        return (SnapshotState) i;
        return _SNAPSHOT_STATE_INVALID;
}

const char *snapshot_call_to_string(SnapshotCall c) {
        if (c < 0 || c >= _SNAPSHOT_CALL_MAX)
                return NULL;
        return call_names[c];
}

#define KEEP _SNAPSHOT_STATE_INVALID

typedef struct Transition {
        int error;
        SnapshotState next;     /* KEEP: unchanged */
        unsigned actions;
} Transition;

#define GO(n, a) { 0, (n), (a) }
#define BAD { -EPROTO, KEEP, 0 }
#define TIMEOUT(a) { -ETIMEDOUT, KEEP, (a) }

/*
 * The table above, for a session with ContinueAfterThaw, not a copy, and
 * grbits 0 (End) / AllDatabasesSnapshot (TruncateLog). snapshot_call()
 * adjusts for the other cases; the ended state is handled before. Abort
 * stands for End(JET_bitAbortSnapshot) too.
 */
static const Transition table[_SNAPSHOT_CALL_MAX][_SNAPSHOT_STATE_MAX] = {
        [SNAPSHOT_CALL_PREPARE_INSTANCE] = {
                [SNAPSHOT_PREPARED] = GO(KEEP, 0),
                [SNAPSHOT_FREEZING] = BAD, [SNAPSHOT_FROZEN] = BAD, [SNAPSHOT_FREEZE_FAILED] = BAD,
                [SNAPSHOT_TIMED_OUT] = BAD, [SNAPSHOT_THAWED] = BAD, [SNAPSHOT_LOG_TRUNCATED] = BAD,
        },
        [SNAPSHOT_CALL_FREEZE] = {
                [SNAPSHOT_PREPARED] = GO(SNAPSHOT_FREEZING, SNAPSHOT_ACTION_FREEZE),
                [SNAPSHOT_FREEZING] = BAD, [SNAPSHOT_FROZEN] = BAD, [SNAPSHOT_FREEZE_FAILED] = BAD,
                [SNAPSHOT_TIMED_OUT] = BAD, [SNAPSHOT_THAWED] = BAD, [SNAPSHOT_LOG_TRUNCATED] = BAD,
        },
        [SNAPSHOT_CALL_GET_FREEZE_INFO] = {
                [SNAPSHOT_PREPARED] = GO(KEEP, SNAPSHOT_ACTION_INFO),
                [SNAPSHOT_FREEZING] = GO(KEEP, 0),
                [SNAPSHOT_FROZEN] = GO(KEEP, SNAPSHOT_ACTION_INFO),
                [SNAPSHOT_FREEZE_FAILED] = GO(KEEP, 0),
                [SNAPSHOT_TIMED_OUT] = GO(KEEP, 0),
                [SNAPSHOT_THAWED] = GO(KEEP, SNAPSHOT_ACTION_INFO),
                [SNAPSHOT_LOG_TRUNCATED] = GO(KEEP, SNAPSHOT_ACTION_INFO),
        },
        [SNAPSHOT_CALL_THAW] = {
                [SNAPSHOT_PREPARED] = BAD, [SNAPSHOT_FREEZING] = BAD,
                [SNAPSHOT_FROZEN] = GO(SNAPSHOT_THAWED, SNAPSHOT_ACTION_THAW),
                [SNAPSHOT_FREEZE_FAILED] = BAD,
                [SNAPSHOT_TIMED_OUT] = TIMEOUT(0),
                [SNAPSHOT_THAWED] = BAD, [SNAPSHOT_LOG_TRUNCATED] = BAD,
        },
        [SNAPSHOT_CALL_TRUNCATE_LOG] = {
                [SNAPSHOT_PREPARED] = BAD, [SNAPSHOT_FREEZING] = BAD, [SNAPSHOT_FROZEN] = BAD,
                [SNAPSHOT_FREEZE_FAILED] = BAD,
                [SNAPSHOT_TIMED_OUT] = TIMEOUT(0),
                [SNAPSHOT_THAWED] = GO(SNAPSHOT_LOG_TRUNCATED, SNAPSHOT_ACTION_TRUNCATE),
                [SNAPSHOT_LOG_TRUNCATED] = GO(SNAPSHOT_LOG_TRUNCATED, SNAPSHOT_ACTION_TRUNCATE),
        },
        [SNAPSHOT_CALL_END] = {
                [SNAPSHOT_PREPARED] = GO(SNAPSHOT_ENDED, SNAPSHOT_ACTION_END),
                [SNAPSHOT_FREEZING] = BAD, [SNAPSHOT_FROZEN] = BAD,
                [SNAPSHOT_FREEZE_FAILED] = GO(SNAPSHOT_ENDED, SNAPSHOT_ACTION_END),
                [SNAPSHOT_TIMED_OUT] = { -ETIMEDOUT, SNAPSHOT_ENDED, SNAPSHOT_ACTION_END },
                [SNAPSHOT_THAWED] = GO(SNAPSHOT_ENDED, SNAPSHOT_ACTION_RECORD | SNAPSHOT_ACTION_END),
                [SNAPSHOT_LOG_TRUNCATED] = GO(SNAPSHOT_ENDED, SNAPSHOT_ACTION_RECORD | SNAPSHOT_ACTION_END),
        },
        [SNAPSHOT_CALL_ABORT] = {
                [SNAPSHOT_PREPARED] = GO(SNAPSHOT_ENDED, SNAPSHOT_ACTION_END),
                [SNAPSHOT_FREEZING] = GO(SNAPSHOT_ENDED, SNAPSHOT_ACTION_THAW | SNAPSHOT_ACTION_END),
                [SNAPSHOT_FROZEN] = GO(SNAPSHOT_ENDED, SNAPSHOT_ACTION_THAW | SNAPSHOT_ACTION_END),
                [SNAPSHOT_FREEZE_FAILED] = GO(SNAPSHOT_ENDED, SNAPSHOT_ACTION_END),
                [SNAPSHOT_TIMED_OUT] = GO(SNAPSHOT_ENDED, SNAPSHOT_ACTION_END),
                [SNAPSHOT_THAWED] = GO(SNAPSHOT_ENDED, SNAPSHOT_ACTION_END),
                [SNAPSHOT_LOG_TRUNCATED] = GO(SNAPSHOT_ENDED, SNAPSHOT_ACTION_END),
        },
};

static int step_fail(SnapshotStep *step, int error, const char *format, ...) __attribute__((format(printf, 3, 4)));
static int step_fail(SnapshotStep *step, int error, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(step->message, sizeof(step->message), format, ap);
        va_end(ap);
        return error;
}

static void step_init(SnapshotStep *step) {
        step->actions = 0;
        step->message[0] = 0;
}

static int check_flags(SnapshotCall call, uint32_t flags, SnapshotStep *step) {
        uint32_t bad = flags & ~call_flags_allowed[call];

        if (bad != 0)
                return step_fail(step, -EINVAL, "%s: unknown flags 0x%" PRIx32 " (allowed: 0x%" PRIx32 ")",
                                 call_names[call], bad, call_flags_allowed[call]);
        return 0;
}

bool snapshot_has_instance(const Snapshot *s, const char *name) {
        for (size_t i = 0; i < s->n_instances; i++)
                if (streq(s->instances[i], name))
                        return true;
        return false;
}

static int snapshot_add_instance(Snapshot *s, const char *name) {
        char **l;

        if (s->n_instances >= SNAPSHOT_INSTANCES_MAX)
                return -E2BIG;
        l = reallocarray(s->instances, s->n_instances + 2, sizeof(char *));
        if (!l)
                return -ENOMEM;
        s->instances = l;
        l[s->n_instances] = strdup(name);
        if (!l[s->n_instances])
                return -ENOMEM;
        l[++s->n_instances] = NULL;
        return 0;
}

Snapshot *snapshot_free(Snapshot *s) {
        if (!s)
                return NULL;
        strv_free(s->instances);
        free(s);
        return NULL;
}

/*
 * snapshot_prepare() - start a session.
 * @active: the current session, or NULL.
 * @id: the id for the new session (from snapshot-id.c).
 * @flags: the Prepare grbits.
 * @running: names of the instances running now (NULL-terminated; may be
 *           NULL); the session holds them unless ExplicitPrepare is given.
 * @ret: the new session (caller frees); untouched on failure.
 * @ret_step: message on failure.
 * Return: 0, -EINVAL (bad grbits), -EPROTO (a session exists), -ENOMEM.
 */
int snapshot_prepare(const Snapshot *active, uint64_t id, uint32_t flags, char *const *running,
                     Snapshot **ret, SnapshotStep *ret_step) {
        _cleanup_(snapshot_freep) Snapshot *s = NULL;
        int r;

        step_init(ret_step);
        r = check_flags(SNAPSHOT_CALL_PREPARE, flags, ret_step);
        if (r < 0)
                return r;
        if (active) {
                if (active->state == SNAPSHOT_ENDED)
                        return step_fail(ret_step, -EPROTO,
                                         "snapshot %" PRIu64 " is still ending; Prepare is not allowed until it ends",
                                         active->id);
                return step_fail(ret_step, -EPROTO, "snapshot %" PRIu64 " is %s; Prepare is not allowed until it ends",
                                 active->id, state_names[active->state]);
        }

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (Snapshot) { .id = id, .state = SNAPSHOT_PREPARED, .flags = flags };
        s->instances = calloc(1, sizeof(char *));
        if (!s->instances)
                return -ENOMEM;
        if (!(flags & JET_bitExplicitPrepare))
                for (char *const *n = running; n && *n; n++) {
                        r = snapshot_add_instance(s, *n);
                        if (r < 0)
                                return r;
                }

        *ret = TAKE_PTR(s);
        return 0;
}

/*
 * snapshot_call() - a call on an existing session (every call but Prepare).
 * @s: the current session, or NULL when there is none.
 * @args: the call, its id and grbits; for PrepareInstance and
 *        TruncateLogInstance the instance name (known to exist: an
 *        unknown name is InvalidParameter before we get here).
 * @ret_step: the actions to carry out (also on some errors: End(0) after a
 *        timeout fails with -ETIMEDOUT and ends the session) and the message.
 * Return: 0, -EINVAL (grbits; instance not in the session), -ESRCH (id),
 * -EBUSY (PrepareInstance of an instance already in or not running),
 * -EPROTO (not allowed in this state), -ETIMEDOUT, -ENOMEM.
 */
int snapshot_call(Snapshot *s, const SnapshotCallArgs *args, SnapshotStep *ret_step) {
        SnapshotCall call = args->call;
        Transition t;
        int r;

        step_init(ret_step);
        if (call <= SNAPSHOT_CALL_PREPARE || call >= _SNAPSHOT_CALL_MAX)
                return step_fail(ret_step, -EINVAL, "not a session call");

        r = check_flags(call, args->flags, ret_step);
        if (r < 0)
                return r;

        if (!s || s->id != args->id || s->state == SNAPSHOT_ENDED) {
                if (s && s->id == args->id)
                        return step_fail(ret_step, -ESRCH, "snapshot %" PRIu64 " has ended", args->id);
                return step_fail(ret_step, -ESRCH, "no snapshot with id %" PRIu64, args->id);
        }

        if (call == SNAPSHOT_CALL_TRUNCATE_LOG_INSTANCE && !snapshot_has_instance(s, args->instance))
                return step_fail(ret_step, -EINVAL, "instance '%s' is not in snapshot %" PRIu64, args->instance,
                                 s->id);

        if (call == SNAPSHOT_CALL_END && (args->flags & JET_bitAbortSnapshot))
                call = SNAPSHOT_CALL_ABORT;
        else if (call == SNAPSHOT_CALL_TRUNCATE_LOG_INSTANCE)
                call = SNAPSHOT_CALL_TRUNCATE_LOG;

        t = table[call][s->state];

        /* The cases the table leaves to code: ContinueAfterThaw, copy snapshots, grbit 0 truncation. */
        if (call == SNAPSHOT_CALL_THAW && !(s->flags & JET_bitContinueAfterThaw)) {
                if (s->state == SNAPSHOT_FROZEN)
                        t = (Transition) GO(SNAPSHOT_ENDED,
                                            SNAPSHOT_ACTION_THAW | SNAPSHOT_ACTION_RECORD | SNAPSHOT_ACTION_END);
                else if (s->state == SNAPSHOT_TIMED_OUT)
                        t = (Transition) { -ETIMEDOUT, SNAPSHOT_ENDED, SNAPSHOT_ACTION_END };
        }
        if (call == SNAPSHOT_CALL_TRUNCATE_LOG && t.error == 0) {
                if (s->flags & JET_bitCopySnapshot)
                        return step_fail(ret_step, -EPROTO,
                                         "snapshot %" PRIu64 " is a copy snapshot; %s is not allowed", s->id,
                                         call_names[args->call]);
                if (!(args->flags & JET_bitAllDatabasesSnapshot))
                        t.actions &= ~(unsigned) SNAPSHOT_ACTION_TRUNCATE;
        }

        if (t.error == -EPROTO)
                return step_fail(ret_step, -EPROTO, "snapshot %" PRIu64 " is %s; %s is not allowed in this state",
                                 s->id, state_names[s->state], call_names[args->call]);

        if (call == SNAPSHOT_CALL_PREPARE_INSTANCE) {
                if (snapshot_has_instance(s, args->instance))
                        return step_fail(ret_step, -EBUSY, "instance '%s' is already in snapshot %" PRIu64,
                                         args->instance, s->id);
                if (!args->instance_running)
                        return step_fail(ret_step, -EBUSY, "instance '%s' is not running", args->instance);
                r = snapshot_add_instance(s, args->instance);
                if (r == -E2BIG)
                        return step_fail(ret_step, -EINVAL, "too many instances in snapshot %" PRIu64, s->id);
                if (r < 0)
                        return r;
        }

        if (t.error == -ETIMEDOUT)
                (void) step_fail(ret_step, -ETIMEDOUT,
                                 "snapshot %" PRIu64 " timed out: the freeze window expired and the instances were thawed",
                                 s->id);

        if (t.next != KEEP)
                s->state = t.next;
        ret_step->actions = t.actions;
        return t.error;
}

/*
 * snapshot_freeze_finished() - every instance has answered the freeze.
 * Return: 0 when the session was freezing (now frozen or freeze-failed),
 * -ESTALE when it had moved on meanwhile (aborted, timed out): the caller
 * must thaw what froze and tell the Freeze caller so.
 */
int snapshot_freeze_finished(Snapshot *s, bool ok, SnapshotStep *ret_step) {
        step_init(ret_step);
        if (s->state != SNAPSHOT_FREEZING)
                return step_fail(ret_step, -ESTALE, "snapshot %" PRIu64 " was %s while freezing", s->id,
                                 s->state == SNAPSHOT_ENDED ? "aborted" : state_names[s->state]);
        if (ok)
                s->state = SNAPSHOT_FROZEN;
        else {
                s->state = SNAPSHOT_FREEZE_FAILED;
                ret_step->actions = SNAPSHOT_ACTION_THAW;
        }
        return 0;
}

/* The freeze timer fired: a frozen session, or one whose freeze is still in progress, times out. */
void snapshot_timeout(Snapshot *s, SnapshotStep *ret_step) {
        step_init(ret_step);
        if (s->state != SNAPSHOT_FROZEN && s->state != SNAPSHOT_FREEZING)
                return;
        s->state = SNAPSHOT_TIMED_OUT;
        ret_step->actions = SNAPSHOT_ACTION_THAW;
}

/* Owner disconnected, idle limit, shutdown: like Abort, from every state, without checks. */
void snapshot_cancel(Snapshot *s, SnapshotStep *ret_step) {
        step_init(ret_step);
        if (s->state == SNAPSHOT_ENDED)
                return;
        ret_step->actions = table[SNAPSHOT_CALL_ABORT][s->state].actions;
        s->state = SNAPSHOT_ENDED;
}
