/* bench/common.c - command line, clock, median, measuring driver, machine
 * string and JSON output shared by the benchmark executables (see
 * bench/common.h). */
#define _GNU_SOURCE 1
#include "common.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(const char *name, int runs, long iters) {
    fprintf(stderr,
            "usage: %s [--json] [--runs N] [--iters N]\n"
            "  --json     print one JSON object on one line (docs/bench.md)\n"
            "  --runs N   timed runs per case, the median is reported (default %d)\n"
            "  --iters N  iterations per run (default %ld)\n",
            name, runs, iters);
}

static long parse_pos(const char *s, const char *name, int runs, long iters) {
    char *end;
    errno = 0;
    long v = s != NULL ? strtol(s, &end, 10) : 0;
    if (s == NULL || errno != 0 || *end != '\0' || v <= 0) {
        usage(name, runs, iters);
        exit(2);
    }
    return v;
}

bench_opts bench_parse(int argc, char **argv, const char *name, int runs, long iters) {
    bench_opts o = {0, runs, iters};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            o.json = 1;
        } else if (strcmp(argv[i], "--runs") == 0) {
            long v = parse_pos(i + 1 < argc ? argv[++i] : NULL, name, runs, iters);
            o.runs = v > 1000 ? 1000 : (int)v;
        } else if (strcmp(argv[i], "--iters") == 0) {
            o.iters = parse_pos(i + 1 < argc ? argv[++i] : NULL, name, runs, iters);
        } else {
            usage(name, runs, iters);
            exit(strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ? 0 : 2);
        }
    }
    return o;
}

uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_measure(bench_run_fn fn, const bench_opts *o) {
    double *v = malloc(sizeof *v * (size_t)o->runs);
    if (v == NULL) bench_fail("out of memory");
    fn(o->iters / 10 > 0 ? o->iters / 10 : 1);
    for (int r = 0; r < o->runs; r++) v[r] = fn(o->iters);
    double m = bench_median(v, (size_t)o->runs);
    free(v);
    return m;
}

const char *bench_machine(void) {
    static char buf[320];
    if (buf[0] != '\0') return buf;
    long cpus = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
    if (cpus <= 0) cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[512];
        while (fgets(line, sizeof line, f) != NULL) {
            if (strncmp(line, "model name", 10) != 0) continue;
            const char *p = strchr(line, ':');
            if (p == NULL) continue;
            p++;
            while (*p == ' ' || *p == '\t') p++;
            size_t len = strcspn(p, "\n");
            if (len >= sizeof model) len = sizeof model - 1;
            memcpy(model, p, len);
            model[len] = '\0';
            break;
        }
        fclose(f);
    }
    snprintf(buf, sizeof buf, "%ld cpus, %s", cpus, model);
    return buf;
}

void bench_row_extra(bench_row *r, const char *key, double value) {
    if (r->n_extra >= BENCH_MAX_EXTRA) return;
    r->extra[r->n_extra].key = key;
    r->extra[r->n_extra].value = value;
    r->n_extra++;
}

static void json_str(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void json_num(double v) {
    if (!isfinite(v))
        fputs("null", stdout);
    else if (v == floor(v) && fabs(v) < 1e15)
        printf("%.0f", v);
    else
        printf("%.2f", v);
}

void bench_json(const char *name, const bench_row *rows, size_t n) {
    fputs("{\"bench\": ", stdout);
    json_str(name);
    fputs(", \"machine\": ", stdout);
    json_str(bench_machine());
    fputs(", \"rows\": [", stdout);
    for (size_t i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        fputs(i ? ", {\"case\": " : "{\"case\": ", stdout);
        json_str(r->case_name);
        fputs(", \"impl\": ", stdout);
        json_str(r->impl);
        fputs(", \"value\": ", stdout);
        json_num(r->value);
        fputs(", \"unit\": ", stdout);
        json_str(r->unit);
        fputs(", \"better\": ", stdout);
        json_str(r->better);
        for (size_t k = 0; k < r->n_extra; k++) {
            fputs(", ", stdout);
            json_str(r->extra[k].key);
            fputs(": ", stdout);
            json_num(r->extra[k].value);
        }
        putchar('}');
    }
    fputs("]}\n", stdout);
    fflush(stdout);
}

void bench_header(const char *name, const char *what, const bench_opts *o) {
    printf("%s: %s\n", name, what);
    printf("machine: %s\n", bench_machine());
    printf("method: median of %d runs x %ld iterations, thread CPU time, after a warm-up run\n\n",
           o->runs, o->iters);
}

void bench_fail(const char *what) {
    fprintf(stderr, "bench: check failed: %s\n", what);
    exit(1);
}
