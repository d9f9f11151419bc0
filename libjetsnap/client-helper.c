/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * jetsnap_snapshot(): the whole writer sequence in one call.
 *
 *   prepare(BindToCaller, ContinueAfterThaw [, Explicit])
 *     [prepare_instance...] -> freeze -> callback -> thaw
 *     -> truncate_log(AllDatabases) (not for copy) -> end(0)
 *
 * Every failure after prepare ends the session with End(Abort): from any
 * state that thaws what is frozen and records nothing. The session is also
 * bound to the client's connection, so even a crash of the caller between
 * two steps cannot leave the instances frozen beyond the connection's life.
 */

#include <errno.h>
#include <stdlib.h>

#include "client-internal.h"

static const char *const step_table[_JETSNAP_STEP_MAX] = {
        [JETSNAP_STEP_NONE] = "none",
        [JETSNAP_STEP_ARGUMENTS] = "arguments",
        [JETSNAP_STEP_PREPARE] = "prepare",
        [JETSNAP_STEP_PREPARE_INSTANCE] = "prepare-instance",
        [JETSNAP_STEP_FREEZE] = "freeze",
        [JETSNAP_STEP_CALLBACK] = "callback",
        [JETSNAP_STEP_THAW] = "thaw",
        [JETSNAP_STEP_TRUNCATE_LOG] = "truncate-log",
        [JETSNAP_STEP_END] = "end",
};

_public_ const char *jetsnap_step_to_string(int step) {
        if (step < 0 || step >= _JETSNAP_STEP_MAX)
                return NULL;
        return step_table[step];
}

/* End(Abort) without losing the error of the step that failed. */
static void abort_session(jetsnap_client *c, uint64_t id) {
        sd_bus_error saved = SD_BUS_ERROR_NULL;

        sd_bus_error_move(&saved, &c->error);
        /* Best effort: if the daemon or the bus is gone, the session died with it (or with our connection). */
        (void) jetsnap_end(c, id, JETSNAP_END_ABORT);
        sd_bus_error_free(&c->error);
        sd_bus_error_move(&c->error, &saved);
}

static int run(jetsnap_client *c, uint64_t id, int copy, const char *const *instances,
               jetsnap_snapshot_callback callback, void *userdata, jetsnap_step *ret_step) {
        _cleanup_(jetsnap_freeze_info_freep) jetsnap_freeze_info *info = NULL;
        int r;

        for (const char *const *i = instances; i && *i; i++) {
                *ret_step = JETSNAP_STEP_PREPARE_INSTANCE;
                r = jetsnap_prepare_instance(c, id, *i, 0);
                if (r < 0)
                        return r;
        }

        *ret_step = JETSNAP_STEP_FREEZE;
        r = jetsnap_freeze(c, id, 0, &info);
        if (r < 0)
                return r;

        *ret_step = JETSNAP_STEP_CALLBACK;
        r = callback(c, id, info, userdata);
        if (r < 0) {
                /* The callback's failure has no daemon message; drop any stale one from its own calls. */
                client_reset_error(c);
                return r;
        }

        /* -ETIMEDOUT here means the daemon thawed on its own: the copy is not consistent. */
        *ret_step = JETSNAP_STEP_THAW;
        r = jetsnap_thaw(c, id, 0);
        if (r < 0)
                return r;

        if (!copy) {
                *ret_step = JETSNAP_STEP_TRUNCATE_LOG;
                r = jetsnap_truncate_log(c, id, JETSNAP_TRUNCATE_ALL_DATABASES);
                if (r < 0)
                        return r;
        }

        *ret_step = JETSNAP_STEP_END;
        return jetsnap_end(c, id, 0);
}

_public_ int jetsnap_snapshot(jetsnap_client *c, uint32_t flags, const char *const *instances, uint64_t timeout_usec,
                              jetsnap_snapshot_callback callback, void *userdata, jetsnap_step *ret_failed_step) {
        jetsnap_step step = JETSNAP_STEP_ARGUMENTS;
        uint64_t id;
        int r;

        if (ret_failed_step)
                *ret_failed_step = step;
        assert_client(c);
        assert_return(callback, -EINVAL);
        assert_return((flags & ~(JETSNAP_PREPARE_INCREMENTAL | JETSNAP_PREPARE_COPY)) == 0, -EINVAL);

        flags |= JETSNAP_PREPARE_CONTINUE_AFTER_THAW;
        if (instances && *instances)
                flags |= JETSNAP_PREPARE_EXPLICIT;

        step = JETSNAP_STEP_PREPARE;
        r = jetsnap_prepare_with_options(c, flags, timeout_usec, /* bind_to_caller= */ 1, &id);
        if (r >= 0) {
                r = run(c, id, flags & JETSNAP_PREPARE_COPY, instances, callback, userdata, &step);
                /*
                 * A failed End(0) leaves the session alive in most states
                 * (e.g. -EPROTO): abort it too. Only -ESRCH from the daemon
                 * means it is gone; the callback's errors are its own.
                 */
                if (r < 0 && (r != -ESRCH || step == JETSNAP_STEP_CALLBACK))
                        abort_session(c, id);
        }
        if (ret_failed_step)
                *ret_failed_step = r < 0 ? step : JETSNAP_STEP_NONE;
        return r;
}
