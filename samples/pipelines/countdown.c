/* samples/pipelines/countdown.c - `countdown N`: the generator of the
 * course.  Creating it runs nothing; each corio_gen_next()
 * runs the body to its next yield, the first one printing
 * "Counting down from N"; when the body returns, iteration stops (the
 * course's StopIteration).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "corio.h"
#include "stages.h"

#define USAGE "countdown N"

/* def countdown(n): print "Counting down from", n; while n > 0: yield n; n -= 1 */
static void *countdown(void *arg) {
    long n = *(const long *)arg;
    char msg[64];
    snprintf(msg, sizeof msg, "Counting down from %ld\n", n);
    int w = pl_put(stdout, msg);
    if (w < 0) return PL_ERR(w);
    while (n > 0) {
        int r = corio_coro_yield((void *)(intptr_t)n, NULL);
        if (r == -ECANCELED) return NULL; /* closed early: just stop */
        if (r < 0) return PL_ERR(r);
        n--;
    }
    return NULL;
}

int main(int argc, char **argv) {
    long n;
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: %s\n", USAGE);
        return 0;
    }
    if (argc != 2 || pl_parse_count(argv[1], &n) < 0) {
        fprintf(stderr, "usage: %s    (N: a count >= 0)\n", USAGE);
        return 2;
    }

    corio_coro_opts opts = {0};
    opts.name = "countdown";
    corio_coro *gen;
    int r = corio_gen_create(&gen, countdown, &n, &opts); /* x = countdown(n) */
    if (r < 0) {
        pl_error("countdown", "creating the generator", r);
        return 1;
    }

    int status = 0;
    void *item;
    while ((r = corio_gen_next(gen, &item)) == 1) { /* for i in countdown(n) */
        char num[32];
        snprintf(num, sizeof num, "%ld\n", (long)(intptr_t)item);
        int w = pl_put(stdout, num);
        if (w < 0) {
            pl_error("countdown", "writing", w);
            status = 1;
            break; /* destroy closes the generator */
        }
    }
    if (r < 0) {
        pl_error("countdown", "resuming the generator", r);
        status = 1;
    } else if (r == 0) {
        void *res;
        r = corio_coro_result(gen, &res);
        if (r < 0 || res != NULL) {
            pl_error("countdown", "the generator failed", r < 0 ? r : (int)(intptr_t)res);
            status = 1;
        }
    }
    r = corio_coro_destroy(gen); /* also closes it after an early break */
    if (r < 0) {
        pl_error("countdown", "destroying the generator", r);
        status = 1;
    }
    r = pl_flush(stdout);
    if (r < 0) {
        pl_error("countdown", "writing", r);
        status = 1;
    }
    return status;
}
