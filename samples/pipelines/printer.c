/* samples/pipelines/printer.c - `printer`: the sink coroutine of the course
 * on its own.  Each line of stdin is sent to it and it prints what it
 * receives; at end of input it is closed (the course's `except GeneratorExit`).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corio.h"
#include "stages.h"

#define USAGE "printer    (reads stdin)"

int main(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: %s\n", USAGE);
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s\n", USAGE);
        return 2;
    }

    corio_coro *p;
    int r = pl_start(&p, pl_printer_body, stdout, "printer"); /* p = printer() */
    if (r < 0) {
        pl_error("printer", "creating the coroutine", r);
        return 1;
    }

    int status = 0;
    char *line = NULL; /* reused for every line: the printer does not keep it */
    size_t cap = 0;
    errno = 0;
    while (getline(&line, &cap, stdin) > 0) {
        r = pl_send(p, line); /* p.send(line) */
        if (r < 0) {
            pl_error("printer", "sending a line", r);
            status = 1;
            break;
        }
    }
    if (status == 0 && ferror(stdin)) {
        pl_error("printer", "reading stdin", errno != 0 ? -errno : -EIO);
        status = 1;
    }
    if (status == 0) {
        r = pl_close(p); /* p.close(): flushes */
        if (r < 0) {
            pl_error("printer", "closing the coroutine", r);
            status = 1;
        }
    }
    free(line);
    r = corio_coro_destroy(p);
    if (r < 0) {
        pl_error("printer", "destroying the coroutine", r);
        status = 1;
    }
    r = pl_flush(stdout);
    if (r < 0) {
        pl_error("printer", "writing", r);
        status = 1;
    }
    return status;
}
