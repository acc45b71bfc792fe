/* bench/peers/peer.c - command line, file limit, listening socket and stop
 * signals of the C echo servers (see peer.h). */
#define _GNU_SOURCE 1
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

void peer_die(const peer *p, const char *what, int err) {
    fprintf(stderr, "%s: %s: %s\n", p->name, what, strerror(err));
    exit(1);
}

static __attribute__((noreturn)) void usage(const char *name, int status) {
    fprintf(stderr,
            "usage: %s [--listen HOST:PORT]\n"
            "  echoes every byte back; runs until SIGINT/SIGTERM (default %s)\n",
            name, PEER_DEFAULT_LISTEN);
    exit(status);
}

/* Split "HOST:PORT" (HOST may be "[v6]") and bind a listening socket. */
static int listen_on(const peer *p, const char *spec, int nonblock) {
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec || colon[1] == '\0' || (size_t)(colon - spec) >= sizeof host)
        usage(p->name, 2);
    const char *h = spec;
    size_t hlen = (size_t)(colon - spec);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n", p->name, spec, gai_strerror(rc));
        exit(2);
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) peer_die(p, "socket", errno);
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        peer_die(p, "SO_REUSEADDR", errno);
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        peer_die(p, "TCP_NODELAY", errno);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) peer_die(p, spec, errno);
    if (listen(fd, 4096) != 0) peer_die(p, "listen", errno);
    freeaddrinfo(res);
    return fd;
}

peer peer_start(int argc, char **argv, const char *name, int nonblock) {
    peer p = {name, -1, -1};
    const char *spec = PEER_DEFAULT_LISTEN;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            spec = argv[++i];
        else
            usage(name, strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ? 0 : 2);
    }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) peer_die(&p, "setrlimit(RLIMIT_NOFILE)", errno);
    }

    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) peer_die(&p, "sigprocmask", errno);
    p.signal_fd = signalfd(-1, &set, SFD_CLOEXEC | (nonblock ? SFD_NONBLOCK : 0));
    if (p.signal_fd < 0) peer_die(&p, "signalfd", errno);

    p.listen_fd = listen_on(&p, spec, nonblock);
    return p;
}
