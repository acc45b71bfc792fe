/* bench/pipeline.c - the course's "coroutines vs objects".  One million
 * sends of "python is nice" through grep("python") -> null, three ways:
 *
 *   corio     two coroutines: grep receives a line at its yield and, on a
 *             match, corio_coro_send()s it on to a null coroutine.
 *   callback  the course's GrepHandler: a handler struct whose send is
 *             a function pointer, forwarding to a null handler struct, every
 *             call made through the pointer.
 *   sync-send the corio row through corio_coro_send_wait at both hops,
 *             uncontended (the synchronized send's fast path; target:
 *             within 1.1x of corio's row).
 *   direct    plain calls: grep(pattern, line) calls null(line).
 *   python    the course's benchmark.py: bench/py/pipeline_send.py, generator
 *             coroutines in Python 3, timed the same way (thread CPU time,
 *             a warm-up, the median of --runs runs of --iters sends) by
 *             the python3 that bench/run finds (CORIO_BENCH_PYTHON; empty
 *             leaves the row out; default python3).  The script is looked
 *             for in CORIO_BENCH_PY_DIR, by default bench/py of the source
 *             tree.
 *
 * All three match with strstr and count the lines reaching null in the same
 * volatile counter, which is checked after each run.  Nothing else is done
 * per line.  The optimizer is kept from folding the work away by opaque
 * pointers (BENCH_OPAQUE, no instructions) and noinline functions, not by
 * extra work.
 *
 * Case "send": ns per send, the median of --runs runs of --iters sends;
 * extra keys "total_ms" (the --iters sends) and "vs_direct" (ratio), and on
 * the python row "vs_corio" (python's time over corio's). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "corio/coro.h"
#include "corio/sync.h"
#include "spawn.h"

#ifndef CORIO_BENCH_PY_DIR
#define CORIO_BENCH_PY_DIR "bench/py"
#endif

#if defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noipa))
#endif

static const char LINE[] = "python is nice";
static const char PATTERN[] = "python";

/* Lines that reached null: the only observable effect of a run. */
static volatile unsigned long matched;

/* ---- corio ---------------------------------------------------------- */

static void *null_coro(void *arg) {
    (void)arg;
    while (corio_coro_yield(NULL, NULL) == 0) matched = matched + 1;
    return NULL;
}

struct grep_coro_args {
    const char *pattern;
    corio_coro *target;
};

static void *grep_coro(void *arg) {
    const struct grep_coro_args *g = arg;
    void *line;
    while (corio_coro_yield(NULL, &line) == 0) {
        if (strstr(line, g->pattern) != NULL) corio_coro_send(g->target, line, NULL);
    }
    return NULL;
}

/* The same grep, forwarding with the synchronized send (sync-send row). */
static void *grep_coro_wait(void *arg) {
    const struct grep_coro_args *g = arg;
    void *line;
    while (corio_coro_yield(NULL, &line) == 0) {
        if (strstr(line, g->pattern) != NULL)
            corio_coro_send_wait(g->target, line, NULL, CORIO_FOREVER);
    }
    return NULL;
}

/* Both coroutine rows: `sync` selects corio_coro_send_wait (no contention:
 * its fast path) instead of corio_coro_send, at both hops. */
static double run_coros(long iters, bool sync) {
    corio_coro *sink, *grep;
    if (corio_coro_create(&sink, null_coro, NULL, NULL) != 0) bench_fail("create null");
    struct grep_coro_args g = {PATTERN, sink};
    if (corio_coro_create(&grep, sync ? grep_coro_wait : grep_coro, &g, NULL) != 0)
        bench_fail("create grep");
    const char *line = LINE;
    matched = 0;
    int bad = 0;
    uint64_t t0 = bench_cpu_ns();
    if (sync) {
        for (long i = 0; i < iters; i++) {
            BENCH_OPAQUE(line);
            bad |= corio_coro_send_wait(grep, (void *)line, NULL, CORIO_FOREVER);
        }
    } else {
        for (long i = 0; i < iters; i++) {
            BENCH_OPAQUE(line);
            bad |= corio_coro_send(grep, (void *)line, NULL);
        }
    }
    uint64_t t1 = bench_cpu_ns();
    if (bad != 0 || matched != (unsigned long)iters) bench_fail("corio: lines lost");
    if (corio_coro_destroy(grep) != 0 || corio_coro_destroy(sink) != 0) bench_fail("destroy");
    return (double)(t1 - t0) / (double)iters;
}

static double run_corio(long iters) { return run_coros(iters, false); }
static double run_sync_send(long iters) { return run_coros(iters, true); }

/* ---- callback (GrepHandler) ----------------------------------------- */

struct handler {
    void (*send)(struct handler *self, const char *line);
};

struct grep_handler {
    struct handler base; /* first: handler <-> grep_handler by cast */
    const char *pattern;
    struct handler *target;
};

static void null_handler_send(struct handler *self, const char *line) {
    (void)self;
    (void)line;
    matched = matched + 1;
}

static void grep_handler_send(struct handler *self, const char *line) {
    struct grep_handler *g = (struct grep_handler *)self;
    if (strstr(line, g->pattern) != NULL) g->target->send(g->target, line);
}

static double run_callback(long iters) {
    struct handler null_h = {null_handler_send};
    struct grep_handler grep_h = {{grep_handler_send}, PATTERN, &null_h};
    struct handler *h = &grep_h.base;
    BENCH_OPAQUE(h); /* the loop sees an unknown handler: a real indirect call */
    BENCH_CLOBBER(); /* ... whose contents were written (the stores stay) */
    const char *line = LINE;
    matched = 0;
    uint64_t t0 = bench_cpu_ns();
    for (long i = 0; i < iters; i++) {
        BENCH_OPAQUE(line);
        h->send(h, line);
    }
    uint64_t t1 = bench_cpu_ns();
    if (matched != (unsigned long)iters) bench_fail("callback: lines lost");
    return (double)(t1 - t0) / (double)iters;
}

/* ---- direct --------------------------------------------------------- */

NOINLINE static void null_direct(const char *line) {
    (void)line;
    matched = matched + 1;
}

NOINLINE static void grep_direct(const char *pattern, const char *line) {
    if (strstr(line, pattern) != NULL) null_direct(line);
}

static double run_direct(long iters) {
    const char *line = LINE;
    const char *pattern = PATTERN;
    matched = 0;
    uint64_t t0 = bench_cpu_ns();
    for (long i = 0; i < iters; i++) {
        BENCH_OPAQUE(line);
        BENCH_OPAQUE(pattern);
        grep_direct(pattern, line);
    }
    uint64_t t1 = bench_cpu_ns();
    if (matched != (unsigned long)iters) bench_fail("direct: lines lost");
    return (double)(t1 - t0) / (double)iters;
}

/* ---- python ---------------------------------------------------------- */

/* ns per send of pipeline_send.py, or a negative value when there is no
 * python3 (said on stderr; the row is left out). */
static double run_python(const bench_opts *o) {
    const char *python = getenv("CORIO_BENCH_PYTHON");
    if (python == NULL) python = "python3";
    if (*python == '\0') {
        fprintf(stderr, "pipeline: no python3: the python row is left out\n");
        return -1;
    }
    const char *dir = getenv("CORIO_BENCH_PY_DIR");
    char script[4096], runs[24], iters[24], out[4200];
    snprintf(script, sizeof script, "%s/pipeline_send.py", dir != NULL ? dir : CORIO_BENCH_PY_DIR);
    snprintf(runs, sizeof runs, "%d", o->runs);
    snprintf(iters, sizeof iters, "%ld", o->iters);
    /* -B: no __pycache__ written into the source tree */
    char *argv[] = {(char *)python, "-B", script, "--runs", runs, "--iters", iters, NULL};
    if (bench_temp_file("pipeline-py", out, sizeof out) < 0) bench_fail("temporary file");
    bench_child c;
    int r = bench_spawn(argv, out, NULL, &c);
    char *text = r == 0 && bench_exited_with(&c, 0) ? bench_slurp(out, NULL) : NULL;
    unlink(out);
    double ns = text != NULL ? strtod(text, NULL) : 0;
    free(text);
    if (ns <= 0) {
        fprintf(stderr, "pipeline: %s %s did not run: the python row is left out\n", python,
                script);
        return -1;
    }
    return ns;
}

/* ---- driver --------------------------------------------------------- */

int main(int argc, char **argv) {
    bench_opts o = bench_parse(argc, argv, "pipeline", 7, 1000000);
    static const struct {
        const char *impl;
        bench_run_fn fn;
    } impls[] = {{"corio", run_corio},
                 {"sync-send", run_sync_send},
                 {"callback", run_callback},
                 {"direct", run_direct}};
    enum { N = sizeof impls / sizeof impls[0] };
    double ns[N + 1];
    for (int i = 0; i < N; i++) ns[i] = bench_measure(impls[i].fn, &o);
    double direct = ns[N - 1];
    ns[N] = run_python(&o);
    int nrows = ns[N] > 0 ? N + 1 : N;

    bench_row rows[N + 1];
    for (int i = 0; i < nrows; i++) {
        rows[i] = (bench_row){.case_name = "send", .impl = i < N ? impls[i].impl : "python",
                              .value = ns[i], .unit = "ns", .better = "lower"};
        bench_row_extra(&rows[i], "total_ms", ns[i] * (double)o.iters / 1e6);
        bench_row_extra(&rows[i], "vs_direct", ns[i] / direct);
    }
    if (nrows > N) bench_row_extra(&rows[N], "vs_corio", ns[N] / ns[0]);
    if (o.json) {
        bench_json("pipeline", rows, (size_t)nrows);
        return 0;
    }
    char what[128];
    snprintf(what, sizeof what, "\"%s\" -> grep(\"%s\") -> null, ns per send", LINE, PATTERN);
    bench_header("pipeline", what, &o);
    printf("%-6s %-9s %10s %12s %10s\n", "case", "impl", "ns/send", "total ms", "vs direct");
    for (int i = 0; i < nrows; i++)
        printf("%-6s %-9s %10.2f %12.2f %9.2fx\n", "send", rows[i].impl, ns[i],
               ns[i] * (double)o.iters / 1e6, ns[i] / direct);
    if (nrows > N)
        printf("\ncorio / python: %.2fx (python %.2f ns per send, corio %.2f; "
               "target: at most 0.75x, %s)\n",
               ns[0] / ns[N], ns[N], ns[0], ns[0] <= 0.75 * ns[N] ? "met" : "NOT met");
    printf("sync-send / corio: %.2fx (target: at most 1.10x)\n", ns[1] / ns[0]);
    /* 20 ms per 1M sends is 20 ns per send. */
    printf("\ntotal ms = %ld sends; target: corio under 20 ms per 1M sends (%s)\n", o.iters,
           ns[0] < 20.0 ? "met" : "NOT met");
    return 0;
}
