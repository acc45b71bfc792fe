/* samples/pipelines/stages.c - the pipeline stages shared by the programs of
 * this directory: follow, grep,
 * printer and broadcast, with the command-line
 * and error helpers.  See stages.h for the conventions.
 */
#define _POSIX_C_SOURCE 200809L
#include "stages.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- errors and command lines ------------------------------------------ */

void pl_error(const char *prog, const char *what, int err) {
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(err < 0 ? -err : err));
}

int pl_put(FILE *out, const char *s) {
    errno = 0;
    if (fputs(s, out) == EOF) return errno != 0 ? -errno : -EIO;
    return 0;
}

int pl_flush(FILE *out) {
    errno = 0;
    if (fflush(out) == EOF) return errno != 0 ? -errno : -EIO;
    return 0;
}

int pl_parse_count(const char *s, long *out) {
    if (s == NULL || *s < '0' || *s > '9') return -EINVAL; /* no sign, no space */
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno == ERANGE) return -ERANGE;
    if (*end != '\0') return -EINVAL;
    *out = v;
    return 0;
}

static int bad_usage(const char *prog, const char *usage, const char *problem,
                     const char *arg) {
    if (arg != NULL) fprintf(stderr, "%s: %s '%s'\n", prog, problem, arg);
    else fprintf(stderr, "%s: %s\n", prog, problem);
    fprintf(stderr, "usage: %s\n", usage);
    return -EINVAL;
}

int pl_parse_follow_args(int argc, char **argv, size_t nargs, bool allow_patterns,
                         const char *prog, const char *usage, pl_follow_args *a) {
    memset(a, 0, sizeof *a);
    a->max_lines = -1;
    if (nargs == 0 || nargs > PL_MAX_ARGS) return -EINVAL;
    a->patterns = calloc(argc > 0 ? (size_t)argc : 1u, sizeof *a->patterns);
    if (a->patterns == NULL) {
        pl_error(prog, "parsing the command line", -ENOMEM);
        return -ENOMEM;
    }
    size_t npos = 0;
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (options && strcmp(s, "--") == 0) {
            options = false;
        } else if (options && (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0)) {
            printf("usage: %s\n", usage);
            return 1;
        } else if (options && strcmp(s, "--from-start") == 0) {
            a->from_start = true;
        } else if (options && strcmp(s, "--max-lines") == 0) {
            if (i + 1 == argc) return bad_usage(prog, usage, "missing the value of", s);
            if (pl_parse_count(argv[++i], &a->max_lines) < 0)
                return bad_usage(prog, usage, "bad line count", argv[i]);
        } else if (options && allow_patterns && strcmp(s, "--pattern") == 0) {
            if (i + 1 == argc) return bad_usage(prog, usage, "missing the value of", s);
            a->patterns[a->npatterns++] = argv[++i];
        } else if (options && s[0] == '-' && s[1] != '\0') {
            return bad_usage(prog, usage, "unknown option", s);
        } else if (npos < nargs) {
            a->args[npos++] = s;
        } else {
            return bad_usage(prog, usage, "unexpected argument", s);
        }
    }
    if (npos < nargs) return bad_usage(prog, usage, "missing arguments", NULL);
    return 0;
}

int pl_usage_status(int parse_result) {
    if (parse_result > 0) return 0;            /* --help */
    return parse_result == -EINVAL ? 2 : 1;
}

void pl_follow_args_fini(pl_follow_args *a) {
    free(a->patterns);
    a->patterns = NULL;
}

/* ---- coroutine helpers --------------------------------------------------- */

int pl_start(corio_coro **co, corio_coro_fn fn, void *arg, const char *name) {
    corio_coro_opts o = {0};
    o.name = name;
    return corio_coro_create(co, fn, arg, &o);
}

/* The error a finished stage returned (0 for NULL). */
static int stage_result(const corio_coro *co) {
    void *v = NULL;
    int r = corio_coro_result(co, &v);
    if (r < 0) return r;
    return (int)(intptr_t)v;
}

int pl_send(corio_coro *co, char *line) {
    int r = corio_coro_send(co, line, NULL);
    if (r < 0) return r;
    if (r == CORIO_YIELDED) return 0;
    /* It returned instead of waiting for the next line: it failed. */
    r = stage_result(co);
    return r < 0 ? r : -EPIPE;
}

int pl_close(corio_coro *co) {
    int r = corio_coro_close(co);
    if (r < 0) return r;
    return stage_result(co);
}

/* ---- follow -------------------------------------------------------------- */

int pl_follow_open(pl_follower *f, const char *path, bool from_start, long max_lines) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->max_lines = max_lines;
    f->cap = 4096;
    f->buf = malloc(f->cap);
    if (f->buf == NULL) return -ENOMEM;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        int e = -errno;
        pl_follow_fini(f);
        return e;
    }
    /* thefile.seek(0, 2): start at the end, like tail -f. */
    if (lseek(f->fd, 0, from_start ? SEEK_SET : SEEK_END) < 0) {
        int e = -errno;
        pl_follow_fini(f);
        return e;
    }
    return 0;
}

void pl_follow_fini(pl_follower *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    free(f->buf);
    free(f->line);
    f->buf = f->line = NULL;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Start over when the file became shorter than what was read of it. */
static int check_truncated(pl_follower *f) {
    struct stat st;
    if (fstat(f->fd, &st) < 0) return -errno;
    off_t pos = lseek(f->fd, 0, SEEK_CUR);
    if (pos < 0) return -errno;
    if (st.st_size < pos) {
        if (lseek(f->fd, 0, SEEK_SET) < 0) return -errno;
        f->start = f->len = 0; /* a partial line of the old contents is gone */
    }
    return 0;
}

int pl_follow_line(pl_follower *f, char **line) {
    if (f->max_lines >= 0 && f->count >= f->max_lines) return 0;
    for (;;) {
        char *nl = memchr(f->buf + f->start, '\n', f->len - f->start);
        if (nl != NULL) {
            size_t n = (size_t)(nl - (f->buf + f->start)) + 1;
            if (n + 1 > f->line_cap) {
                char *p = realloc(f->line, n + 1);
                if (p == NULL) return -ENOMEM;
                f->line = p;
                f->line_cap = n + 1;
            }
            memcpy(f->line, f->buf + f->start, n);
            f->line[n] = '\0';
            f->start += n;
            f->count++;
            *line = f->line;
            return 1;
        }
        /* No whole line buffered: keep the partial one at the front, make
         * room, and read more. */
        if (f->start > 0) {
            memmove(f->buf, f->buf + f->start, f->len - f->start);
            f->len -= f->start;
            f->start = 0;
        }
        if (f->len == f->cap) {
            if (f->cap > SIZE_MAX / 2) return -ENOMEM;
            char *p = realloc(f->buf, f->cap * 2);
            if (p == NULL) return -ENOMEM;
            f->buf = p;
            f->cap *= 2;
        }
        ssize_t r = read(f->fd, f->buf + f->len, f->cap - f->len);
        if (r > 0) {
            f->len += (size_t)r;
        } else if (r == 0) {
            int e = check_truncated(f);
            if (e < 0) return e;
            sleep_ms(PL_FOLLOW_POLL_MS); /* time.sleep(0.1) */
        } else if (errno != EINTR) {
            return -errno;
        }
    }
}

void *pl_follow_gen(void *arg) {
    pl_follower *f = arg;
    char *line;
    int r;
    while ((r = pl_follow_line(f, &line)) == 1) {
        r = corio_coro_yield(line, NULL);
        if (r == -ECANCELED) return NULL; /* closed: stop quietly */
        if (r < 0) return PL_ERR(r);      /* an error thrown in */
    }
    return r < 0 ? PL_ERR(r) : NULL;
}

int pl_follow_source(pl_follower *f, corio_coro *target) {
    char *line;
    int r;
    while ((r = pl_follow_line(f, &line)) == 1) {
        r = pl_send(target, line); /* target.send(line) */
        if (r < 0) return r; /* a broken pipeline: its owner destroys it */
    }
    int c = pl_close(target); /* target.close() */
    return r < 0 ? r : c;
}

/* ---- the coroutines ------------------------------------------------------ */

void *pl_grep_body(void *arg) {
    pl_grep *g = arg;
    int r;
    if (g->chatty) { /* print "Looking for %s" % pattern */
        if ((r = pl_put(g->out, "Looking for ")) < 0 || (r = pl_put(g->out, g->pattern)) < 0 ||
            (r = pl_put(g->out, "\n")) < 0)
            return PL_ERR(r);
    }
    for (;;) {
        void *in;
        r = corio_coro_yield(NULL, &in); /* line = (yield) */
        if (r == -ECANCELED) break;
        if (r < 0) return PL_ERR(r);
        char *line = in;
        if (strstr(line, g->pattern) == NULL) continue;
        r = g->target != NULL ? pl_send(g->target, line) : pl_put(g->out, line);
        if (r < 0) return PL_ERR(r);
    }
    /* except GeneratorExit: say goodbye, pass the close on. */
    int err = g->chatty ? pl_put(g->out, "Going away. Goodbye\n") : 0;
    if (g->target != NULL && g->owns_target) {
        r = pl_close(g->target);
        if (err == 0) err = r;
    }
    return err < 0 ? PL_ERR(err) : NULL;
}

void *pl_printer_body(void *arg) {
    FILE *out = arg;
    int r;
    for (;;) {
        void *in;
        r = corio_coro_yield(NULL, &in);
        if (r == -ECANCELED) break;
        if (r < 0) return PL_ERR(r);
        r = pl_put(out, in); /* print line, */
        if (r < 0) return PL_ERR(r);
    }
    r = pl_flush(out);
    return r < 0 ? PL_ERR(r) : NULL;
}

void *pl_broadcast_body(void *arg) {
    pl_broadcast *b = arg;
    int r;
    for (;;) {
        void *in;
        r = corio_coro_yield(NULL, &in);
        if (r == -ECANCELED) break;
        if (r < 0) return PL_ERR(r);
        for (size_t i = 0; i < b->ntargets; i++) { /* for target in targets */
            r = pl_send(b->targets[i], in);
            if (r < 0) return PL_ERR(r);
        }
    }
    /* Close every target, even after one of them failed; report the first
     * failure. */
    int first = 0;
    for (size_t i = 0; i < b->ntargets; i++) {
        r = pl_close(b->targets[i]);
        if (r < 0 && first == 0) first = r;
    }
    return first < 0 ? PL_ERR(first) : NULL;
}
