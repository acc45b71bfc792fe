/* bench/sched.c - the scheduler benchmark: corio tasks against Go
 * goroutines (bench/go/sched.go), case for case, at 1 and 2 workers.
 *
 * Cases (each mirrors the Go case of the same name; docs/bench.md):
 *   spawn-many     N empty tasks spawned from one task, then all joined.
 *   skynet         a 10-ary tree of tasks down to N leaves; each inner task
 *                  spawns its 10 children and sums what their joins return.
 *   yield-many     100 tasks, held at a start gate (parked), then each
 *                  yields 10 * N / 100 times.
 *   chained-spawn  task i spawns task i-1, detaches it and returns; the
 *                  last one unparks the driver.  N hops.
 *   fib30          fork-join fib(30): fib(n-1) in a spawned task, fib(n-2)
 *                  inline, then join.
 *   idle-1m        N tasks parked at once in corio_task_park (the
 *                  counterpart of goroutines blocked on a channel receive);
 *                  resident KiB per task, measured in a fresh process.
 * N is --iters (default 1,000,000; skynet rounds it down to a power of 10).
 *
 * Time cases take the wall clock inside the driver task, after one warm-up
 * run, and report the median of --runs runs (default 5): the Go program's
 * method.  Each case gets a fresh runtime (reused by its runs) and checks its
 * own result; a mismatch exits with status 1.
 *
 * The Go peer runs case by case right after the corio case, with
 * GOMAXPROCS set to the worker count; for idle-1m (a memory figure) the
 * corio and Go processes run side by side.  Its path comes from
 * CORIO_BENCH_GO_SCHED (set by bench/run; empty means "not built") or else
 * <this executable's directory>/go/sched.  Without it only corio is
 * measured and the table says the peer is missing. */
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
#include "corio/task.h"

_Static_assert(UINTPTR_MAX >= UINT64_MAX, "task results carry 64-bit sums in a void *");

extern char **environ;

#define N_WORKER_COUNTS 2
static const unsigned worker_counts[N_WORKER_COUNTS] = {1, 2};

#define YIELD_TASKS 100 /* yieldGoroutines in sched.go */
#define FIB_N 30
#define FIB_WANT 832040u

/* ---- failures ----------------------------------------------------------- */

/* Report and exit at once.  Usable from a worker thread: _exit skips the
 * atexit handlers, which would run while the other workers still run. */
__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("sched: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    _exit(1);
}

static void check(int r, const char *what) {
    if (r < 0) die("%s: %s", what, strerror(-r));
}

static void *num_ptr(uint64_t v) { return (void *)(uintptr_t)v; }
static uint64_t ptr_num(void *p) { return (uint64_t)(uintptr_t)p; }

/* ---- the cases (each driver runs as a task, one run per call) ----------- */

typedef struct run_ctx {
    long n;       /* size of the case */
    double value; /* result in the case's unit */
} run_ctx;

static void *empty_task(void *arg) { return arg; }

/* spawn-many: value = wall ns / n. */
static void *drv_spawn_many(void *p) {
    run_ctx *c = p;
    size_t n = (size_t)c->n;
    corio_tid *tids = malloc(n * sizeof *tids);
    if (tids == NULL) die("spawn-many: out of memory");
    memset(tids, 0, n * sizeof *tids);
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++)
        check(corio_task_spawn(&tids[i], empty_task, num_ptr(i + 1)), "spawn-many: spawn");
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        void *r;
        check(corio_task_join(tids[i], &r), "spawn-many: join");
        bad |= ptr_num(r) ^ (i + 1);
    }
    uint64_t t1 = bench_now_ns();
    if (bad != 0) die("spawn-many: a task returned the wrong value");
    free(tids);
    c->value = (double)(t1 - t0) / (double)n;
    return NULL;
}

/* skynet: the argument packs the first leaf number and log10(size). */
static void *skynet_node(void *arg) {
    uint64_t a = ptr_num(arg);
    uint64_t num = a >> 5;
    unsigned lg = (unsigned)(a & 31);
    if (lg == 0) return num_ptr(num);
    uint64_t sub = 1;
    for (unsigned i = 1; i < lg; i++) sub *= 10;
    corio_tid kids[10];
    for (uint64_t i = 0; i < 10; i++)
        check(corio_task_spawn(&kids[i], skynet_node, num_ptr((num + i * sub) << 5 | (lg - 1))),
              "skynet: spawn");
    uint64_t sum = 0;
    for (int i = 0; i < 10; i++) {
        void *r;
        check(corio_task_join(kids[i], &r), "skynet: join");
        sum += ptr_num(r);
    }
    return num_ptr(sum);
}

/* skynet: value = wall ms of the whole tree; c->n is a power of 10. */
static void *drv_skynet(void *p) {
    run_ctx *c = p;
    uint64_t size = (uint64_t)c->n;
    unsigned lg = 0;
    for (uint64_t s = size; s > 1; s /= 10) lg++;
    uint64_t want = size * (size - 1) / 2;
    uint64_t t0 = bench_now_ns();
    corio_tid root;
    check(corio_task_spawn(&root, skynet_node, num_ptr(lg)), "skynet: spawn");
    void *r;
    check(corio_task_join(root, &r), "skynet: join");
    uint64_t t1 = bench_now_ns();
    if (ptr_num(r) != want)
        die("skynet: sum %llu, want %llu", (unsigned long long)ptr_num(r), (unsigned long long)want);
    c->value = (double)(t1 - t0) / 1e6;
    return NULL;
}

/* yield-many: the start gate and the count of tasks that reached it. */
static atomic_int yield_gate;
static atomic_int yield_ready;

static void *yield_task(void *arg) {
    long per = (long)ptr_num(arg);
    /* release; pairs with the driver's acquire load of yield_ready */
    atomic_fetch_add_explicit(&yield_ready, 1, memory_order_release);
    /* acquire; pairs with the driver's release store of the gate.  A
     * permit given before this park makes it return at once. */
    while (!atomic_load_explicit(&yield_gate, memory_order_acquire))
        check(corio_task_park(), "yield-many: park");
    long done = 0;
    for (long j = 0; j < per; j++) done += corio_task_yield() == 0;
    return num_ptr((uint64_t)done);
}

/* yield-many: value = wall ns from opening the gate to the last task's end,
 * / total yields.  c->n is the total (a multiple of YIELD_TASKS). */
static void *drv_yield_many(void *p) {
    run_ctx *c = p;
    long per = c->n / YIELD_TASKS;
    corio_tid tids[YIELD_TASKS];
    atomic_store_explicit(&yield_gate, 0, memory_order_relaxed);
    atomic_store_explicit(&yield_ready, 0, memory_order_relaxed);
    for (int i = 0; i < YIELD_TASKS; i++)
        check(corio_task_spawn(&tids[i], yield_task, num_ptr((uint64_t)per)), "yield-many: spawn");
    while (atomic_load_explicit(&yield_ready, memory_order_acquire) < YIELD_TASKS)
        check(corio_task_yield(), "yield-many: yield (driver)");
    uint64_t t0 = bench_now_ns();
    atomic_store_explicit(&yield_gate, 1, memory_order_release);
    for (int i = 0; i < YIELD_TASKS; i++) check(corio_task_unpark(tids[i]), "yield-many: unpark");
    uint64_t total = 0;
    for (int i = 0; i < YIELD_TASKS; i++) {
        void *r;
        check(corio_task_join(tids[i], &r), "yield-many: join");
        total += ptr_num(r);
    }
    uint64_t t1 = bench_now_ns();
    if (total != (uint64_t)per * YIELD_TASKS)
        die("yield-many: %llu yields returned 0, want %llu", (unsigned long long)total,
            (unsigned long long)per * YIELD_TASKS);
    c->value = (double)(t1 - t0) / (double)total;
    return NULL;
}

/* chained-spawn: the driver parks until the last hop sets the flag. */
static atomic_int chain_done;
static _Atomic corio_tid chain_driver;

static void *hop_task(void *arg) {
    uint64_t i = ptr_num(arg);
    if (i == 0) {
        /* release; pairs with the driver's acquire load */
        atomic_store_explicit(&chain_done, 1, memory_order_release);
        check(corio_task_unpark(atomic_load_explicit(&chain_driver, memory_order_relaxed)),
              "chained-spawn: unpark");
        return NULL;
    }
    corio_tid next;
    check(corio_task_spawn(&next, hop_task, num_ptr(i - 1)), "chained-spawn: spawn");
    check(corio_task_detach(next), "chained-spawn: detach");
    return NULL;
}

/* chained-spawn: value = wall ns / n hops. */
static void *drv_chained_spawn(void *p) {
    run_ctx *c = p;
    atomic_store_explicit(&chain_done, 0, memory_order_relaxed);
    atomic_store_explicit(&chain_driver, corio_task_id(), memory_order_relaxed);
    uint64_t t0 = bench_now_ns();
    corio_tid first;
    check(corio_task_spawn(&first, hop_task, num_ptr((uint64_t)c->n)), "chained-spawn: spawn");
    check(corio_task_detach(first), "chained-spawn: detach");
    while (!atomic_load_explicit(&chain_done, memory_order_acquire))
        check(corio_task_park(), "chained-spawn: park");
    uint64_t t1 = bench_now_ns();
    c->value = (double)(t1 - t0) / (double)c->n;
    return NULL;
}

/* fib30: fib(n-1) in a spawned task, fib(n-2) inline, join. */
static uint64_t fib(uint64_t n);

static void *fib_task(void *arg) { return num_ptr(fib(ptr_num(arg))); }

static uint64_t fib(uint64_t n) {
    if (n < 2) return n;
    corio_tid t;
    check(corio_task_spawn(&t, fib_task, num_ptr(n - 1)), "fib30: spawn");
    uint64_t y = fib(n - 2);
    void *r;
    check(corio_task_join(t, &r), "fib30: join");
    return ptr_num(r) + y;
}

/* fib30: value = wall ms; the driver computes fib(30) itself, as Go's main
 * goroutine does. */
static void *drv_fib30(void *p) {
    run_ctx *c = p;
    uint64_t t0 = bench_now_ns();
    uint64_t got = fib(FIB_N);
    uint64_t t1 = bench_now_ns();
    if (got != FIB_WANT) die("fib30: fib(30) = %llu, want %u", (unsigned long long)got, FIB_WANT);
    c->value = (double)(t1 - t0) / 1e6;
    return NULL;
}

/* idle-1m (in the child process, see idle_child). */
static atomic_long idle_parked;
static atomic_int idle_release;
static corio_tid *idle_tids;

static void *idle_task(void *arg) {
    (void)arg;
    /* release; pairs with the main thread's acquire load */
    atomic_fetch_add_explicit(&idle_parked, 1, memory_order_release);
    while (!atomic_load_explicit(&idle_release, memory_order_acquire))
        check(corio_task_park(), "idle-1m: park");
    return num_ptr(1);
}

static void *idle_spawner(void *p) {
    run_ctx *c = p;
    for (long i = 0; i < c->n; i++)
        check(corio_task_spawn(&idle_tids[i], idle_task, NULL), "idle-1m: spawn");
    return NULL;
}

static void *idle_releaser(void *p) {
    run_ctx *c = p;
    atomic_store_explicit(&idle_release, 1, memory_order_release);
    for (long i = 0; i < c->n; i++) check(corio_task_unpark(idle_tids[i]), "idle-1m: unpark");
    long ended = 0;
    for (long i = 0; i < c->n; i++) {
        void *r;
        check(corio_task_join(idle_tids[i], &r), "idle-1m: join");
        ended += ptr_num(r) == 1;
    }
    if (ended != c->n) die("idle-1m: %ld of %ld tasks ended normally", ended, c->n);
    return NULL;
}

/* ---- the case table ----------------------------------------------------- */

enum { C_SPAWN, C_SKYNET, C_YIELD, C_CHAIN, C_FIB, C_IDLE, N_CASES };

typedef struct case_def {
    const char *name;
    const char *unit;
    corio_task_fn driver; /* NULL: the memory case */
    double target;        /* go/corio at least this; 0: none */
    const char *target_text;
} case_def;

static const case_def cases[N_CASES] = {
    [C_SPAWN] = {"spawn-many", "ns/task", drv_spawn_many, 2.0, ">= 2x"},
    [C_SKYNET] = {"skynet", "ms", drv_skynet, 4.0, ">= 4x"},
    [C_YIELD] = {"yield-many", "ns/yield", drv_yield_many, 2.0, ">= 2x"},
    [C_CHAIN] = {"chained-spawn", "ns/hop", drv_chained_spawn, 0.0, "-"},
    [C_FIB] = {"fib30", "ms", drv_fib30, 2.0, ">= 2x"},
    [C_IDLE] = {"idle-1m", "KiB/task", NULL, 0.5, ">= 0.5x"},
};

#define FIB_SCALING_TARGET 1.7

/* The size each case runs with for --iters N (the same -n goes to Go). */
static long case_size(int k, long iters) {
    switch (k) {
    case C_SKYNET: {
        long s = 10;
        while (s <= iters / 10) s *= 10;
        return s;
    }
    case C_YIELD: {
        long total = iters > LONG_MAX / 10 ? LONG_MAX : iters * 10;
        if (total < YIELD_TASKS) total = YIELD_TASKS;
        return total - total % YIELD_TASKS;
    }
    case C_FIB:
        return FIB_N;
    default:
        return iters;
    }
}

static corio_rt *new_runtime(unsigned workers) {
    corio_rt_opts o = {0};
    o.workers = workers;
    corio_rt *rt;
    check(corio_rt_create(&rt, &o), "corio_rt_create");
    if (corio_rt_workers(rt) != workers)
        die("the runtime has %u workers, asked for %u", corio_rt_workers(rt), workers);
    return rt;
}

/* One warm-up run, then the median of `runs` timed runs, on one runtime. */
static double measure_corio(int k, unsigned workers, long n, int runs) {
    corio_rt *rt = new_runtime(workers);
    double *v = malloc(sizeof *v * (size_t)runs);
    if (v == NULL) die("out of memory");
    run_ctx c = {n, 0};
    check(corio_rt_run(rt, cases[k].driver, &c, NULL), cases[k].name);
    for (int r = 0; r < runs; r++) {
        c.value = 0;
        check(corio_rt_run(rt, cases[k].driver, &c, NULL), cases[k].name);
        v[r] = c.value;
    }
    check(corio_rt_shutdown(rt), "corio_rt_shutdown");
    double m = bench_median(v, (size_t)runs);
    free(v);
    return m;
}

/* ---- idle-1m in a fresh process ----------------------------------------- */

static long vm_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) die("idle-1m: /proc/self/status: %s", strerror(errno));
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0) v = strtol(line + 6, NULL, 10);
    fclose(f);
    if (v < 0) die("idle-1m: no VmRSS in /proc/self/status");
    return v;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The settle of Go's settledRSS (there after runtime.GC()). */
static long settled_rss(void) {
    sleep_ms(100);
    return vm_rss_kib();
}

/* `sched --idle-child W N`: measure idle-1m once, print KiB per task. */
static int idle_child(unsigned workers, long n) {
    corio_rt *rt = new_runtime(workers);
    idle_tids = malloc((size_t)n * sizeof *idle_tids);
    if (idle_tids == NULL) die("idle-1m: out of memory");
    memset(idle_tids, 0, (size_t)n * sizeof *idle_tids); /* resident before `before` */
    run_ctx c = {n, 0};
    long before = settled_rss();
    check(corio_rt_run(rt, idle_spawner, &c, NULL), "idle-1m: spawner");
    /* acquire; pairs with the release increment in idle_task */
    while (atomic_load_explicit(&idle_parked, memory_order_acquire) < n) sleep_ms(1);
    long after = settled_rss();
    check(corio_rt_run(rt, idle_releaser, &c, NULL), "idle-1m: releaser");
    check(corio_rt_shutdown(rt), "corio_rt_shutdown");
    free(idle_tids);
    printf("%.6f\n", (double)(after - before) / (double)n);
    return 0;
}

/* ---- child processes: the idle-1m child and the Go peer ----------------- */

/* A child process whose stdout comes back through a pipe. */
typedef struct child {
    pid_t pid;
    int fd;
} child;

/* Start argv with GOMAXPROCS=workers in its environment. */
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

static char self_path[PATH_MAX];

static char idle_w[16], idle_n[32];

static child start_corio_idle(unsigned workers, long n) {
    snprintf(idle_w, sizeof idle_w, "%u", workers);
    snprintf(idle_n, sizeof idle_n, "%ld", n);
    char *argv[] = {self_path, "--idle-child", idle_w, idle_n, NULL};
    return child_start(argv, workers);
}

static double finish_corio_idle(child ch) {
    char out[256];
    int st = child_finish(ch, out, sizeof out);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die("idle-1m: the measuring child failed");
    char *end;
    double v = strtod(out, &end);
    if (end == out) die("idle-1m: the measuring child printed no value");
    return v;
}

/* The Go peer: its path, or "" when it is missing (go_missing says why). */
static char go_path[PATH_MAX];
static const char *go_missing;

static void find_go(void) {
    const char *env = getenv("CORIO_BENCH_GO_SCHED");
    if (env != NULL) {
        if (env[0] == '\0') {
            go_missing = "the Go peer was not built (is `go` installed? see bench/go/README.md)";
            return;
        }
        snprintf(go_path, sizeof go_path, "%s", env);
    } else {
        const char *slash = strrchr(self_path, '/');
        int dir = slash != NULL ? (int)(slash - self_path) : 1;
        snprintf(go_path, sizeof go_path, "%.*s/go/sched", dir, slash != NULL ? self_path : ".");
    }
    if (access(go_path, X_OK) != 0) {
        static char why[PATH_MAX + 64];
        snprintf(why, sizeof why, "no Go peer at %s (bench/go/build.sh builds it)", go_path);
        go_missing = why;
        go_path[0] = '\0';
    }
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

static char go_n[32], go_reps[16];

static child start_go(int k, unsigned workers, long n, int runs) {
    snprintf(go_n, sizeof go_n, "%ld", n);
    snprintf(go_reps, sizeof go_reps, "%d", runs);
    char *argv[] = {go_path, "-case", (char *)cases[k].name, "-n", go_n, "-reps", go_reps, NULL};
    return child_start(argv, workers);
}

static double finish_go(child ch, int k, unsigned workers) {
    char out[1024];
    int st = child_finish(ch, out, sizeof out);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("%s: the Go peer %s failed (%s %d)", cases[k].name, go_path,
            WIFEXITED(st) ? "exit status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    char pat[64];
    snprintf(pat, sizeof pat, "\"case\":\"%s\"", cases[k].name);
    double v, w;
    if (strstr(out, pat) == NULL || json_number(out, "value", &v) != 0 ||
        json_number(out, "workers", &w) != 0)
        die("%s: cannot read the Go peer's output: %s", cases[k].name, out);
    if (w != workers) die("%s: the Go peer ran with %g workers, want %u", cases[k].name, w, workers);
    return v;
}

/* ---- main --------------------------------------------------------------- */

static double res_corio[N_CASES][N_WORKER_COUNTS];
static double res_go[N_CASES][N_WORKER_COUNTS];

static const char *met(int ok) { return ok ? "met" : "NOT met"; }

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--idle-child") == 0)
        return idle_child((unsigned)strtoul(argv[2], NULL, 10), strtol(argv[3], NULL, 10));

    bench_opts o = bench_parse(argc, argv, "sched", 5, 1000000);
    ssize_t sl = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (sl <= 0) die("readlink /proc/self/exe: %s", strerror(errno));
    self_path[sl] = '\0';
    find_go();
    int have_go = go_missing == NULL;
    int progress = isatty(2);

    for (int wi = 0; wi < N_WORKER_COUNTS; wi++) {
        unsigned w = worker_counts[wi];
        for (int k = 0; k < N_CASES; k++) {
            long n = case_size(k, o.iters);
            if (progress) fprintf(stderr, "\rsched: %-13s workers=%u ...", cases[k].name, w);
            if (cases[k].driver != NULL) {
                res_corio[k][wi] = measure_corio(k, w, n, o.runs);
                if (have_go) res_go[k][wi] = finish_go(start_go(k, w, n, o.runs), k, w);
            } else {
                /* A memory figure, not a timing: the two processes run side
                 * by side, each measuring its own VmRSS. */
                child c = start_corio_idle(w, n);
                child g = have_go ? start_go(k, w, n, o.runs) : (child){-1, -1};
                res_corio[k][wi] = finish_corio_idle(c);
                if (have_go) res_go[k][wi] = finish_go(g, k, w);
            }
        }
    }
    if (progress) fprintf(stderr, "\r%50s\r", "");

    double fib_scale_corio = res_corio[C_FIB][0] / res_corio[C_FIB][1];
    double fib_scale_go = have_go ? res_go[C_FIB][0] / res_go[C_FIB][1] : 0;

    if (o.json) {
        bench_row rows[N_CASES * N_WORKER_COUNTS * 2];
        size_t nr = 0;
        for (int k = 0; k < N_CASES; k++)
            for (int wi = 0; wi < N_WORKER_COUNTS; wi++)
                for (int impl = 0; impl < 1 + have_go; impl++) {
                    bench_row *r = &rows[nr++];
                    memset(r, 0, sizeof *r);
                    r->case_name = cases[k].name;
                    r->impl = impl == 0 ? "corio" : "go";
                    r->value = impl == 0 ? res_corio[k][wi] : res_go[k][wi];
                    r->unit = cases[k].unit;
                    r->better = "lower";
                    bench_row_extra(r, "workers", worker_counts[wi]);
                    if (impl == 0 && have_go) bench_row_extra(r, "speedup", res_go[k][wi] / res_corio[k][wi]);
                    if (k == C_FIB && wi == 1)
                        bench_row_extra(r, "scaling_1to2", impl == 0 ? fib_scale_corio : fib_scale_go);
                }
        bench_json("sched", rows, nr);
        if (!have_go) fprintf(stderr, "sched: go peer missing: %s; only corio rows printed\n", go_missing);
        return 0;
    }

    printf("sched: scheduler cases, corio tasks vs Go goroutines (bench/go/sched.go)\n");
    printf("machine: %s\n", bench_machine());
    printf("method: wall time, median of %d runs after one warm-up run, fresh runtime per case;\n"
           "        idle-1m: one VmRSS measurement in a fresh process;\n"
           "        N = %ld tasks (skynet: leaves, yield-many: 10 N yields, fib30: fib(30))\n",
           o.runs, o.iters);
    if (!have_go) printf("go peer missing: %s\n", go_missing);
    printf("\n%-14s %7s %-9s %11s %11s %9s  %-8s %s\n", "case", "workers", "unit", "corio", "go",
           "go/corio", "target", "");
    for (int k = 0; k < N_CASES; k++)
        for (int wi = 0; wi < N_WORKER_COUNTS; wi++) {
            double c = res_corio[k][wi];
            printf("%-14s %7u %-9s %11.2f ", cases[k].name, worker_counts[wi], cases[k].unit, c);
            if (!have_go) {
                printf("%11s %9s  %-8s %s\n", "-", "-", cases[k].target_text,
                       cases[k].target > 0 ? "(no peer)" : "");
                continue;
            }
            double g = res_go[k][wi], ratio = g / c;
            printf("%11.2f %8.2fx  %-8s %s\n", g, ratio, cases[k].target_text,
                   cases[k].target > 0 ? met(ratio >= cases[k].target) : "");
        }
    printf("\nfib30 speedup from 1 to 2 workers: corio %.2fx", fib_scale_corio);
    if (have_go) printf(", go %.2fx", fib_scale_go);
    printf("  (target: corio >= %.1fx: %s)\n", FIB_SCALING_TARGET,
           met(fib_scale_corio >= FIB_SCALING_TARGET));
    printf("go/corio is the speedup over Go; for idle-1m it is Go's KiB per task over corio's\n"
           "(>= 0.5x: corio uses at most 2x Go's memory per parked task).\n");
    return 0;
}
