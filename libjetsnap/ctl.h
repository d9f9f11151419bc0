/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* jetsnapctl: what the files of the CLI share. */

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "jetsnap/jetsnap.h"
#include "macro.h"

/* Exit codes; also listed in `jetsnapctl --help` and the report. */
enum {
        CTL_EXIT_FAILURE = 1,           /* the daemon refused, or the bus failed; a message says why */
        CTL_EXIT_USAGE = 2,             /* bad command line */
        CTL_EXIT_CORRUPT = 3,           /* offline tools: corruption found */
        CTL_EXIT_NOT_FOUND = 4,         /* get/del: no such record */
        /* jetsnapctl snapshot: which step failed (COMMAND's own failure returns its status). */
        CTL_EXIT_PREPARE = 70,          /* prepare or prepare-instance */
        CTL_EXIT_FREEZE = 71,
        CTL_EXIT_TIMEOUT = 72,          /* the freeze window expired before thaw: the copy is not consistent */
        CTL_EXIT_THAW = 73,
        CTL_EXIT_TRUNCATE = 74,
        CTL_EXIT_END = 75,
        CTL_EXIT_BTRFS = 76,            /* --btrfs: creating the Btrfs snapshot failed */
        CTL_EXIT_EXEC = 127,            /* COMMAND could not be executed */
};

/* Global options, accepted before and after the verb. */
extern const char *arg_host;
extern const char *arg_address;
extern bool arg_user;

enum {
        CTL_OPT_HOST = 0x1000,
        CTL_OPT_ADDRESS,
        CTL_OPT_USER,
};

#define CTL_GLOBAL_OPTIONS                                              \
        { "host", required_argument, NULL, CTL_OPT_HOST },             \
        { "address", required_argument, NULL, CTL_OPT_ADDRESS },       \
        { "user", no_argument, NULL, CTL_OPT_USER }

/*
 * Handles a getopt result that every verb shares (global options, '?').
 * Return: 1 handled, 0 not a shared option, -CTL_EXIT_USAGE bad option.
 */
int ctl_common_option(int opt);

/* Connects as the global options say; prints why not on failure. Return: 0 or negative errno. */
int ctl_connect(jetsnap_client **ret);

/* Prints "jetsnapctl: <what>: <daemon message or strerror>" and returns CTL_EXIT_FAILURE (or NOT_FOUND). */
int ctl_error(jetsnap_client *c, int r, const char *fmt, ...) _printf_(3, 4);

int ctl_parse_id(const char *s, uint64_t *ret);
int ctl_parse_uint32(const char *s, uint32_t *ret);

/* Hex helpers for --hex: decode allocates (caller frees). */
int ctl_unhex(const char *s, void **ret, size_t *ret_size);
void ctl_print_bytes(FILE *f, const void *p, size_t n, bool hex);

/* Minimal JSON writer for --json. */
void json_string(FILE *f, const char *s);

/* Prints freeze info, human or JSON. */
void ctl_print_freeze_info(const jetsnap_freeze_info *info, bool json);

/* Verbs. Each gets argv from the verb on and returns an exit code. */
int verb_status(int argc, char *argv[]);
int verb_instances(int argc, char *argv[]);
int verb_prepare(int argc, char *argv[]);
int verb_prepare_instance(int argc, char *argv[]);
int verb_freeze(int argc, char *argv[]);
int verb_freeze_info(int argc, char *argv[]);
int verb_thaw(int argc, char *argv[]);
int verb_truncate_log(int argc, char *argv[]);
int verb_abort(int argc, char *argv[]);
int verb_end(int argc, char *argv[]);
int verb_snapshot(int argc, char *argv[]);
int verb_put(int argc, char *argv[]);
int verb_get(int argc, char *argv[]);
int verb_del(int argc, char *argv[]);
int verb_scan(int argc, char *argv[]);
int verb_dump_checkpoint(int argc, char *argv[]);
int verb_dump_logs(int argc, char *argv[]);
int verb_dump_log(int argc, char *argv[]);
int verb_verify(int argc, char *argv[]);
int verb_recover(int argc, char *argv[]);

/* ctl-btrfs.c, used by verb_snapshot. */
typedef struct BtrfsTarget {
        const char *subvolume;          /* as given */
        const char *to;                 /* directory for the snapshot */
        int subvolume_fd, to_fd;
        dev_t dev;
        char *subvolume_real;
        char *to_real;                  /* --to resolved, so the printed path is canonical */
        char *created;                  /* path of the snapshot once made */
        char *created_name;
} BtrfsTarget;

/* Opens and checks the subvolume and DIR, and that every instance's files lie inside. Prints why not. */
int btrfs_target_open(BtrfsTarget *t, jetsnap_client *c, char *const *instances);
/* Creates the read-only snapshot; the callback of jetsnap_snapshot(). */
int btrfs_target_snapshot(BtrfsTarget *t, uint64_t id);
/* Deletes a snapshot made by a run that failed later. */
void btrfs_target_discard(BtrfsTarget *t);
void btrfs_target_done(BtrfsTarget *t);

/*
 * Parses a verb's command line: its own @options (handled by @handler,
 * which returns 0 or -CTL_EXIT_USAGE), the global options and --help
 * (prints @usage). Options may follow positional arguments, except for
 * "snapshot", whose COMMAND starts at the first positional argument.
 * Positional arguments are argv[optind..argc), between
 * @min_args and @max_args (-1: no limit).
 * Return: 1 go on, 0 help was printed, -exit code on a usage error.
 */
int ctl_parse_args(int argc, char *argv[], const struct option *options, int (*handler)(int opt),
                   const char *usage, int min_args, int max_args);
