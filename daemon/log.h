/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Logging of jetsnapd: to the journal (structured, with MESSAGE_ID for
 * every snapshot step, like ESE's event log) or to stderr when there is no
 * journal socket or JETSNAPD_LOG=stderr. Only the daemon layer logs.
 */

#include <stdint.h>
#include <syslog.h>

/*
 * Stable MESSAGE_IDs of the snapshot steps, documented in jetsnapd(8).
 * Never change one: journalctl MESSAGE_ID= filters in the field rely on
 * them. Mirrors ESE events 2001-2010 and 224/225.
 */
#define JETSNAP_MESSAGE_PREPARE           "e7c3bc5791ae43bcad48435ed7569f32"
#define JETSNAP_MESSAGE_PREPARE_INSTANCE  "a8addf257f7e4ef4aff1bdf19c47fc46"
#define JETSNAP_MESSAGE_FREEZE_START      "21fc347d43264f9382798cd5684783e5"
#define JETSNAP_MESSAGE_FREEZE_DONE       "41b11ce01d2843f7add6f9fe036005e1"
#define JETSNAP_MESSAGE_FREEZE_FAILED     "76105309d52f4fa7af9b5e8ca80f1ae7"
#define JETSNAP_MESSAGE_THAW              "bca8b7a3b4ae4871aaff93b553d9430b"
#define JETSNAP_MESSAGE_TIMEOUT           "1954ec36878f441091649bce894d3aae"
#define JETSNAP_MESSAGE_ABORT             "4200e4f6816e4e70982046ee53378aee"
#define JETSNAP_MESSAGE_LOGS_TRUNCATED    "7959a357ba144a149f78186cee5d9366"
#define JETSNAP_MESSAGE_NOTHING_TRUNCATED "191e27953900422b9b9ed9881cbbe599"
#define JETSNAP_MESSAGE_END               "4b7a1544d1ec4867b7241a90673f3cff"
#define JETSNAP_MESSAGE_ACCESS_DENIED     "eb24ebe7d0134be8bac630f41f04931f"

/* Picks journal or stderr and reads the level from SYSTEMD_LOG_LEVEL (default info). */
void log_setup(void);

/* Returns error (a negative errno or 0), so callers can "return log_error_errno(r, ...)". %m is -error. */
int log_internal(int level, int error, const char *format, ...) __attribute__((format(printf, 3, 4)));

/*
 * A snapshot step: MESSAGE_ID, JETSNAP_SNAPSHOT_ID= and JETSNAP_INSTANCES=
 * (comma-separated names, may be NULL) as journal fields.
 */
void log_snapshot(int level, const char *message_id, uint64_t snapshot_id, const char *instances,
                  const char *format, ...) __attribute__((format(printf, 5, 6)));

#define log_debug(...) log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(r, ...) log_internal(LOG_WARNING, (r), __VA_ARGS__)
#define log_error_errno(r, ...) log_internal(LOG_ERR, (r), __VA_ARGS__)
