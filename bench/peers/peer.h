/* bench/peers/peer.h - what the C echo servers of the echo benchmark share
 * (docs/bench.md, "echo"): the command line, the file limit, the listening
 * socket and the stop signals.
 *
 * Every peer is `NAME [--listen HOST:PORT]` (default 127.0.0.1:45000),
 * echoes every byte it receives back to the sender, closes a connection on
 * EOF or error, and exits 0 on SIGINT or SIGTERM. */
#ifndef CORIO_BENCH_PEER_H
#define CORIO_BENCH_PEER_H

#define PEER_DEFAULT_LISTEN "127.0.0.1:45000"

typedef struct peer {
    const char *name; /* for messages: "epoll", "uring", ... */
    int listen_fd;    /* bound and listening, IPv4 or IPv6 */
    int signal_fd;    /* signalfd for SIGINT and SIGTERM (blocked in every thread) */
} peer;

/* Parse argv (--listen HOST:PORT, --help), raise RLIMIT_NOFILE's soft limit
 * to the hard limit, ignore SIGPIPE, block SIGINT/SIGTERM and open a
 * signalfd for them, then bind and listen.  `nonblock` makes the listening
 * socket and the signalfd non-blocking.  Exits 2 on a bad argument, 1 on a
 * failure.  The listening socket has TCP_NODELAY set, which Linux copies to
 * every accepted socket (Go's net package sets it on each connection too). */
peer peer_start(int argc, char **argv, const char *name, int nonblock);

/* Print "NAME: WHAT: strerror(err)" on stderr and exit 1. */
__attribute__((noreturn)) void peer_die(const peer *p, const char *what, int err);

#endif
