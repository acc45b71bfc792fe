/* bench/peers/echo_check.c - a small load client that checks an echo server.
 *
 *   echo_check --connect HOST:PORT [--connections N] [--size BYTES]
 *              [--seconds S] [--messages K]
 *
 * The command line and the last line of stdout are those of corio's
 * samples/echo/echo_client, so the echo benchmark can run with either
 * (CORIO_ECHO_CLIENT, docs/bench.md); the benchmark uses echo_client when it
 * is built.  This one is a check tool: a single thread on epoll.  Every
 * connection sends a message of BYTES bytes, reads the echo in full and
 * compares it byte for byte, then sends the next, until S seconds have
 * passed (or K messages per connection were echoed).  Each message has
 * different contents.  Prints
 *
 *   result: msgs=N seconds=S msgs_per_s=X mb_per_s=Y p50_us=A p99_us=B max_us=C errors=E
 *
 * (latency: send of the first byte to receipt of the last) and exits 0 when
 * every echo matched and no connection failed, 1 otherwise. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    int fd, id;
    long msg;          /* number of the message in flight */
    size_t sent, got;  /* bytes of it sent, bytes of its echo received */
    uint64_t t0;       /* when it was sent */
    int out;           /* waiting for EPOLLOUT */
} conn;

static size_t SIZE = 1024;
static uint32_t *LAT;  /* echo latencies in ns, one per message */
static size_t NLAT, CAPLAT;
static long ERRORS;
static int EP;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static __attribute__((noreturn)) void usage(void) {
    fprintf(stderr, "usage: echo_check --connect HOST:PORT [--connections N] [--size BYTES]"
                    " [--seconds S] [--messages K]\n");
    exit(2);
}

static double num(const char *s) {
    char *end;
    double v = s != NULL ? strtod(s, &end) : 0;
    if (s == NULL || *end != '\0' || !(v > 0)) usage();
    return v;
}

/* Byte i of message m on connection c. */
static inline unsigned char pattern(const conn *c, size_t i) {
    return (unsigned char)((size_t)c->id * 131u + (size_t)c->msg * 7u + i * 13u + (i >> 8));
}

static void set_events(conn *c, uint32_t ev) {
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(EP, EPOLL_CTL_MOD, c->fd, &e) != 0) {
        perror("echo_check: epoll_ctl");
        exit(1);
    }
}

static void fail(conn *c, const char *what) {
    fprintf(stderr, "echo_check: connection %d, message %ld: %s\n", c->id, c->msg, what);
    ERRORS++;
    close(c->fd);
    c->fd = -1;
}

/* Send what is left of the message in flight.  Returns -1 on failure. */
static int push(conn *c) {
    unsigned char buf[65536];
    while (c->sent < SIZE) {
        size_t n = SIZE - c->sent < sizeof buf ? SIZE - c->sent : sizeof buf;
        for (size_t i = 0; i < n; i++) buf[i] = pattern(c, c->sent + i);
        ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) break;
        if (w <= 0) {
            fail(c, strerror(errno));
            return -1;
        }
        c->sent += (size_t)w;
    }
    int want_out = c->sent < SIZE;
    if (want_out != c->out) {
        c->out = want_out;
        set_events(c, want_out ? EPOLLIN | EPOLLOUT : EPOLLIN);
    }
    return 0;
}

static void start(conn *c) {
    c->sent = c->got = 0;
    c->t0 = now_ns();
    push(c);
}

static void record(uint64_t ns) {
    if (NLAT == CAPLAT) {
        CAPLAT = CAPLAT ? CAPLAT * 2 : 1 << 16;
        LAT = realloc(LAT, CAPLAT * sizeof *LAT);
        if (LAT == NULL) {
            fputs("echo_check: out of memory\n", stderr);
            exit(1);
        }
    }
    LAT[NLAT++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int connect_to(const struct addrinfo *ai) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

int main(int argc, char **argv) {
    const char *target = NULL;
    long nconn = 900, limit = 0;
    double seconds = 5;
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--connect") == 0 && v != NULL) target = v;
        else if (strcmp(argv[i], "--connections") == 0) nconn = (long)num(v);
        else if (strcmp(argv[i], "--size") == 0) SIZE = (size_t)num(v);
        else if (strcmp(argv[i], "--seconds") == 0) seconds = num(v);
        else if (strcmp(argv[i], "--messages") == 0) limit = (long)num(v);
        else usage();
    }
    if (target == NULL) usage();

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);

    char host[256];
    const char *colon = strrchr(target, ':');
    if (colon == NULL || (size_t)(colon - target) >= sizeof host) usage();
    memcpy(host, target, (size_t)(colon - target));
    host[colon - target] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "echo_check: %s: %s\n", target, gai_strerror(rc));
        return 1;
    }

    EP = epoll_create1(EPOLL_CLOEXEC);
    conn *conns = calloc((size_t)nconn, sizeof *conns);
    if (EP < 0 || conns == NULL) {
        perror("echo_check");
        return 1;
    }
    for (long i = 0; i < nconn; i++) {
        conn *c = &conns[i];
        c->id = (int)i;
        c->fd = connect_to(ai);
        if (c->fd < 0) {
            fprintf(stderr, "echo_check: connect %s (connection %ld): %s\n", target, i, strerror(errno));
            return 1;
        }
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(EP, EPOLL_CTL_ADD, c->fd, &e) != 0) {
            perror("echo_check: epoll_ctl");
            return 1;
        }
    }
    freeaddrinfo(ai);

    unsigned char *rbuf = malloc(65536);
    if (rbuf == NULL) return 1;
    uint64_t t_start = now_ns(), deadline = t_start + (uint64_t)(seconds * 1e9), t_last = t_start;
    long open = nconn;
    for (long i = 0; i < nconn; i++) start(&conns[i]);
    for (long i = 0; i < nconn; i++)
        if (conns[i].fd < 0) open--;

    struct epoll_event evs[256];
    while (open > 0) {
        int n = epoll_wait(EP, evs, 256, 1000);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            perror("echo_check: epoll_wait");
            return 1;
        }
        if (n == 0 && now_ns() > deadline + 10 * 1000000000ull) {
            fprintf(stderr, "echo_check: %ld connections got no echo for 10 s after the end\n", open);
            ERRORS += open;
            break;
        }
        for (int k = 0; k < n; k++) {
            conn *c = evs[k].data.ptr;
            if (c->fd < 0) continue;
            if ((evs[k].events & EPOLLOUT) && push(c) != 0) {
                open--;
                continue;
            }
            if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            ssize_t r = recv(c->fd, rbuf, 65536, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) {
                fail(c, r == 0 ? "connection closed by the server" : strerror(errno));
                open--;
                continue;
            }
            if (c->got + (size_t)r > c->sent) {
                fail(c, "more bytes echoed than were sent");
                open--;
                continue;
            }
            for (ssize_t i = 0; i < r; i++) {
                if (rbuf[i] != pattern(c, c->got + (size_t)i)) {
                    fail(c, "echoed bytes differ from the bytes sent");
                    break;
                }
            }
            if (c->fd < 0) {
                open--;
                continue;
            }
            c->got += (size_t)r;
            if (c->got < SIZE) continue;
            uint64_t t = now_ns();
            record(t - c->t0);
            t_last = t;
            c->msg++;
            if (t >= deadline || (limit > 0 && c->msg >= limit)) {
                close(c->fd);
                c->fd = -1;
                open--;
            } else {
                start(c);
                if (c->fd < 0) open--;
            }
        }
    }

    double secs = (double)(t_last - t_start) / 1e9;
    if (secs <= 0) secs = 1e-9;
    double p50 = 0, p99 = 0, pmax = 0;
    if (NLAT > 0) {
        qsort(LAT, NLAT, sizeof *LAT, cmp_u32);
        p50 = LAT[(NLAT - 1) / 2] / 1e3;
        p99 = LAT[(size_t)((double)(NLAT - 1) * 0.99)] / 1e3;
        pmax = LAT[NLAT - 1] / 1e3;
    }
    printf("result: msgs=%zu seconds=%.3f msgs_per_s=%.0f mb_per_s=%.2f p50_us=%.0f p99_us=%.0f max_us=%.0f errors=%ld\n",
           NLAT, secs, (double)NLAT / secs, (double)NLAT * (double)SIZE / secs / 1e6, p50, p99, pmax, ERRORS);
    return ERRORS == 0 && NLAT > 0 ? 0 : 1;
}
