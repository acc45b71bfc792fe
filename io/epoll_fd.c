/* io/epoll_fd.c - the per-descriptor records of an epoll instance and the
 * arming of their registrations (epoll_fd.h). */
#define _GNU_SOURCE 1
#include "io/epoll_fd.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "runtime/chaos.h"

#define CORIO__EFD_CHUNK 256u

corio__efd *corio__efd_get(corio__efd_table *t, int fd) {
    size_t c = (size_t)fd / CORIO__EFD_CHUNK;
    if (c >= t->nchunks) {
        size_t n = t->nchunks != 0 ? t->nchunks : 4;
        while (n <= c) n *= 2;
        corio__efd **a = realloc(t->chunks, n * sizeof *a);
        if (a == NULL) return NULL;
        for (size_t i = t->nchunks; i < n; i++) a[i] = NULL;
        t->chunks = a;
        t->nchunks = n;
    }
    if (t->chunks[c] == NULL) {
        t->chunks[c] = calloc(CORIO__EFD_CHUNK, sizeof(corio__efd));
        if (t->chunks[c] == NULL) return NULL;
    }
    return &t->chunks[c][(size_t)fd % CORIO__EFD_CHUNK];
}

corio__efd *corio__efd_lookup(const corio__efd_table *t, uint64_t key) {
    int fd = corio__efd_key_fd(key);
    if (fd < 0) return NULL;
    size_t c = (size_t)fd / CORIO__EFD_CHUNK;
    if (c >= t->nchunks || t->chunks[c] == NULL) return NULL;
    corio__efd *r = &t->chunks[c][(size_t)fd % CORIO__EFD_CHUNK];
    return r->added && r->gen == corio__efd_key_gen(key) ? r : NULL;
}

int corio__efd_arm(int epfd, corio__efd *r, int fd, unsigned events) {
    struct epoll_event ev = {.events = events | EPOLLONESHOT};
    int err;
    if (r->added) {
        /* The registration of the number's current file, whichever task
         * of this worker asked for it: they all wait on this record. */
        ev.data.u64 = corio__efd_key(fd, r->gen);
        CORIO__CHAOS();
        int rc = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
        err = errno;
        CORIO__CHAOS();
        if (rc == 0) return 0;
        if (err != ENOENT) return -err;
        /* The number names a file we never registered (it was closed and
         * reused); the old registration, if its file lives on, keeps the
         * old generation and its events are stale. */
    }
    uint32_t gen = r->gen + 1; /* kept only if the add succeeds */
    ev.data.u64 = corio__efd_key(fd, gen);
    CORIO__CHAOS();
    int rc = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    err = errno;
    if (rc < 0 && err == EEXIST) { /* not ours to know of; take it over */
        rc = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
        err = errno;
    }
    CORIO__CHAOS();
    if (rc < 0) return -err;
    r->gen = gen;
    r->added = true;
    return 0;
}

void corio__efd_free(corio__efd_table *t) {
    for (size_t i = 0; i < t->nchunks; i++) free(t->chunks[i]);
    free(t->chunks);
    t->chunks = NULL;
    t->nchunks = 0;
}
