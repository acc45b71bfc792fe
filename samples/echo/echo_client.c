/* samples/echo/echo_client.c - a load generator for echo servers, written
 * on corio: one task per connection sends a message of random bytes,
 * reads the echo in full, checks every byte, and repeats.
 *
 *   echo_client [--connect ADDR] [--connections N] [--size BYTES]
 *               [--seconds S | --messages K] [--workers W]
 *
 * Defaults: 127.0.0.1:45000, 900 connections, 1024 bytes (the seed's
 * test), 5 seconds.  The clock starts when every connection is up.  The
 * report: messages/s, MB/s (payload one way), round-trip latency p50, p99
 * and max, errors; its last line is machine-readable:
 *
 *   result: msgs=N seconds=S msgs_per_s=X mb_per_s=Y p50_us=A p99_us=B max_us=C errors=E
 *
 * Exit status 0 only if no connection failed and every echoed byte was
 * right. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "corio.h"

/* Latency histogram: 64 linear sub-buckets per power of two of
 * nanoseconds (under 1.6% error), up to 2^40 ns. */
#define SUB 64
#define POWERS 41
typedef struct hist {
    uint64_t b[POWERS * SUB];
    uint64_t n, max;
} hist;

static unsigned bucket(uint64_t ns) {
    if (ns < SUB) return (unsigned)ns;
    unsigned p = 63u - (unsigned)__builtin_clzll(ns); /* >= 6 */
    if (p >= POWERS + 5) return POWERS * SUB - 1;
    unsigned sub = (unsigned)(ns >> (p - 6)) & (SUB - 1);
    return (p - 5) * SUB + sub;
}

static uint64_t bucket_value(unsigned i) {
    if (i < SUB) return i;
    unsigned p = i / SUB + 5, sub = i % SUB;
    return ((uint64_t)(SUB + sub) << (p - 6));
}

static void hist_add(hist *h, uint64_t ns) {
    h->b[bucket(ns)]++;
    h->n++;
    if (ns > h->max) h->max = ns;
}

static uint64_t hist_pct(const hist *h, double q) {
    uint64_t want = (uint64_t)(q * (double)h->n), seen = 0;
    for (unsigned i = 0; i < POWERS * SUB; i++) {
        seen += h->b[i];
        if (seen > want) return bucket_value(i);
    }
    return h->max;
}

static struct {
    const char *addr;
    long conns;
    size_t size;
    double seconds;
    long messages;
} cfg = {"127.0.0.1:45000", 900, 1024, 5.0, 0};

static _Atomic long connected, failed, mismatches;
static _Atomic int go; /* every connection is up: start */
static int64_t deadline_ns;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct conn {
    long index;
    hist h;
    long msgs;
    int err;
} conn;

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void *client(void *arg) {
    conn *c = arg;
    int fd = corio_dial(cfg.addr, CORIO_MS(10000));
    if (fd < 0) {
        c->err = fd;
        atomic_fetch_add(&failed, 1);
        atomic_fetch_add(&connected, 1); /* counted, so the others start */
        return NULL;
    }
    atomic_fetch_add(&connected, 1);
    while (!atomic_load_explicit(&go, memory_order_acquire))
        if (corio_sleep_ms(1) < 0) break;
    unsigned char *out = malloc(cfg.size), *in = malloc(cfg.size);
    uint64_t seed = 0x9E3779B97F4A7C15ull * (uint64_t)(c->index + 1);
    while (out != NULL && in != NULL) {
        if (cfg.messages > 0 ? c->msgs >= cfg.messages : now_ns() >= deadline_ns) break;
        for (size_t i = 0; i < cfg.size; i += 8) {
            uint64_t v = xorshift(&seed);
            memcpy(out + i, &v, cfg.size - i < 8 ? cfg.size - i : 8);
        }
        int64_t t0 = now_ns();
        ssize_t r = corio_send_all(fd, out, cfg.size, 0, CORIO_MS(30000), NULL);
        if (r == (ssize_t)cfg.size) r = corio_recv_all(fd, in, cfg.size, 0, CORIO_MS(30000), NULL);
        if (r != (ssize_t)cfg.size) {
            c->err = r < 0 ? (int)r : -EPIPE;
            atomic_fetch_add(&failed, 1);
            break;
        }
        hist_add(&c->h, (uint64_t)(now_ns() - t0));
        if (memcmp(out, in, cfg.size) != 0) {
            atomic_fetch_add(&mismatches, 1);
            c->err = -EILSEQ;
            break;
        }
        c->msgs++;
    }
    if (out == NULL || in == NULL) {
        c->err = -ENOMEM;
        atomic_fetch_add(&failed, 1);
    }
    free(out);
    free(in);
    corio_close(fd);
    return NULL;
}

static void usage(void) {
    fprintf(stderr, "usage: echo_client [--connect ADDR] [--connections N] [--size BYTES] "
                    "[--seconds S | --messages K] [--workers W]\n");
    exit(2);
}

static double num_arg(const char *s, double lo, double hi) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || v < lo || v > hi) usage();
    return v;
}

int main(int argc, char **argv) {
    unsigned workers = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *a = argv[i], *v = argv[++i];
        if (!strcmp(a, "--connect")) cfg.addr = v;
        else if (!strcmp(a, "--connections")) cfg.conns = (long)num_arg(v, 1, 1000000);
        else if (!strcmp(a, "--size")) cfg.size = (size_t)num_arg(v, 1, 1 << 30);
        else if (!strcmp(a, "--seconds")) cfg.seconds = num_arg(v, 0.01, 86400);
        else if (!strcmp(a, "--messages")) cfg.messages = (long)num_arg(v, 1, 1e12);
        else if (!strcmp(a, "--workers")) workers = (unsigned)num_arg(v, 1, 1024);
        else usage();
    }
    signal(SIGPIPE, SIG_IGN);
    /* One descriptor per connection: allow as many as the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    corio_rt *rt;
    corio_rt_opts o = {0};
    o.workers = workers;
    int r = corio_rt_create(&rt, &o);
    if (r < 0) {
        fprintf(stderr, "echo_client: cannot start the runtime: %s\n", strerror(-r));
        return 1;
    }
    conn *cs = calloc((size_t)cfg.conns, sizeof *cs);
    corio_tid *ids = calloc((size_t)cfg.conns, sizeof *ids);
    if (cs == NULL || ids == NULL) return 1;
    for (long i = 0; i < cfg.conns; i++) {
        cs[i].index = i;
        if ((r = corio_rt_spawn(rt, &ids[i], client, &cs[i])) < 0) {
            fprintf(stderr, "echo_client: spawn: %s\n", strerror(-r));
            return 1;
        }
    }
    while (atomic_load(&connected) < cfg.conns) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    int64_t t0 = now_ns();
    deadline_ns = t0 + (int64_t)(cfg.seconds * 1e9);
    atomic_store_explicit(&go, 1, memory_order_release);
    for (long i = 0; i < cfg.conns; i++) corio_rt_join(rt, ids[i], NULL);
    double secs = (double)(now_ns() - t0) / 1e9;
    corio_rt_shutdown(rt);

    hist *all = calloc(1, sizeof *all);
    long msgs = 0, cmin = -1, cmax = 0;
    int first_err = 0;
    for (long i = 0; i < cfg.conns; i++) {
        for (unsigned b = 0; b < POWERS * SUB; b++) all->b[b] += cs[i].h.b[b];
        all->n += cs[i].h.n;
        if (cs[i].h.max > all->max) all->max = cs[i].h.max;
        msgs += cs[i].msgs;
        if (cmin < 0 || cs[i].msgs < cmin) cmin = cs[i].msgs;
        if (cs[i].msgs > cmax) cmax = cs[i].msgs;
        if (cs[i].err != 0 && first_err == 0) first_err = cs[i].err;
    }
    long errors = atomic_load(&failed) + atomic_load(&mismatches);
    double rate = secs > 0 ? (double)msgs / secs : 0;
    printf("echo_client: %ld connections x %zu bytes to %s, %.2f s\n", cfg.conns, cfg.size,
           cfg.addr, secs);
    printf("  messages   %ld (%.0f/s, %.2f MB/s each way)\n", msgs, rate,
           rate * (double)cfg.size / 1e6);
    printf("  fairness   %ld to %ld messages per connection\n", cmin, cmax);
    printf("  round trip p50 %.1f us, p99 %.1f us, max %.1f us\n", hist_pct(all, 0.50) / 1e3,
           hist_pct(all, 0.99) / 1e3, (double)all->max / 1e3);
    printf("  errors     %ld (%ld mismatched echoes)%s%s\n", errors, atomic_load(&mismatches),
           first_err ? ", first: " : "", first_err ? strerror(-first_err) : "");
    printf("result: msgs=%ld seconds=%.3f msgs_per_s=%.0f mb_per_s=%.2f p50_us=%.1f p99_us=%.1f "
           "max_us=%.1f errors=%ld\n",
           msgs, secs, rate, rate * (double)cfg.size / 1e6, hist_pct(all, 0.50) / 1e3,
           hist_pct(all, 0.99) / 1e3, (double)all->max / 1e3, errors);
    free(all);
    free(cs);
    free(ids);
    return errors == 0 ? 0 : 1;
}
