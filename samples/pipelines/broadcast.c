/* samples/pipelines/broadcast.c - `broadcast FILE [--pattern P]...
 * [--max-lines N] [--from-start]`: broadcasting, as the course does it,
 *
 *     follow --> broadcast --> grep('python') --> printer()
 *                          --> grep('ply')    --> printer()
 *                          --> grep('swig')   --> printer()
 *
 * Built a second time as `broadcast-shared` (PIPELINE_SHARED_PRINTER):
 * the course's "more disturbing variation", where the three greps send into
 * one printer.  The output is the same: every send runs to completion
 * before the next one starts, so a line matching several patterns is
 * printed once per matching grep, in the order of the greps.
 *
 * --pattern P (repeatable) replaces the default patterns python, ply, swig.
 * When follow stops (--max-lines), it closes broadcast, which closes each
 * grep; each grep closes its own printer, and the shared printer of
 * broadcast-shared, which no grep owns, is closed last by main.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "corio.h"
#include "stages.h"

#ifdef PIPELINE_SHARED_PRINTER
#define PROG "broadcast-shared"
#define SHARED true
#else
#define PROG "broadcast"
#define SHARED false
#endif
#define USAGE PROG " FILE [--pattern P]... [--max-lines N] [--from-start]"

static const char *default_patterns[] = {"python", "ply", "swig"};

int main(int argc, char **argv) {
    pl_follow_args a;
    int r = pl_parse_follow_args(argc, argv, 1, true, PROG, USAGE, &a);
    if (r != 0) {
        pl_follow_args_fini(&a);
        return pl_usage_status(r);
    }
    const char **patterns = a.patterns;
    size_t n = a.npatterns;
    if (n == 0) {
        patterns = default_patterns;
        n = sizeof default_patterns / sizeof default_patterns[0];
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* show each line as it arrives */

    int status = 0;
    pl_follower f;
    size_t nprinters = SHARED ? 1 : n;
    corio_coro **printers = calloc(nprinters, sizeof *printers);
    corio_coro **greps = calloc(n, sizeof *greps);
    pl_grep *g = calloc(n, sizeof *g);
    corio_coro *bcast = NULL;
    pl_broadcast b = {.targets = greps, .ntargets = n};

    r = pl_follow_open(&f, a.args[0], a.from_start, a.max_lines); /* open("access-log") */
    if (r < 0) {
        pl_error(PROG, a.args[0], r);
        free(printers);
        free(greps);
        free(g);
        pl_follow_args_fini(&a);
        return 1;
    }
    if (printers == NULL || greps == NULL || g == NULL) {
        pl_error(PROG, "setting up", -ENOMEM);
        status = 1;
        goto out;
    }

    /* broadcast([grep('python', printer()), grep('ply', printer()), ...]),
     * or with p = printer() given to every grep. */
    for (size_t i = 0; i < nprinters; i++) {
        r = pl_start(&printers[i], pl_printer_body, stdout, "printer");
        if (r < 0) {
            pl_error(PROG, "creating a printer", r);
            status = 1;
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        g[i] = (pl_grep){.pattern = patterns[i],
                         .target = printers[SHARED ? 0 : i],
                         .owns_target = !SHARED,
                         .out = stdout};
        r = pl_start(&greps[i], pl_grep_body, &g[i], "grep");
        if (r < 0) {
            pl_error(PROG, "creating a grep", r);
            status = 1;
            goto out;
        }
    }
    r = pl_start(&bcast, pl_broadcast_body, &b, "broadcast");
    if (r < 0) {
        pl_error(PROG, "creating the broadcast", r);
        status = 1;
        goto out;
    }

    r = pl_follow_source(&f, bcast); /* ends with broadcast.close() */
    if (r < 0) {
        pl_error(PROG, "pipeline", r);
        status = 1;
    }
    if (SHARED && status == 0) {
        r = pl_close(printers[0]); /* no grep owns the shared printer */
        if (r < 0) {
            pl_error(PROG, "closing the printer", r);
            status = 1;
        }
    }

out:
    /* Head first: destroying a stage still suspended (after an error)
     * closes it, and it closes what it owns. */
    r = corio_coro_destroy(bcast);
    if (r < 0) {
        pl_error(PROG, "destroying the broadcast", r);
        status = 1;
    }
    for (size_t i = 0; greps != NULL && i < n; i++) {
        r = corio_coro_destroy(greps[i]);
        if (r < 0) {
            pl_error(PROG, "destroying a grep", r);
            status = 1;
        }
    }
    for (size_t i = 0; printers != NULL && i < nprinters; i++) {
        r = corio_coro_destroy(printers[i]);
        if (r < 0) {
            pl_error(PROG, "destroying a printer", r);
            status = 1;
        }
    }
    free(printers);
    free(greps);
    free(g);
    pl_follow_fini(&f);
    pl_follow_args_fini(&a);
    r = pl_flush(stdout);
    if (r < 0) {
        pl_error(PROG, "writing", r);
        status = 1;
    }
    return status;
}
