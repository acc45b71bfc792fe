/* samples/chat/chat_server.c - a chat server on corio: every line a client
 * sends goes to every other connected client, in one order for all.
 *
 *   chat_server [--listen ADDR] [--workers N] [--queue LINES] [--max-line BYTES]
 *
 *   --listen    address (corio/net.h notation: HOST:PORT, :PORT, [v6]:PORT,
 *               unix:/path, unix:@name), default 127.0.0.1:7070
 *   --workers   worker threads, default: every CPU
 *   --queue     lines waiting for one client before it is cut off (4096: a
 *               queue must hold a burst of every client talking at once)
 *   --max-line  longest line, "\n" included (1024); a longer one is
 *               answered with "! line too long" and dropped
 *
 * Each connection is two tasks: a reader that takes lines from the client
 * and hands each to every other client's queue, and a writer that sends a
 * client its queue.  A queue is bounded: a client that does not read fills
 * its socket, then its queue, and is disconnected with a log line; the
 * others never wait for it (the reader only ever tries to queue).
 * SIGINT or SIGTERM: stop accepting, send every client what is queued
 * for it and "server shutting down", close, exit 0 (docs/server.md walks
 * through this program). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "corio.h"

/* A line on its way to the clients: one copy, shared, freed by the last. */
typedef struct msg {
    atomic_int refs;
    size_t len;
    char data[];
} msg;

typedef struct client {
    struct client *prev, *next; /* in the room, under room.lock */
    bool in_room;
    atomic_int refs;            /* the reader and the writer task */
    int fd;
    corio_stream *s;
    corio_chan *q;              /* of msg *: what is still to be sent */
    char name[64];              /* the peer's address, for the log */
} client;

/* The room.  Its lock is a plain mutex, not a corio_mutex: no section
 * under it suspends (try_send, close and shutdown never wait), so holding
 * it never parks a task, and a killed task can still take it to leave. */
static struct {
    pthread_mutex_t lock;
    client head; /* a ring of the clients in the room */
    atomic_bool closing;
    long members;
} room = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t queue_len = 4096, max_line = 1024;
static corio_taskset *conns;
static atomic_long cut_off, lines_in, accepted;

static void msg_unref(msg *m) {
    /* acq_rel: the last one sees every other holder's reads done. */
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) free(m);
}

static void client_unref(client *c) {
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
    msg *m;
    while (corio_chan_try_recv(c->q, &m) == 0) msg_unref(m);
    corio_chan_destroy(c->q);
    corio_stream_destroy(c->s);
    corio_close(c->fd);
    free(c);
}

/* Take c out of the room (once) and close its queue: its writer sends
 * what is queued, then ends.  Called with room.lock held. */
static void leave_locked(client *c) {
    if (!c->in_room) return;
    c->in_room = false;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    room.members--;
    corio_chan_close(c->q);
}

/* Hand m to every client but `from`, in the room's order; the lock makes
 * the order of lines the same for every client.  A full queue cuts its
 * client off: its socket is shut down, which ends both of its tasks. */
static void broadcast(client *from, msg *m) {
    pthread_mutex_lock(&room.lock);
    for (client *c = room.head.next, *next; c != &room.head; c = next) {
        next = c->next;
        if (c == from) continue;
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
        if (corio_chan_try_send(c->q, &m) == 0) continue;
        msg_unref(m);
        fprintf(stderr, "chat_server: %s cut off: %zu lines queued and not read\n", c->name,
                queue_len);
        atomic_fetch_add_explicit(&cut_off, 1, memory_order_relaxed);
        leave_locked(c);
        shutdown(c->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&room.lock);
}

static void *writer(void *arg) {
    client *c = arg;
    msg *m;
    int r;
    while ((r = corio_chan_recv(c->q, &m, CORIO_FOREVER)) == 0) {
        /* Everything queued now goes out in one send. */
        ssize_t w;
        do {
            w = corio_stream_write(c->s, m->data, m->len, CORIO_MS(10000));
            msg_unref(m);
        } while (w >= 0 && corio_chan_try_recv(c->q, &m) == 0);
        if (w < 0 || corio_stream_flush(c->s, CORIO_MS(10000)) < 0) break;
    }
    if (r == CORIO_CHAN_CLOSED && atomic_load(&room.closing)) {
        corio_stream_puts(c->s, "server shutting down\n", CORIO_MS(1000));
        corio_stream_flush(c->s, CORIO_MS(1000));
    }
    /* Done sending: the reader's receive ends too (it returns 0). */
    shutdown(c->fd, SHUT_RDWR);
    client_unref(c);
    return NULL;
}

static void *reader(void *arg) {
    client *c = arg;
    char *line = malloc(max_line + 1);
    size_t len;
    int r = 0;
    while (line != NULL && (r = corio_stream_read_line(c->s, line, max_line + 1, &len,
                                                       CORIO_FOREVER)) != 0) {
        if (r == -EMSGSIZE) { /* answer it, drop it, go on */
            msg *e = malloc(sizeof *e + 20);
            if (e != NULL) {
                atomic_init(&e->refs, 1);
                e->len = (size_t)snprintf(e->data, 20, "! line too long\n");
                if (corio_chan_try_send(c->q, &e) != 0) msg_unref(e);
            }
            if (corio_stream_skip_until(c->s, '\n', CORIO_FOREVER) <= 0) break;
            continue;
        }
        if (r < 0) break;
        msg *m = malloc(sizeof *m + len + 1);
        if (m == NULL) break;
        atomic_init(&m->refs, 1);
        memcpy(m->data, line, len);
        m->data[len] = '\n';
        m->len = len + 1;
        atomic_fetch_add_explicit(&lines_in, 1, memory_order_relaxed);
        broadcast(c, m);
        msg_unref(m);
        /* The writers that line woke run before this reader takes its
         * next line from the buffer: a queue then holds what its client's
         * socket did not take, not a burst of every reader's lines that
         * came before any writer ran (250 clients sending 20 lines at once
         * would otherwise fill 256-line queues on 2 workers). */
        if (corio_task_yield() < 0) break;
    }
    free(line);
    pthread_mutex_lock(&room.lock);
    leave_locked(c);
    pthread_mutex_unlock(&room.lock);
    client_unref(c);
    return NULL;
}

/* A new connection: two tasks in the set, one client record. */
static void join_room(int fd) {
    client *c = calloc(1, sizeof *c);
    corio_stream_opts so = {.read_buffer = max_line, .write_buffer = 16384};
    if (c == NULL || corio_chan_create(&c->q, sizeof(msg *), queue_len) != 0) {
        free(c);
        corio_close(fd);
        return;
    }
    if (corio_stream_create(&c->s, fd, &so) != 0) {
        corio_chan_destroy(c->q);
        free(c);
        corio_close(fd);
        return;
    }
    c->fd = fd;
    /* What the kernel buffers for one client is bounded too (64 KiB; the
     * default grows to megabytes): a client that stops reading fills it,
     * then its queue, and is cut off, at a bounded cost. */
    int sndbuf = 64 << 10;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    atomic_init(&c->refs, 2);
    if (corio_peer_name(fd, c->name, sizeof c->name) < 0) snprintf(c->name, sizeof c->name, "fd %d", fd);
    pthread_mutex_lock(&room.lock);
    if (!atomic_load(&room.closing)) {
        c->in_room = true;
        c->prev = room.head.prev;
        c->next = &room.head;
        room.head.prev->next = c;
        room.head.prev = c;
        room.members++;
    } else {
        corio_chan_close(c->q); /* too late: the writer says goodbye */
    }
    pthread_mutex_unlock(&room.lock);
    if (corio_taskset_spawn(conns, NULL, writer, c) != 0) {
        client_unref(c); /* the writer's reference */
        shutdown(fd, SHUT_RDWR);
    }
    if (corio_taskset_spawn(conns, NULL, reader, c) != 0) {
        pthread_mutex_lock(&room.lock);
        leave_locked(c);
        pthread_mutex_unlock(&room.lock);
        client_unref(c); /* the reader's reference */
    }
}

/* Set before the listener is closed: its number may go to a new file at
 * once, and the acceptor must not make its next call on that. */
static atomic_bool stopping;

static void *acceptor(void *arg) {
    int lfd = (int)(intptr_t)arg;
    while (!atomic_load(&stopping)) {
        int fd = corio_accept(lfd, NULL, NULL, 0, CORIO_FOREVER);
        if (fd == -ECANCELED || fd == -EBADF || fd == -EINVAL) break; /* stopped */
        if (fd == -EMFILE || fd == -ENFILE) { /* out of descriptors: wait, retry */
            if (corio_sleep_ms(10) < 0) break;
            continue;
        }
        if (fd < 0) continue; /* that client only (ECONNABORTED, ...) */
        atomic_fetch_add_explicit(&accepted, 1, memory_order_relaxed);
        join_room(fd);
    }
    return NULL;
}

typedef struct server {
    int lfd;
    sigset_t sigs;
    int sig;
} server;

/* The server's main task: accept until a signal, then close the room. */
static void *serve(void *arg) {
    server *sv = arg;
    corio_tid acc;
    if (corio_task_spawn(&acc, acceptor, (void *)(intptr_t)sv->lfd) != 0) return (void *)1;
    sv->sig = corio_signal_wait(&sv->sigs, CORIO_FOREVER);
    /* 1. No new clients: the acceptor's accept says -EBADF. */
    atomic_store(&stopping, true);
    corio_close(sv->lfd);
    corio_task_join(acc, NULL);
    /* 2. Every writer sends its queue and "server shutting down". */
    pthread_mutex_lock(&room.lock);
    atomic_store(&room.closing, true);
    while (room.head.next != &room.head) leave_locked(room.head.next);
    pthread_mutex_unlock(&room.lock);
    /* 3. Two seconds for them; then whoever is left is cancelled. */
    if (corio_taskset_join(conns, CORIO_MS(2000)) == -ETIMEDOUT) {
        fprintf(stderr, "chat_server: %zu connection tasks did not finish in 2 s: cancelled\n",
                corio_taskset_len(conns));
        corio_taskset_cancel(conns);
        corio_taskset_join(conns, CORIO_FOREVER);
    }
    return NULL;
}

static void usage(void) {
    fprintf(stderr, "usage: chat_server [--listen ADDR] [--workers N] [--queue LINES] "
                    "[--max-line BYTES]\n");
    exit(2);
}

static long num_arg(const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) usage();
    return v;
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1:7070";
    unsigned workers = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        if (!strcmp(argv[i], "--listen")) addr = argv[++i];
        else if (!strcmp(argv[i], "--workers")) workers = (unsigned)num_arg(argv[++i], 1, 1024);
        else if (!strcmp(argv[i], "--queue")) queue_len = (size_t)num_arg(argv[++i], 1, 1 << 20);
        else if (!strcmp(argv[i], "--max-line")) max_line = (size_t)num_arg(argv[++i], 2, 1 << 20);
        else usage();
    }
    /* The signals go to the serving task: blocked here, before any thread
     * starts, so that every thread inherits the mask (docs/api/signal.md). */
    server sv = {.lfd = -1};
    sigemptyset(&sv.sigs);
    sigaddset(&sv.sigs, SIGINT);
    sigaddset(&sv.sigs, SIGTERM);
    corio_signal_block(&sv.sigs);

    sv.lfd = corio_listen(addr, 1024, 0);
    if (sv.lfd < 0) {
        fprintf(stderr, "chat_server: cannot listen on %s: %s\n", addr,
                sv.lfd == -EINVAL ? corio_addr_error(addr) : strerror(-sv.lfd));
        return 1;
    }
    corio_rt *rt;
    corio_rt_opts o = {0};
    o.workers = workers;
    int r = corio_rt_create(&rt, &o);
    if (r == 0) r = corio_taskset_create(&conns, rt);
    if (r < 0) {
        fprintf(stderr, "chat_server: cannot start: %s\n", strerror(-r));
        return 1;
    }
    room.head.next = room.head.prev = &room.head;
    char name[128];
    if (corio_sock_name(sv.lfd, name, sizeof name) < 0) snprintf(name, sizeof name, "%s", addr);
    fprintf(stderr, "chat_server: listening on %s, %u workers, backend %s\n", name,
            corio_rt_workers(rt), corio_rt_backend(rt));
    void *failed = NULL;
    r = corio_rt_run(rt, serve, &sv, &failed); /* serve closes the listener */
    int down = corio_rt_shutdown(rt);
    corio_taskset_destroy(conns);
    fprintf(stderr, "chat_server: %s: accepted=%ld lines=%ld cut_off=%ld\n",
            sv.sig == SIGINT ? "SIGINT" : sv.sig == SIGTERM ? "SIGTERM" : "stopped",
            atomic_load(&accepted), atomic_load(&lines_in), atomic_load(&cut_off));
    return r == 0 && failed == NULL && down == 0 ? 0 : 1;
}
