/* io/net.c - socket addresses as strings, listening and dialling
 * (corio/net.h). */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "corio/io.h"
#include "corio/net.h"

static int parse_port(const char *s, in_port_t *out) {
    if (*s == '\0') return -EINVAL;
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 65535) return -EINVAL;
    }
    *out = htons((in_port_t)v);
    return 0;
}

int corio_addr_parse(const char *addr, struct sockaddr_storage *ss, socklen_t *len) {
    if (addr == NULL || ss == NULL || len == NULL) return -EINVAL;
    memset(ss, 0, sizeof *ss);
    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        const char *path = addr + 5;
        size_t n = strlen(path);
        if (n == 0) return -EINVAL;
        if (n >= sizeof un->sun_path) return -ENAMETOOLONG;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, n + 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    char host[INET6_ADDRSTRLEN + 1];
    const char *port;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - addr - 1) >= sizeof host) return -EINVAL;
        memcpy(host, addr + 1, (size_t)(end - addr - 1));
        host[end - addr - 1] = '\0';
        port = end + 2;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) return -EINVAL;
        if (parse_port(port, &in6->sin6_port) < 0) return -EINVAL;
        *len = sizeof *in6;
        return 0;
    }
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || (size_t)(colon - addr) >= sizeof host) return -EINVAL;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &in->sin_addr) != 1) return -EINVAL;
    if (parse_port(colon + 1, &in->sin_port) < 0) return -EINVAL;
    *len = sizeof *in;
    return 0;
}

int corio_listen(const char *addr, int backlog, unsigned flags) {
    struct sockaddr_storage ss;
    socklen_t len;
    int r = corio_addr_parse(addr, &ss, &len);
    if (r < 0) return r;
    if (flags & ~CORIO_LISTEN_REUSEPORT) return -EINVAL;
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
        if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path);
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

int corio_dial(const char *addr, int64_t timeout_ns) {
    struct sockaddr_storage ss;
    socklen_t len;
    int r = corio_addr_parse(addr, &ss, &len);
    if (r < 0) return r;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (ss.ss_family != AF_UNIX) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    r = corio_connect(fd, (struct sockaddr *)&ss, len, timeout_ns);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int corio_sock_name(int fd, char *buf, size_t len) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (buf == NULL || len == 0) return -EINVAL;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) return -errno;
    char host[INET6_ADDRSTRLEN];
    int n;
    switch (ss.ss_family) {
    case AF_INET: {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        n = snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
        break;
    }
    case AF_INET6: {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        n = snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
        break;
    }
    case AF_UNIX:
        n = snprintf(buf, len, "unix:%s", ((struct sockaddr_un *)&ss)->sun_path);
        break;
    default:
        return -EAFNOSUPPORT;
    }
    return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}
