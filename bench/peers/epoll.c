/* bench/peers/epoll.c - single-threaded echo server on epoll.
 *
 * Level-triggered, non-blocking sockets.  A readable connection is read
 * into one shared 64 KiB buffer and written straight back.  Only when the
 * write is short is the rest copied into a buffer of the connection's own;
 * the connection then waits for EPOLLOUT instead of EPOLLIN until that
 * buffer is drained, so it never holds more than one read's worth. */
#define _GNU_SOURCE 1
#include "peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_SIZE (64 * 1024)
#define MAX_EVENTS 256

typedef struct conn {
    int fd;
    char *pending; /* unsent bytes (malloc'd), NULL when all was sent */
    size_t off, len;
} conn;

static peer P;
static int EP;
/* epoll data of the listening socket and the signalfd */
static char LISTEN_TAG, SIGNAL_TAG;

static void watch(int op, int fd, uint32_t events, void *ptr) {
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    if (epoll_ctl(EP, op, fd, &ev) != 0) peer_die(&P, "epoll_ctl", errno);
}

static void conn_close(conn *c) {
    close(c->fd); /* also drops it from the epoll set */
    free(c->pending);
    free(c);
}

/* Write buf[0..len); keep what did not fit.  Returns -1 to close. */
static int conn_write(conn *c, const char *buf, size_t len) {
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            return -1;
        }
    }
    if (off == len) {
        if (c->pending != NULL) {
            free(c->pending);
            c->pending = NULL;
            watch(EPOLL_CTL_MOD, c->fd, EPOLLIN | EPOLLRDHUP, c);
        }
        return 0;
    }
    if (c->pending == NULL) { /* short write: keep the rest, wait for EPOLLOUT */
        c->pending = malloc(len - off);
        if (c->pending == NULL) return -1;
        memcpy(c->pending, buf + off, len - off);
        c->off = 0;
        c->len = len - off;
        watch(EPOLL_CTL_MOD, c->fd, EPOLLOUT, c);
    } else { /* still draining the connection's own buffer */
        c->off += off;
    }
    return 0;
}

static void on_readable(conn *c, char *buf) {
    ssize_t n = recv(c->fd, buf, READ_SIZE, 0);
    if (n > 0) {
        if (conn_write(c, buf, (size_t)n) != 0) conn_close(c);
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        conn_close(c);
    }
}

static void on_writable(conn *c) {
    if (conn_write(c, c->pending + c->off, c->len - c->off) != 0) conn_close(c);
}

static void accept_all(void) {
    for (;;) {
        int fd = accept4(P.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fprintf(stderr, "epoll: accept: %s\n", strerror(errno));
            return;
        }
        conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        watch(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP, c);
    }
}

int main(int argc, char **argv) {
    P = peer_start(argc, argv, "epoll", 1);
    EP = epoll_create1(EPOLL_CLOEXEC);
    if (EP < 0) peer_die(&P, "epoll_create1", errno);
    watch(EPOLL_CTL_ADD, P.listen_fd, EPOLLIN, &LISTEN_TAG);
    watch(EPOLL_CTL_ADD, P.signal_fd, EPOLLIN, &SIGNAL_TAG);
    char *buf = malloc(READ_SIZE);
    if (buf == NULL) peer_die(&P, "malloc", ENOMEM);
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(EP, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            peer_die(&P, "epoll_wait", errno);
        }
        for (int i = 0; i < n; i++) {
            void *ptr = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (ptr == &SIGNAL_TAG) return 0;
            if (ptr == &LISTEN_TAG) {
                accept_all();
            } else if (((conn *)ptr)->pending != NULL) {
                on_writable(ptr);
            } else if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                on_readable(ptr, buf);
            }
        }
    }
}
