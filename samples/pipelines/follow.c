/* samples/pipelines/follow.c - `follow FILE [--max-lines N] [--from-start]`:
 * Unix `tail -f` as a generator.  It seeks to the end of
 * FILE (or stays at its start with --from-start), polls every 100 ms while
 * no new line has arrived, and yields each line; the course's for-loop is
 * the corio_gen_next() loop that prints them.  --max-lines N stops after N
 * lines.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "corio.h"
#include "stages.h"

#define USAGE "follow FILE [--max-lines N] [--from-start]"

int main(int argc, char **argv) {
    pl_follow_args a;
    int r = pl_parse_follow_args(argc, argv, 1, false, "follow", USAGE, &a);
    pl_follow_args_fini(&a); /* a.args[] point into argv and stay valid */
    if (r != 0) return pl_usage_status(r);
    setvbuf(stdout, NULL, _IOLBF, 0); /* show each line as it arrives */

    pl_follower f;
    r = pl_follow_open(&f, a.args[0], a.from_start, a.max_lines);
    if (r < 0) {
        pl_error("follow", a.args[0], r);
        return 1;
    }
    corio_coro_opts opts = {0};
    opts.name = "follow";
    corio_coro *gen;
    r = corio_gen_create(&gen, pl_follow_gen, &f, &opts); /* loglines = follow(logfile) */
    if (r < 0) {
        pl_error("follow", "creating the generator", r);
        pl_follow_fini(&f);
        return 1;
    }

    int status = 0;
    void *line; /* valid until the next corio_gen_next */
    while ((r = corio_gen_next(gen, &line)) == 1) { /* for line in loglines */
        int w = pl_put(stdout, line);
        if (w < 0) {
            pl_error("follow", "writing", w);
            status = 1;
            break; /* destroy closes the generator */
        }
    }
    if (r < 0) {
        pl_error("follow", "resuming the generator", r);
        status = 1;
    } else if (r == 0) {
        void *res;
        r = corio_coro_result(gen, &res);
        if (r < 0 || res != NULL) {
            pl_error("follow", a.args[0], r < 0 ? r : (int)(intptr_t)res);
            status = 1;
        }
    }
    r = corio_coro_destroy(gen);
    if (r < 0) {
        pl_error("follow", "destroying the generator", r);
        status = 1;
    }
    pl_follow_fini(&f);
    r = pl_flush(stdout);
    if (r < 0) {
        pl_error("follow", "writing", r);
        status = 1;
    }
    return status;
}
