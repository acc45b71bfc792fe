/* io/net.c - listening and dialling by address string (corio/net.h); the
 * addresses themselves are io/addr.c's. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "corio/io.h"
#include "corio/net.h"

/* The address to listen on for a name: its first IPv4 address, else the
 * first one (a name such as "localhost" often has ::1 first, and clients
 * mostly dial 127.0.0.1: one listener cannot take both). */
static const corio_sockaddr *listen_choice(const corio_sockaddr *a, int n) {
    for (int i = 0; i < n; i++)
        if (a[i].ss.ss_family == AF_INET) return &a[i];
    return &a[0];
}

int corio_listen(const char *addr, int backlog, unsigned flags) {
    if (flags & ~CORIO_LISTEN_REUSEPORT) return -EINVAL;
    corio_sockaddr found[8];
    int r = corio_addr_resolve(addr, found, 8);
    if (r < 0) return r;
    const corio_sockaddr *c = listen_choice(found, r);
    struct sockaddr_storage ss = c->ss;
    socklen_t len = c->len;
    /* Non-blocking: several tasks may accept on it, and all of them may
     * be told of one connection; those that lose it must get EAGAIN and
     * wait again, not block their worker in accept (docs/io.md). */
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    int one = 1;
    if (ss.ss_family == AF_UNIX) {
        /* A stale socket file of an earlier run: replace it, but never a
         * file that is not a socket. */
        struct stat st;
        const char *path = ((struct sockaddr_un *)&ss)->sun_path;
        if (path[0] != '\0' && stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path);
    } else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
        goto fail;
    }
    if ((flags & CORIO_LISTEN_REUSEPORT) &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) goto fail;
    if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) goto fail;
    return fd;
fail:
    r = -errno;
    close(fd);
    return r;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One connection attempt to `a`. */
static int dial_one(const corio_sockaddr *a, int64_t timeout_ns) {
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (a->ss.ss_family != AF_UNIX) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    int r = corio_connect(fd, (const struct sockaddr *)&a->ss, a->len, timeout_ns);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int corio_dial(const char *addr, int64_t timeout_ns) {
    corio_sockaddr found[8];
    int n = corio_addr_resolve(addr, found, 8);
    if (n < 0) return n;
    /* Each address in the resolver's order until one answers; the
     * deadline is for the whole dial.  A timeout or a kill ends it: the
     * next address would only spend what is left of a wait that is over. */
    int64_t now = now_ns();
    int64_t deadline = timeout_ns < 0 || timeout_ns > INT64_MAX - now ? -1 : now + timeout_ns;
    int r = -ECONNREFUSED;
    for (int i = 0; i < n; i++) {
        int64_t left = -1;
        if (deadline >= 0) {
            left = deadline - now_ns();
            if (left < 0) left = 0;
        }
        r = dial_one(&found[i], left);
        if (r >= 0 || r == -ETIMEDOUT || r == -ECANCELED) return r;
    }
    return r;
}
