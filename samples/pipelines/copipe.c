/* samples/pipelines/copipe.c - `copipe FILE PATTERN [--max-lines N]
 * [--from-start]`: the coroutine pipeline of the course,
 *
 *     follow() --send()--> grep(PATTERN) --send()--> printer()
 *
 * follow is the source: a plain loop, not a coroutine,
 * that reads FILE like `tail -f` and pushes each line into the pipeline;
 * grep is the filter, printer the sink.
 * After N lines (--max-lines) follow closes grep, which closes printer.
 */
#include <errno.h>
#include <stdio.h>

#include "corio.h"
#include "stages.h"

#define USAGE "copipe FILE PATTERN [--max-lines N] [--from-start]"

int main(int argc, char **argv) {
    pl_follow_args a;
    int r = pl_parse_follow_args(argc, argv, 2, false, "copipe", USAGE, &a);
    pl_follow_args_fini(&a); /* a.args[] point into argv and stay valid */
    if (r != 0) return pl_usage_status(r);
    setvbuf(stdout, NULL, _IOLBF, 0); /* show each line as it arrives */

    pl_follower f;
    r = pl_follow_open(&f, a.args[0], a.from_start, a.max_lines); /* open("access-log") */
    if (r < 0) {
        pl_error("copipe", a.args[0], r);
        return 1;
    }

    /* follow(f, grep('python', printer())): the sink first, then the filter. */
    int status = 0;
    corio_coro *printer = NULL, *grep = NULL;
    pl_grep g = {.pattern = a.args[1], .owns_target = true, .out = stdout};
    r = pl_start(&printer, pl_printer_body, stdout, "printer");
    if (r < 0) {
        pl_error("copipe", "creating the printer", r);
        status = 1;
        goto out;
    }
    g.target = printer;
    r = pl_start(&grep, pl_grep_body, &g, "grep");
    if (r < 0) {
        pl_error("copipe", "creating the grep", r);
        status = 1;
        goto out;
    }
    r = pl_follow_source(&f, grep); /* ends with grep.close() -> printer.close() */
    if (r < 0) {
        pl_error("copipe", "pipeline", r);
        status = 1;
    }
out:
    /* Head first: destroying a stage still suspended (after an error)
     * closes it, and it closes its own targets. */
    r = corio_coro_destroy(grep);
    if (r < 0) {
        pl_error("copipe", "destroying the grep", r);
        status = 1;
    }
    r = corio_coro_destroy(printer);
    if (r < 0) {
        pl_error("copipe", "destroying the printer", r);
        status = 1;
    }
    pl_follow_fini(&f);
    r = pl_flush(stdout);
    if (r < 0) {
        pl_error("copipe", "writing", r);
        status = 1;
    }
    return status;
}
