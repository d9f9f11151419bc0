/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-idle: what an idle jetsnapd costs. Counts the context switches of
 * every thread of PID (voluntary + involuntary, from
 * /proc/PID/task/TID/status) over a window: an idle daemon that sleeps in
 * epoll and its workers that sleep on a condition variable show none. Then
 * its memory: VmRSS, VmHWM and Pss (shared libraries split fairly).
 */

#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-util.h"

#define THREADS_MAX 256

static pid_t arg_pid = 0;
static uint64_t arg_duration_usec = 10 * USEC_PER_SEC;

typedef struct Task {
        pid_t tid;
        char comm[32];
        uint64_t switches;
} Task;

static void help(void) {
        printf("bench-idle -p PID [-t SECONDS]\n\n"
               "Wakeups per second of every thread of an idle process, and its memory.\n"
               "  -p PID       the process (jetsnapd)\n"
               "  -t SECONDS   measuring window (default 10)\n");
}

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hp:t:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'p': {
                        char *end;
                        long v;

                        errno = 0;
                        v = strtol(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end || v <= 0 || v > INT32_MAX) {
                                fprintf(stderr, "Invalid pid: %s\n", optarg);
                                return -EINVAL;
                        }
                        arg_pid = (pid_t) v;
                        break;
                }
                case 't':
                        arg_duration_usec = arg_seconds_usec(optarg);
                        break;
                default:
                        return -EINVAL;
                }
        if (arg_pid <= 0 || optind < argc) {
                help();
                return -EINVAL;
        }
        return 1;
}

/* Sum of the "key:   N" lines of a /proc status-like file whose key is in keys (NULL-terminated). */
static int read_fields(const char *path, const char *const *keys, uint64_t *ret) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        uint64_t sum = 0;
        FILE *f;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (getline(&line, &size, f) > 0)
                for (const char *const *k = keys; *k; k++) {
                        size_t l = strlen(*k);
                        if (strncmp(line, *k, l) == 0 && line[l] == ':')
                                sum += strtoull(line + l + 1, NULL, 10);
                }
        fclose(f);
        *ret = sum;
        return 0;
}

static int snapshot_tasks(Task *tasks, size_t *ret_n) {
        static const char *const keys[] = { "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches", NULL };
        char path[128];
        struct dirent *de;
        size_t n = 0;
        DIR *d;

        (void) snprintf(path, sizeof(path), "/proc/%d/task", (int) arg_pid);
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d)) && n < THREADS_MAX) {
                Task *t = &tasks[n];
                FILE *f;

                if (de->d_name[0] == '.')
                        continue;
                t->tid = (pid_t) atoi(de->d_name);
                (void) snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int) arg_pid, (int) t->tid);
                if (read_fields(path, keys, &t->switches) < 0)
                        continue;
                (void) snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int) arg_pid, (int) t->tid);
                f = fopen(path, "re");
                if (!f || !fgets(t->comm, sizeof(t->comm), f))
                        (void) snprintf(t->comm, sizeof(t->comm), "?");
                if (f)
                        fclose(f);
                t->comm[strcspn(t->comm, "\n")] = 0;
                n++;
        }
        closedir(d);
        *ret_n = n;
        return 0;
}

static int run(int argc, char *argv[]) {
        static Task before[THREADS_MAX], after[THREADS_MAX];
        size_t n_before, n_after;
        uint64_t total = 0, rss, hwm, pss;
        char path[128];
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        r = snapshot_tasks(before, &n_before);
        if (r < 0)
                return r;
        uint64_t t0 = now_ns();
        (void) usleep(arg_duration_usec);
        r = snapshot_tasks(after, &n_after);
        if (r < 0)
                return r;
        double seconds = (double) (now_ns() - t0) / 1e9;

        printf("\n== Idle cost of jetsnapd (pid %d), %zu threads, %.1f s window\n", (int) arg_pid, n_after, seconds);
        printf("%-20s %8s %12s %12s\n", "thread", "tid", "wakeups", "per second");
        for (size_t i = 0; i < n_after; i++) {
                uint64_t prev = 0;

                for (size_t j = 0; j < n_before; j++)
                        if (before[j].tid == after[i].tid)
                                prev = before[j].switches;
                uint64_t w = after[i].switches - prev;
                total += w;
                printf("%-20s %8d %12" PRIu64 " %12.2f\n", after[i].comm, (int) after[i].tid, w, (double) w / seconds);
        }
        printf("%-20s %8s %12" PRIu64 " %12.2f\n", "total", "", total, (double) total / seconds);

        (void) snprintf(path, sizeof(path), "/proc/%d/status", (int) arg_pid);
        r = read_fields(path, (const char *const[]) { "VmRSS", NULL }, &rss);
        if (r >= 0)
                r = read_fields(path, (const char *const[]) { "VmHWM", NULL }, &hwm);
        if (r < 0)
                return r;
        (void) snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) arg_pid);
        if (read_fields(path, (const char *const[]) { "Pss", NULL }, &pss) < 0)
                pss = 0;
        printf("memory: VmRSS %.1f MiB, VmHWM %.1f MiB, Pss %.1f MiB\n", rss / 1024.0, hwm / 1024.0, pss / 1024.0);
        table_note("no watchdog is configured here ($WATCHDOG_USEC unset), so every wakeup counts against the target");
        /* One stray wakeup (a late reply, the bus's own housekeeping) is not a period. */
        table_target(total <= 1, "no periodic wakeups (%" PRIu64 " in %.1f s)", total, seconds);
        table_target(rss <= 10 * 1024, "RSS <= 10 MiB (%.1f MiB)", rss / 1024.0);
        return 0;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        if (r < 0)
                fprintf(stderr, "bench-idle: %s\n", strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
