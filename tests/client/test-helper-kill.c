/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * jetsnap_snapshot() when jetsnapd dies while frozen: the callback
 * SIGKILLs $JETSNAPD_PID and waits until its bus name is gone; the helper
 * must then fail at the thaw step with the bus's "no such service" error
 * (not hang, not claim success). Its own binary, since the daemon is gone
 * afterwards.
 */

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "client-test.h"

static int name_has_owner(void) {
        sd_bus *bus = NULL;
        sd_bus_message *reply = NULL;
        int r, owned = 0;

        ck_assert_int_eq(sd_bus_open_system(&bus), 0);
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", NULL, &reply, "s", "org.jetsnap1");
        ck_assert_int_ge(r, 0);
        ck_assert_int_ge(sd_bus_message_read(reply, "b", &owned), 0);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        return owned;
}

/* True once @pid is dead: a zombie (with-daemon reaps it later) or gone. */
static int process_dead(pid_t pid) {
        char path[64], buf[512], *p;
        FILE *f;
        size_t n;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return 1;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        /* The state follows the parenthesized command name, which may itself hold ')'. */
        p = strrchr(buf, ')');
        return !p || p[1] == 0 || p[2] == 'Z' || p[2] == 'X';
}

static int kill_daemon(jetsnap_client *c, uint64_t id, const jetsnap_freeze_info *info, void *userdata) {
        const char *pid = getenv("JETSNAPD_PID");

        ck_assert_ptr_nonnull(pid);
        ck_assert_int_eq(kill((pid_t) atoi(pid), SIGKILL), 0);
        /*
         * Deterministic: Thaw goes out only once the bus has dropped the
         * daemon, and we return only once it is dead for with-daemon too
         * (the name goes away while the process is still exiting).
         */
        while (name_has_owner())
                usleep(2000);
        while (!process_dead((pid_t) atoi(pid)))
                usleep(2000);
        return 0;
}

START_TEST(test_daemon_killed_while_frozen) {
        _cleanup_client_ jetsnap_client *c = test_client();
        jetsnap_step step = JETSNAP_STEP_NONE;
        int r;

        r = jetsnap_snapshot(c, 0, NULL, JETSNAP_TIMEOUT_DEFAULT, kill_daemon, NULL, &step);
        ck_assert_int_eq(r, -EHOSTUNREACH);
        ck_assert_int_eq(step, JETSNAP_STEP_THAW);
        ck_assert_str_eq(jetsnap_step_to_string(step), "thaw");
        ck_assert_str_eq(jetsnap_client_get_error_name(c), "org.freedesktop.DBus.Error.ServiceUnknown");
        ck_assert_ptr_nonnull(jetsnap_client_get_error_message(c));
}
END_TEST

int main(void) {
        Suite *s = suite_create("client-helper-kill");
        TCase *tc = tcase_create("Kill");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_daemon_killed_while_frozen);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
