/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The snapshot state machine against ese-semantics.md, call by call and
 * state by state. The expected table below is written from the document,
 * not from daemon/snapshot.c, so the two check each other.
 */

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "snapshot.h"
#include "check-run.h"

#define ID 7

enum { P = SNAPSHOT_PREPARED, Z = SNAPSHOT_FREEZING, F = SNAPSHOT_FROZEN, FF = SNAPSHOT_FREEZE_FAILED,
       TO = SNAPSHOT_TIMED_OUT, T = SNAPSHOT_THAWED, LT = SNAPSHOT_LOG_TRUNCATED, E = SNAPSHOT_ENDED };

#define A_FREEZE SNAPSHOT_ACTION_FREEZE
#define A_INFO SNAPSHOT_ACTION_INFO
#define A_THAW SNAPSHOT_ACTION_THAW
#define A_TRUNC SNAPSHOT_ACTION_TRUNCATE
#define A_REC SNAPSHOT_ACTION_RECORD
#define A_END SNAPSHOT_ACTION_END

#define C JET_bitContinueAfterThaw
#define COPY JET_bitCopySnapshot
#define INCR JET_bitIncrementalSnapshot
#define ALLDB JET_bitAllDatabasesSnapshot
#define ABRT JET_bitAbortSnapshot

typedef struct Row {
        SnapshotCall call;
        uint32_t flags;         /* call grbits */
        uint32_t prepare;       /* session grbits */
        int state;
        int error;
        int next;               /* state afterwards */
        unsigned actions;
} Row;

#define PI SNAPSHOT_CALL_PREPARE_INSTANCE
#define FZ SNAPSHOT_CALL_FREEZE
#define GI SNAPSHOT_CALL_GET_FREEZE_INFO
#define TH SNAPSHOT_CALL_THAW
#define TL SNAPSHOT_CALL_TRUNCATE_LOG
#define TLI SNAPSHOT_CALL_TRUNCATE_LOG_INSTANCE
#define AB SNAPSHOT_CALL_ABORT
#define EN SNAPSHOT_CALL_END

static const Row rows[] = {
        /* PrepareInstance: only while prepared */
        { PI, 0, C, P, 0, P, 0 },
        { PI, 0, C, Z, -EPROTO, Z, 0 },
        { PI, 0, C, F, -EPROTO, F, 0 },
        { PI, 0, C, FF, -EPROTO, FF, 0 },
        { PI, 0, C, TO, -EPROTO, TO, 0 },
        { PI, 0, C, T, -EPROTO, T, 0 },
        { PI, 0, C, LT, -EPROTO, LT, 0 },
        { PI, 0, C, E, -ESRCH, E, 0 },
        /* Freeze */
        { FZ, 0, C, P, 0, Z, A_FREEZE },
        { FZ, 0, C, Z, -EPROTO, Z, 0 },
        { FZ, 0, C, F, -EPROTO, F, 0 },
        { FZ, 0, C, FF, -EPROTO, FF, 0 },
        { FZ, 0, C, TO, -EPROTO, TO, 0 },
        { FZ, 0, C, T, -EPROTO, T, 0 },
        { FZ, 0, C, LT, -EPROTO, LT, 0 },
        { FZ, 0, C, E, -ESRCH, E, 0 },
        /* GetFreezeInfo: info, or an empty answer where nothing is frozen or was */
        { GI, 0, C, P, 0, P, A_INFO },
        { GI, 0, C, Z, 0, Z, 0 },
        { GI, 0, C, F, 0, F, A_INFO },
        { GI, 0, C, FF, 0, FF, 0 },
        { GI, 0, C, TO, 0, TO, 0 },
        { GI, 0, C, T, 0, T, A_INFO },
        { GI, 0, C, LT, 0, LT, A_INFO },
        { GI, 0, C, E, -ESRCH, E, 0 },
        /* Thaw with ContinueAfterThaw */
        { TH, 0, C, P, -EPROTO, P, 0 },
        { TH, 0, C, Z, -EPROTO, Z, 0 },
        { TH, 0, C, F, 0, T, A_THAW },
        { TH, 0, C, FF, -EPROTO, FF, 0 },
        { TH, 0, C, TO, -ETIMEDOUT, TO, 0 },
        { TH, 0, C, T, -EPROTO, T, 0 },
        { TH, 0, C, LT, -EPROTO, LT, 0 },
        { TH, 0, C, E, -ESRCH, E, 0 },
        /* Thaw without it: ends as End(0) */
        { TH, 0, 0, P, -EPROTO, P, 0 },
        { TH, 0, 0, F, 0, E, A_THAW | A_REC | A_END },
        { TH, 0, INCR, F, 0, E, A_THAW | A_REC | A_END },
        { TH, 0, 0, FF, -EPROTO, FF, 0 },
        { TH, 0, 0, TO, -ETIMEDOUT, E, A_END },
        /* TruncateLog */
        { TL, ALLDB, C, P, -EPROTO, P, 0 },
        { TL, ALLDB, C, Z, -EPROTO, Z, 0 },
        { TL, ALLDB, C, F, -EPROTO, F, 0 },
        { TL, ALLDB, C, FF, -EPROTO, FF, 0 },
        { TL, ALLDB, C, TO, -ETIMEDOUT, TO, 0 },
        { TL, ALLDB, C, T, 0, LT, A_TRUNC },
        { TL, ALLDB, C, LT, 0, LT, A_TRUNC },
        { TL, ALLDB, C, E, -ESRCH, E, 0 },
        { TL, 0, C, T, 0, LT, 0 },                      /* not every database: delete nothing */
        { TL, 0, C, LT, 0, LT, 0 },
        { TL, ALLDB, C | COPY, T, -EPROTO, T, 0 },      /* copy snapshots keep their logs */
        { TL, 0, C | COPY, T, -EPROTO, T, 0 },
        { TL, ALLDB, C | COPY | INCR, LT, -EPROTO, LT, 0 },
        { TLI, ALLDB, C, P, -EPROTO, P, 0 },
        { TLI, ALLDB, C, TO, -ETIMEDOUT, TO, 0 },
        { TLI, ALLDB, C, T, 0, LT, A_TRUNC },
        { TLI, 0, C, T, 0, LT, 0 },
        { TLI, ALLDB, C | COPY, T, -EPROTO, T, 0 },
        /* End(0) */
        { EN, 0, C, P, 0, E, A_END },
        { EN, 0, C, Z, -EPROTO, Z, 0 },
        { EN, 0, C, F, -EPROTO, F, 0 },
        { EN, 0, C, FF, 0, E, A_END },
        { EN, 0, C, TO, -ETIMEDOUT, E, A_END },
        { EN, 0, C, T, 0, E, A_REC | A_END },
        { EN, 0, C, LT, 0, E, A_REC | A_END },
        { EN, 0, C, E, -ESRCH, E, 0 },
        { EN, 0, C | COPY, T, 0, E, A_REC | A_END },
        /* End(Abort) */
        { EN, ABRT, C, P, 0, E, A_END },
        { EN, ABRT, C, Z, 0, E, A_THAW | A_END },
        { EN, ABRT, C, F, 0, E, A_THAW | A_END },
        { EN, ABRT, C, FF, 0, E, A_END },
        { EN, ABRT, C, TO, 0, E, A_END },
        { EN, ABRT, C, T, 0, E, A_END },
        { EN, ABRT, C, LT, 0, E, A_END },
        { EN, ABRT, C, E, -ESRCH, E, 0 },
        /* Abort(0) */
        { AB, 0, C, P, 0, E, A_END },
        { AB, 0, C, Z, 0, E, A_THAW | A_END },
        { AB, 0, C, F, 0, E, A_THAW | A_END },
        { AB, 0, 0, F, 0, E, A_THAW | A_END },
        { AB, 0, C, FF, 0, E, A_END },
        { AB, 0, C, TO, 0, E, A_END },
        { AB, 0, C, T, 0, E, A_END },
        { AB, 0, C, LT, 0, E, A_END },
        { AB, 0, C, E, -ESRCH, E, 0 },
        /* Unknown grbits: InvalidParameter in every state, before anything else */
        { PI, 1, C, P, -EINVAL, P, 0 },
        { FZ, 1, C, P, -EINVAL, P, 0 },
        { FZ, 0x80000000, C, E, -EINVAL, E, 0 },
        { GI, 2, C, F, -EINVAL, F, 0 },
        { TH, 1, C, F, -EINVAL, F, 0 },
        { TL, 2, C, T, -EINVAL, T, 0 },
        { TLI, 4, C, T, -EINVAL, T, 0 },
        { AB, 1, C, F, -EINVAL, F, 0 },
        { EN, 2, C, T, -EINVAL, T, 0 },
        { EN, 3, C, F, -EINVAL, F, 0 },
};

static Snapshot *make(uint32_t prepare, int state) {
        static char *const running[] = { (char *) "a", (char *) "b", NULL };
        SnapshotStep step;
        Snapshot *s = NULL;

        ck_assert_int_eq(snapshot_prepare(NULL, ID, prepare, running, &s, &step), 0);
        ck_assert_ptr_nonnull(s);
        s->state = state;
        return s;
}

START_TEST(test_table) {
        const Row *row = &rows[_i];
        _cleanup_(snapshot_freep) Snapshot *s = make(row->prepare, row->state);
        SnapshotCallArgs args = {
                .call = row->call, .id = ID, .flags = row->flags, .instance = "c", .instance_running = true,
        };
        SnapshotStep step;
        int r;

        if (row->call == TLI)
                args.instance = "a";
        r = snapshot_call(s, &args, &step);
        ck_assert_msg(r == row->error, "row %d (%s in %s): got %d, want %d (%s)", _i,
                      snapshot_call_to_string(row->call), snapshot_state_to_string(row->state), r, row->error,
                      step.message);
        ck_assert_int_eq(s->state, row->next);
        ck_assert_uint_eq(step.actions, row->actions);
        if (r < 0)
                ck_assert_msg(strlen(step.message) > 0, "row %d: error without message", _i);
        if (row->call == PI && r == 0)
                ck_assert(snapshot_has_instance(s, "c"));
}
END_TEST

/* Every call with a wrong id: InvalidSnapId, in every state, and the session is untouched. */
START_TEST(test_unknown_id) {
        SnapshotState state = (SnapshotState) _i;
        _cleanup_(snapshot_freep) Snapshot *s = make(C, state);

        for (SnapshotCall c = SNAPSHOT_CALL_PREPARE_INSTANCE; c < _SNAPSHOT_CALL_MAX; c++) {
                SnapshotCallArgs args = { .call = c, .id = ID + 1, .instance = "a", .instance_running = true };
                SnapshotStep step;

                ck_assert_int_eq(snapshot_call(s, &args, &step), -ESRCH);
                ck_assert_int_eq(s->state, state);
                ck_assert_uint_eq(step.actions, 0);
                ck_assert_int_eq(snapshot_call(NULL, &args, &step), -ESRCH);
        }
}
END_TEST

/* Prepare while any session exists is InvalidSequence; grbits are checked first. */
START_TEST(test_prepare_busy) {
        SnapshotState state = (SnapshotState) _i;
        _cleanup_(snapshot_freep) Snapshot *s = make(C, state);
        Snapshot *n = NULL;
        SnapshotStep step;

        ck_assert_int_eq(snapshot_prepare(s, ID + 1, 0, NULL, &n, &step), -EPROTO);
        ck_assert_ptr_null(n);
        ck_assert_ptr_nonnull(strstr(step.message, "Prepare is not allowed until it ends"));
        ck_assert_int_eq(snapshot_prepare(s, ID + 1, 0x10, NULL, &n, &step), -EINVAL);
        ck_assert_ptr_null(n);
        ck_assert_int_eq(s->state, state);
}
END_TEST

START_TEST(test_prepare_flags) {
        static char *const running[] = { (char *) "x", NULL };
        SnapshotStep step;
        Snapshot *s = NULL;

        for (uint32_t f = 0; f < 0x10; f++) {
                ck_assert_int_eq(snapshot_prepare(NULL, 1, f, running, &s, &step), 0);
                ck_assert_int_eq(s->state, SNAPSHOT_PREPARED);
                ck_assert_uint_eq(s->flags, f);
                /* ExplicitPrepare: the session starts empty */
                ck_assert_uint_eq(s->n_instances, (f & JET_bitExplicitPrepare) ? 0 : 1);
                s = snapshot_free(s);
        }
        ck_assert_int_eq(snapshot_prepare(NULL, 1, 0x10, running, &s, &step), -EINVAL);
        ck_assert_int_eq(snapshot_prepare(NULL, 1, 0xffffffff, running, &s, &step), -EINVAL);
        ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_prepare_instance) {
        _cleanup_(snapshot_freep) Snapshot *s = NULL;
        SnapshotCallArgs args = { .call = PI, .id = ID, .instance = "b", .instance_running = true };
        SnapshotStep step;

        ck_assert_int_eq(snapshot_prepare(NULL, ID, JET_bitExplicitPrepare, NULL, &s, &step), 0);
        ck_assert_uint_eq(s->n_instances, 0);
        ck_assert_int_eq(snapshot_call(s, &args, &step), 0);
        ck_assert_uint_eq(s->n_instances, 1);
        /* already in the session */
        ck_assert_int_eq(snapshot_call(s, &args, &step), -EBUSY);
        ck_assert_uint_eq(s->n_instances, 1);
        /* not running */
        args.instance = "c";
        args.instance_running = false;
        ck_assert_int_eq(snapshot_call(s, &args, &step), -EBUSY);
        ck_assert_uint_eq(s->n_instances, 1);
        ck_assert(!snapshot_has_instance(s, "c"));
        /* TruncateLogInstance of an instance outside the session: InvalidParameter, before the state */
        args = (SnapshotCallArgs) { .call = TLI, .id = ID, .instance = "c", .flags = ALLDB };
        ck_assert_int_eq(snapshot_call(s, &args, &step), -EINVAL);
        ck_assert_int_eq(s->state, SNAPSHOT_PREPARED);
}
END_TEST

/* The events that are not calls: freeze completion, timeout, cancel. */
START_TEST(test_events) {
        SnapshotStep step;

        for (int st = 0; st < _SNAPSHOT_STATE_MAX; st++) {
                _cleanup_(snapshot_freep) Snapshot *a = make(C, st), *b = make(C, st), *c = make(C, st),
                                                   *d = make(C, st);

                snapshot_timeout(a, &step);
                ck_assert_int_eq(a->state, st == F || st == Z ? TO : st);
                ck_assert_uint_eq(step.actions, st == F || st == Z ? A_THAW : 0);

                snapshot_cancel(b, &step);
                ck_assert_int_eq(b->state, E);
                ck_assert_uint_eq(step.actions, st == F || st == Z ? A_THAW | A_END : st == E ? 0 : A_END);

                ck_assert_int_eq(snapshot_freeze_finished(c, true, &step), st == Z ? 0 : -ESTALE);
                ck_assert_int_eq(c->state, st == Z ? F : st);
                ck_assert_int_eq(snapshot_freeze_finished(d, false, &step), st == Z ? 0 : -ESTALE);
                ck_assert_int_eq(d->state, st == Z ? FF : st);
                ck_assert_uint_eq(step.actions, st == Z ? A_THAW : 0);
        }
}
END_TEST

/* A whole ESE sequence, driven only through the API. */
START_TEST(test_sequence) {
        static char *const running[] = { (char *) "a", NULL };
        _cleanup_(snapshot_freep) Snapshot *s = NULL;
        SnapshotCallArgs args = { .id = 3 };
        SnapshotStep step;

        ck_assert_int_eq(snapshot_prepare(NULL, 3, C, running, &s, &step), 0);
        args.call = FZ;
        ck_assert_int_eq(snapshot_call(s, &args, &step), 0);
        ck_assert_uint_eq(step.actions, A_FREEZE);
        ck_assert_int_eq(snapshot_freeze_finished(s, true, &step), 0);
        args.call = TH;
        ck_assert_int_eq(snapshot_call(s, &args, &step), 0);
        args.call = TL;
        args.flags = ALLDB;
        ck_assert_int_eq(snapshot_call(s, &args, &step), 0);
        ck_assert_uint_eq(step.actions, A_TRUNC);
        args.call = EN;
        args.flags = 0;
        ck_assert_int_eq(snapshot_call(s, &args, &step), 0);
        ck_assert_uint_eq(step.actions, A_REC | A_END);
        ck_assert_int_eq(snapshot_call(s, &args, &step), -ESRCH);
}
END_TEST

START_TEST(test_strings) {
        for (int st = 0; st < _SNAPSHOT_STATE_MAX; st++)
                ck_assert_int_eq(snapshot_state_from_string(snapshot_state_to_string(st)), st);
        ck_assert_int_eq(snapshot_state_from_string("bogus"), -EINVAL);
        ck_assert_ptr_null(snapshot_state_to_string(_SNAPSHOT_STATE_MAX));
        ck_assert_str_eq(snapshot_state_to_string(SNAPSHOT_LOG_TRUNCATED), "log-truncated");
        ck_assert_str_eq(snapshot_call_to_string(SNAPSHOT_CALL_TRUNCATE_LOG_INSTANCE), "TruncateLogInstance");
}
END_TEST

static Suite *snapshot_state_suite(void) {
        Suite *s = suite_create("snapshot-state");
        TCase *tc;

        tc = tcase_create("Table");
        tcase_set_timeout(tc, 10);
        tcase_add_loop_test(tc, test_table, 0, (int) ELEMENTSOF(rows));
        tcase_add_loop_test(tc, test_unknown_id, 0, _SNAPSHOT_STATE_MAX);
        tcase_add_loop_test(tc, test_prepare_busy, 0, _SNAPSHOT_STATE_MAX);
        suite_add_tcase(s, tc);

        tc = tcase_create("Core");
        tcase_set_timeout(tc, 10);
        tcase_add_test(tc, test_prepare_flags);
        tcase_add_test(tc, test_prepare_instance);
        tcase_add_test(tc, test_events);
        tcase_add_test(tc, test_sequence);
        tcase_add_test(tc, test_strings);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite(snapshot_state_suite());
}
