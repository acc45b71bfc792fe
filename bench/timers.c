/* bench/timers.c - the timers benchmark: N tasks (default 100,000) each
 * sleeping a random time, uniform in [1 ms, --max-ms] (default 100 ms, a
 * fixed seed), against Go goroutines in time.Sleep (bench/go/timers.go),
 * at 1 and 2 workers (docs/bench.md, "timers").
 *
 *   timers [--json] [--tasks N] [--max-ms M]
 *
 * (--runs N and --iters N are accepted and ignored, so that `bench/run all`
 * can pass the other benchmarks' options.)
 *
 * Each task reads CLOCK_MONOTONIC, calls corio_sleep_ns(d) and reads the
 * clock again; its lateness, wake time - (start + d), goes into its own slot
 * of an array indexed by task.  Reported: mean, p50, p99 and max lateness in
 * µs (nearest rank), and the resident memory per sleeping task: VmRSS grown
 * from just before the spawns to the moment the main thread sees that all N
 * tasks have entered their sleep (a counter polled every 1 ms), / N, in
 * bytes.  Tasks with the shortest sleeps have already woken (and ended) by
 * then when spawning takes longer than 1 ms; the table says how many were
 * still asleep.
 *
 * Every measurement runs in a fresh process (`timers --child W N M`, started
 * by timers itself), so stacks and memory of an earlier run are not reused:
 * corio at W workers, then the Go peer with GOMAXPROCS=W, for W = 1, 2, one
 * after the other (timings, not run side by side).  The delays come from
 * splitmix64 with a fixed seed, task i getting the i-th draw, the same
 * sequence in the Go program.  Tasks use the default stack
 * (CORIO_STACK_DEFAULT, 64 KiB, only touched pages are resident) and are
 * spawned from the main thread with corio_rt_spawn, then joined with
 * corio_rt_join; every sleep must return 0 and every task must end normally.
 *
 * The Go peer's path comes from CORIO_BENCH_GO_TIMERS (set by bench/run;
 * empty means "not built") or else <this executable's directory>/go/timers.
 * Without it only corio is measured and the table says the peer is missing.
 *
 * JSON rows: case "sleep-100k" (sleep-<N> for other --tasks), impl "corio"
 * or "go", value = p99 lateness in us (lower is better), extra keys
 * workers, mean_us, p50_us, max_us, rss_per_task_bytes, asleep_at_sample. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "corio/coro.h"
#include "corio/io.h"
#include "corio/task.h"

extern char **environ;

#define N_WORKER_COUNTS 2
static const unsigned worker_counts[N_WORKER_COUNTS] = {1, 2};

/* The seed of the delays; timerSeed in bench/go/timers.go. */
#define TIMER_SEED UINT64_C(0x636f72696f54494d)

/* ---- failures ----------------------------------------------------------- */

/* Report and exit at once.  Usable from a worker thread: _exit skips the
 * atexit handlers, which would run while the other workers still run. */
__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("timers: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    _exit(1);
}

static void check(int r, const char *what) {
    if (r < 0) die("%s: %s", what, strerror(-r));
}

/* ---- the delays --------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* d[i] in ns, uniform in [1 ms, max_ms ms] (the modulo bias is below 1e-9). */
static void make_delays(int64_t *d, long n, long max_ms) {
    uint64_t s = TIMER_SEED;
    uint64_t span = (uint64_t)(max_ms - 1) * 1000000u + 1;
    for (long i = 0; i < n; i++) d[i] = 1000000 + (int64_t)(splitmix64(&s) % span);
}

/* ---- the measuring child ------------------------------------------------ */

static long vm_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) die("/proc/self/status: %s", strerror(errno));
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0) v = strtol(line + 6, NULL, 10);
    fclose(f);
    if (v < 0) die("no VmRSS in /proc/self/status");
    return v;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t *delays;  /* task i sleeps delays[i] ns */
static int64_t *late;    /* task i's lateness in ns */
static atomic_long entered; /* tasks that are about to sleep */
static atomic_long woken;   /* tasks whose sleep returned */
static atomic_long sleep_errors;
static atomic_int first_error;

static void *sleeper(void *arg) {
    size_t i = (size_t)(uintptr_t)arg;
    int64_t d = delays[i];
    /* release; pairs with the main thread's acquire load */
    atomic_fetch_add_explicit(&entered, 1, memory_order_release);
    int64_t t0 = (int64_t)bench_now_ns();
    int r = corio_sleep_ns(d);
    int64_t t1 = (int64_t)bench_now_ns();
    late[i] = t1 - (t0 + d);
    atomic_fetch_add_explicit(&woken, 1, memory_order_relaxed);
    if (r != 0) {
        atomic_fetch_add_explicit(&sleep_errors, 1, memory_order_relaxed);
        int z = 0;
        atomic_compare_exchange_strong(&first_error, &z, r);
        return NULL;
    }
    return (void *)1;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least p of them at or below. */
static double rank_us(const int64_t *sorted, long n, double p) {
    long k = (long)((double)n * p + 0.999999999);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return (double)sorted[k - 1] / 1e3;
}

/* `timers --child W N M`: one measurement, printed as one line of JSON (the
 * Go peer's line, impl "corio"). */
static int run_child(unsigned workers, long n, long max_ms) {
    corio_rt_opts o = {0};
    o.workers = workers;
    corio_rt *rt;
    check(corio_rt_create(&rt, &o), "corio_rt_create");
    if (corio_rt_workers(rt) != workers)
        die("the runtime has %u workers, asked for %u", corio_rt_workers(rt), workers);

    delays = malloc((size_t)n * sizeof *delays);
    late = malloc((size_t)n * sizeof *late);
    corio_tid *tids = malloc((size_t)n * sizeof *tids);
    if (delays == NULL || late == NULL || tids == NULL) die("out of memory");
    make_delays(delays, n, max_ms);
    /* resident before `before` */
    memset(late, 0, (size_t)n * sizeof *late);
    memset(tids, 0, (size_t)n * sizeof *tids);
    sleep_ms(100);
    long before = vm_rss_kib();

    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        check(corio_rt_spawn(rt, &tids[i], sleeper, (void *)(uintptr_t)i), "corio_rt_spawn");
    uint64_t t1 = bench_now_ns();
    /* acquire; pairs with the release increment in sleeper */
    while (atomic_load_explicit(&entered, memory_order_acquire) < n) sleep_ms(1);
    long after = vm_rss_kib();
    long awake = atomic_load_explicit(&woken, memory_order_relaxed);
    uint64_t t2 = bench_now_ns();

    long ended = 0;
    for (long i = 0; i < n; i++) {
        void *r;
        check(corio_rt_join(rt, tids[i], &r), "corio_rt_join");
        ended += r == (void *)1;
    }
    uint64_t t3 = bench_now_ns();
    check(corio_rt_shutdown(rt), "corio_rt_shutdown");
    long errs = atomic_load(&sleep_errors);
    if (errs != 0)
        die("%ld of %ld sleeps failed (the first: %s)", errs, n, strerror(-atomic_load(&first_error)));
    if (ended != n) die("%ld of %ld tasks ended normally", ended, n);

    double sum = 0;
    long early = 0;
    for (long i = 0; i < n; i++) {
        sum += (double)late[i];
        early += late[i] < 0;
    }
    qsort(late, (size_t)n, sizeof *late, cmp_i64);
    printf("{\"impl\":\"corio\",\"workers\":%u,\"tasks\":%ld,\"mean_us\":%.3f,\"p50_us\":%.3f,"
           "\"p99_us\":%.3f,\"max_us\":%.3f,\"min_us\":%.3f,\"early\":%ld,"
           "\"rss_per_task_bytes\":%.1f,\"spawn_ms\":%.3f,\"sample_ms\":%.3f,"
           "\"asleep_at_sample\":%ld,\"total_ms\":%.3f}\n",
           workers, n, sum / (double)n / 1e3, rank_us(late, n, 0.50), rank_us(late, n, 0.99),
           (double)late[n - 1] / 1e3, (double)late[0] / 1e3, early,
           (double)(after - before) * 1024.0 / (double)n, (double)(t1 - t0) / 1e6,
           (double)(t2 - t0) / 1e6, n - awake, (double)(t3 - t0) / 1e6);
    free(tids);
    free(late);
    free(delays);
    return 0;
}

/* ---- child processes ---------------------------------------------------- */

typedef struct child {
    pid_t pid;
    int fd;
} child;

/* Start argv with GOMAXPROCS=workers in its environment, its stdout into a
 * pipe. */
static child child_start(char *const argv[], unsigned workers) {
    size_t ne = 0;
    while (environ[ne] != NULL) ne++;
    char **envp = calloc(ne + 2, sizeof *envp);
    if (envp == NULL) die("out of memory");
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "GOMAXPROCS=", 11) != 0) envp[k++] = environ[i];
    char gmp[32];
    snprintf(gmp, sizeof gmp, "GOMAXPROCS=%u", workers);
    envp[k++] = gmp;
    envp[k] = NULL;

    int fd[2];
    if (pipe2(fd, O_CLOEXEC) != 0) die("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fd[1], 1);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(fd[1]);
    free(envp);
    return (child){pid, fd[0]};
}

/* Read the child's stdout into out (NUL-terminated) and reap it; returns
 * the wait status (127: it could not be started). */
static int child_finish(child ch, char *out, size_t cap) {
    size_t len = 0;
    for (;;) {
        ssize_t r = read(ch.fd, out + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
        if (len == cap - 1) break;
    }
    out[len] = '\0';
    close(ch.fd);
    int st;
    while (waitpid(ch.pid, &st, 0) < 0)
        if (errno != EINTR) die("waitpid: %s", strerror(errno));
    return st;
}

/* The number after "key": in a one-line JSON object. */
static int json_number(const char *s, const char *key, double *v) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(s, pat);
    if (p == NULL) return -1;
    p += strlen(pat);
    char *end;
    *v = strtod(p, &end);
    return end == p ? -1 : 0;
}

typedef struct result {
    double mean_us, p50_us, p99_us, max_us, min_us, early, rss_per_task, spawn_ms, asleep,
        total_ms;
} result;

static const struct {
    const char *key;
    size_t off;
} result_keys[] = {
    {"mean_us", offsetof(result, mean_us)},
    {"p50_us", offsetof(result, p50_us)},
    {"p99_us", offsetof(result, p99_us)},
    {"max_us", offsetof(result, max_us)},
    {"min_us", offsetof(result, min_us)},
    {"early", offsetof(result, early)},
    {"rss_per_task_bytes", offsetof(result, rss_per_task)},
    {"spawn_ms", offsetof(result, spawn_ms)},
    {"asleep_at_sample", offsetof(result, asleep)},
    {"total_ms", offsetof(result, total_ms)},
};

/* Run one measuring process and read its line. */
static result measure(char *const argv[], const char *impl, unsigned workers, long n) {
    char out[2048];
    int st = child_finish(child_start(argv, workers), out, sizeof out);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("%s at %u workers: %s failed (%s %d)", impl, workers, argv[0],
            WIFEXITED(st) ? "exit status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    result r;
    double w, t;
    if (json_number(out, "workers", &w) != 0 || json_number(out, "tasks", &t) != 0)
        die("%s: cannot read the output of %s: %s", impl, argv[0], out);
    if (w != workers) die("%s ran with %g workers, want %u", impl, w, workers);
    if (t != (double)n) die("%s ran %g tasks, want %ld", impl, t, n);
    for (size_t k = 0; k < sizeof result_keys / sizeof result_keys[0]; k++)
        if (json_number(out, result_keys[k].key, (double *)((char *)&r + result_keys[k].off)) != 0)
            die("%s: no \"%s\" in the output of %s: %s", impl, result_keys[k].key, argv[0], out);
    return r;
}

/* The Go peer: its path, or "" when it is missing (go_missing says why). */
static char self_path[PATH_MAX];
static char go_path[PATH_MAX];
static const char *go_missing;

static void find_go(void) {
    const char *env = getenv("CORIO_BENCH_GO_TIMERS");
    if (env != NULL) {
        if (env[0] == '\0') {
            go_missing = "the Go peer was not built (is `go` installed? see bench/go/README.md)";
            return;
        }
        snprintf(go_path, sizeof go_path, "%s", env);
    } else {
        const char *slash = strrchr(self_path, '/');
        int dir = slash != NULL ? (int)(slash - self_path) : 1;
        snprintf(go_path, sizeof go_path, "%.*s/go/timers", dir, slash != NULL ? self_path : ".");
    }
    if (access(go_path, X_OK) != 0) {
        static char why[PATH_MAX + 64];
        snprintf(why, sizeof why, "no Go peer at %s (bench/go/build.sh builds it)", go_path);
        go_missing = why;
        go_path[0] = '\0';
    }
}

/* ---- main --------------------------------------------------------------- */

static void usage(int status) {
    fprintf(status == 0 ? stdout : stderr,
            "usage: timers [--json] [--tasks N] [--max-ms M]\n"
            "  --json      print one JSON object on one line (docs/bench.md)\n"
            "  --tasks N   sleeping tasks (default 100000)\n"
            "  --max-ms M  longest sleep; sleeps are uniform in [1, M] ms (default 100)\n"
            "  --runs N, --iters N  accepted and ignored (bench/run all)\n");
    exit(status);
}

static long parse_pos(const char *s, long max) {
    char *end;
    errno = 0;
    long v = s != NULL ? strtol(s, &end, 10) : 0;
    if (s == NULL || errno != 0 || *end != '\0' || v <= 0 || v > max) usage(2);
    return v;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "--child") == 0)
        return run_child((unsigned)parse_pos(argv[2], 1024), parse_pos(argv[3], 100000000),
                         parse_pos(argv[4], 1000000));

    int json = 0;
    long tasks = 100000, max_ms = 100;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) usage(0);
        if (strcmp(argv[i], "--tasks") == 0) tasks = parse_pos(v, 100000000);
        else if (strcmp(argv[i], "--max-ms") == 0) max_ms = parse_pos(v, 1000000);
        else if (strcmp(argv[i], "--runs") == 0 || strcmp(argv[i], "--iters") == 0) parse_pos(v, LONG_MAX);
        else usage(2);
        i++;
    }

    ssize_t sl = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (sl <= 0) die("readlink /proc/self/exe: %s", strerror(errno));
    self_path[sl] = '\0';
    find_go();
    int have_go = go_missing == NULL;
    int progress = isatty(2);

    char case_name[48];
    if (tasks % 1000000 == 0) snprintf(case_name, sizeof case_name, "sleep-%ldm", tasks / 1000000);
    else if (tasks % 1000 == 0) snprintf(case_name, sizeof case_name, "sleep-%ldk", tasks / 1000);
    else snprintf(case_name, sizeof case_name, "sleep-%ld", tasks);

    char a_w[16], a_n[32], a_m[32];
    snprintf(a_n, sizeof a_n, "%ld", tasks);
    snprintf(a_m, sizeof a_m, "%ld", max_ms);
    result rc[N_WORKER_COUNTS], rg[N_WORKER_COUNTS];
    for (int wi = 0; wi < N_WORKER_COUNTS; wi++) {
        unsigned w = worker_counts[wi];
        snprintf(a_w, sizeof a_w, "%u", w);
        if (progress) fprintf(stderr, "\rtimers: corio workers=%u ...", w);
        char *cargv[] = {self_path, "--child", a_w, a_n, a_m, NULL};
        rc[wi] = measure(cargv, "corio", w, tasks);
        if (!have_go) continue;
        if (progress) fprintf(stderr, "\rtimers: go    workers=%u ...", w);
        char *gargv[] = {go_path, "-n", a_n, "-max-ms", a_m, NULL};
        rg[wi] = measure(gargv, "go", w, tasks);
    }
    if (progress) fprintf(stderr, "\r%40s\r", "");

    if (json) {
        bench_row rows[N_WORKER_COUNTS * 2];
        size_t nr = 0;
        for (int wi = 0; wi < N_WORKER_COUNTS; wi++)
            for (int impl = 0; impl < 1 + have_go; impl++) {
                const result *r = impl == 0 ? &rc[wi] : &rg[wi];
                bench_row *row = &rows[nr++];
                memset(row, 0, sizeof *row);
                row->case_name = case_name;
                row->impl = impl == 0 ? "corio" : "go";
                row->value = r->p99_us;
                row->unit = "us";
                row->better = "lower";
                bench_row_extra(row, "workers", worker_counts[wi]);
                bench_row_extra(row, "mean_us", r->mean_us);
                bench_row_extra(row, "p50_us", r->p50_us);
                bench_row_extra(row, "max_us", r->max_us);
                bench_row_extra(row, "rss_per_task_bytes", r->rss_per_task);
                /* How many of N the RSS figure covers (see the top). */
                bench_row_extra(row, "asleep_at_sample", r->asleep);
            }
        bench_json("timers", rows, nr);
        if (!have_go) fprintf(stderr, "timers: go peer missing: %s; only corio rows printed\n", go_missing);
    } else {
        printf("timers: %ld tasks, each sleeping once, uniform %s%ld ms (fixed seed); corio_sleep_ns vs Go "
               "time.Sleep (bench/go/timers.go)\n",
               tasks, max_ms > 1 ? "1-" : "", max_ms);
        printf("machine: %s\n", bench_machine());
        printf("method: lateness = wake - (start + delay), CLOCK_MONOTONIC, one slot per task; one run "
               "per impl and\n"
               "        worker count, each in a fresh process; RSS = VmRSS growth from before the "
               "spawns to\n"
               "        all tasks having entered their sleep, / N; corio tasks on the default %u KiB "
               "stack\n",
               CORIO_STACK_DEFAULT / 1024);
        if (!have_go) printf("go peer missing: %s\n", go_missing);
        printf("\n%-6s %7s %9s %9s %9s %9s %11s %9s %8s\n", "impl", "workers", "mean_us", "p50_us",
               "p99_us", "max_us", "rss_B/task", "spawn_ms", "asleep");
        for (int wi = 0; wi < N_WORKER_COUNTS; wi++)
            for (int impl = 0; impl < 1 + have_go; impl++) {
                const result *r = impl == 0 ? &rc[wi] : &rg[wi];
                printf("%-6s %7u %9.1f %9.1f %9.1f %9.1f %11.0f %9.1f %8.0f\n",
                       impl == 0 ? "corio" : "go", worker_counts[wi], r->mean_us, r->p50_us,
                       r->p99_us, r->max_us, r->rss_per_task, r->spawn_ms, r->asleep);
            }
        if (have_go) {
            printf("\n%-8s %7s %9s %9s %9s %9s %11s\n", "corio/go", "workers", "mean", "p50", "p99",
                   "max", "rss/task");
            for (int wi = 0; wi < N_WORKER_COUNTS; wi++)
                printf("%-8s %7u %8.2fx %8.2fx %8.2fx %8.2fx %10.2fx\n", "", worker_counts[wi],
                       rc[wi].mean_us / rg[wi].mean_us, rc[wi].p50_us / rg[wi].p50_us,
                       rc[wi].p99_us / rg[wi].p99_us, rc[wi].max_us / rg[wi].max_us,
                       rc[wi].rss_per_task / rg[wi].rss_per_task);
        }
        printf("\nasleep: tasks still asleep when RSS was sampled (the shortest sleeps can end while\n"
               "the rest are spawned); spawn_ms: time to spawn all N from the main thread.\n"
               "corio/go below 1x: corio is less late / uses less memory.\n");
    }
    for (int wi = 0; wi < N_WORKER_COUNTS; wi++)
        for (int impl = 0; impl < 1 + have_go; impl++) {
            const result *r = impl == 0 ? &rc[wi] : &rg[wi];
            if (r->early > 0)
                fprintf(stderr, "timers: %s at %u workers: %.0f sleeps woke early (min lateness %.1f us)\n",
                        impl == 0 ? "corio" : "go", worker_counts[wi], r->early, r->min_us);
        }
    return 0;
}
