/* samples/pyos/pyos.c - the helpers of pyos.h shared by the task programs
 * of the course: command line, runtime start/stop, NewTask order,
 * the exit message and error reports. */
#include "pyos.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog_name = "pyos";
static atomic_int failed; /* set by pyos_check from any thread */

static void usage(FILE *f) {
    fprintf(f, "usage: %s [--workers N]\n", prog_name);
}

static unsigned parse_workers(const char *s) {
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || n < 1 || n > 1024) {
        fprintf(stderr, "%s: bad worker count '%s' (1 to 1024)\n", prog_name, s);
        usage(stderr);
        exit(2);
    }
    return (unsigned)n;
}

unsigned pyos_parse_args(int argc, char **argv, const char *prog) {
    prog_name = prog;
    unsigned workers = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--workers") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: missing the value of '--workers'\n", prog_name);
                usage(stderr);
                exit(2);
            }
            workers = parse_workers(argv[++i]);
        } else if (strncmp(a, "--workers=", 10) == 0) {
            workers = parse_workers(a + 10);
        } else {
            fprintf(stderr, "%s: unknown argument '%s'\n", prog_name, a);
            usage(stderr);
            exit(2);
        }
    }
    return workers;
}

corio_rt *pyos_start(unsigned workers) {
    corio_rt_opts opts = {0};
    opts.workers = workers;
    corio_rt *rt = NULL;
    int r = corio_rt_create(&rt, &opts);
    if (r < 0) {
        fprintf(stderr, "%s: starting the runtime: %s\n", prog_name, strerror(-r));
        exit(1);
    }
    return rt;
}

int pyos_finish(corio_rt *rt) {
    pyos_check(corio_rt_shutdown(rt), "shutting the runtime down");
    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: writing: %s\n", prog_name, strerror(errno));
        return 1;
    }
    return atomic_load(&failed) ? 1 : 0;
}

int pyos_new(corio_tid *tid, corio_task_fn fn, void *arg) {
    int r = corio_task_spawn(tid, fn, arg);
    if (r < 0) return r;
    corio_task_yield();
    return r;
}

void pyos_terminated(void) {
    printf("Task %" PRIu64 " terminated\n", corio_task_id());
}

int pyos_check(int r, const char *what) {
    if (r < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog_name, what, strerror(-r));
        atomic_store(&failed, 1);
    }
    return r;
}

/* The two tasks of a foo/bar program, as one start task. */
static corio_task_fn pair_fn[2];

static void *start_pair(void *arg) {
    (void)arg;
    corio_tid t[2];
    if (pyos_check(pyos_new(&t[0], pair_fn[0], NULL), "starting foo") < 0) return NULL;
    if (pyos_check(pyos_new(&t[1], pair_fn[1], NULL), "starting bar") < 0) {
        pyos_check(corio_task_join(t[0], NULL), "waiting for foo");
        return NULL;
    }
    pyos_check(corio_task_join(t[0], NULL), "waiting for foo");
    pyos_check(corio_task_join(t[1], NULL), "waiting for bar");
    return NULL;
}

int pyos_run_pair(int argc, char **argv, const char *prog, corio_task_fn foo, corio_task_fn bar) {
    unsigned workers = pyos_parse_args(argc, argv, prog);
    corio_rt *rt = pyos_start(workers);
    pair_fn[0] = foo;
    pair_fn[1] = bar;
    pyos_check(corio_rt_run(rt, start_pair, NULL, NULL), "running the tasks");
    return pyos_finish(rt);
}
