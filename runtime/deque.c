/* runtime/deque.c - the per-worker run queue (interface and roles in
 * deque.h; the full argument in docs/deque.md).
 *
 * Owns: the slot array of each queue, and the head/tail protocol.
 *
 * Why not a classic Chase-Lev deque.  There the owner pops at the bottom
 * without a CAS, and that is safe only because each thief takes a single
 * item at the top: owner and thief can meet on one last item only, and they
 * settle it with one CAS.  A thief that steals half reads an old bottom and
 * then claims a whole range with its CAS on top; items in that range that
 * the owner has popped since (without a CAS) are taken twice.  Making it
 * safe means making the owner's pop a CAS as well, and then the only thing
 * left of Chase-Lev is LIFO order for the owner, which the worker's
 * one-item LIFO slot gives better (the newest task, not the newest of 256).
 * So this is the Go runq / tokio queue shape: FIFO ring, every consumer
 * claims at the head with a CAS, the owner alone moves the tail.
 *
 * Invariants (positions are uint64_t; slot of position p is p & mask):
 *   I1. head and tail only grow.  tail is stored by the owner only; head
 *       changes only by CAS from its current value h to h + n, n >= 1, so
 *       its modification order is strictly increasing and every write to it
 *       is a read-modify-write (a release sequence never breaks).
 *   I2. head <= tail <= head + capacity.  Items live at [head, tail).
 *   I3. Only the owner stores into a queue's slots: its pushes, and the
 *       copy-in when it steals into its own queue.  It stores position p
 *       only after an acquire load of head returned a value > p - capacity,
 *       that is after the item at p - capacity was claimed.
 *   I4. A consumer owns positions [h, h + n) exactly when its CAS moved head
 *       from h to h + n.  By I1 those ranges are disjoint and cover every
 *       position once: no item is lost or taken twice.
 *   I5. A thief may read slots before its claim (copy before claim).  If the
 *       CAS then succeeds, what it read are the items pushed at those
 *       positions: the release half of its CAS and the acquire load of head
 *       in I3 order its reads before any reuse of the slots.  If the CAS
 *       fails it throws the copies away.  Slots are atomics (relaxed), so the
 *       racing reads of a failed attempt are not data races.
 *   I6. ABA: a CAS expecting h succeeds against a head that went round the
 *       2^64 space only after 2^64 claimed items (centuries at 10^9/s)
 *       while one thief sits between its load and its CAS.
 */
#include "runtime/deque.h"

#include <errno.h>
#include <stdlib.h>

#include "runtime/panic.h"

_Static_assert(sizeof(corio__deque) == CORIO__DEQUE_SIZE,
               "deque.h: CORIO__DEQUE_SIZE must match the C layout");
_Static_assert(_Alignof(corio__deque) == CORIO__DEQUE_ALIGN,
               "deque.h: CORIO__DEQUE_ALIGN must match the C layout");
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
               "the 64-bit positions must be lock-free atomics");
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2, "slots must be lock-free atomics");

#define MAX_CAPACITY ((size_t)1 << 31)
#define CACHE_LINE 64u

static inline _Atomic(void *) *slot_at(const corio__deque *q, uint64_t pos) {
    return &q->slots[pos & q->mask];
}

static inline uint64_t cap_of(const corio__deque *q) { return q->mask + 1; }

int corio__deque_init(corio__deque *q, size_t capacity) {
    if (capacity < 2 || capacity > MAX_CAPACITY || (capacity & (capacity - 1)) != 0)
        return -EINVAL;
    size_t bytes = capacity * sizeof(_Atomic(void *));
    bytes = (bytes + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
    _Atomic(void *) *s = aligned_alloc(CACHE_LINE, bytes);
    if (s == NULL) return -ENOMEM;
    /* atomic_init: plain initialisation.  The queue reaches other threads
     * later, through whatever publishes the worker (thread start, mutex). */
    for (size_t i = 0; i < capacity; i++) atomic_init(&s[i], NULL);
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    q->slots = s;
    q->mask = (uint64_t)capacity - 1;
    return 0;
}

void corio__deque_fini(corio__deque *q) {
    free((void *)q->slots);
    q->slots = NULL;
}

size_t corio__deque_capacity(const corio__deque *q) { return (size_t)cap_of(q); }

int corio__deque_push(corio__deque *q, void *item) {
    CORIO_ASSERT(item != NULL, "deque items are non-NULL", 0);
    /* relaxed: the owner (this thread) is the only writer of tail. */
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    /* acquire: pairs with the release half of the head CAS in pop,
     * take_half and steal (I3).  Whoever claimed position t - capacity read
     * its slot before that CAS; this load makes that read happen before our
     * store below, so a thief can never see the new item in place of the
     * one it claimed (I5). */
    uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    if (t - h >= cap_of(q)) return -ENOSPC;
    /* relaxed: published by the release store of tail just below. */
    atomic_store_explicit(slot_at(q, t), item, memory_order_relaxed);
    /* release: pairs with the acquire loads of tail in steal and len; a
     * consumer that sees tail > t sees the item in its slot. */
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return 0;
}

void *corio__deque_pop(corio__deque *q) {
    /* relaxed: this thread is the only writer of tail. */
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    /* relaxed: h is only the expected value of the CAS below, which checks
     * it; the slot we read after the claim was stored by this thread. */
    uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    for (;;) {
        if (h == t) return NULL; /* I2: consumers never pass our tail */
        /* release on success: pairs with the acquire head loads in steal
         * and len, handing them the tail stores made before it, so their
         * (head, tail) snapshot has head <= tail.  (Our own later slot
         * stores are ordered after this by program order.)  relaxed on
         * failure: the fresh h is again only an expectation. */
        if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, memory_order_release,
                                                  memory_order_relaxed)) {
            /* relaxed: claimed (I4), and only this thread stores slots
             * (I3), so the slot still holds what this thread pushed. */
            return atomic_load_explicit(slot_at(q, h), memory_order_relaxed);
        }
    }
}

size_t corio__deque_take_half(corio__deque *q, void **out) {
    /* relaxed: this thread is the only writer of tail. */
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    /* relaxed: expectation for the CAS, as in pop. */
    uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    for (;;) {
        uint64_t n = (t - h) / 2;
        if (n == 0) return 0;
        /* release on success / relaxed on failure: as in pop. */
        if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + n, memory_order_release,
                                                  memory_order_relaxed)) {
            for (uint64_t i = 0; i < n; i++) {
                /* relaxed: claimed, and only this thread stores slots. */
                out[i] = atomic_load_explicit(slot_at(q, h + i), memory_order_relaxed);
            }
            return (size_t)n;
        }
    }
}

void *corio__deque_steal(corio__deque *src, corio__deque *dst) {
    CORIO_ASSERT(src != dst, "a worker does not steal from its own queue", 0);
    const uint64_t scap = cap_of(src);

    /* relaxed: the caller owns dst and is the only writer of its tail. */
    uint64_t dt = atomic_load_explicit(&dst->tail, memory_order_relaxed);
    /* acquire: pairs with the release half of the head CAS of dst's own
     * consumers (other thieves), exactly as in push: their reads of the dst
     * slots we are about to fill happen before our stores (I3). */
    uint64_t dh = atomic_load_explicit(&dst->head, memory_order_acquire);
    /* dst's head can only grow meanwhile, so this room only grows. */
    uint64_t room = cap_of(dst) - (dt - dh);

    /* acquire: pairs with the release half of the head CAS of whoever
     * wrote this head; the tail that claimer had seen is then visible to
     * our tail load below, so t >= h. */
    uint64_t h = atomic_load_explicit(&src->head, memory_order_acquire);
    uint64_t n;
    void *first;
    for (;;) {
        /* acquire: pairs with the release store of tail in push (src's
         * owner): the items at positions below t are visible. */
        uint64_t t = atomic_load_explicit(&src->tail, memory_order_acquire);
        uint64_t len = t - h;
        if (len > scap) {
            /* h is stale (the owner popped and pushed since we read it):
             * the snapshot is inconsistent.  acquire: as the load above. */
            h = atomic_load_explicit(&src->head, memory_order_acquire);
            continue;
        }
        if (len == 0) return NULL;
        n = len - len / 2;
        if (n > room + 1) n = room + 1; /* one item is returned, not queued */

        /* Copy before claim (I5).  relaxed: these reads are speculative;
         * the CAS below decides whether they count. */
        first = atomic_load_explicit(slot_at(src, h), memory_order_relaxed);
        for (uint64_t i = 1; i < n; i++) {
            /* relaxed: speculative, as above. */
            void *it = atomic_load_explicit(slot_at(src, h + i), memory_order_relaxed);
            /* relaxed: positions at and past dst's tail, invisible to
             * dst's consumers until the release store of dst's tail below. */
            atomic_store_explicit(slot_at(dst, dt + i - 1), it, memory_order_relaxed);
        }
        /* acq_rel on success: the release half pairs with the acquire head
         * load in push (and in steal's dst room check) on src, ordering our
         * slot reads before src's owner reuses those slots (I3, I5); all
         * later head writes are RMWs, so the release sequence reaches that
         * load whatever claims happen in between.  The acquire half adds
         * nothing needed; it is there because the failure order is acquire
         * and C11 (7.17.7.4) wants it no stronger than the success order.
         * acquire on failure: the fresh h takes the place of the acquire
         * load of head above. */
        if (atomic_compare_exchange_weak_explicit(&src->head, &h, h + n, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    if (n > 1) {
        /* release: pairs with the acquire tail loads in steal (dst's
         * thieves) and len: the copied items are visible with the tail. */
        atomic_store_explicit(&dst->tail, dt + n - 1, memory_order_release);
    }
    return first;
}

size_t corio__deque_len(const corio__deque *q) {
    /* acquire: pairs with the release half of the head CASes, as the first
     * head load in steal, so the tail load below sees tail >= head. */
    uint64_t h = atomic_load_explicit((_Atomic uint64_t *)&q->head, memory_order_acquire);
    /* acquire: pairs with the release store of tail in push. */
    uint64_t t = atomic_load_explicit((_Atomic uint64_t *)&q->tail, memory_order_acquire);
    uint64_t n = t - h;
    /* A head read long before the tail can make n exceed the capacity;
     * the answer is a snapshot either way. */
    return (size_t)(n > cap_of(q) ? cap_of(q) : n);
}

int corio__deque_is_empty(const corio__deque *q) { return corio__deque_len(q) == 0; }

void corio__deque_test_set_pos(corio__deque *q, uint64_t pos) {
    CORIO_ASSERT(corio__deque_len(q) == 0, "test_set_pos needs an empty queue", 0);
    /* relaxed: the caller guarantees no other thread uses q now. */
    atomic_store_explicit(&q->head, pos, memory_order_relaxed);
    /* relaxed: as above. */
    atomic_store_explicit(&q->tail, pos, memory_order_relaxed);
}
