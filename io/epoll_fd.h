/* io/epoll_fd.h - the epoll backend's registrations: one record per
 * descriptor number per epoll instance, owned by the instance.
 *
 * The kernel keys an epoll registration by (file, descriptor number) and
 * hands back 64 bits of data with each event.  A number can be closed and
 * given to another file at any moment, and a file can outlive the number
 * it was registered under (a dup, a child, another thread): its
 * registration then stays in the set, out of reach (epoll_ctl finds
 * registrations by the number's current file), and may still report.  So
 * an event must never carry the address of anything a wait owns.  It
 * carries the number and a generation (corio__efd_key); the record of that
 * number lives in this table until the epoll instance is destroyed, so an
 * event can always be looked up, and a generation that is not the
 * record's current one names a registration of a file the number no
 * longer has: the event is stale and ignored.
 *
 * Registrations are EPOLLONESHOT, armed with the union of the interests of
 * the waits parked on the record, and never deleted: a registration that
 * fired is disarmed and costs nothing; the kernel drops it when its file
 * is finally closed.  Arming MODifies the registration of the number's
 * current file; ENOENT (never added, or the number now names another
 * file) adds a new one under a new generation.  Nothing here removes or
 * changes a registration by number alone: a MOD reaches only the current
 * file's registration, which is the one every wait on this record of this
 * worker asks for.
 *
 * Owner thread only: the table, the records and their wait lists are
 * touched only by the thread of the worker that owns the epoll instance. */
#ifndef CORIO_IO_EPOLL_FD_H
#define CORIO_IO_EPOLL_FD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct corio__ewait corio__ewait;

typedef struct corio__efd {
    corio__ewait *waits; /* parked on this number on this worker (epoll.h) */
    uint32_t gen;        /* generation of the current registration */
    bool added;          /* a registration was added under this number */
} corio__efd;

/* Records in chunks that never move, so that a wait may keep the address
 * of its record while the table grows. */
typedef struct corio__efd_table {
    corio__efd **chunks;
    size_t nchunks;
} corio__efd_table;

/* The data of the eventfd's registration: no descriptor key has it (a
 * key's low half is a number >= 0). */
#define CORIO__EFD_WAKE UINT64_MAX

static inline uint64_t corio__efd_key(int fd, uint32_t gen) {
    return (uint64_t)gen << 32 | (uint32_t)fd;
}
static inline int corio__efd_key_fd(uint64_t key) { return (int)(uint32_t)key; }
static inline uint32_t corio__efd_key_gen(uint64_t key) { return (uint32_t)(key >> 32); }

/* The record of `fd` (>= 0), created (zeroed) on first use; NULL when the
 * table cannot grow (ENOMEM). */
corio__efd *corio__efd_get(corio__efd_table *t, int fd);
/* The record an event names, or NULL when the key is not one of this
 * table's current registrations (never created, or a stale generation). */
corio__efd *corio__efd_lookup(const corio__efd_table *t, uint64_t key);
/* Arm the registration of `fd` on `epfd` for `events` (EPOLLONESHOT is
 * added): 0, or the errno of epoll_ctl (-EPERM: a descriptor epoll cannot
 * wait on, -EBADF: the number is closed, -ENOSPC/-ENOMEM). */
int corio__efd_arm(int epfd, corio__efd *r, int fd, unsigned events);
void corio__efd_free(corio__efd_table *t);

#endif
