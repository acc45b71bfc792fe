/* bench/peers/threads.c - echo server, one thread per connection.
 *
 * An acceptor thread accepts; each connection gets a detached thread with a
 * 64 KiB stack that loops on blocking recv()/send() until EOF or an error.
 * The main thread waits for SIGINT/SIGTERM on the signalfd and exits 0. */
#define _GNU_SOURCE 1
#include "peer.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define STACK_SIZE (64 * 1024)
#define BUF_SIZE 4096

static peer P;
static pthread_attr_t CONN_ATTR; /* 64 KiB stack, detached */

static void *conn_main(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[BUF_SIZE];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) goto done;
            off += w;
        }
    }
done:
    close(fd);
    return NULL;
}

static void *accept_main(void *arg) {
    (void)arg;
    for (;;) {
        int fd = accept4(P.listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                fprintf(stderr, "threads: accept: out of resources, retrying\n");
                usleep(10000);
            } else if (errno != EINTR && errno != ECONNABORTED) {
                peer_die(&P, "accept", errno);
            }
            continue;
        }
        pthread_t t;
        int rc = pthread_create(&t, &CONN_ATTR, conn_main, (void *)(intptr_t)fd);
        if (rc != 0) {
            fprintf(stderr, "threads: pthread_create failed, dropping a connection\n");
            close(fd);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    P = peer_start(argc, argv, "threads", 0);
    pthread_attr_init(&CONN_ATTR);
    pthread_attr_setstacksize(&CONN_ATTR, STACK_SIZE);
    pthread_attr_setdetachstate(&CONN_ATTR, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &CONN_ATTR, accept_main, NULL);
    if (rc != 0) peer_die(&P, "pthread_create", rc);
    struct signalfd_siginfo si;
    while (read(P.signal_fd, &si, sizeof si) < 0 && errno == EINTR) {
    }
    return 0;
}
