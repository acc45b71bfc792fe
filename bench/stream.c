/* bench/stream.c - what the buffered stream (corio/stream.h) costs over
 * the raw calls it replaces: a line echo server, CPU time per message, in
 * one run (docs/bench.md, "stream").
 *
 *   stream [--json] [--iters LINES] [--runs N]
 *
 * Each server mode runs in a child process of its own (forked before any
 * runtime exists) with one worker, serving C connections (socketpairs) with
 * a task each.  The parent is the client: one thread per connection sends
 * LINES lines of 40 bytes, DEPTH at a time (1: request/response; 16:
 * pipelined), and reads the echoed lines back; it checks every byte.  The
 * child's CPU time (user + system, from wait4's rusage) divided by the
 * lines is the figure: the server's cost only, whatever the client costs.
 * Modes:
 *   raw     corio_recv into a buffer, corio_send_all of what came: the
 *           least an echo can do (it does not even look for lines)
 *   stream  corio_stream_read_line + corio_stream_write of the line and
 *           "\n", flushed when nothing more is buffered
 *   borrow  corio_stream_borrow, write the whole lines of the chunk,
 *           corio_stream_release of them, flushed as above
 * The ratio column is each mode's CPU per line over raw's in the same
 * depth.  Median of --runs (default 3) runs per row. */
#define _GNU_SOURCE 1
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corio.h"

#define CONNS 16
#define LINE 40

enum mode { RAW, STREAM, BORROW };
static const char *mode_name[] = {"raw", "stream", "borrow"};

/* ---- the server (child) --------------------------------------------------- */

static enum mode g_mode;

static void *serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    if (g_mode == RAW) {
        char buf[16384];
        ssize_t n;
        while ((n = corio_recv(fd, buf, sizeof buf, 0, CORIO_FOREVER)) > 0)
            if (corio_send_all(fd, buf, (size_t)n, 0, CORIO_FOREVER, NULL) != n) break;
        return NULL;
    }
    corio_stream *s;
    if (corio_stream_create(&s, fd, NULL) != 0) return NULL;
    if (g_mode == STREAM) {
        char line[256];
        size_t len;
        while (corio_stream_read_line(s, line, sizeof line, &len, CORIO_FOREVER) == 1) {
            line[len] = '\n';
            if (corio_stream_write(s, line, len + 1, CORIO_FOREVER) < 0) break;
            if (corio_stream_buffered(s) == 0 && corio_stream_flush(s, CORIO_FOREVER) < 0) break;
        }
    } else {
        const void *chunk;
        ssize_t n;
        while ((n = corio_stream_borrow(s, &chunk, CORIO_FOREVER)) > 0) {
            const char *c = chunk, *end = memrchr(c, '\n', (size_t)n);
            size_t whole = end == NULL ? 0 : (size_t)(end - c) + 1;
            if (whole > 0 && corio_stream_write(s, c, whole, CORIO_FOREVER) < 0) break;
            corio_stream_release(s, whole);
            if (corio_stream_buffered(s) == 0 && corio_stream_flush(s, CORIO_FOREVER) < 0) break;
        }
    }
    corio_stream_destroy(s);
    return NULL;
}

static void *serve_all(void *arg) {
    int *fds = arg;
    corio_tid t[CONNS];
    for (int i = 0; i < CONNS; i++) corio_task_spawn(&t[i], serve, (void *)(intptr_t)fds[i]);
    for (int i = 0; i < CONNS; i++) corio_task_join(t[i], NULL);
    return NULL;
}

static int server_main(int *fds) {
    corio_rt *rt;
    corio_rt_opts o = {0};
    o.workers = 1;
    if (corio_rt_create(&rt, &o) != 0) return 1;
    corio_rt_run(rt, serve_all, fds, NULL);
    return corio_rt_shutdown(rt) == 0 ? 0 : 1;
}

/* ---- the client (parent) -------------------------------------------------- */

typedef struct client {
    int fd;
    long lines;
    int depth;
    int bad;
} client;

static void line_of(char *out, long i) {
    int n = snprintf(out, LINE + 1, "%038ld", i * 7919);
    memset(out + n, 'x', (size_t)(LINE - 1 - n));
    out[LINE - 1] = '\n';
}

static void *client_fn(void *arg) {
    client *c = arg;
    char out[LINE * 16 + 1], in[LINE * 16];
    for (long i = 0; i < c->lines; i += c->depth) {
        int k = (int)(c->lines - i < c->depth ? c->lines - i : c->depth);
        for (int j = 0; j < k; j++) line_of(out + j * LINE, i + j);
        size_t len = (size_t)k * LINE, got = 0;
        if (write(c->fd, out, len) != (ssize_t)len) c->bad++;
        while (got < len) {
            ssize_t n = read(c->fd, in + got, len - got);
            if (n <= 0) {
                c->bad++;
                return NULL;
            }
            got += (size_t)n;
        }
        if (memcmp(in, out, len) != 0) c->bad++;
    }
    shutdown(c->fd, SHUT_WR);
    return NULL;
}

/* One run: the server's CPU nanoseconds per line, or -1 on a failure. */
static double one_run(enum mode m, int depth, long lines) {
    int srv[CONNS], cli[CONNS];
    for (int i = 0; i < CONNS; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
        cli[i] = sv[0];
        srv[i] = sv[1];
    }
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        for (int i = 0; i < CONNS; i++) close(cli[i]);
        g_mode = m;
        _exit(server_main(srv));
    }
    for (int i = 0; i < CONNS; i++) close(srv[i]);
    pthread_t th[CONNS];
    client cl[CONNS];
    for (int i = 0; i < CONNS; i++) {
        cl[i] = (client){.fd = cli[i], .lines = lines / CONNS, .depth = depth};
        pthread_create(&th[i], NULL, client_fn, &cl[i]);
    }
    int bad = 0;
    for (int i = 0; i < CONNS; i++) {
        pthread_join(th[i], NULL);
        bad += cl[i].bad;
        close(cli[i]);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        bad != 0) {
        fprintf(stderr, "stream: %s depth %d failed (status %d, %d bad replies)\n", mode_name[m],
                depth, status, bad);
        return -1;
    }
    double ns = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
                (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
    return ns / (double)((lines / CONNS) * CONNS);
}

int main(int argc, char **argv) {
    bench_opts o = bench_parse(argc, argv, "stream", 3, 160000);
    signal(SIGPIPE, SIG_IGN);
    static const int depths[] = {1, 16};
    bench_row rows[6];
    size_t n = 0;
    int failed = 0;
    for (size_t d = 0; d < 2; d++) {
        double raw = 0;
        for (int m = RAW; m <= BORROW; m++) {
            double v[16];
            int runs = o.runs > 16 ? 16 : o.runs;
            for (int r = 0; r < runs; r++) {
                v[r] = one_run((enum mode)m, depths[d], o.iters);
                if (v[r] < 0) failed = 1;
            }
            double med = bench_median(v, (size_t)runs);
            if (m == RAW) raw = med;
            bench_row *row = &rows[n++];
            *row = (bench_row){.case_name = depths[d] == 1 ? "line echo, depth 1" : "line echo, depth 16",
                               .impl = mode_name[m], .value = med, .unit = "server ns/line",
                               .better = "lower"};
            bench_row_extra(row, "ratio_to_raw", raw > 0 ? med / raw : 0);
        }
    }
    if (o.json) {
        bench_json("stream", rows, n);
    } else {
        printf("stream: a line echo server's CPU per line, buffered stream vs raw calls\n"
               "machine: %s\n"
               "method: median of %d runs; each run: a server process on 1 worker, %d connections,\n"
               "        %ld lines of %d bytes; its user+system CPU (wait4 rusage) / lines\n\n",
               bench_machine(), o.runs, CONNS, o.iters, LINE);
        printf("%-22s %-8s %16s %10s\n", "case", "mode", "server ns/line", "vs raw");
        for (size_t i = 0; i < n; i++)
            printf("%-22s %-8s %16.0f %9.2fx\n", rows[i].case_name, rows[i].impl, rows[i].value,
                   rows[i].extra[0].value);
    }
    return failed;
}
