/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* jetsnapctl status, instances. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "parse-util.h"

static bool arg_json = false;

static int handle_option(int opt) {
        if (opt != 'j')
                return -CTL_EXIT_USAGE;
        arg_json = true;
        return 0;
}

static int parse_simple(int argc, char *argv[], const char *usage) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                {}
        };

        return ctl_parse_args(argc, argv, options, handle_option, usage, 0, 0);
}

static void print_status_json(const jetsnap_instance_status *s) {
        printf("{\"name\":");
        json_string(stdout, s->name);
        printf(",\"id\":%" PRIu64 ",\"state\":", s->id);
        json_string(stdout, s->state);
        printf(",\"path\":");
        json_string(stdout, s->path);
        printf(",\"databases\":[");
        for (size_t d = 0; d < s->n_databases; d++) {
                printf("%s{\"name\":", d ? "," : "");
                json_string(stdout, s->databases[d].display_name);
                printf(",\"path\":");
                json_string(stdout, s->databases[d].path);
                printf("}");
        }
        printf("],\"current_generation\":%" PRIu64 ",\"checkpoint_generation\":%" PRIu64
               ",\"last_full_backup\":[%" PRIu64 ",%" PRIu64 "],\"last_incremental_backup\":[%" PRIu64 ",%" PRIu64
               "],\"circular_logging\":%s,\"committed_transactions\":%" PRIu64 "}",
               s->current_generation, s->checkpoint_generation, s->last_full_backup_generation,
               s->last_full_backup_usec, s->last_incremental_backup_generation, s->last_incremental_backup_usec,
               s->circular_logging ? "true" : "false", s->committed_transactions);
}

/* CLOCK_REALTIME µs as UTC, "never" for 0. */
static const char *format_time(char *buf, size_t size, uint64_t usec) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (usec == 0 || !gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return "never";
        return buf;
}

/* Prints every instance as a table (or a JSON array). Returns an exit code. */
static int print_instances(jetsnap_client *c) {
        _cleanup_(jetsnap_strv_freep) char **names = NULL;
        int r;

        r = jetsnap_list_instances(c, &names);
        if (r < 0)
                return ctl_error(c, r, "failed to list instances");
        if (arg_json)
                fputc('[', stdout);
        else
                printf("%-16s %6s %-10s %8s %8s %12s %3s %-20s %-20s %s\n", "NAME", "ID", "STATE", "GEN", "CKPT",
                       "COMMITS", "DBS", "LAST FULL", "LAST INCREMENTAL", "PATH");
        for (char **n = names; *n; n++) {
                _cleanup_(jetsnap_instance_status_freep) jetsnap_instance_status *s = NULL;
                char full[32], incremental[32];

                r = jetsnap_get_instance_status(c, *n, &s);
                if (r < 0)
                        return ctl_error(c, r, "failed to read instance '%s'", *n);
                if (arg_json) {
                        if (n != names)
                                fputc(',', stdout);
                        print_status_json(s);
                } else
                        printf("%-16s %6" PRIu64 " %-10s %8" PRIu64 " %8" PRIu64 " %12" PRIu64 " %3zu %-20s %-20s %s\n",
                               s->name, s->id, s->state, s->current_generation, s->checkpoint_generation,
                               s->committed_transactions, s->n_databases,
                               format_time(full, sizeof(full), s->last_full_backup_usec),
                               format_time(incremental, sizeof(incremental), s->last_incremental_backup_usec),
                               s->path);
        }
        if (arg_json)
                fputs("]", stdout);
        return 0;
}

int verb_instances(int argc, char *argv[]) {
        _cleanup_(jetsnap_client_unrefp) jetsnap_client *c = NULL;
        int r;

        r = parse_simple(argc, argv,
                         "jetsnapctl instances [--json]\n\n"
                         "List jetsnapd's instances: id (ESE's JET_INSTANCE), state, current and\n"
                         "checkpoint log generation, commits, databases, directory.\n");
        if (r <= 0)
                return -r;
        if (ctl_connect(&c) < 0)
                return CTL_EXIT_FAILURE;
        r = print_instances(c);
        if (r == 0 && arg_json)
                fputc('\n', stdout);
        return r;
}

int verb_status(int argc, char *argv[]) {
        _cleanup_(jetsnap_client_unrefp) jetsnap_client *c = NULL;
        _cleanup_free_ char *version = NULL, *state = NULL;
        char buf[64];
        uint64_t timeout, id;
        int r;

        r = parse_simple(argc, argv,
                         "jetsnapctl status [--json]\n\n"
                         "Show jetsnapd's version, default freeze timeout, the active snapshot\n"
                         "session and the instances.\n");
        if (r <= 0)
                return -r;
        if (ctl_connect(&c) < 0)
                return CTL_EXIT_FAILURE;

        r = jetsnap_get_version(c, &version);
        if (r < 0)
                return ctl_error(c, r, "failed to reach jetsnapd");
        r = jetsnap_get_freeze_timeout(c, &timeout);
        if (r < 0)
                return ctl_error(c, r, "failed to read FreezeTimeoutUSec");
        r = jetsnap_get_active_snapshot_id(c, &id);
        if (r < 0)
                return ctl_error(c, r, "failed to read ActiveSnapshotId");
        r = jetsnap_get_active_snapshot_state(c, &state);
        if (r < 0)
                return ctl_error(c, r, "failed to read ActiveSnapshotState");

        if (arg_json) {
                printf("{\"version\":");
                json_string(stdout, version);
                printf(",\"freeze_timeout_usec\":%" PRIu64 ",\"active_snapshot_id\":%" PRIu64
                       ",\"active_snapshot_state\":", timeout, id);
                json_string(stdout, state);
                printf(",\"instances\":");
        } else {
                printf("Version: %s\nFreeze timeout: %s\n", version, format_duration(buf, sizeof(buf), timeout));
                if (id == 0)
                        printf("Active snapshot: none\n\n");
                else
                        printf("Active snapshot: %" PRIu64 " (%s)\n\n", id, state);
        }
        r = print_instances(c);
        if (r == 0 && arg_json)
                printf("}\n");
        return r;
}
