/* bench/common.h - what every benchmark executable shares: the command
 * line (--json, --runs, --iters), the clock, the median, the warm-up and
 * median-of-runs driver, the optimizer barriers, the machine description,
 * and the JSON output of docs/bench.md.
 *
 * A benchmark fills an array of bench_row and hands it to bench_json() when
 * --json was given; otherwise it prints its own human table (the ratio
 * columns differ per benchmark), starting with bench_header(). */
#ifndef CORIO_BENCH_COMMON_H
#define CORIO_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Keep `x` in a register the compiler knows nothing about: it can no longer
 * constant-fold through it or hoist work that depends on it out of a loop.
 * Emits no instruction. */
#define BENCH_OPAQUE(x) __asm__ volatile("" : "+r"(x))

/* Forget everything known about memory.  Emits no instruction. */
#define BENCH_CLOBBER() __asm__ volatile("" ::: "memory")

#define BENCH_MAX_EXTRA 6

/* One extra figure of a row ("ratio", "total_ms", ...); printed as an
 * integer when it is integral, else with two decimals. */
typedef struct bench_extra {
    const char *key;
    double value;
} bench_extra;

typedef struct bench_row {
    const char *case_name; /* "case" */
    const char *impl;      /* "corio", "raw", "callback", "direct", ... */
    double value;
    const char *unit;      /* "ns", "ns/task", "msgs/s", ... */
    const char *better;    /* "lower" or "higher" */
    size_t n_extra;
    bench_extra extra[BENCH_MAX_EXTRA];
} bench_row;

typedef struct bench_opts {
    int json;      /* --json */
    int runs;      /* --runs N: timed runs per case (the median is reported) */
    long iters;    /* --iters N: iterations per run */
} bench_opts;

/* Parse argv.  `runs` and `iters` are the defaults of this benchmark.  On a
 * bad argument prints the usage to stderr and exits with status 2. */
bench_opts bench_parse(int argc, char **argv, const char *name, int runs, long iters);

/* Monotonic wall clock in nanoseconds. */
uint64_t bench_now_ns(void);

/* CPU time of the calling thread in nanoseconds.  The single-threaded
 * micro benchmarks time with this: on a small shared machine it leaves out
 * the time the thread spent preempted, which wall time would add as noise. */
uint64_t bench_cpu_ns(void);

/* Median of v[0..n) (n >= 1); v is sorted in place. */
double bench_median(double *v, size_t n);

/* One timed run of `iters` iterations; returns the time per iteration. */
typedef double (*bench_run_fn)(long iters);

/* One warm-up run of o->iters / 10 iterations (at least one), then the
 * median of o->runs timed runs of o->iters iterations each. */
double bench_measure(bench_run_fn fn, const bench_opts *o);

/* "<nproc> cpus, <model name>": CPUs this process may run on, as nproc(1)
 * counts them, and the first model name of /proc/cpuinfo. */
const char *bench_machine(void);

/* Append an extra key to a row (silently ignored past BENCH_MAX_EXTRA). */
void bench_row_extra(bench_row *r, const char *key, double value);

/* Print one JSON object on one line of stdout:
 * {"bench": NAME, "machine": ..., "rows": [{...}, ...]} */
void bench_json(const char *name, const bench_row *rows, size_t n);

/* First lines of a human table: the benchmark, the machine, the method. */
void bench_header(const char *name, const char *what, const bench_opts *o);

/* Exit with a message on stderr when a benchmark's own check fails (a
 * miscounted result means the figures are meaningless). */
__attribute__((noreturn)) void bench_fail(const char *what);

#endif
