/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"

static bool log_to_journal;
static int log_max_level = LOG_INFO;

static int level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit", [LOG_ERR] = "err",
                [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        return -EINVAL;
}

void log_setup(void) {
        const char *e = getenv("JETSNAPD_LOG");

        log_to_journal = !streq_ptr(e, "stderr") && access("/run/systemd/journal/socket", W_OK) == 0;

        e = getenv("SYSTEMD_LOG_LEVEL");
        if (e && level_from_string(e) >= 0)
                log_max_level = level_from_string(e);
}

static void log_write(int level, int error, const char *message_id, uint64_t snapshot_id, const char *instances,
                      const char *format, va_list ap) {
        char buf[2048];

        if (level > log_max_level)
                return;

        /* Makes %m print the error we were handed rather than whatever errno happens to be. */
        if (error != 0)
                errno = error < 0 ? -error : error;
        (void) vsnprintf(buf, sizeof(buf), format, ap);

        if (!log_to_journal) {
                fprintf(stderr, "jetsnapd: %s\n", buf);
                return;
        }

        if (message_id)
                (void) sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%i", level, "SYSLOG_IDENTIFIER=jetsnapd",
                                       "MESSAGE_ID=%s", message_id,
                                       "JETSNAP_SNAPSHOT_ID=%" PRIu64, snapshot_id, "JETSNAP_INSTANCES=%s",
                                       instances ?: "", NULL);
        else if (error != 0)
                (void) sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%i", level, "SYSLOG_IDENTIFIER=jetsnapd",
                                       "ERRNO=%i", abs(error), NULL);
        else
                (void) sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%i", level, "SYSLOG_IDENTIFIER=jetsnapd", NULL);
}

int log_internal(int level, int error, const char *format, ...) {
        int saved = errno;
        va_list ap;

        va_start(ap, format);
        log_write(level, error, NULL, 0, NULL, format, ap);
        va_end(ap);
        errno = saved;
        return error;
}

void log_snapshot(int level, const char *message_id, uint64_t snapshot_id, const char *instances,
                  const char *format, ...) {
        int saved = errno;
        va_list ap;

        va_start(ap, format);
        log_write(level, 0, message_id, snapshot_id, instances, format, ap);
        va_end(ap);
        errno = saved;
}
