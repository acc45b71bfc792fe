/* samples/bridges/cocrash.c - the course's cocrash.py: several
 * threads send into one printer coroutine at the same time.
 *
 * In Python the second sender's send() raises "generator already
 * executing" and the program crashes.  corio's plain corio_coro_send
 * refuses the same way (-EBUSY); the synchronized send,
 * corio_coro_send_wait, makes a sender whose target is busy wait its turn
 * (a task parks, a thread blocks), so every line is printed exactly once.
 *
 *   cocrash [--threads N] [--tasks K] [--items M] [--plain]
 *
 * N plain threads (default 4) and K tasks on a 2-worker runtime (default
 * 2) each send M lines (default 1000), "<sender> <i>", into the printer.
 * With --plain the senders use the unsynchronized send and count its
 * refusals, as the seed's program would crash: exit status 1 if any send
 * was refused.  Exit status 0 otherwise, 2 for bad arguments. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corio.h"

static corio_coro *printer;
static long items = 1000;
static bool plain;
static atomic_long refused;

/* The target: prints each line it is sent. */
static void *printer_body(void *arg) {
    (void)arg;
    for (;;) {
        void *in = NULL;
        if (corio_coro_yield(NULL, &in) < 0) return NULL; /* close */
        fputs(in, stdout);
    }
}

static void send_lines(const char *who) {
    char line[64];
    for (long i = 0; i < items; i++) {
        snprintf(line, sizeof line, "%s %ld\n", who, i);
        int r = plain ? corio_coro_send(printer, line, NULL)
                      : corio_coro_send_wait(printer, line, NULL, CORIO_FOREVER);
        if (r == -EBUSY) {
            atomic_fetch_add(&refused, 1);
        } else if (r != CORIO_YIELDED) {
            fprintf(stderr, "cocrash: send: %s\n", strerror(-r));
            exit(1);
        }
    }
}

static void *thread_main(void *arg) {
    char who[32];
    snprintf(who, sizeof who, "thread-%d", (int)(intptr_t)arg);
    send_lines(who);
    return NULL;
}

static void *task_main(void *arg) {
    char who[32];
    snprintf(who, sizeof who, "task-%d", (int)(intptr_t)arg);
    send_lines(who);
    return NULL;
}

static long arg_num(const char *opt, const char *v, long max) {
    char *end;
    long n = v != NULL ? strtol(v, &end, 10) : -1;
    if (v == NULL || *end != '\0' || n < 0 || n > max) {
        fprintf(stderr, "cocrash: %s needs a number from 0 to %ld\n", opt, max);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv) {
    long nthreads = 4, ntasks = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0) nthreads = arg_num(argv[i], argv[i + 1], 256), i++;
        else if (strcmp(argv[i], "--tasks") == 0) ntasks = arg_num(argv[i], argv[i + 1], 4096), i++;
        else if (strcmp(argv[i], "--items") == 0) items = arg_num(argv[i], argv[i + 1], 100000000), i++;
        else if (strcmp(argv[i], "--plain") == 0) plain = true;
        else {
            fprintf(stderr, "usage: cocrash [--threads N] [--tasks K] [--items M] [--plain]\n");
            return 2;
        }
    }
    int r = corio_coro_create(&printer, printer_body, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "cocrash: coroutine: %s\n", strerror(-r));
        return 1;
    }
    corio_rt *rt = NULL;
    corio_rt_opts o = {.workers = 2};
    if (ntasks > 0 && (r = corio_rt_create(&rt, &o)) < 0) {
        fprintf(stderr, "cocrash: runtime: %s\n", strerror(-r));
        return 1;
    }
    pthread_t th[256];
    corio_tid *tids = calloc((size_t)ntasks + 1, sizeof *tids);
    for (long i = 0; i < ntasks; i++)
        if ((r = corio_rt_spawn(rt, &tids[i], task_main, (void *)(intptr_t)i)) < 0) {
            fprintf(stderr, "cocrash: spawn: %s\n", strerror(-r));
            return 1;
        }
    for (long i = 0; i < nthreads; i++) pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i);
    for (long i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    for (long i = 0; i < ntasks; i++) corio_rt_join(rt, tids[i], NULL);
    free(tids);
    if (rt != NULL) corio_rt_shutdown(rt);
    corio_coro_destroy(printer);
    fflush(stdout);
    long n = atomic_load(&refused);
    if (n > 0) {
        fprintf(stderr, "cocrash: %ld sends refused: the printer was already executing (-EBUSY)\n", n);
        return 1;
    }
    return 0;
}
