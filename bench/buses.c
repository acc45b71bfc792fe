/* bench/buses.c - the course's "where is my bus?" on a 30 MB
 * allroutes.xml, as whole programs, each printing the North Bound #22 buses:
 *
 *   corio             samples/buses/buses --variant coroutine (the default):
 *                     expat events into corio coroutines
 *   direct            buses --variant direct: plain expat callbacks
 *   threaded          buses --variant threaded: the filters on
 *                     the thread of a corio_threaded() bridge
 *   process           buses --variant process: the filters
 *                     in a child process, the buses sent as frames
 *   python-expat      bench/py/buses_coroutine.py: coexpat.py, pyexpat and
 *                     generator coroutines
 *   python-iterparse  bench/py/buses_iterparse.py: iterbus.py, ElementTree
 *
 * bench/run buses builds buses and gen_buses, generates the file once
 * (<build>/bench/allroutes-30mb.xml) and passes the paths in
 * CORIO_BENCH_BUSES (the buses binary), CORIO_BENCH_BUSES_FILE (the XML)
 * and CORIO_BENCH_PYTHON (python3, empty when there is none: the Python
 * rows are left out).  The scripts are looked for in CORIO_BENCH_PY_DIR,
 * by default bench/py of the source tree.
 *
 * Each program runs once untimed (it warms the page cache, and its output
 * is checked: corio's must not be empty, and every other's must equal it
 * byte for byte), then --runs rounds run each program once; a program's
 * fastest run counts, as the course's single timings do on an otherwise
 * idle machine.  Times are wall clock
 * from fork to exit, start-up included.  --iters is ignored.
 *
 * Case "buses-<N>mb", value MB/s (10^6 bytes of XML per second of the
 * fastest run), extra keys "ms" (that run), "cpu_ms" (its user + system
 * time), "vs_corio" (its time over corio's) and, on corio's row,
 * "vs_direct" (corio's time over direct's; the target is 1.25 at most).
 * threaded's vs_corio has a target too: 1.5 at most. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "spawn.h"

#ifndef CORIO_BENCH_PY_DIR
#define CORIO_BENCH_PY_DIR "bench/py"
#endif

#define MAX_IMPLS 6

typedef struct impl {
    const char *name;
    char *argv[6];
    int ran;       /* it ran and its output was right */
    double ms, cpu_ms;
} impl;

static const char *env_or(const char *name, const char *dflt) {
    const char *v = getenv(name);
    return v != NULL ? v : dflt;
}

/* Run `im` once into out/err and check its output; the benchmark fails
 * when it did not run right. */
static void check_run(impl *im, const char *out, const char *err, const char *expected,
                      size_t expected_len, bench_child *c) {
    int r = bench_spawn(im->argv, out, err, c);
    if (r < 0) {
        fprintf(stderr, "buses: cannot start %s: %s\n", im->argv[0], strerror(-r));
        bench_fail(im->name);
    }
    char *e = bench_slurp(err, NULL);
    if (!bench_exited_with(c, 0)) {
        fprintf(stderr, "buses: %s failed (status 0x%x): %s\n", im->name, c->status,
                e != NULL ? e : "");
        bench_fail(im->name);
    }
    free(e);
    size_t n;
    char *o = bench_slurp(out, &n);
    if (o == NULL) bench_fail("reading an output");
    int same = expected == NULL ? n > 0 : n == expected_len && memcmp(o, expected, n) == 0;
    free(o);
    if (!same) {
        fprintf(stderr, "buses: the output of %s (in %s) %s\n", im->name, out,
                expected == NULL ? "is empty" : "differs from corio's");
        bench_fail("outputs");
    }
}

int main(int argc, char **argv) {
    bench_opts o = bench_parse(argc, argv, "buses", 3, 1);
    const char *bin = env_or("CORIO_BENCH_BUSES", "");
    const char *xml = env_or("CORIO_BENCH_BUSES_FILE", "");
    const char *python = env_or("CORIO_BENCH_PYTHON", "python3");
    const char *py_dir = env_or("CORIO_BENCH_PY_DIR", CORIO_BENCH_PY_DIR);
    struct stat st;
    if (*bin == '\0' || *xml == '\0' || stat(xml, &st) < 0) {
        fprintf(stderr, "buses: run through bench/run buses (CORIO_BENCH_BUSES and "
                        "CORIO_BENCH_BUSES_FILE name the program and the XML file)\n");
        return 2;
    }
    double mb = (double)st.st_size / 1e6;
    char case_name[32];
    snprintf(case_name, sizeof case_name, "buses-%.0fmb", mb);

    char py_expat[4096], py_iter[4096];
    snprintf(py_expat, sizeof py_expat, "%s/buses_coroutine.py", py_dir);
    snprintf(py_iter, sizeof py_iter, "%s/buses_iterparse.py", py_dir);
    impl impls[MAX_IMPLS] = {
        {"corio", {(char *)bin, "--variant", "coroutine", (char *)xml, NULL}, 0, 0, 0},
        {"direct", {(char *)bin, "--variant", "direct", (char *)xml, NULL}, 0, 0, 0},
        {"threaded", {(char *)bin, "--variant", "threaded", (char *)xml, NULL}, 0, 0, 0},
        {"process", {(char *)bin, "--variant", "process", (char *)xml, NULL}, 0, 0, 0},
        /* -B: no __pycache__ written into the source tree */
        {"python-expat", {(char *)python, "-B", py_expat, (char *)xml, NULL}, 0, 0, 0},
        {"python-iterparse", {(char *)python, "-B", py_iter, (char *)xml, NULL}, 0, 0, 0},
    };
    size_t nimpls = *python != '\0' ? MAX_IMPLS : MAX_IMPLS - 2;
    if (*python == '\0') fprintf(stderr, "buses: no python3: the Python rows are left out\n");

    char out[4200], err[4200];
    if (bench_temp_file("buses-out", out, sizeof out) < 0 ||
        bench_temp_file("buses-err", err, sizeof err) < 0)
        bench_fail("temporary files");
    char *expected = NULL;
    size_t expected_len = 0;
    for (size_t i = 0; i < nimpls; i++) {
        impl *im = &impls[i];
        bench_child c;
        check_run(im, out, err, expected, expected_len, &c);
        if (expected == NULL) expected = bench_slurp(out, &expected_len); /* corio's */
        im->ran = 1;
        im->ms = INFINITY;
    }
    /* Round by round, each program once a round: on a shared machine a
     * burst of other work then slows one run of every program, not all the
     * runs of one. */
    for (int r = 0; r < o.runs; r++) {
        for (size_t i = 0; i < nimpls; i++) {
            impl *im = &impls[i];
            bench_child c;
            if (!im->ran) continue;
            if (bench_spawn(im->argv, "/dev/null", err, &c) < 0 || !bench_exited_with(&c, 0))
                bench_fail(im->name);
            if (c.wall_ms < im->ms) {
                im->ms = c.wall_ms;
                im->cpu_ms = c.cpu_ms;
            }
        }
    }
    unsigned long matches = 0;
    for (size_t k = 0; k < expected_len; k++) matches += expected[k] == '\n';
    free(expected);
    unlink(out);
    unlink(err);

    double corio_ms = impls[0].ms, direct_ms = impls[1].ms;
    bench_row rows[MAX_IMPLS];
    size_t n = 0;
    for (size_t i = 0; i < nimpls; i++) {
        const impl *im = &impls[i];
        if (!im->ran) continue;
        bench_row *row = &rows[n++];
        *row = (bench_row){.case_name = case_name, .impl = im->name, .value = mb / (im->ms / 1e3),
                           .unit = "MB/s", .better = "higher"};
        bench_row_extra(row, "ms", im->ms);
        bench_row_extra(row, "cpu_ms", im->cpu_ms);
        bench_row_extra(row, "vs_corio", im->ms / corio_ms);
        if (i == 0) bench_row_extra(row, "vs_direct", corio_ms / direct_ms);
    }
    if (o.json) {
        bench_json("buses", rows, n);
        return 0;
    }
    printf("buses: North Bound #22 buses in a %.1f MB allroutes.xml (%lu lines printed)\n", mb,
           matches);
    printf("machine: %s\n", bench_machine());
    printf("method: the fastest of %d runs of each program, in rounds (wall clock, start-up "
           "included), after an untimed run whose output is checked\n\n",
           o.runs);
    printf("%-11s %-17s %9s %10s %10s %9s\n", "case", "impl", "MB/s", "ms", "cpu ms", "vs corio");
    for (size_t i = 0; i < n; i++)
        printf("%-11s %-17s %9.1f %10.1f %10.1f %8.2fx\n", case_name, rows[i].impl, rows[i].value,
               rows[i].extra[0].value, rows[i].extra[1].value, rows[i].extra[2].value);
    printf("\ncoroutine / direct: %.2fx (target: within 1.25x, %s)\n", corio_ms / direct_ms,
           corio_ms / direct_ms <= 1.25 ? "met" : "NOT met");
    double threaded_ms = impls[2].ms;
    printf("threaded / coroutine: %.2fx (target: within 1.5x, %s)\n", threaded_ms / corio_ms,
           threaded_ms / corio_ms <= 1.5 ? "met" : "NOT met");
    return 0;
}
