/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * jetsnapctl: command line client of jetsnapd. This file holds main(), the
 * global options and the verb table; each group of verbs has its own file
 * (ctl-status.c, ctl-snapshot.c, ctl-btrfs.c, ctl-data.c, ctl-offline.c).
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const struct {
        const char *name;
        int (*run)(int argc, char *argv[]);
} verbs[] = {
        { "status", verb_status },
        { "instances", verb_instances },
        { "prepare", verb_prepare },
        { "prepare-instance", verb_prepare_instance },
        { "freeze", verb_freeze },
        { "freeze-info", verb_freeze_info },
        { "thaw", verb_thaw },
        { "truncate-log", verb_truncate_log },
        { "abort", verb_abort },
        { "end", verb_end },
        { "snapshot", verb_snapshot },
        { "put", verb_put },
        { "get", verb_get },
        { "del", verb_del },
        { "scan", verb_scan },
        { "dump-checkpoint", verb_dump_checkpoint },
        { "dump-logs", verb_dump_logs },
        { "dump-log", verb_dump_log },
        { "verify", verb_verify },
        { "recover", verb_recover },
};

static void help(void) {
        printf("jetsnapctl [OPTIONS...] COMMAND [ARGS...]\n\n"
               "Control jetsnapd snapshots and data; inspect instance files offline.\n\n"
               "Commands (each has --help):\n"
               "  status                         Daemon version, freeze timeout, active snapshot, instances\n"
               "  instances [--json]             List instances with state and generations\n"
               "  prepare [FLAGS] [--timeout T]  Start a snapshot session, print its id\n"
               "  prepare-instance ID NAME       Add an instance to an --explicit session\n"
               "  freeze ID [--json]             Freeze; print the files to copy\n"
               "  freeze-info ID [--json]        Print the freeze info again\n"
               "  thaw ID                        Thaw\n"
               "  truncate-log ID [--all-databases] [--instance NAME]\n"
               "  abort ID                       Abort the session\n"
               "  end ID [--abort]               End the session\n"
               "  snapshot [OPTIONS] -- COMMAND...  Whole snapshot, COMMAND runs while frozen\n"
               "  snapshot --btrfs SUBVOL --to DIR  Whole snapshot as a read-only Btrfs snapshot\n"
               "  put INSTANCE DATABASE TABLE KEY VALUE [--hex]\n"
               "  get INSTANCE DATABASE TABLE KEY [--hex]\n"
               "  del INSTANCE DATABASE TABLE KEY [--hex]\n"
               "  scan INSTANCE DATABASE TABLE [--from K] [--to K] [--limit N] [--hex]\n"
               "  dump-checkpoint DIR            Offline: print an instance's checkpoint\n"
               "  dump-logs DIR                  Offline: print the headers of its log generations\n"
               "  dump-log FILE                  Offline: print the records of one log file\n"
               "  verify DIR                     Offline: verify every checksum\n"
               "  recover DIR [--database NAME=PATH]...  Offline: recover a restored instance\n\n"
               "Options (before or after COMMAND):\n"
               "  --host [USER@]HOST   Talk to jetsnapd on HOST through ssh (systemd-stdio-bridge)\n"
               "  --user               Talk to jetsnapd --user on the session bus\n"
               "  --address ADDRESS    Talk to jetsnapd on the bus at ADDRESS\n"
               "  -h --help            Show this help\n"
               "  --version            Show the version\n\n"
               "Exit status: 0 success; 1 failure (the message says why); 2 usage error;\n"
               "3 corruption found (offline tools); 4 no such record (get, del).\n"
               "snapshot: COMMAND's status if it failed (128+N if killed by signal N,\n"
               "127 if it could not be run); 70 prepare failed; 71 freeze failed;\n"
               "72 the freeze timed out before thaw (the copy is not consistent);\n"
               "73 thaw failed; 74 log truncation failed; 75 end failed;\n"
               "76 the Btrfs snapshot could not be created.\n"
               "On every failure the session is ended with JET_bitAbortSnapshot.\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                CTL_GLOBAL_OPTIONS,
                {}
        };
        int c, r;

        /* '+': stop at the verb, whose options are its own. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'V':
                        printf("jetsnapctl %s\n", PACKAGE_VERSION);
                        return EXIT_SUCCESS;
                default:
                        r = ctl_common_option(c);
                        if (r < 0)
                                return -r;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "jetsnapctl: missing command, see --help.\n");
                return CTL_EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[optind], verbs[i].name)) {
                        int verb_argc = argc - optind;
                        char **verb_argv = argv + optind;

                        /* Reinitialize getopt for the verb's own parser. */
                        optind = 0;
                        return verbs[i].run(verb_argc, verb_argv);
                }
        fprintf(stderr, "jetsnapctl: unknown command '%s', see --help.\n", argv[optind]);
        return CTL_EXIT_USAGE;
}
