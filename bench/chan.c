/* bench/chan.c - unbuffered channels: corio_chan against Go's chan
 * (bench/go/chan.go), case for case, in the same run.
 *
 * Cases (docs/bench.md, "chan"), all on rendezvous channels (capacity 0)
 * of 8-byte items:
 *   ping-pong-same-worker   a 1-worker runtime; task P sends i on channel
 *                           a, task Q receives it and sends i + 1 back on
 *                           channel b.  ns per round trip.
 *   ping-pong-cross-worker  the same on a 2-worker runtime, P and Q
 *                           spawned from the main thread so that each
 *                           starts on a worker of its own.  Where they
 *                           actually ran is recorded every round with
 *                           corio_task_worker() and reported.
 *   fan-in-8                a 2-worker runtime; 8 sender tasks share N
 *                           items, one receiver task takes them all from
 *                           one channel.  ns per item.
 * N is --iters (default 1,000,000) round trips or items.
 *
 * Wall time, taken inside the tasks (ping-pong: by P, after one untimed
 * round that has both tasks running; fan-in: by a driver task around the
 * spawns and joins), one warm-up run at N / 10, then the median of --runs
 * runs (default 5).  Each case gets a fresh runtime that its runs share,
 * and checks every item it receives.
 *
 * The Go peer runs each case alternately with corio's: after each timed
 * corio run, one run of the peer in a fresh process (its own warm-up at
 * N / 10, then one timed run), with GOMAXPROCS 1 for same-worker and 2 for
 * the others (it sets that itself); the medians are compared.  Its path comes
 * from CORIO_BENCH_GO_CHAN (set by bench/run; empty: not built) or else
 * <this executable's directory>/go/chan; without it only corio is
 * measured. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "corio/sync.h"
#include "corio/task.h"

#define FAN_SENDERS 8
#define TARGET_RATIO 0.5 /* ping-pong: corio at most half of Go's time */

/* Report and exit at once, also from a worker thread: one write to
 * stderr, then _exit (no atexit handlers while other workers run). */
__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dprintf(2, "chan: %s\n", msg);
    _exit(1);
}

static void ok(int r, const char *what) {
    if (r < 0) die("%s: %s", what, strerror(-r));
}

/* ---- ping-pong ---------------------------------------------------------- */

typedef struct pingpong {
    corio_chan *a, *b; /* P -> Q, Q -> P */
    long n;            /* timed round trips (one more is untimed) */
    int apart_start;   /* P yields until it runs on another worker than Q */
    double ns;         /* result: wall ns per round trip */
    int start_p, start_q; /* where P and Q started (-1: Q had not) */
    long apart;        /* timed rounds where P and Q ran on different workers */
    _Atomic int q_worker; /* Q's worker when it sent its last reply; -1 */
} pingpong;

#define APART_TRIES 100000 /* yields P spends on getting away from Q */

static void *pong_task(void *arg) {
    pingpong *pp = arg;
    atomic_store_explicit(&pp->q_worker, corio_task_worker(), memory_order_relaxed);
    for (long i = 0; i <= pp->n; i++) {
        uint64_t v;
        if (corio_chan_recv(pp->a, &v, CORIO_FOREVER) != 0) die("ping-pong: Q's receive failed");
        atomic_store_explicit(&pp->q_worker, corio_task_worker(), memory_order_relaxed);
        v++;
        ok(corio_chan_send(pp->b, &v, CORIO_FOREVER), "ping-pong: Q's send");
    }
    return NULL;
}

/* One round trip: send i, expect i + 1; counts a round with Q elsewhere.
 * The channel's hand-over orders Q's store of q_worker before this load. */
static void round_trip(pingpong *pp, uint64_t i) {
    ok(corio_chan_send(pp->a, &i, CORIO_FOREVER), "ping-pong: P's send");
    uint64_t v;
    if (corio_chan_recv(pp->b, &v, CORIO_FOREVER) != 0) die("ping-pong: P's receive failed");
    if (v != i + 1) die("ping-pong: sent %llu, got back %llu", (unsigned long long)i,
                        (unsigned long long)v);
    pp->apart += atomic_load_explicit(&pp->q_worker, memory_order_relaxed) != corio_task_worker();
}

static void *ping_task(void *arg) {
    pingpong *pp = arg;
    /* Q publishes its worker when it starts; a yield lets it start, and
     * puts P where an idle worker may take it. */
    for (long i = 0; pp->apart_start && i < APART_TRIES; i++) {
        int q = atomic_load_explicit(&pp->q_worker, memory_order_relaxed);
        if (q >= 0 && q != corio_task_worker()) break;
        ok(corio_task_yield(), "ping-pong: yield");
    }
    pp->start_p = corio_task_worker();
    pp->start_q = atomic_load_explicit(&pp->q_worker, memory_order_relaxed);
    round_trip(pp, 0); /* both tasks run from here on */
    pp->apart = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 1; i <= pp->n; i++) round_trip(pp, (uint64_t)i);
    uint64_t t1 = bench_now_ns();
    pp->ns = (double)(t1 - t0) / (double)pp->n;
    return NULL;
}

/* One ping-pong run: P and Q spawned from this (plain) thread, so each is
 * taken from the injection queue by whichever worker wakes for it. */
static void pingpong_run(corio_rt *rt, pingpong *pp) {
    ok(corio_chan_create(&pp->a, sizeof(uint64_t), 0), "corio_chan_create");
    ok(corio_chan_create(&pp->b, sizeof(uint64_t), 0), "corio_chan_create");
    corio_tid q, p;
    ok(corio_rt_spawn(rt, &q, pong_task, pp), "spawn Q");
    ok(corio_rt_spawn(rt, &p, ping_task, pp), "spawn P");
    ok(corio_rt_join(rt, p, NULL), "join P");
    ok(corio_rt_join(rt, q, NULL), "join Q");
    ok(corio_chan_destroy(pp->a), "corio_chan_destroy");
    ok(corio_chan_destroy(pp->b), "corio_chan_destroy");
}

/* ---- fan-in --------------------------------------------------------------- */

typedef struct fanin {
    corio_chan *ch;
    long n;    /* items in all */
    double ns; /* result: wall ns per item */
} fanin;

typedef struct sender {
    corio_chan *ch;
    uint64_t first, count; /* sends first .. first + count - 1 */
} sender;

static void *send_task(void *arg) {
    sender *s = arg;
    for (uint64_t v = s->first; v < s->first + s->count; v++)
        ok(corio_chan_send(s->ch, &v, CORIO_FOREVER), "fan-in: send");
    return NULL;
}

static void *recv_task(void *arg) {
    fanin *f = arg;
    uint64_t sum = 0;
    for (long i = 0; i < f->n; i++) {
        uint64_t v;
        if (corio_chan_recv(f->ch, &v, CORIO_FOREVER) != 0) die("fan-in: receive failed");
        sum += v;
    }
    return (void *)(uintptr_t)sum;
}

/* The driver task: spawn the receiver and the senders, join them all. */
static void *fanin_driver(void *arg) {
    fanin *f = arg;
    sender s[FAN_SENDERS];
    uint64_t n = (uint64_t)f->n, first = 0;
    corio_tid rt_id, st[FAN_SENDERS];
    uint64_t t0 = bench_now_ns();
    ok(corio_task_spawn(&rt_id, recv_task, f), "fan-in: spawn the receiver");
    for (unsigned k = 0; k < FAN_SENDERS; k++) {
        s[k] = (sender){f->ch, first, n / FAN_SENDERS + (k < n % FAN_SENDERS)};
        first += s[k].count;
        ok(corio_task_spawn(&st[k], send_task, &s[k]), "fan-in: spawn a sender");
    }
    for (unsigned k = 0; k < FAN_SENDERS; k++) ok(corio_task_join(st[k], NULL), "fan-in: join");
    void *sum;
    ok(corio_task_join(rt_id, &sum), "fan-in: join the receiver");
    uint64_t t1 = bench_now_ns();
    /* items 0 .. n-1; a 64-bit sum is exact in the sizes used here */
    if ((uint64_t)(uintptr_t)sum != n * (n - 1) / 2) die("fan-in: the received items do not add up");
    f->ns = (double)(t1 - t0) / (double)n;
    return NULL;
}

static void fanin_run(corio_rt *rt, fanin *f) {
    ok(corio_chan_create(&f->ch, sizeof(uint64_t), 0), "corio_chan_create");
    ok(corio_rt_run(rt, fanin_driver, f, NULL), "fan-in: driver");
    ok(corio_chan_destroy(f->ch), "corio_chan_destroy");
}

/* ---- the cases ------------------------------------------------------------ */

enum { C_SAME, C_CROSS, C_FAN, N_CASES };

static const struct {
    const char *name;
    unsigned workers;
    const char *unit_text; /* the human table's unit */
} cases[N_CASES] = {
    [C_SAME] = {"ping-pong-same-worker", 1, "ns/rt"},
    [C_CROSS] = {"ping-pong-cross-worker", 2, "ns/rt"},
    [C_FAN] = {"fan-in-8", 2, "ns/item"},
};

typedef struct corio_result {
    double ns;
    double apart_pct; /* ping-pong: % of timed rounds with P and Q apart */
    int start_p, start_q; /* ping-pong: first workers, of the last run */
} corio_result;

/* One run of case k with n round trips or items. */
static void run_once(int k, corio_rt *rt, long n, corio_result *res) {
    if (k == C_FAN) {
        fanin f = {NULL, n, 0};
        fanin_run(rt, &f);
        res->ns = f.ns;
        return;
    }
    pingpong pp = {.n = n, .apart_start = k == C_CROSS, .q_worker = -1};
    pingpong_run(rt, &pp);
    res->ns = pp.ns;
    res->apart_pct = 100.0 * (double)pp.apart / (double)n;
    res->start_p = pp.start_p;
    res->start_q = pp.start_q;
}

static double run_go(int k, long n, int runs);

/* A warm-up run at n / 10, then the median of `runs` runs; apart_pct is
 * the median too.  With the Go peer (`go` not NULL), each corio run is
 * followed by one run of the peer (a fresh process, its own warm-up), and
 * *go is the median of those: the two alternate, so that both see the same
 * phases of a noisy machine (one block of corio runs, then one of Go runs,
 * gave ratios from 0.35x to 0.66x in one sitting). */
static corio_result measure(int k, long n, int runs, double *go) {
    corio_rt_opts o = {0};
    o.workers = cases[k].workers;
    corio_rt *rt;
    ok(corio_rt_create(&rt, &o), "corio_rt_create");
    if (corio_rt_workers(rt) != o.workers) die("the runtime has %u workers", corio_rt_workers(rt));
    double *ns = malloc(3 * sizeof *ns * (size_t)runs);
    if (ns == NULL) die("out of memory");
    double *apart = ns + runs, *gns = ns + 2 * runs;
    corio_result res = {0};
    run_once(k, rt, n / 10 > 0 ? n / 10 : 1, &res);
    for (int r = 0; r < runs; r++) {
        run_once(k, rt, n, &res);
        ns[r] = res.ns;
        apart[r] = res.apart_pct;
        if (go != NULL) gns[r] = run_go(k, n, 1);
    }
    ok(corio_rt_shutdown(rt), "corio_rt_shutdown");
    res.ns = bench_median(ns, (size_t)runs);
    res.apart_pct = bench_median(apart, (size_t)runs);
    if (go != NULL) *go = bench_median(gns, (size_t)runs);
    free(ns);
    return res;
}

/* ---- the Go peer ---------------------------------------------------------- */

static char go_path[PATH_MAX];
static const char *go_missing; /* why there is no peer, or NULL */

static void locate_go(void) {
    const char *env = getenv("CORIO_BENCH_GO_CHAN");
    if (env != NULL && env[0] == '\0') {
        go_missing = "the Go peer was not built (is `go` installed? see bench/go/README.md)";
        return;
    }
    if (env != NULL) {
        snprintf(go_path, sizeof go_path, "%s", env);
    } else {
        char self[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
        if (len <= 0) die("readlink /proc/self/exe: %s", strerror(errno));
        self[len] = '\0';
        *strrchr(self, '/') = '\0';
        snprintf(go_path, sizeof go_path, "%.*s/go/chan", PATH_MAX - 16, self);
    }
    if (access(go_path, X_OK) != 0) {
        static char why[PATH_MAX + 64];
        snprintf(why, sizeof why, "no Go peer at %s (bench/go/build.sh builds it)", go_path);
        go_missing = why;
    }
}

/* Run the peer for case k; it prints one line:
 * {"case":"NAME","impl":"go","workers":W,"value":V,"unit":"ns"} */
static double run_go(int k, long n, int runs) {
    char cmd[PATH_MAX * 4 + 128], *p = cmd;
    *p++ = '\'';
    for (const char *s = go_path; *s != '\0'; s++) {
        if (*s == '\'') {
            memcpy(p, "'\\''", 4);
            p += 4;
        } else {
            *p++ = *s;
        }
    }
    snprintf(p, sizeof cmd - (size_t)(p - cmd), "' -case %s -n %ld -reps %d", cases[k].name, n, runs);
    fflush(stdout);
    FILE *f = popen(cmd, "r");
    if (f == NULL) die("cannot start %s: %s", go_path, strerror(errno));
    char line[512] = "", name[64] = "";
    unsigned workers = 0;
    double v = 0;
    int got = fgets(line, sizeof line, f) != NULL &&
              sscanf(line, "{\"case\":\"%63[^\"]\",\"impl\":\"go\",\"workers\":%u,\"value\":%lf",
                     name, &workers, &v) == 3;
    int st = pclose(f);
    if (st != 0) die("%s: the Go peer %s failed (status %d)", cases[k].name, go_path, st);
    if (!got || strcmp(name, cases[k].name) != 0) die("%s: cannot read the Go peer's line: %s",
                                                      cases[k].name, line);
    if (workers != cases[k].workers)
        die("%s: the Go peer ran with GOMAXPROCS %u, want %u", cases[k].name, workers,
            cases[k].workers);
    return v;
}

/* ---- output and main ------------------------------------------------------ */

/* --json: the one object of docs/bench.md. */
static void emit_json(const corio_result *c, const double *g, int have_go) {
    bench_row rows[N_CASES * 2];
    size_t nr = 0;
    for (int k = 0; k < N_CASES; k++)
        for (int impl = 0; impl <= have_go; impl++) {
            bench_row *r = &rows[nr++];
            *r = (bench_row){.case_name = cases[k].name, .impl = impl == 0 ? "corio" : "go",
                             .value = impl == 0 ? c[k].ns : g[k], .unit = "ns",
                             .better = "lower"};
            bench_row_extra(r, "workers", cases[k].workers);
            if (impl == 0 && have_go) bench_row_extra(r, "ratio", c[k].ns / g[k]);
            if (impl == 0 && k != C_FAN) bench_row_extra(r, "apart_pct", c[k].apart_pct);
        }
    bench_json("chan", rows, nr);
    if (!have_go) fprintf(stderr, "chan: %s; only corio rows printed\n", go_missing);
}

/* The human table, then where the ping-pong tasks ran. */
static void print_table(const corio_result *c, const double *g, int have_go,
                        const bench_opts *o) {
    printf("chan: unbuffered channels of 8-byte items, corio_chan vs Go chan (bench/go/chan.go)\n");
    printf("machine: %s\n", bench_machine());
    printf("method: wall time, median of %d runs after a warm-up run, fresh runtime per case,\n"
           "        corio and Go runs alternating;\n"
           "        N = %ld round trips (ping-pong) or items (fan-in-8: 8 senders, 1 receiver)\n",
           o->runs, o->iters);
    if (!have_go) printf("go peer missing: %s\n", go_missing);
    printf("\n%-23s %7s %-8s %9s %9s %9s  %s\n", "case", "workers", "unit", "corio", "go",
           "corio/go", "target");
    for (int k = 0; k < N_CASES; k++) {
        printf("%-23s %7u %-8s %9.1f ", cases[k].name, cases[k].workers, cases[k].unit_text,
               c[k].ns);
        const char *target = k == C_FAN ? "-" : "<= 0.50x";
        if (!have_go) {
            printf("%9s %9s  %s\n", "-", "-", target);
            continue;
        }
        double ratio = c[k].ns / g[k];
        printf("%9.1f %8.2fx  %s%s\n", g[k], ratio, target,
               k == C_FAN ? "" : ratio <= TARGET_RATIO ? " met" : " NOT met");
    }
    printf("\nwhere corio's ping-pong tasks ran (corio_task_worker(), median over the runs):\n");
    for (int k = 0; k < C_FAN; k++)
        printf("  %-23s started on workers %d and %d; apart in %.1f%% of the round trips\n",
               cases[k].name, c[k].start_p, c[k].start_q, c[k].apart_pct);
}

int main(int argc, char **argv) {
    bench_opts o = bench_parse(argc, argv, "chan", 5, 1000000);
    locate_go();
    int have_go = go_missing == NULL;
    corio_result c[N_CASES];
    double g[N_CASES] = {0};
    for (int k = 0; k < N_CASES; k++) {
        if (isatty(2)) fprintf(stderr, "\rchan: %-24s", cases[k].name);
        c[k] = measure(k, o.iters, o.runs, have_go ? &g[k] : NULL);
    }
    if (isatty(2)) fprintf(stderr, "\r%40s\r", "");

    if (o.json)
        emit_json(c, g, have_go);
    else
        print_table(c, g, have_go, &o);
    return 0;
}
