/* io/addr.c - socket addresses as strings (corio/net.h): parsing with a
 * reason for every refusal, name lookup in the blocking-call pool, and
 * formatting.
 *
 * One parser serves all: split() takes the string apart and says what is
 * wrong in words; corio_addr_parse keeps to numeric hosts (it never
 * waits), corio_addr_resolve looks names up, corio_addr_error returns the
 * words. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "corio/net.h"
#include "corio/sync.h"

#define HOST_MAX 253 /* the longest DNS name */

/* An address taken apart.  kind: what the host is. */
typedef enum { A_INET, A_NAME, A_UNIX } akind;

typedef struct parts {
    akind kind;
    char host[HOST_MAX + 1]; /* A_NAME: the name; A_INET: the numeric host */
    char port[6];            /* decimal, for getaddrinfo */
    struct sockaddr_storage ss;
    socklen_t len;
    int err; /* when split refuses: -EINVAL, or -ENAMETOOLONG (a Unix path) */
} parts;

static bool is_digits(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

/* A DNS name (RFC 1123 labels): letters, digits and '-' in labels of 1-63
 * bytes that neither start nor end with '-', joined by '.'; one trailing
 * '.' (a fully qualified name) is allowed. */
static bool is_name(const char *s) {
    size_t n = strlen(s);
    if (n > 0 && s[n - 1] == '.') n--;
    if (n == 0 || n > HOST_MAX) return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') return false;
            label = 0;
            continue;
        }
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!(alnum || (c == '-' && label > 0)) || ++label > 63) return false;
    }
    return s[n - 1] != '-';
}

static const char *set_port(parts *p, const char *s, size_t n, in_port_t *out) {
    if (n == 0) return "missing port after ':' (write HOST:PORT, :PORT or PORT)";
    if (!is_digits(s, n)) return "the port is not a number";
    if (n > 5) return "port out of range (0-65535)";
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (unsigned long)(s[i] - '0');
    if (v > 65535) return "port out of range (0-65535)";
    snprintf(p->port, sizeof p->port, "%lu", v);
    *out = htons((in_port_t)v);
    return NULL;
}

static const char *split_unix(parts *p, const char *path) {
    struct sockaddr_un *un = (struct sockaddr_un *)&p->ss;
    un->sun_family = AF_UNIX;
    p->kind = A_UNIX;
    size_t n = strlen(path);
    if (path[0] == '@') {
        /* Abstract: a leading NUL byte, the name after it, no terminator
         * (the length says where it ends). */
        if (n == 1) return "empty abstract Unix name after 'unix:@'";
        if (n > sizeof un->sun_path) {
            p->err = -ENAMETOOLONG;
            return "abstract Unix name longer than 107 bytes";
        }
        un->sun_path[0] = '\0';
        memcpy(un->sun_path + 1, path + 1, n - 1);
        p->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        return NULL;
    }
    if (n == 0) return "empty Unix path after 'unix:'";
    if (n >= sizeof un->sun_path) {
        p->err = -ENAMETOOLONG;
        return "Unix path longer than 107 bytes";
    }
    memcpy(un->sun_path, path, n + 1);
    p->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return NULL;
}

/* Take `addr` apart into *p: NULL, or why it is not an address. */
static const char *split(const char *addr, parts *p) {
    memset(p, 0, sizeof *p);
    p->err = -EINVAL;
    if (addr == NULL || *addr == '\0') return "empty address";
    if (strncmp(addr, "unix:", 5) == 0) return split_unix(p, addr + 5);
    const char *host, *port;
    size_t hlen;
    bool bracketed = addr[0] == '[';
    if (bracketed) {
        const char *end = strchr(addr, ']');
        if (end == NULL) return "'[' without ']' (write [IPv6]:PORT)";
        if (end[1] != ':') return "expected ':PORT' after ']'";
        host = addr + 1;
        hlen = (size_t)(end - host);
        port = end + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (colon == NULL) {
            /* A port alone: every interface. */
            if (!is_digits(addr, strlen(addr)))
                return "missing port (write HOST:PORT, :PORT or PORT)";
            host = addr;
            hlen = 0;
            port = addr;
        } else {
            if (memchr(addr, ':', (size_t)(colon - addr)) != NULL)
                return "an IPv6 host needs brackets (write [IPv6]:PORT)";
            host = addr;
            hlen = (size_t)(colon - addr);
            port = colon + 1;
        }
    }
    if (hlen > HOST_MAX) return "host name longer than 253 bytes";
    memcpy(p->host, host, hlen);
    p->host[hlen] = '\0';
    in_port_t nport = 0;
    const char *why = set_port(p, port, strlen(port), &nport);
    if (why != NULL) return why;
    p->kind = A_INET;
    if (bracketed) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p->ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = nport;
        if (inet_pton(AF_INET6, p->host, &in6->sin6_addr) != 1)
            return "not an IPv6 address inside '[ ]'";
        p->len = sizeof *in6;
        return NULL;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)&p->ss;
    in->sin_family = AF_INET;
    in->sin_port = nport;
    p->len = sizeof *in;
    if (hlen == 0) { /* ":PORT" or "PORT": every interface (0.0.0.0) */
        in->sin_addr.s_addr = htonl(INADDR_ANY);
        return NULL;
    }
    if (inet_pton(AF_INET, p->host, &in->sin_addr) == 1) return NULL;
    /* All digits and dots but not four numbers: a typo, not a name. */
    if (strspn(p->host, "0123456789.") == hlen) return "not an IPv4 address (four numbers 0-255)";
    if (!is_name(p->host)) return "the host is neither an IP address nor a valid name";
    p->kind = A_NAME;
    return NULL;
}

int corio_addr_parse(const char *addr, struct sockaddr_storage *ss, socklen_t *len) {
    if (ss == NULL || len == NULL) return -EINVAL;
    parts p;
    const char *why = split(addr, &p);
    if (why != NULL) return p.err;
    if (p.kind == A_NAME) return -EINVAL; /* numeric only: a lookup may wait */
    memcpy(ss, &p.ss, sizeof *ss);
    *len = p.len;
    return 0;
}

const char *corio_addr_error(const char *addr) {
    parts p;
    const char *why = split(addr, &p);
    if (why == NULL && p.kind == A_NAME)
        return "the host is a name: corio_addr_parse takes numeric hosts only "
               "(corio_addr_resolve, corio_listen and corio_dial look names up)";
    return why;
}

/* ---- name lookup -------------------------------------------------------- */

typedef struct lookup {
    const parts *p;
    struct addrinfo *res;
    int gai;
} lookup;

static void *do_lookup(void *arg) {
    lookup *l = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    l->gai = getaddrinfo(l->p->host, l->p->port, &hints, &l->res);
    return NULL;
}

static int gai_errno(int gai) {
    switch (gai) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return -ENOENT; /* no such name (or no address for it) */
    case EAI_AGAIN: return -EAGAIN;
    case EAI_MEMORY: return -ENOMEM;
    case EAI_SYSTEM: return errno > 0 ? -errno : -EIO;
    default: return -EIO;
    }
}

int corio_addr_resolve(const char *addr, corio_sockaddr *out, size_t max) {
    if (out == NULL || max == 0) return -EINVAL;
    parts p;
    if (split(addr, &p) != NULL) return p.err;
    if (p.kind != A_NAME) {
        out[0].ss = p.ss;
        out[0].len = p.len;
        return 1;
    }
    lookup l = {.p = &p};
    /* getaddrinfo may wait for DNS for seconds: in the pool, where only
     * the calling task waits (a plain thread calls it itself). */
    int r = corio_blocking(do_lookup, &l, NULL);
    if (r < 0 && r != -ECANCELED) return r;
    if (l.gai != 0) return r == -ECANCELED ? r : gai_errno(l.gai);
    int n = 0;
    for (struct addrinfo *a = l.res; a != NULL && (size_t)n < max; a = a->ai_next) {
        if (a->ai_addrlen > sizeof out[n].ss) continue;
        memset(&out[n].ss, 0, sizeof out[n].ss);
        memcpy(&out[n].ss, a->ai_addr, a->ai_addrlen);
        out[n].len = a->ai_addrlen;
        n++;
    }
    freeaddrinfo(l.res);
    if (r == -ECANCELED) return r; /* killed while it looked up: the kill wins */
    return n > 0 ? n : -ENOENT;
}

/* ---- formatting --------------------------------------------------------- */

int corio_addr_format(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len) {
    if (sa == NULL || buf == NULL || len == 0) return -EINVAL;
    char host[INET6_ADDRSTRLEN];
    int n;
    switch (sa->sa_family) {
    case AF_INET: {
        if (salen < (socklen_t)sizeof(struct sockaddr_in)) return -EINVAL;
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        n = snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
        break;
    }
    case AF_INET6: {
        if (salen < (socklen_t)sizeof(struct sockaddr_in6)) return -EINVAL;
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        n = snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t plen = salen > off ? (size_t)salen - off : 0;
        if (plen > sizeof un->sun_path) plen = sizeof un->sun_path;
        if (plen == 0) {
            n = snprintf(buf, len, "unix:"); /* unnamed (a socketpair, a client) */
        } else if (un->sun_path[0] == '\0') {
            n = snprintf(buf, len, "unix:@%.*s", (int)(plen - 1), un->sun_path + 1);
        } else {
            n = snprintf(buf, len, "unix:%.*s", (int)strnlen(un->sun_path, plen), un->sun_path);
        }
        break;
    }
    default:
        return -EAFNOSUPPORT;
    }
    return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

/* A socket's own or peer address (getsockname / getpeername), formatted. */
static int name_of(int fd, int (*get)(int, struct sockaddr *, socklen_t *), char *buf, size_t len) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (buf == NULL || len == 0) return -EINVAL;
    if (get(fd, (struct sockaddr *)&ss, &sl) < 0) return -errno;
    return corio_addr_format((struct sockaddr *)&ss, sl, buf, len);
}

int corio_sock_name(int fd, char *buf, size_t len) { return name_of(fd, getsockname, buf, len); }

int corio_peer_name(int fd, char *buf, size_t len) { return name_of(fd, getpeername, buf, len); }
