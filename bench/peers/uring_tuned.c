/* bench/peers/uring_tuned.c - single-threaded echo server on liburing,
 * tuned as far as kernel 6.x and liburing 2.3 allow (the practical floor
 * of the echo benchmark).
 *
 *  - IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN (completions
 *    are run only when the loop waits), falling back to COOP_TASKRUN, then
 *    to no flags, on -EINVAL; a CQ of 4096 so 900 connections never
 *    overflow it; the ring fd registered.
 *  - One multishot accept straight into a sparse table of registered files
 *    (no fd table lookups per request); plain fds if that is refused.
 *  - One multishot recv per connection that takes its buffers from a
 *    provided-buffer ring (2048 x 2 KiB, shared by all connections): no
 *    per-connection buffer and no re-arm per message.
 *  - Each received buffer is sent back as it is and returned to the ring
 *    when its send has completed.  A connection sends one buffer at a time,
 *    in order; buffers that arrive meanwhile wait in a FIFO linked through
 *    the buffer ids, so a connection holds at most what it was sent.
 *  - A recv that ran out of buffers (-ENOBUFS) is re-armed.
 *  - One io_uring_submit_and_wait() per turn of the loop; returned buffers
 *    are published with one ring-tail update per turn. */
#define _GNU_SOURCE 1
#include "ring.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define RING_ENTRIES 256
#define CQ_ENTRIES 4096
#define FILES 4096
#define NBUFS 2048 /* a power of two */
#define BUF_SIZE 2048
#define BGID 0
#define NONE 0xffffu

enum { OP_RECV, OP_SEND, OP_ACCEPT, OP_OTHER }; /* OP_OTHER with c == NULL: ignored */
#define OP_SIGNAL_TAG ((uint64_t)8 | OP_OTHER)

typedef struct conn {
    int fd;             /* registered file index, or fd without registered files */
    uint16_t head, tail; /* FIFO of buffer ids to send, NONE when empty */
    uint32_t sent;       /* bytes of the head buffer already sent */
    uint8_t recv_armed, sending, closing;
} conn;

static peer P;
static struct io_uring R;
static int FIXED;               /* connections are registered files */
static struct io_uring_buf_ring *BR;
static char *BUFS;
static uint16_t NEXT[NBUFS];    /* FIFO links */
static uint32_t LEN[NBUFS];     /* bytes received into each buffer */
static int RETURNED;            /* buffers added to the ring this turn */

static struct io_uring_sqe *sqe_get(void) { return ring_sqe(&R, &P); }

static uint64_t ud_of(conn *c, unsigned op) { return (uint64_t)(uintptr_t)c | op; }

static void buf_return(uint16_t bid) {
    io_uring_buf_ring_add(BR, BUFS + (size_t)bid * BUF_SIZE, BUF_SIZE, bid,
                          io_uring_buf_ring_mask(NBUFS), RETURNED);
    RETURNED++;
}

static void arm_accept(void) {
    struct io_uring_sqe *sqe = sqe_get();
    if (FIXED)
        io_uring_prep_multishot_accept_direct(sqe, P.listen_fd, NULL, NULL, 0);
    else
        io_uring_prep_multishot_accept(sqe, P.listen_fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud_of(NULL, OP_ACCEPT));
}

static void arm_recv(conn *c) {
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT | (FIXED ? IOSQE_FIXED_FILE : 0);
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, ud_of(c, OP_RECV));
    c->recv_armed = 1;
}

static void send_head(conn *c) {
    struct io_uring_sqe *sqe = sqe_get();
    uint16_t b = c->head;
    io_uring_prep_send(sqe, c->fd, BUFS + (size_t)b * BUF_SIZE + c->sent, LEN[b] - c->sent,
                       MSG_NOSIGNAL | MSG_WAITALL);
    if (FIXED) sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, ud_of(c, OP_SEND));
    c->sending = 1;
}

/* Stop the connection: cancel its recv; once neither a recv nor a send is
 * in flight, give its buffers back, close it and free it. */
static void conn_finish(conn *c) {
    if (!c->closing) {
        c->closing = 1;
        if (c->recv_armed) {
            struct io_uring_sqe *sqe = sqe_get();
            io_uring_prep_cancel64(sqe, ud_of(c, OP_RECV), 0);
            io_uring_sqe_set_data64(sqe, ud_of(NULL, OP_OTHER));
        }
    }
    if (c->recv_armed || c->sending) return;
    for (uint16_t b = c->head; b != NONE; b = NEXT[b]) buf_return(b);
    if (FIXED) {
        struct io_uring_sqe *sqe = sqe_get();
        io_uring_prep_close_direct(sqe, (unsigned)c->fd);
        io_uring_sqe_set_data64(sqe, ud_of(NULL, OP_OTHER));
    } else {
        close(c->fd);
    }
    free(c);
}

static void on_recv(conn *c, const struct io_uring_cqe *cqe) {
    int res = cqe->res;
    if (!(cqe->flags & IORING_CQE_F_MORE)) c->recv_armed = 0;
    if (res > 0) {
        uint16_t b = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (c->closing) {
            buf_return(b);
        } else {
            LEN[b] = (uint32_t)res;
            NEXT[b] = NONE;
            if (c->head == NONE)
                c->head = b;
            else
                NEXT[c->tail] = b;
            c->tail = b;
            if (!c->sending) send_head(c);
        }
    }
    if (c->closing) {
        conn_finish(c);
    } else if (!c->recv_armed) {
        if (res > 0 || res == -ENOBUFS)
            arm_recv(c); /* ended early (out of buffers, ...): re-arm */
        else
            conn_finish(c); /* EOF or error */
    }
}

static void on_send(conn *c, int res) {
    c->sending = 0;
    if (res <= 0 || c->closing) {
        conn_finish(c);
        return;
    }
    uint16_t b = c->head;
    c->sent += (uint32_t)res;
    if (c->sent < LEN[b]) {
        send_head(c); /* short send: the rest */
        return;
    }
    c->head = NEXT[b];
    c->sent = 0;
    buf_return(b);
    if (c->head != NONE) send_head(c);
}

static void on_accept(const struct io_uring_cqe *cqe) {
    int res = cqe->res;
    if (res >= 0) {
        conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            if (FIXED) {
                struct io_uring_sqe *sqe = sqe_get();
                io_uring_prep_close_direct(sqe, (unsigned)res);
                io_uring_sqe_set_data64(sqe, ud_of(NULL, OP_OTHER));
            } else {
                close(res);
            }
        } else {
            c->fd = res;
            c->head = c->tail = NONE;
            arm_recv(c);
        }
    } else if (res != -ECONNABORTED && res != -EINTR) {
        fprintf(stderr, "uring-tuned: accept: %s\n", strerror(-res));
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept();
}

static void ring_init(void) {
    static const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof tries / sizeof tries[0] && rc == -EINVAL; i++) {
        struct io_uring_params p = {.flags = tries[i] | IORING_SETUP_CQSIZE, .cq_entries = CQ_ENTRIES};
        rc = io_uring_queue_init_params(RING_ENTRIES, &R, &p);
        if (rc == -EINVAL && i + 1 < sizeof tries / sizeof tries[0])
            fprintf(stderr, "uring-tuned: ring flags 0x%x refused, falling back\n", tries[i]);
    }
    if (rc < 0) peer_die(&P, "io_uring_queue_init_params", -rc);
    if (io_uring_register_ring_fd(&R) < 0)
        fprintf(stderr, "uring-tuned: io_uring_register_ring_fd refused, going on without\n");
    FIXED = io_uring_register_files_sparse(&R, FILES) == 0;
    if (!FIXED) fprintf(stderr, "uring-tuned: no registered files, using plain fds\n");

    size_t ring_bytes = NBUFS * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    BUFS = mmap(NULL, (size_t)NBUFS * BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED || BUFS == MAP_FAILED) peer_die(&P, "mmap", errno);
    BR = mem;
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)BR, .ring_entries = NBUFS, .bgid = BGID};
    rc = io_uring_register_buf_ring(&R, &reg, 0);
    if (rc < 0) peer_die(&P, "io_uring_register_buf_ring", -rc);
    io_uring_buf_ring_init(BR);
    for (unsigned b = 0; b < NBUFS; b++) buf_return((uint16_t)b);
    io_uring_buf_ring_advance(BR, RETURNED);
    RETURNED = 0;
}

/* Returns 1 when the stop signal came. */
static int handle(const struct io_uring_cqe *cqe) {
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    conn *c = (conn *)(uintptr_t)(ud & ~(uint64_t)7);
    if (ud == OP_SIGNAL_TAG) return 1;
    switch (ud & 7) {
    case OP_RECV: on_recv(c, cqe); break;
    case OP_SEND: on_send(c, cqe->res); break;
    case OP_ACCEPT: on_accept(cqe); break;
    default: break;
    }
    return 0;
}

/* Publish the buffers returned in this batch with one tail update. */
static void publish_buffers(void) {
    if (RETURNED > 0) {
        io_uring_buf_ring_advance(BR, RETURNED);
        RETURNED = 0;
    }
}

int main(int argc, char **argv) {
    P = peer_start(argc, argv, "uring-tuned", 1);
    ring_init();
    arm_accept();
    ring_watch_signals(&R, &P, OP_SIGNAL_TAG);
    ring_loop(&R, &P, handle, publish_buffers);
    return 0;
}
