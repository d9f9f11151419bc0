/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * jetsnapctl: the low-level snapshot steps (prepare ... end), one bus call
 * each, and `snapshot`, the whole sequence around a COMMAND or a Btrfs
 * snapshot through jetsnap_snapshot().
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus-errors.h"
#include "ctl.h"
#include "parse-util.h"

static uint32_t arg_flags = 0;
static uint64_t arg_timeout = JETSNAP_TIMEOUT_DEFAULT;
static bool arg_json = false;
static const char *arg_instance = NULL;
static char **arg_instances = NULL;
static size_t arg_n_instances = 0;
static const char *arg_btrfs = NULL;
static const char *arg_to = NULL;

enum {
        OPT_INCREMENTAL = 0x2000,
        OPT_COPY,
        OPT_CONTINUE_AFTER_THAW,
        OPT_EXPLICIT,
        OPT_TIMEOUT,
        OPT_JSON,
        OPT_ALL_DATABASES,
        OPT_INSTANCE,
        OPT_ABORT,
        OPT_BTRFS,
        OPT_TO,
};

static int handle_option(int opt) {
        int r;

        switch (opt) {
        case OPT_INCREMENTAL:
                arg_flags |= JETSNAP_PREPARE_INCREMENTAL;
                return 0;
        case OPT_COPY:
                arg_flags |= JETSNAP_PREPARE_COPY;
                return 0;
        case OPT_CONTINUE_AFTER_THAW:
                arg_flags |= JETSNAP_PREPARE_CONTINUE_AFTER_THAW;
                return 0;
        case OPT_EXPLICIT:
                arg_flags |= JETSNAP_PREPARE_EXPLICIT;
                return 0;
        case OPT_ALL_DATABASES:
                arg_flags |= JETSNAP_TRUNCATE_ALL_DATABASES;
                return 0;
        case OPT_ABORT:
                arg_flags |= JETSNAP_END_ABORT;
                return 0;
        case OPT_JSON:
                arg_json = true;
                return 0;
        case OPT_TIMEOUT:
                r = parse_duration(optarg, &arg_timeout);
                if (r < 0) {
                        fprintf(stderr, "jetsnapctl: invalid --timeout '%s' (e.g. 30s, 500ms, 2min).\n", optarg);
                        return -CTL_EXIT_USAGE;
                }
                return 0;
        case OPT_INSTANCE: {
                char **l = reallocarray(arg_instances, arg_n_instances + 2, sizeof(char *));
                if (!l)
                        return -CTL_EXIT_FAILURE;
                arg_instances = l;
                arg_instances[arg_n_instances++] = optarg;
                arg_instances[arg_n_instances] = NULL;
                arg_instance = optarg;
                return 0;
        }
        case OPT_BTRFS:
                arg_btrfs = optarg;
                return 0;
        case OPT_TO:
                arg_to = optarg;
                return 0;
        default:
                return -CTL_EXIT_USAGE;
        }
}

/* Connects and parses the snapshot id of argv[optind]. Returns 0 or an exit code. */
static int connect_with_id(int argc, char *argv[], jetsnap_client **ret_c, uint64_t *ret_id) {
        if (ctl_parse_id(argv[optind], ret_id) < 0) {
                fprintf(stderr, "jetsnapctl: invalid snapshot id '%s'.\n", argv[optind]);
                return CTL_EXIT_USAGE;
        }
        if (ctl_connect(ret_c) < 0)
                return CTL_EXIT_FAILURE;
        return 0;
}

int verb_prepare(int argc, char *argv[]) {
        static const struct option options[] = {
                { "incremental", no_argument, NULL, OPT_INCREMENTAL },
                { "copy", no_argument, NULL, OPT_COPY },
                { "continue-after-thaw", no_argument, NULL, OPT_CONTINUE_AFTER_THAW },
                { "explicit", no_argument, NULL, OPT_EXPLICIT },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                {}
        };
        _cleanup_(jetsnap_client_unrefp) jetsnap_client *c = NULL;
        uint64_t id;
        int r;

        r = ctl_parse_args(argc, argv, options, handle_option,
                           "jetsnapctl prepare [--incremental] [--copy] [--continue-after-thaw] [--explicit]\n"
                           "                   [--timeout T]\n\n"
                           "Start a snapshot session and print its id. The session is not bound to\n"
                           "jetsnapctl (it outlives this command); end it with 'end' or 'abort', or\n"
                           "the daemon's session idle timeout does.\n\n"
                           "  --incremental          Only log files since the last backup\n"
                           "  --copy                 Copy snapshot: no truncation, not a base for incrementals\n"
                           "  --continue-after-thaw  The session survives thaw and needs 'end'\n"
                           "  --explicit             Start empty; add instances with prepare-instance\n"
                           "  --timeout T            Freeze timeout of this session (30s, 500ms, ...)\n",
                           0, 0);
        if (r <= 0)
                return -r;
        if (ctl_connect(&c) < 0)
                return CTL_EXIT_FAILURE;
        if (arg_timeout == JETSNAP_TIMEOUT_DEFAULT)
                r = jetsnap_prepare(c, arg_flags, &id);
        else
                r = jetsnap_prepare_with_options(c, arg_flags, arg_timeout, /* bind_to_caller= */ 0, &id);
        if (r < 0)
                return ctl_error(c, r, "prepare failed");
        printf("%" PRIu64 "\n", id);
        return 0;
}

int verb_prepare_instance(int argc, char *argv[]) {
        _cleanup_(jetsnap_client_unrefp) jetsnap_client *c = NULL;
        uint64_t id;
        int r;

        r = ctl_parse_args(argc, argv, NULL, NULL,
                           "jetsnapctl prepare-instance ID NAME\n\n"
                           "Add instance NAME to session ID, which was prepared with --explicit.\n",
                           2, 2);
        if (r <= 0)
                return -r;
        r = connect_with_id(argc, argv, &c, &id);
        if (r > 0)
                return r;
        r = jetsnap_prepare_instance(c, id, argv[optind + 1], 0);
        if (r < 0)
                return ctl_error(c, r, "prepare-instance %" PRIu64 " '%s' failed", id, argv[optind + 1]);
        return 0;
}

static int freeze_info_verb(int argc, char *argv[], bool freeze) {
        static const struct option options[] = {
                { "json", no_argument, NULL, OPT_JSON },
                {}
        };
        _cleanup_(jetsnap_client_unrefp) jetsnap_client *c = NULL;
        _cleanup_(jetsnap_freeze_info_freep) jetsnap_freeze_info *info = NULL;
        uint64_t id;
        int r;

        r = ctl_parse_args(argc, argv, options, handle_option,
                           freeze ? "jetsnapctl freeze ID [--json]\n\n"
                                    "Freeze the instances of session ID and print, per instance, the\n"
                                    "databases and log/checkpoint files a backup must copy. Thaw in time:\n"
                                    "the freeze times out by itself.\n"
                                  : "jetsnapctl freeze-info ID [--json]\n\n"
                                    "Print the freeze info of session ID again (empty after a timeout).\n",
                           1, 1);
        if (r <= 0)
                return -r;
        r = connect_with_id(argc, argv, &c, &id);
        if (r > 0)
                return r;
        r = freeze ? jetsnap_freeze(c, id, 0, &info) : jetsnap_get_freeze_info(c, id, 0, &info);
        if (r < 0)
                return ctl_error(c, r, "%s %" PRIu64 " failed", freeze ? "freeze" : "freeze-info", id);
        ctl_print_freeze_info(info, arg_json);
        return 0;
}

int verb_freeze(int argc, char *argv[]) {
        return freeze_info_verb(argc, argv, true);
}

int verb_freeze_info(int argc, char *argv[]) {
        return freeze_info_verb(argc, argv, false);
}

/* thaw, abort, end: one id, flags from the options. */
static int id_verb(int argc, char *argv[], const struct option *options, const char *usage,
                   int (*call)(jetsnap_client *c, uint64_t id, uint32_t flags)) {
        _cleanup_(jetsnap_client_unrefp) jetsnap_client *c = NULL;
        uint64_t id;
        int r;

        r = ctl_parse_args(argc, argv, options, handle_option, usage, 1, 1);
        if (r <= 0)
                return -r;
        r = connect_with_id(argc, argv, &c, &id);
        if (r > 0)
                return r;
        r = call(c, id, arg_flags);
        if (r < 0)
                return ctl_error(c, r, "%s %" PRIu64 " failed", argv[0], id);
        return 0;
}

int verb_thaw(int argc, char *argv[]) {
        return id_verb(argc, argv, NULL,
                       "jetsnapctl thaw ID\n\n"
                       "Thaw the instances of session ID. Fails (exit 1) if the freeze already\n"
                       "timed out: then the copy is not consistent.\n",
                       jetsnap_thaw);
}

int verb_abort(int argc, char *argv[]) {
        return id_verb(argc, argv, NULL,
                       "jetsnapctl abort ID\n\nAbort session ID: thaw if frozen, record nothing.\n",
                       jetsnap_abort);
}

int verb_end(int argc, char *argv[]) {
        static const struct option options[] = {
                { "abort", no_argument, NULL, OPT_ABORT },
                {}
        };

        return id_verb(argc, argv, options,
                       "jetsnapctl end ID [--abort]\n\n"
                       "End session ID; after thaw this records the backup.\n\n"
                       "  --abort   The snapshot failed (JET_bitAbortSnapshot): record nothing\n",
                       jetsnap_end);
}

int verb_truncate_log(int argc, char *argv[]) {
        static const struct option options[] = {
                { "all-databases", no_argument, NULL, OPT_ALL_DATABASES },
                { "instance", required_argument, NULL, OPT_INSTANCE },
                {}
        };
        _cleanup_(jetsnap_client_unrefp) jetsnap_client *c = NULL;
        _cleanup_free_ char **instances = NULL;
        uint64_t id;
        int r;

        r = ctl_parse_args(argc, argv, options, handle_option,
                           "jetsnapctl truncate-log ID [--all-databases] [--instance NAME]\n\n"
                           "Delete the log generations the (thawed, non-copy) snapshot made redundant.\n\n"
                           "  --all-databases  Every database was in the snapshot (without it nothing is deleted)\n"
                           "  --instance NAME  Only this instance of the session\n",
                           1, 1);
        /* The array is ours, its strings are argv's. */
        instances = TAKE_PTR(arg_instances);
        if (r <= 0)
                return -r;
        if (arg_n_instances > 1) {
                fprintf(stderr, "jetsnapctl: truncate-log takes --instance once.\n");
                return CTL_EXIT_USAGE;
        }
        r = connect_with_id(argc, argv, &c, &id);
        if (r > 0)
                return r;
        if (arg_instance)
                r = jetsnap_truncate_log_instance(c, id, arg_instance, arg_flags);
        else
                r = jetsnap_truncate_log(c, id, arg_flags);
        if (r < 0)
                return ctl_error(c, r, "truncate-log %" PRIu64 " failed", id);
        return 0;
}

/* What the snapshot callback needs and what it learnt. */
typedef struct Run {
        char **command;
        int command_status;             /* exit code to use when COMMAND failed */
        BtrfsTarget *btrfs;
} Run;

/* Sets JETSNAP_SNAPSHOT_ID, JETSNAP_INSTANCES and JETSNAP_FILES for COMMAND. */
static int set_environment(uint64_t id, const jetsnap_freeze_info *info) {
        _cleanup_free_ char *instances = NULL, *files = NULL;
        char idbuf[32];
        size_t n_instances = 0, n_files = 0;
        FILE *fi, *ff;
        int r;

        fi = open_memstream(&instances, &n_instances);
        if (!fi)
                return -ENOMEM;
        ff = open_memstream(&files, &n_files);
        if (!ff) {
                fclose(fi);
                return -ENOMEM;
        }
        for (size_t i = 0; i < info->n_instances; i++) {
                const jetsnap_instance_info *in = &info->instances[i];

                fprintf(fi, "%s%s", i ? " " : "", in->name);
                for (size_t d = 0; d < in->n_databases; d++)
                        fprintf(ff, "%s%s", ftell(ff) > 0 ? "\n" : "", in->databases[d].path);
                for (size_t k = 0; k < in->n_files; k++)
                        fprintf(ff, "%s%s", ftell(ff) > 0 ? "\n" : "", in->files[k]);
        }
        r = fclose(fi) | fclose(ff);
        if (r != 0)
                return -ENOMEM;
        snprintf(idbuf, sizeof(idbuf), "%" PRIu64, id);
        if (setenv("JETSNAP_SNAPSHOT_ID", idbuf, 1) < 0 || setenv("JETSNAP_INSTANCES", instances, 1) < 0 ||
            setenv("JETSNAP_FILES", files, 1) < 0)
                return -errno;
        return 0;
}

static int run_command(Run *run, uint64_t id, const jetsnap_freeze_info *info) {
        pid_t pid, parent;
        int r, status;

        r = set_environment(id, info);
        if (r < 0) {
                fprintf(stderr, "jetsnapctl: failed to set up COMMAND's environment: %s\n", strerror(-r));
                run->command_status = CTL_EXIT_FAILURE;
                return r;
        }
        fflush(stdout);
        fflush(stderr);
        parent = getpid();
        pid = fork();
        if (pid < 0) {
                r = -errno;
                fprintf(stderr, "jetsnapctl: fork failed: %m\n");
                run->command_status = CTL_EXIT_FAILURE;
                return r;
        }
        if (pid == 0) {
                /*
                 * If jetsnapctl dies, its bound session is aborted and the
                 * instances thaw: a COMMAND still copying would produce an
                 * inconsistent image nobody is told about. Take it down too.
                 */
                if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                        _exit(CTL_EXIT_FAILURE);
                execvp(run->command[0], run->command);
                fprintf(stderr, "jetsnapctl: failed to execute %s: %m\n", run->command[0]);
                _exit(CTL_EXIT_EXEC);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        r = -errno;
                        run->command_status = CTL_EXIT_FAILURE;
                        return r;
                }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status)) {
                run->command_status = WEXITSTATUS(status);
                fprintf(stderr, "jetsnapctl: %s failed with exit status %d; aborting the snapshot.\n",
                        run->command[0], run->command_status);
        } else {
                run->command_status = 128 + WTERMSIG(status);
                fprintf(stderr, "jetsnapctl: %s was killed by signal %d; aborting the snapshot.\n",
                        run->command[0], WTERMSIG(status));
        }
        return -ECANCELED;
}

static int snapshot_callback(jetsnap_client *c, uint64_t id, const jetsnap_freeze_info *info, void *userdata) {
        Run *run = userdata;

        if (run->btrfs)
                return btrfs_target_snapshot(run->btrfs, id);
        return run_command(run, id, info);
}

static int step_exit_code(jetsnap_client *c, jetsnap_step step, const Run *run) {
        switch (step) {
        case JETSNAP_STEP_ARGUMENTS:
                return CTL_EXIT_USAGE;
        case JETSNAP_STEP_PREPARE:
        case JETSNAP_STEP_PREPARE_INSTANCE:
                return CTL_EXIT_PREPARE;
        case JETSNAP_STEP_FREEZE:
                return CTL_EXIT_FREEZE;
        case JETSNAP_STEP_CALLBACK:
                return run->btrfs ? CTL_EXIT_BTRFS : run->command_status;
        case JETSNAP_STEP_THAW:
                /* Only the daemon's TimeOut means the freeze window expired; a lost reply is a thaw failure. */
                if (streq_ptr(jetsnap_client_get_error_name(c), JETSNAP_ERROR_TIME_OUT))
                        return CTL_EXIT_TIMEOUT;
                return CTL_EXIT_THAW;
        case JETSNAP_STEP_TRUNCATE_LOG:
                return CTL_EXIT_TRUNCATE;
        case JETSNAP_STEP_END:
                return CTL_EXIT_END;
        default:
                return CTL_EXIT_FAILURE;
        }
}

int verb_snapshot(int argc, char *argv[]) {
        static const struct option options[] = {
                { "incremental", no_argument, NULL, OPT_INCREMENTAL },
                { "copy", no_argument, NULL, OPT_COPY },
                { "instance", required_argument, NULL, OPT_INSTANCE },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "btrfs", required_argument, NULL, OPT_BTRFS },
                { "to", required_argument, NULL, OPT_TO },
                {}
        };
        _cleanup_(jetsnap_client_unrefp) jetsnap_client *c = NULL;
        _cleanup_free_ char **instances = NULL;
        BtrfsTarget btrfs = { .subvolume_fd = -EBADF, .to_fd = -EBADF };
        Run run = {};
        jetsnap_step step;
        int r, ret;

        r = ctl_parse_args(argc, argv, options, handle_option,
                           "jetsnapctl snapshot [--incremental] [--copy] [--instance NAME]... [--timeout T]\n"
                           "                    -- COMMAND [ARGS...]\n"
                           "jetsnapctl snapshot [...] --btrfs SUBVOLUME --to DIR\n\n"
                           "Take a whole snapshot: prepare (bound to this process: if jetsnapctl dies,\n"
                           "the daemon aborts the session), freeze, run COMMAND (or create a read-only\n"
                           "Btrfs snapshot of SUBVOLUME in DIR, named jetsnap-YYYYmmddTHHMMSSZ-ID, and\n"
                           "print its path), thaw, truncate the logs (not for --copy), end.\n"
                           "COMMAND's environment: JETSNAP_SNAPSHOT_ID; JETSNAP_INSTANCES (space-separated\n"
                           "names); JETSNAP_FILES (newline-separated absolute paths to copy: databases,\n"
                           "checkpoint and log generations).\n"
                           "On any failure the session ends with JET_bitAbortSnapshot (nothing recorded).\n\n"
                           "  --incremental    Only the log generations since the last backup\n"
                           "  --copy           Copy snapshot: no log truncation, not a base for incrementals\n"
                           "  --instance NAME  Only these instances (repeatable); default: every running one\n"
                           "  --timeout T      Freeze timeout (default: the daemon's)\n"
                           "  --btrfs SUBVOL   Snapshot this Btrfs subvolume (it must hold every instance's files)\n"
                           "  --to DIR         Where the Btrfs snapshot goes (same file system)\n\n"
                           "Exit status: 0 success; COMMAND's status if it failed (128+N: signal N;\n"
                           "127: could not run); 70 prepare, 71 freeze, 72 freeze timed out before thaw\n"
                           "(the copy is not consistent), 73 thaw, 74 truncate-log, 75 end failed;\n"
                           "76 the Btrfs snapshot failed; 1 other errors; 2 usage.\n",
                           0, -1);
        /* The array is ours, its strings are argv's. */
        instances = TAKE_PTR(arg_instances);
        if (r <= 0)
                return -r;
        if (!!arg_btrfs != !!arg_to) {
                fprintf(stderr, "jetsnapctl: --btrfs and --to go together.\n");
                return CTL_EXIT_USAGE;
        }
        if (arg_btrfs && optind < argc) {
                fprintf(stderr, "jetsnapctl: --btrfs takes no COMMAND.\n");
                return CTL_EXIT_USAGE;
        }
        if (!arg_btrfs && optind >= argc) {
                fprintf(stderr, "jetsnapctl: snapshot needs -- COMMAND or --btrfs SUBVOLUME --to DIR.\n");
                return CTL_EXIT_USAGE;
        }
        if (ctl_connect(&c) < 0)
                return CTL_EXIT_FAILURE;

        run.command = argv + optind;
        if (arg_btrfs) {
                btrfs.subvolume = arg_btrfs;
                btrfs.to = arg_to;
                r = btrfs_target_open(&btrfs, c, instances);
                if (r < 0) {
                        btrfs_target_done(&btrfs);
                        return CTL_EXIT_FAILURE;
                }
                run.btrfs = &btrfs;
        }

        r = jetsnap_snapshot(c, arg_flags, (const char *const *) instances, arg_timeout, snapshot_callback, &run,
                             &step);
        if (r >= 0) {
                if (run.btrfs)
                        printf("%s\n", btrfs.created);
                ret = 0;
        } else {
                ret = step_exit_code(c, step, &run);
                /* The callback printed its own reason. */
                if (step != JETSNAP_STEP_CALLBACK)
                        (void) ctl_error(c, r, "snapshot failed at step %s", jetsnap_step_to_string(step));
                if (run.btrfs)
                        btrfs_target_discard(&btrfs);
        }
        btrfs_target_done(&btrfs);
        return ret;
}
