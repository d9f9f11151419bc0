/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * jetsnapctl's offline tools (eseutil-style): thin wrappers over the
 * engine's dump/verify/recover functions. They need no daemon and must not
 * be run on the directory of an instance a running jetsnapd owns (recover
 * would race with it; the others may read a torn state).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "engine.h"

static EngineDatabaseConfig *arg_databases = NULL;
static size_t arg_n_databases = 0;

enum {
        OPT_DATABASE = 0x4000,
};

static int handle_option(int opt) {
        EngineDatabaseConfig *l;
        char *eq;

        if (opt != OPT_DATABASE)
                return -CTL_EXIT_USAGE;
        eq = strchr(optarg, '=');
        if (!eq || eq == optarg || eq[1] != '/') {
                fprintf(stderr, "jetsnapctl: --database wants NAME=/ABSOLUTE/PATH, got '%s'.\n", optarg);
                return -CTL_EXIT_USAGE;
        }
        l = reallocarray(arg_databases, arg_n_databases + 1, sizeof(EngineDatabaseConfig));
        if (!l)
                return -CTL_EXIT_FAILURE;
        arg_databases = l;
        /* NAME is cut out of argv in place; both strings live as long as argv. */
        *eq = 0;
        arg_databases[arg_n_databases++] = (EngineDatabaseConfig) { .name = optarg, .path = eq + 1 };
        return 0;
}

static int offline_exit(int r, const char *what, const char *path) {
        fflush(stdout);
        if (r >= 0)
                return 0;
        if (r == -EBADMSG) {
                fprintf(stderr, "jetsnapctl: %s %s: corruption found (see above).\n", what, path);
                return CTL_EXIT_CORRUPT;
        }
        fprintf(stderr, "jetsnapctl: %s %s failed: %s\n", what, path, strerror(-r));
        return CTL_EXIT_FAILURE;
}

/* A path that is not there is a usage mistake, not corruption: say so before the engine looks. */
static int check_exists(const char *what, const char *path) {
        struct stat st;

        if (stat(path, &st) < 0) {
                fprintf(stderr, "jetsnapctl: %s %s: %s\n", what, path, strerror(errno));
                return CTL_EXIT_FAILURE;
        }
        return 0;
}

static int one_path_verb(int argc, char *argv[], const char *usage, int (*fn)(const char *path, FILE *f)) {
        int r;

        r = ctl_parse_args(argc, argv, NULL, NULL, usage, 1, 1);
        if (r <= 0)
                return -r;
        r = check_exists(argv[0], argv[optind]);
        if (r > 0)
                return r;
        return offline_exit(fn(argv[optind], stdout), argv[0], argv[optind]);
}

int verb_dump_checkpoint(int argc, char *argv[]) {
        return one_path_verb(argc, argv,
                             "jetsnapctl dump-checkpoint DIR\n\n"
                             "Print the checkpoint (jet.chk) of the instance in DIR. Exit status 3 if it is corrupt.\n",
                             engine_dump_checkpoint);
}

int verb_dump_logs(int argc, char *argv[]) {
        return one_path_verb(argc, argv,
                             "jetsnapctl dump-logs DIR\n\n"
                             "Print the header of every log generation of the instance in DIR.\n"
                             "Exit status 3 if a header is corrupt or the chain is broken.\n",
                             engine_dump_log_headers);
}

int verb_dump_log(int argc, char *argv[]) {
        return one_path_verb(argc, argv,
                             "jetsnapctl dump-log FILE\n\n"
                             "Print every record of one log generation file. Exit status 3 on a bad record.\n",
                             engine_dump_log);
}

int verb_verify(int argc, char *argv[]) {
        return one_path_verb(argc, argv,
                             "jetsnapctl verify DIR\n\n"
                             "Verify every checksum of the instance in DIR (checkpoint, log headers and\n"
                             "records). Exit status 0 if everything checks out, 3 if corruption was found.\n",
                             engine_verify);
}

int verb_recover(int argc, char *argv[]) {
        static const struct option options[] = {
                { "database", required_argument, NULL, OPT_DATABASE },
                {}
        };
        _cleanup_free_ char *message = NULL;
        int r;

        r = ctl_parse_args(argc, argv, options, handle_option,
                           "jetsnapctl recover DIR [--database NAME=PATH]...\n\n"
                           "Run recovery on an instance directory restored from a snapshot, without\n"
                           "jetsnapd, and checkpoint it. Database paths come from jet.chk;\n"
                           "--database overrides the path of database NAME.\n"
                           "Exit status 3 if corruption stops recovery.\n",
                           1, 1);
        if (r <= 0) {
                free(arg_databases);
                return -r;
        }
        r = check_exists("recover", argv[optind]);
        if (r > 0) {
                free(arg_databases);
                return r;
        }
        r = engine_recover_offline(argv[optind], arg_databases, arg_n_databases, stdout, &message);
        free(arg_databases);
        if (r < 0 && message)
                fprintf(stderr, "jetsnapctl: recover %s: %s\n", argv[optind], message);
        return offline_exit(r, "recover", argv[optind]);
}
