/* bench/spawn.h - running another program from a benchmark: the buses
 * benchmark times whole programs (corio's samples/buses/buses, the Python
 * scripts of bench/py/), and pipeline reads its Python row from a script.
 * Their stdout and stderr go to files, so that the parent reads nothing
 * while the child is timed. */
#ifndef CORIO_BENCH_SPAWN_H
#define CORIO_BENCH_SPAWN_H

#include <stddef.h>

/* How a child ended and what it cost. */
typedef struct bench_child {
    int status;    /* waitpid status */
    double wall_ms; /* from fork to reaping */
    double cpu_ms;  /* its user + system time */
} bench_child;

/* Run argv (argv[0] a path or a name looked up in PATH) with stdin from
 * /dev/null and stdout and stderr written to out_path and err_path
 * (truncated; NULL: /dev/null), and wait for it.  0 with *c filled, or a
 * negative errno when it could not be started (a failed exec is status 127). */
int bench_spawn(char *const argv[], const char *out_path, const char *err_path, bench_child *c);

/* True when the child exited with status `code`. */
int bench_exited_with(const bench_child *c, int code);

/* The contents of `path` in a malloc'd, NUL-terminated buffer (its length
 * in *len when len is not NULL), or NULL. */
char *bench_slurp(const char *path, size_t *len);

/* A new empty file for a child's output, named after `tag` in $TMPDIR (or
 * /tmp), written to path[0, size).  0 or a negative errno. */
int bench_temp_file(const char *tag, char *path, size_t size);

#endif
