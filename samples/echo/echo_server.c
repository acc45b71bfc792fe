/* samples/echo/echo_server.c - the course's echo server as a
 * production program: one task per connection on corio's workers.
 *
 *   echo_server [--listen ADDR] [--workers N] [--max-conns M] [--drain-ms D]
 *
 *   --listen     address (corio/net.h notation), default 127.0.0.1:45000
 *   --workers    worker threads, default: every CPU
 *   --max-conns  connections served at once (default 10000); more wait in
 *                the listen backlog
 *   --drain-ms   on SIGINT/SIGTERM, how long open connections may finish
 *                before they are cancelled (default 1000)
 *
 * SIGQUIT prints the task dump (corio/dump.h: every task, named "acceptor",
 * "signals" or "conn PEER", what it waits on and its stack) and SIGUSR1
 * one line of counters, both to stderr; the server keeps serving.
 *
 * Memory per connection is bounded: a 16 KiB stream buffer, from which
 * the received bytes are sent back without a copy.
 * A client that sends and never reads fills its socket buffers; its task
 * then waits in send and reads nothing more, and nobody else is affected.
 * Out of descriptors (EMFILE/ENFILE), the acceptor logs at most once a
 * second and retries every 10 ms; the connections it has go on.
 *
 * On SIGINT/SIGTERM (waited for by a task: corio/signal.h): the
 * listening socket is closed first (the acceptor's accept says -EBADF),
 * the runtime drains: open connections get --drain-ms to end, the rest
 * are cancelled, and one stats line goes to stderr (docs/server.md
 * describes the pattern). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "corio.h"

#define BUF_SIZE (16 * 1024)

static struct {
    _Atomic long open, peak, accepted, resets;
    _Atomic long long bytes, recvs;
    _Atomic long fd_exhausted; /* accepts refused for lack of descriptors */
} st;

static long max_conns = 10000;
/* Set before the listener is closed: its number may go to a new file at
 * once, and the acceptor must not make its next call on that. */
static atomic_bool stopping;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One connection: echo until EOF, an error, or a kill.  The received
 * bytes are borrowed from the stream's buffer and sent from there: no
 * copy. */
static void *connection(void *arg) {
    int fd = (int)(intptr_t)arg;
    corio_stream *s;
    corio_stream_opts so = {.read_buffer = BUF_SIZE, .write_buffer = 1}; /* reads only */
    long long bytes = 0, recvs = 0;
    if (corio_stream_create(&s, fd, &so) == 0) {
        const void *chunk;
        ssize_t n;
        while ((n = corio_stream_borrow(s, &chunk, CORIO_FOREVER)) > 0) {
            recvs++;
            ssize_t w = corio_send_all(fd, chunk, (size_t)n, 0, CORIO_FOREVER, NULL);
            corio_stream_release(s, (size_t)n);
            if (w != n) break;
            bytes += n;
        }
        if (n == -ECONNRESET) atomic_fetch_add_explicit(&st.resets, 1, memory_order_relaxed);
        corio_stream_destroy(s);
    }
    corio_close(fd);
    atomic_fetch_sub_explicit(&st.open, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st.bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&st.recvs, recvs, memory_order_relaxed);
    return NULL;
}

/* Accept until the listener is closed (or the task killed). */
static void *acceptor(void *arg) {
    int lfd = (int)(intptr_t)arg;
    int64_t last_log = 0;
    long refused_since_log = 0;
    while (!atomic_load(&stopping)) {
        if (atomic_load_explicit(&st.open, memory_order_relaxed) >= max_conns) {
            if (corio_sleep_ms(5) < 0) break;
            continue;
        }
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int c = corio_accept(lfd, (struct sockaddr *)&peer, &plen, 0, CORIO_FOREVER);
        if (c == -EBADF || c == -ECANCELED) break; /* the listener closed, or killed */
        if (c == -EMFILE || c == -ENFILE || c == -ENOBUFS || c == -ENOMEM) {
            atomic_fetch_add_explicit(&st.fd_exhausted, 1, memory_order_relaxed);
            refused_since_log++;
            int64_t t = now_ms();
            if (t - last_log >= 1000) {
                fprintf(stderr, "echo_server: accept: %s (%ld times since the last report); "
                        "serving the %ld open connections, retrying\n",
                        strerror(-c), refused_since_log, atomic_load(&st.open));
                last_log = t;
                refused_since_log = 0;
            }
            /* Not a spin: the backlog keeps the client until a descriptor
             * frees up. */
            if (corio_sleep_ms(10) < 0) break;
            continue;
        }
        if (c < 0) continue; /* ECONNABORTED and the like: that client only */
        atomic_fetch_add_explicit(&st.accepted, 1, memory_order_relaxed);
        long a = atomic_fetch_add_explicit(&st.open, 1, memory_order_relaxed) + 1;
        /* Named after the client: the task dump (SIGQUIT) shows who is who. */
        char name[CORIO_TASK_NAME_MAX] = "conn ";
        (void)corio_addr_format((struct sockaddr *)&peer, plen, name + 5, sizeof name - 5);
        corio_spawn_opts so = {.name = name};
        corio_tid t;
        if (corio_task_spawn_opts(&t, connection, (void *)(intptr_t)c, &so) < 0) {
            atomic_fetch_sub_explicit(&st.open, 1, memory_order_relaxed);
            corio_close(c);
            continue;
        }
        corio_task_detach(t);
        long p = atomic_load_explicit(&st.peak, memory_order_relaxed);
        while (a > p && !atomic_compare_exchange_weak(&st.peak, &p, a)) {
        }
    }
    return NULL;
}

typedef struct server {
    int lfd;
    long drain_ms;
    sigset_t sigs;
    int sig;
} server;

/* The counters, after `head` ("stats: signal=TERM", "stats (SIGUSR1):"). */
static void stats_line(const char *head, const char *backend, unsigned workers, const char *tail) {
    fprintf(stderr,
            "echo_server: %s backend=%s workers=%u accepted=%ld open=%ld peak_conns=%ld "
            "bytes_echoed=%lld recvs=%lld resets=%ld fd_exhausted=%ld%s\n",
            head, backend, workers, atomic_load(&st.accepted),
            atomic_load(&st.open), atomic_load(&st.peak), atomic_load(&st.bytes),
            atomic_load(&st.recvs), atomic_load(&st.resets), atomic_load(&st.fd_exhausted), tail);
}

/* Accept until SIGINT/SIGTERM, then close the listener: the acceptor
 * leaves, and main drains the connections.  SIGQUIT prints the task dump,
 * SIGUSR1 the counters; serving goes on. */
static void *serve(void *arg) {
    server *sv = arg;
    corio_tid acc;
    corio_spawn_opts so = {.name = "acceptor"};
    if (corio_task_spawn_opts(&acc, acceptor, (void *)(intptr_t)sv->lfd, &so) < 0)
        return (void *)1;
    corio_task_detach(acc);
    corio_task_set_name(0, "signals");
    for (;;) {
        sv->sig = corio_signal_wait(&sv->sigs, CORIO_FOREVER);
        if (sv->sig == SIGQUIT) (void)corio_rt_dump(corio_task_runtime(), 2);
        else if (sv->sig == SIGUSR1)
            stats_line("stats (SIGUSR1):", corio_rt_backend(corio_task_runtime()),
                       corio_rt_workers(corio_task_runtime()), "");
        else break;
    }
    atomic_store(&stopping, true);
    corio_close(sv->lfd);
    return NULL;
}

static void usage(void) {
    fprintf(stderr, "usage: echo_server [--listen ADDR] [--workers N] [--max-conns M] "
                    "[--drain-ms D]\n");
    exit(2);
}

static long num_arg(const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) usage();
    return v;
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1:45000";
    unsigned workers = 0;
    server sv = {.drain_ms = 1000};
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        if (!strcmp(argv[i], "--listen")) addr = argv[++i];
        else if (!strcmp(argv[i], "--workers")) workers = (unsigned)num_arg(argv[++i], 1, 1024);
        else if (!strcmp(argv[i], "--max-conns")) max_conns = num_arg(argv[++i], 1, 10000000);
        else if (!strcmp(argv[i], "--drain-ms")) sv.drain_ms = num_arg(argv[++i], 0, 3600000);
        else usage();
    }
    /* The signals go to the serving task: blocked before any thread
     * starts, so that every thread inherits the mask. */
    sigemptyset(&sv.sigs);
    sigaddset(&sv.sigs, SIGINT);
    sigaddset(&sv.sigs, SIGTERM);
    sigaddset(&sv.sigs, SIGQUIT);
    sigaddset(&sv.sigs, SIGUSR1);
    corio_signal_block(&sv.sigs);
    /* One descriptor per connection: allow as many as the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }

    sv.lfd = corio_listen(addr, 4096, 0);
    if (sv.lfd < 0) {
        fprintf(stderr, "echo_server: cannot listen on %s: %s\n", addr,
                sv.lfd == -EINVAL ? corio_addr_error(addr) : strerror(-sv.lfd));
        return 1;
    }
    corio_rt *rt;
    corio_rt_opts o = {0};
    o.workers = workers;
    int r = corio_rt_create(&rt, &o);
    if (r < 0) {
        fprintf(stderr, "echo_server: cannot start the runtime: %s\n", strerror(-r));
        return 1;
    }
    char name[128];
    if (corio_sock_name(sv.lfd, name, sizeof name) < 0) snprintf(name, sizeof name, "%s", addr);
    fprintf(stderr, "echo_server: listening on %s, %u workers, backend %s\n", name,
            corio_rt_workers(rt), corio_rt_backend(rt));
    void *failed = NULL;
    r = corio_rt_run(rt, serve, &sv, &failed);
    const char *backend = corio_rt_backend(rt); /* a static name */
    unsigned nw = corio_rt_workers(rt);
    /* The connections still open when the drain ends are cancelled. */
    int left = corio_rt_shutdown_drain(rt, CORIO_MS(sv.drain_ms));
    char head[64], tail[96];
    snprintf(head, sizeof head, "stats: signal=%s", sv.sig == SIGINT ? "INT" : "TERM");
    snprintf(tail, sizeof tail, " cancelled_at_exit=%d shutdown=%d", left < 0 ? 0 : left,
             left < 0 ? left : 0);
    stats_line(head, backend, nw, tail);
    return r == 0 && failed == NULL && left >= 0 ? 0 : 1;
}
