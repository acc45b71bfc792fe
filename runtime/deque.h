/* runtime/deque.h - the per-worker run queue: a bounded ring of `void *`
 * items with one producer (the owning worker) and many consumers (the owner
 * and the thieves).
 *
 * Shape (Go's runq, tokio's multi_thread queue; docs/deque.md says why):
 *
 *   - The owner pushes at the tail and pops at the head: the ring is FIFO
 *     for everybody.  LIFO locality ("run the task I just woke next") comes
 *     from a one-item slot that the worker keeps beside the ring; the ring
 *     does not know about it.
 *   - Every consumer (owner pop, owner take-half, thief steal) claims items
 *     with one CAS on `head`; only the owner stores `tail`.
 *   - A thief copies about half of the victim's items out before its claim
 *     and keeps them only if the CAS succeeds (copy before claim).  This is
 *     why the slots are atomics: those speculative reads may race with the
 *     owner overwriting a slot, and then the CAS fails.
 *   - Positions are 64-bit counters that never wrap in practice; a slot is
 *     `pos & (capacity - 1)`.  head <= tail <= head + capacity.  A head CAS
 *     cannot succeed against a recycled value (ABA) unless 2^64 items were
 *     consumed between a thief's load and its CAS.
 *
 * Roles.  "Owner" is a role, held by one thread at a time (the worker that
 * runs this queue).  Handing the role to another thread needs a
 * happens-before edge (a mutex, a thread start) between the two.  The
 * owner-only calls are push, pop and take_half, and being `dst` of a steal.
 *
 * Items are non-NULL pointers (a NULL return means "nothing").
 *
 * C++ code (the tests) sees the struct as an opaque blob of the same size
 * and alignment; deque.c checks that the two agree. */
#ifndef CORIO_RUNTIME_DEQUE_H
#define CORIO_RUNTIME_DEQUE_H

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdatomic.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The capacity the runtime uses for each worker's queue. */
#define CORIO__DEQUE_CAPACITY 256u

/* sizeof / alignof of corio__deque: one cache line. */
#define CORIO__DEQUE_SIZE 64
#define CORIO__DEQUE_ALIGN 64

#ifdef __cplusplus
typedef struct corio__deque {
    alignas(CORIO__DEQUE_ALIGN) unsigned char opaque_[CORIO__DEQUE_SIZE];
} corio__deque;
#else
typedef struct corio__deque {
    /* Position of the oldest item.  Advanced only by CAS (owner pop,
     * take_half, thieves); it only grows. */
    _Alignas(CORIO__DEQUE_ALIGN) _Atomic uint64_t head;
    /* Position one past the newest item.  Stored by the owner only. */
    _Atomic uint64_t tail;
    /* capacity slots; item at position p lives in slots[p & mask]. */
    _Atomic(void *) *slots;
    uint64_t mask; /* capacity - 1; set by init, read-only after */
} corio__deque;
#endif

/* Sets up an empty queue of `capacity` slots (a power of two, 2 .. 2^31).
 * Returns 0, -EINVAL (bad capacity) or -ENOMEM. */
int corio__deque_init(corio__deque *q, size_t capacity);

/* Frees the slots.  No other thread may use the queue any more; items still
 * in it are not touched (the caller drains it first if they matter). */
void corio__deque_fini(corio__deque *q);

/* Owner only.  Appends `item` (non-NULL) at the tail.  Returns 0, or
 * -ENOSPC when the ring is full: the caller then moves a batch to the
 * global injection queue with corio__deque_take_half and sends `item`
 * along with it. */
int corio__deque_push(corio__deque *q, void *item);

/* Owner only.  Removes and returns the oldest item, or NULL if empty. */
void *corio__deque_pop(corio__deque *q);

/* Owner only.  The overflow path: removes the oldest half of the items
 * (len / 2, rounded down) with one CAS and writes them, oldest first, to
 * out[], which has room for capacity / 2 items.  Returns how many it moved.
 * Called right after push failed, that is capacity / 2, unless thieves took
 * items in between (then fewer, possibly 0).  Typical use:
 *
 *     if (corio__deque_push(q, t) != 0) {
 *         void *batch[CORIO__DEQUE_CAPACITY / 2 + 1];
 *         size_t n = corio__deque_take_half(q, batch);
 *         batch[n++] = t;                       // the new item goes last
 *         inject_push_batch(batch, n);
 *     }
 */
size_t corio__deque_take_half(corio__deque *q, void **out);

/* Thief: called by the owner of `dst` (dst != src).  Claims about half of
 * src's items (len - len / 2: 1 of 1, 1 of 2, 2 of 3, 2 of 4, ...) with one
 * CAS on src's head, returns the oldest of them for the caller to run and
 * appends the others to dst.  Returns NULL if src was empty.
 *
 * Precondition: dst has room for the batch.  A worker steals only when its
 * own queue is empty or nearly so, and all queues have the same capacity,
 * so half of a victim always fits.  If dst has less room, the batch is cut
 * to what fits (at least the one returned item), never overflowing dst. */
void *corio__deque_steal(corio__deque *src, corio__deque *dst);

/* Any thread.  The number of items, a snapshot that may be stale by the
 * time it returns (exact when called by the owner with no thief running). */
size_t corio__deque_len(const corio__deque *q);

/* Any thread.  corio__deque_len(q) == 0, with the same caveat. */
int corio__deque_is_empty(const corio__deque *q);

/* The capacity given to init. */
size_t corio__deque_capacity(const corio__deque *q);

/* Test hook: on an empty queue that no other thread uses, moves head and
 * tail to `pos`, so tests can cross the 2^64 wrap of the positions. */
void corio__deque_test_set_pos(corio__deque *q, uint64_t pos);

#ifdef __cplusplus
}
#endif

#endif
