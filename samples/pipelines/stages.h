/* samples/pipelines/stages.h - the pipeline stages the programs of this
 * directory share: the `tail -f` line source, the
 * grep filter, the printer sink,
 * broadcast, and the command-line and error helpers.
 *
 * Conventions of every stage:
 *  - A line travels through corio_coro_send() as a NUL-terminated `char *`,
 *    ending with '\n' when the input line had one.  The pointer is valid only
 *    during that send: a stage prints or forwards the line before it yields
 *    again and never keeps the pointer.  The sender may reuse the buffer as
 *    soon as the send returns.
 *  - A stage body returns NULL when it was closed, or PL_ERR(-errno) when it
 *    failed; pl_send() and pl_close() turn that back into an int.
 *  - Close propagates downstream: a stage closes the
 *    targets it owns when it is closed itself.  Whoever created a coroutine
 *    destroys it.
 */
#ifndef PIPELINES_STAGES_H
#define PIPELINES_STAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "corio.h"

/** A stage's failure, as its return value. */
#define PL_ERR(e) ((void *)(intptr_t)(e))

/** The poll interval of follow when the file has no new line. */
#define PL_FOLLOW_POLL_MS 100

/* ---- errors and command lines ------------------------------------------ */

/** Print "PROG: WHAT: strerror(-err)" on stderr. */
void pl_error(const char *prog, const char *what, int err);

/** fputs / fflush returning 0 or a negative errno (-EIO when stdio did
 *  not say). */
int pl_put(FILE *out, const char *s);
int pl_flush(FILE *out);

/** Parse a non-negative decimal count.  0, or -EINVAL / -ERANGE. */
int pl_parse_count(const char *s, long *out);

/** The command lines of the follow programs:
 *  FILE [ARG] [--max-lines N] [--from-start] [--pattern P]... */
#define PL_MAX_ARGS 2
typedef struct pl_follow_args {
    const char *args[PL_MAX_ARGS]; /**< the positional arguments; args[0] is FILE */
    long max_lines;                /**< -1: no limit */
    bool from_start;
    const char **patterns;         /**< the --pattern values, in order (malloc'd) */
    size_t npatterns;
} pl_follow_args;

/** Parse argv into *a: exactly `nargs` (1..PL_MAX_ARGS) positional
 *  arguments, and --pattern only when allow_patterns.  Returns 0, 1 when
 *  --help was printed, -EINVAL after printing the problem and `usage` on
 *  stderr, or -ENOMEM.  Free with pl_follow_args_fini() in every case. */
int pl_parse_follow_args(int argc, char **argv, size_t nargs, bool allow_patterns,
                         const char *prog, const char *usage, pl_follow_args *a);

/** The exit status for a result of pl_parse_follow_args that is not 0. */
int pl_usage_status(int parse_result);

void pl_follow_args_fini(pl_follow_args *a);

/* ---- coroutine helpers --------------------------------------------------- */

/** Create a primed coroutine named `name` (create primes it). */
int pl_start(corio_coro **co, corio_coro_fn fn, void *arg, const char *name);

/** Send `line` to the stage `co`.  0 when it took the line and yielded for
 *  the next one; the stage's error when it failed; -EPIPE when it returned
 *  without an error; a negative corio error. */
int pl_send(corio_coro *co, char *line);

/** Close the stage `co` and collect its result: 0, its error, or the error
 *  of corio_coro_close. */
int pl_close(corio_coro *co);

/* ---- follow: tail -f ---------------------------------- */

/** Reads whole lines from a file that keeps growing. */
typedef struct pl_follower {
    int fd;
    char *buf;     /* bytes read but not handed out yet: buf[start, len) */
    size_t start, len, cap;
    char *line;    /* the line handed out last, NUL-terminated */
    size_t line_cap;
    long max_lines; /* -1: no limit */
    long count;     /* lines handed out so far */
} pl_follower;

/** Open `path` at its end (the course's seek(0, 2)), or at its start. */
int pl_follow_open(pl_follower *f, const char *path, bool from_start, long max_lines);
void pl_follow_fini(pl_follower *f);

/** The next whole line, waiting for it (polling every PL_FOLLOW_POLL_MS).
 *  1 with *line set (valid until the next call), 0 after max_lines lines,
 *  or a negative errno.  A partly written last line is kept until its '\n'
 *  arrives.  When the file shrinks (truncated, as by a log rotation), reading
 *  starts over at its beginning. */
int pl_follow_line(pl_follower *f, char **line);

/** Generator body: yields each line of the pl_follower `arg`
 *  (valid until the next corio_gen_next); returns NULL after max_lines or
 *  when closed, PL_ERR(e) on a read error. */
void *pl_follow_gen(void *arg);

/** The pipeline source: send every line of `f` to
 *  `target`, then close `target`.  0 or the first error. */
int pl_follow_source(pl_follower *f, corio_coro *target);

/* ---- the coroutines ------------------------------------------------------ */

/** grep: forwards the lines containing `pattern`.
 *  With a NULL target it prints them to `out` itself.  `chatty`
 *  prints "Looking for PATTERN" when it starts and "Going away. Goodbye"
 *  when it is closed. */
typedef struct pl_grep {
    const char *pattern;
    corio_coro *target;
    bool owns_target; /* close the target when closed (not a shared one) */
    bool chatty;
    FILE *out;        /* where a target-less grep and chatty messages print */
} pl_grep;
void *pl_grep_body(void *arg);

/** printer: the sink; prints each line sent to the FILE *
 *  `arg` and flushes it when closed. */
void *pl_printer_body(void *arg);

/** broadcast: sends each line to every target, in order;
 *  closes them all (it owns them) when it is closed. */
typedef struct pl_broadcast {
    corio_coro **targets;
    size_t ntargets;
} pl_broadcast;
void *pl_broadcast_body(void *arg);

#endif
