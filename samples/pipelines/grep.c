/* samples/pipelines/grep.c - `grep PATTERN`: the grep coroutine of the
 * course.  It is created primed (it prints "Looking for
 * PATTERN" and waits at its first yield), each line of stdin is sent to it
 * and it prints the lines containing PATTERN; at end of input it
 * is closed and says "Going away. Goodbye".
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corio.h"
#include "stages.h"

#define USAGE "grep PATTERN    (reads stdin)"

int main(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: %s\n", USAGE);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s\n", USAGE);
        return 2;
    }

    pl_grep g = {.pattern = argv[1], .chatty = true, .out = stdout};
    corio_coro *co;
    int r = pl_start(&co, pl_grep_body, &g, "grep"); /* g = grep("python") */
    if (r < 0) {
        pl_error("grep", "creating the coroutine", r);
        return 1;
    }

    int status = 0;
    char *line = NULL; /* reused for every line: grep does not keep it */
    size_t cap = 0;
    errno = 0;
    while (getline(&line, &cap, stdin) > 0) {
        r = pl_send(co, line); /* g.send(line) */
        if (r < 0) {
            pl_error("grep", "sending a line", r);
            status = 1;
            break;
        }
    }
    if (status == 0 && ferror(stdin)) {
        pl_error("grep", "reading stdin", errno != 0 ? -errno : -EIO);
        status = 1;
    }
    if (status == 0) {
        r = pl_close(co); /* g.close() */
        if (r < 0) {
            pl_error("grep", "closing the coroutine", r);
            status = 1;
        }
    }
    free(line);
    r = corio_coro_destroy(co);
    if (r < 0) {
        pl_error("grep", "destroying the coroutine", r);
        status = 1;
    }
    r = pl_flush(stdout);
    if (r < 0) {
        pl_error("grep", "writing", r);
        status = 1;
    }
    return status;
}
