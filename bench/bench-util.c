/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

/*
 * Samples live in one shared anonymous mapping so that forked workers and
 * threads write them the same way and the parent reads them after the
 * run. MAP_NORESERVE: only the pages a run touches cost memory.
 */
#define SAMPLES_MAX (UINT64_C(1) << 20)
/* A worker whose transactions keep failing stops, so a dead daemon shows as errors, not as a busy loop. */
#define WORKER_ERRORS_MAX 100

typedef struct WorkerSlot {
        uint64_t n_ops;
        uint64_t n_samples;
        uint64_t errors;
        int first_error;
        int setup_result;
        int ready;
} WorkerSlot;

typedef struct Shared {
        int go;
        int stop;
        WorkerSlot slots[];
} Shared;

struct BenchLoad {
        BenchMode mode;
        const BenchWorkerOps *ops;
        void *arg;
        unsigned n;
        Shared *shared;
        size_t shared_size;
        BenchSample *samples;
        size_t samples_size;
        pid_t *pids;
        pthread_t *threads;
        struct ThreadArg *thread_args;
        unsigned n_started;
        uint64_t t0;
};

typedef struct ThreadArg {
        BenchLoad *load;
        unsigned worker;
} ThreadArg;

uint64_t now_ns(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NSEC_PER_SEC + (uint64_t) ts.tv_nsec;
}

void bench_key(uint8_t key[static BENCH_KEY_SIZE], unsigned worker, uint64_t seq) {
        uint64_t v = ((uint64_t) worker << 40) | (seq & ((UINT64_C(1) << 40) - 1));

        for (int i = BENCH_KEY_SIZE - 1; i >= 0; i--, v >>= 8)
                key[i] = (uint8_t) v;
}

void bench_row(uint8_t row[static BENCH_ROW_SIZE], unsigned worker, uint64_t seq) {
        /* Not compressible, not constant: a cheap LCG seeded by the row's identity, 8 bytes a step. */
        uint64_t x = seq * UINT64_C(6364136223846793005) + worker + 1;

        for (size_t i = 0; i < BENCH_ROW_SIZE; i += sizeof(x)) {
                x = x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
                memcpy(row + i, &x, MIN(sizeof(x), (size_t) BENCH_ROW_SIZE - i));
        }
}

static bool load_stopping(BenchLoad *l) {
        return __atomic_load_n(&l->shared->stop, __ATOMIC_ACQUIRE);
}

static void worker_main(BenchLoad *l, unsigned w) {
        WorkerSlot *s = &l->shared->slots[w];
        BenchSample *samples = l->samples + (size_t) w * SAMPLES_MAX;
        void *ctx = NULL;
        int r;

        r = l->ops->setup(l->arg, w, &ctx);
        s->setup_result = MIN(r, 0);
        __atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
        if (r < 0)
                return;

        /* Workers poll rather than block on a shared futex: simpler across fork, and the wait is short. */
        while (!__atomic_load_n(&l->shared->go, __ATOMIC_ACQUIRE) && !load_stopping(l))
                (void) usleep(200);

        for (uint64_t seq = 0; !load_stopping(l); seq++) {
                uint64_t t = now_ns();

                r = l->ops->op(ctx, w, seq);
                uint64_t lat = now_ns() - t;
                if (r < 0) {
                        if (s->errors++ == 0)
                                s->first_error = r;
                        if (s->errors >= WORKER_ERRORS_MAX)
                                break;
                        continue;
                }
                s->n_ops++;
                if (s->n_samples < SAMPLES_MAX)
                        samples[s->n_samples++] = (BenchSample) { .start_ns = t, .lat_ns = lat };
        }

        if (l->ops->teardown)
                l->ops->teardown(ctx);
}

static void *worker_thread(void *p) {
        ThreadArg *a = p;

        worker_main(a->load, a->worker);
        return NULL;
}

static void load_reap(BenchLoad *l) {
        for (unsigned i = 0; i < l->n_started; i++) {
                if (l->mode == BENCH_THREADS)
                        (void) pthread_join(l->threads[i], NULL);
                else if (l->pids[i] > 0) {
                        /* pids[i] is 0 once wait_ready() reaped a worker that died early. */
                        while (waitpid(l->pids[i], NULL, 0) < 0 && errno == EINTR)
                                ;
                }
        }
        l->n_started = 0;
}

static BenchLoad *load_free(BenchLoad *l) {
        if (!l)
                return NULL;
        if (l->n_started > 0) {
                __atomic_store_n(&l->shared->stop, 1, __ATOMIC_RELEASE);
                load_reap(l);
        }
        if (l->shared)
                (void) munmap(l->shared, l->shared_size);
        if (l->samples)
                (void) munmap(l->samples, l->samples_size);
        free(l->pids);
        free(l->threads);
        free(l->thread_args);
        free(l);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(BenchLoad *, load_free);

static int wait_ready(BenchLoad *l) {
        uint64_t deadline = now_ns() + 60 * NSEC_PER_SEC;

        for (;;) {
                unsigned ready = 0;

                for (unsigned i = 0; i < l->n; i++) {
                        WorkerSlot *s = &l->shared->slots[i];

                        if (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
                                continue;
                        if (s->setup_result < 0)
                                return s->setup_result;
                        ready++;
                }
                if (ready == l->n)
                        return 0;
                if (l->mode == BENCH_PROCESSES)
                        for (unsigned i = 0; i < l->n; i++)
                                if (waitpid(l->pids[i], NULL, WNOHANG) == l->pids[i]) {
                                        l->pids[i] = 0;
                                        return -ECHILD;
                                }
                if (now_ns() > deadline)
                        return -ETIMEDOUT;
                (void) usleep(1000);
        }
}

int bench_load_start(BenchMode mode, const BenchWorkerOps *ops, void *arg, unsigned n, BenchLoad **ret) {
        _cleanup_(load_freep) BenchLoad *l = NULL;
        int r;

        if (n == 0 || !ops || !ops->setup || !ops->op || !ret)
                return -EINVAL;

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        *l = (BenchLoad) { .mode = mode, .ops = ops, .arg = arg, .n = n };

        l->shared_size = sizeof(Shared) + n * sizeof(WorkerSlot);
        l->shared = mmap(NULL, l->shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (l->shared == MAP_FAILED) {
                l->shared = NULL;
                return -errno;
        }
        l->samples_size = (size_t) n * SAMPLES_MAX * sizeof(BenchSample);
        l->samples = mmap(NULL, l->samples_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
                          -1, 0);
        if (l->samples == MAP_FAILED) {
                l->samples = NULL;
                return -errno;
        }

        if (mode == BENCH_THREADS) {
                l->threads = calloc(n, sizeof(pthread_t));
                l->thread_args = calloc(n, sizeof(ThreadArg));
                if (!l->threads || !l->thread_args)
                        return -ENOMEM;
                for (unsigned i = 0; i < n; i++) {
                        l->thread_args[i] = (ThreadArg) { .load = l, .worker = i };
                        r = -pthread_create(&l->threads[i], NULL, worker_thread, &l->thread_args[i]);
                        if (r < 0)
                                return r;
                        l->n_started++;
                }
        } else {
                l->pids = calloc(n, sizeof(pid_t));
                if (!l->pids)
                        return -ENOMEM;
                fflush(NULL);
                for (unsigned i = 0; i < n; i++) {
                        pid_t pid = fork();
                        if (pid < 0)
                                return -errno;
                        if (pid == 0) {
                                worker_main(l, i);
                                _exit(EXIT_SUCCESS);
                        }
                        l->pids[i] = pid;
                        l->n_started++;
                }
        }

        r = wait_ready(l);
        if (r < 0)
                return r;

        l->t0 = now_ns();
        __atomic_store_n(&l->shared->go, 1, __ATOMIC_RELEASE);
        *ret = TAKE_PTR(l);
        return 0;
}

uint64_t bench_load_t0(BenchLoad *l) {
        return l->t0;
}

int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

double percentile_ms(const uint64_t *sorted_ns, size_t n, double p) {
        if (n == 0)
                return NAN;
        size_t i = (size_t) ceil(p * (double) n);
        i = i == 0 ? 0 : i - 1;
        return (double) sorted_ns[MIN(i, n - 1)] / 1e6;
}

/* Rate and percentiles from ops, seconds and samples. */
static int result_compute(BenchResult *res) {
        _cleanup_free_ uint64_t *lat = malloc(MAX(res->n_samples, 1u) * sizeof(uint64_t));

        if (!lat)
                return -ENOMEM;
        for (size_t i = 0; i < res->n_samples; i++)
                lat[i] = res->samples[i].lat_ns;
        qsort(lat, res->n_samples, sizeof(uint64_t), cmp_u64);
        res->per_sec = res->seconds > 0 ? (double) res->ops / res->seconds : 0;
        res->p50_ms = percentile_ms(lat, res->n_samples, 0.50);
        res->p99_ms = percentile_ms(lat, res->n_samples, 0.99);
        res->p999_ms = percentile_ms(lat, res->n_samples, 0.999);
        res->max_ms = res->n_samples > 0 ? (double) lat[res->n_samples - 1] / 1e6 : NAN;
        return 0;
}

int bench_result_merge(BenchResult *into, BenchResult *from) {
        BenchSample *s = realloc(into->samples, MAX(into->n_samples + from->n_samples, 1u) * sizeof(BenchSample));

        if (!s)
                return -ENOMEM;
        into->samples = s;
        memcpy(s + into->n_samples, from->samples, from->n_samples * sizeof(BenchSample));
        into->n_samples += from->n_samples;
        into->ops += from->ops;
        into->errors += from->errors;
        if (!into->first_error)
                into->first_error = from->first_error;
        into->seconds += from->seconds;
        bench_result_done(from);
        return result_compute(into);
}

int bench_load_stop(BenchLoad *load, BenchResult *ret) {
        _cleanup_(load_freep) BenchLoad *l = load;
        BenchResult res = {};
        uint64_t t_stop;
        int r;

        t_stop = now_ns();
        __atomic_store_n(&l->shared->stop, 1, __ATOMIC_RELEASE);
        load_reap(l);

        size_t total = 0;
        for (unsigned i = 0; i < l->n; i++)
                total += l->shared->slots[i].n_samples;

        res.samples = malloc(MAX(total, 1u) * sizeof(BenchSample));
        if (!res.samples)
                return -ENOMEM;

        for (unsigned i = 0; i < l->n; i++) {
                WorkerSlot *s = &l->shared->slots[i];
                BenchSample *src = l->samples + (size_t) i * SAMPLES_MAX;

                res.errors += s->errors;
                if (!res.first_error)
                        res.first_error = s->first_error;
                /* Transactions beyond the sample cap have no timestamp; they all count. */
                res.ops += s->n_ops - s->n_samples;
                for (uint64_t j = 0; j < s->n_samples; j++) {
                        if (src[j].start_ns + src[j].lat_ns <= t_stop)
                                res.ops++;
                        res.samples[res.n_samples++] = src[j];
                }
        }

        res.seconds = (double) (t_stop - l->t0) / 1e9;
        r = result_compute(&res);
        if (r < 0) {
                free(res.samples);
                return r;
        }
        *ret = res;
        return 0;
}

int bench_load_run(BenchMode mode, const BenchWorkerOps *ops, void *arg, unsigned n, uint64_t duration_usec,
                   BenchResult *ret) {
        BenchLoad *l;
        int r;

        r = bench_load_start(mode, ops, arg, n, &l);
        if (r < 0)
                return r;
        (void) usleep(duration_usec);
        return bench_load_stop(l, ret);
}

int bench_systems_run(BenchSystem *systems, size_t n_systems, unsigned n, unsigned rounds, uint64_t duration_usec) {
        int r;

        for (unsigned round = 0; round < rounds; round++)
                for (size_t i = 0; i < n_systems; i++) {
                        BenchSystem *s = &systems[i];
                        BenchResult res;

                        if (s->skip)
                                continue;
                        if (s->before_round) {
                                r = s->before_round(s->arg);
                                if (r < 0)
                                        return r;
                        }
                        r = bench_load_run(s->mode, s->ops, s->arg, n, duration_usec / rounds, &res);
                        if (s->after_round)
                                s->after_round(s->arg);
                        if (r < 0) {
                                fprintf(stderr, "%s: %s\n", s->name, strerror(-r));
                                return r;
                        }
                        r = bench_result_merge(&s->result, &res);
                        if (r < 0)
                                return r;
                }
        return 0;
}

void bench_result_done(BenchResult *r) {
        free(r->samples);
        *r = (BenchResult) {};
}

uint64_t bench_result_max_overlapping(const BenchResult *r, uint64_t t0, uint64_t t1) {
        uint64_t m = 0;

        for (size_t i = 0; i < r->n_samples; i++) {
                const BenchSample *s = &r->samples[i];

                if (s->start_ns <= t1 && s->start_ns + s->lat_ns >= t0)
                        m = MAX(m, s->lat_ns);
        }
        return m;
}

const char *fs_type_name(const char *path) {
        static char buf[32];
        struct statfs sfs;

        if (statfs(path, &sfs) < 0)
                return "unknown";
        switch ((unsigned long) sfs.f_type) {
        case EXT4_SUPER_MAGIC:
                return "ext4";
        case BTRFS_SUPER_MAGIC:
                return "btrfs";
        case TMPFS_MAGIC:
                return "tmpfs";
        case XFS_SUPER_MAGIC:
                return "xfs";
        case OVERLAYFS_SUPER_MAGIC:
                return "overlayfs";
        default:
                (void) snprintf(buf, sizeof(buf), "0x%lx", (unsigned long) sfs.f_type);
                return buf;
        }
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -errno : 0;
}

int rm_rf(const char *path) {
        int r = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        if (r < 0 && errno == ENOENT)
                return 0;
        return r == -1 ? -errno : r;
}

#define ROW_FORMAT "%-46s %11s %7s %9s %9s %9s %9s\n"

void table_header(const char *title, const char *first_column) {
        printf("\n== %s\n", title);
        printf(ROW_FORMAT, first_column, "commits/s", "ratio", "p50 ms", "p99 ms", "p999 ms", "max ms");
}

void table_row(const char *name, const BenchResult *r, double baseline_per_sec) {
        char rate[32], ratio[32], p50[32], p99[32], p999[32], mx[32];

        (void) snprintf(rate, sizeof(rate), "%.0f", r->per_sec);
        if (baseline_per_sec > 0)
                (void) snprintf(ratio, sizeof(ratio), "%.2fx", r->per_sec / baseline_per_sec);
        else
                (void) snprintf(ratio, sizeof(ratio), "-");
        (void) snprintf(p50, sizeof(p50), "%.3f", r->p50_ms);
        (void) snprintf(p99, sizeof(p99), "%.3f", r->p99_ms);
        (void) snprintf(p999, sizeof(p999), "%.3f", r->p999_ms);
        (void) snprintf(mx, sizeof(mx), "%.3f", r->max_ms);
        printf(ROW_FORMAT, name, rate, ratio, p50, p99, p999, mx);
        if (r->errors > 0)
                printf("   ^ %" PRIu64 " failed transactions, first: %s\n", r->errors, strerror(-r->first_error));
        fflush(stdout);
}

void lat_stats(uint64_t *ns, size_t n, LatStats *ret) {
        qsort(ns, n, sizeof(uint64_t), cmp_u64);
        *ret = (LatStats) {
                .n = n,
                .p50_ms = percentile_ms(ns, n, 0.50),
                .p99_ms = percentile_ms(ns, n, 0.99),
                .max_ms = n > 0 ? (double) ns[n - 1] / 1e6 : NAN,
        };
}

#define LAT_FORMAT "%-46s %8s %9s %9s %9s %9s\n"

void lat_table_header(const char *title, const char *first_column, const char *ratio_column) {
        printf("\n== %s\n", title);
        printf(LAT_FORMAT, first_column, "samples", "p50 ms", "p99 ms", "max ms", ratio_column);
}

void lat_table_row(const char *name, const LatStats *s, double baseline_p99_ms) {
        char n[32], p50[32], p99[32], mx[32], ratio[32];

        (void) snprintf(n, sizeof(n), "%zu", s->n);
        (void) snprintf(p50, sizeof(p50), "%.3f", s->p50_ms);
        (void) snprintf(p99, sizeof(p99), "%.3f", s->p99_ms);
        (void) snprintf(mx, sizeof(mx), "%.3f", s->max_ms);
        if (baseline_p99_ms > 0)
                (void) snprintf(ratio, sizeof(ratio), "%.2fx", s->p99_ms / baseline_p99_ms);
        else
                (void) snprintf(ratio, sizeof(ratio), "-");
        printf(LAT_FORMAT, name, n, p50, p99, mx, ratio);
        fflush(stdout);
}

void table_system(const BenchSystem *s, double baseline_per_sec) {
        if (!s->skip)
                table_row(s->name, &s->result, baseline_per_sec);
}

void bench_systems_only(BenchSystem *systems, size_t n_systems, const char *only) {
        for (size_t i = 0; i < n_systems && only; i++)
                systems[i].skip = !strstr(systems[i].name, only);
}

void table_note(const char *fmt, ...) {
        va_list ap;

        fputs("   ", stdout);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
        fflush(stdout);
}

void table_target(bool met, const char *fmt, ...) {
        va_list ap;

        printf("   target %s: ", met ? "MET   " : "MISSED");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
        fflush(stdout);
}

uint64_t arg_seconds_usec(const char *s) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end || !(v > 0) || v > 3600) {
                fprintf(stderr, "Invalid duration in seconds: %s\n", s);
                exit(EXIT_FAILURE);
        }
        return (uint64_t) (v * 1e6);
}

unsigned arg_unsigned(const char *s) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end || v == 0 || v > 4096) {
                fprintf(stderr, "Invalid number: %s\n", s);
                exit(EXIT_FAILURE);
        }
        return (unsigned) v;
}

size_t arg_unsigned_list(char *s, unsigned *v, size_t max) {
        size_t n = 0;

        for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
                if (n == max) {
                        fprintf(stderr, "Too many values in list (at most %zu).\n", max);
                        exit(EXIT_FAILURE);
                }
                v[n++] = arg_unsigned(tok);
        }
        return n;
}
