/* bench/peers/uring.c - single-threaded echo server on plain liburing.
 *
 * A 256-entry ring.  One multishot accept on the listening socket; every
 * connection has a 4 KiB buffer and exactly one request in flight: a recv
 * into the buffer, then sends of what it got (again for the rest after a
 * short send), then the next recv.  Each turn of the loop submits what the
 * last batch of completions prepared and waits, in one
 * io_uring_submit_and_wait(). */
#define _GNU_SOURCE 1
#include "ring.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RING_ENTRIES 256
#define BUF_SIZE 4096

enum { OP_RECV, OP_SEND, OP_ACCEPT, OP_SIGNAL };

typedef struct conn {
    int fd;
    unsigned len, sent; /* bytes in buf, bytes of them sent */
    char buf[BUF_SIZE];
} conn;

static peer P;
static struct io_uring R;

static struct io_uring_sqe *sqe_get(void) { return ring_sqe(&R, &P); }

static void tag(struct io_uring_sqe *sqe, conn *c, unsigned op) {
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | op);
}

static void arm_accept(void) {
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_multishot_accept(sqe, P.listen_fd, NULL, NULL, SOCK_CLOEXEC);
    tag(sqe, NULL, OP_ACCEPT);
}

static void arm_recv(conn *c) {
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_recv(sqe, c->fd, c->buf, sizeof c->buf, 0);
    tag(sqe, c, OP_RECV);
}

static void arm_send(conn *c) {
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_send(sqe, c->fd, c->buf + c->sent, c->len - c->sent, MSG_NOSIGNAL);
    tag(sqe, c, OP_SEND);
}

static void conn_close(conn *c) {
    close(c->fd);
    free(c);
}

/* Returns 1 when the stop signal came. */
static int handle(const struct io_uring_cqe *cqe) {
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    conn *c = (conn *)(uintptr_t)(ud & ~(uint64_t)3);
    int res = cqe->res;
    switch (ud & 3) {
    case OP_ACCEPT:
        if (res >= 0) {
            conn *n = malloc(sizeof *n);
            if (n == NULL) {
                close(res);
            } else {
                n->fd = res;
                arm_recv(n);
            }
        } else if (res != -ECONNABORTED && res != -EINTR) {
            fprintf(stderr, "uring: accept: %s\n", strerror(-res));
        }
        if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept();
        break;
    case OP_RECV:
        if (res <= 0) {
            conn_close(c);
        } else {
            c->len = (unsigned)res;
            c->sent = 0;
            arm_send(c);
        }
        break;
    case OP_SEND:
        if (res <= 0) {
            conn_close(c);
        } else if ((c->sent += (unsigned)res) < c->len) {
            arm_send(c);
        } else {
            arm_recv(c);
        }
        break;
    case OP_SIGNAL:
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    P = peer_start(argc, argv, "uring", 1);
    int rc = io_uring_queue_init(RING_ENTRIES, &R, 0);
    if (rc < 0) peer_die(&P, "io_uring_queue_init", -rc);
    arm_accept();
    ring_watch_signals(&R, &P, OP_SIGNAL);
    ring_loop(&R, &P, handle, NULL);
    return 0;
}
