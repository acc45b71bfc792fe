/* runtime/deque.c - the per-worker run queue (interface and roles in
 * deque.h; the argument in docs/deque.md).
 *
 * Owns: the slot array of each queue, and the protocol on its position
 * word.  pos = (tag << 18) | (tail << 9) | head: 9-bit positions (mod 2^9),
 * items at [head, tail), len = tail - head (mod 2^9) <= capacity <= 2^8,
 * so full (len == capacity) and empty (len == 0) are different values; the
 * 46-bit tag counts the word's changes (every CAS adds one, mod 2^46).
 *
 * Invariants:
 *   I1. Every change of head or tail is a CAS on pos from the value the
 *       changer read, so each change is made against a complete, current
 *       snapshot of both ends.  Owner pop (tail - 1), owner push (tail + 1),
 *       push_front (head - 1), take_half and steals (head + n) therefore
 *       never claim the same position twice: if two of them read the same
 *       snapshot, only the first CAS wins and the other re-reads.
 *   I2. Only the owner stores into a queue's slots (its pushes, and the
 *       copy-in when it steals into its own queue), and only at a position
 *       outside [head, tail) of its latest snapshot: the slot it fills
 *       belongs to no item until its CAS publishes it (release).
 *   I3. Thieves read slots before their claim (copy before claim).  They
 *       read after an acquire load of pos that saw the pushes' release CAS,
 *       so they see the items; if their CAS succeeds, pos had not changed,
 *       so no slot in their range was popped or refilled meanwhile.  If it
 *       fails, the copies are discarded.  Slots are atomics (relaxed), so
 *       the racing reads of a failed attempt are not data races.
 *   I4. ABA: the positions alone repeat easily, because both ends move both
 *       ways: an owner pop then push, or a steal then a push_front, brings
 *       (head, tail) back to a snapshot a thief may still hold, with other
 *       items in the slots (tests/test_deque.cc replays both).  The tag
 *       makes the word repeat only after 2^46 changes while one thief sits
 *       between its load and its CAS.  How long that takes: every change
 *       is a CAS on this one word, and the fastest it changes is the owner
 *       alone in a push/pop loop, about 1.5 * 10^8 changes/s measured on a
 *       current x86 core (a worker runs a task between changes, and
 *       thieves contending for the line slow it down further).  Assumed
 *       rate 10^8 changes/s: 2^46 ~= 7.0 * 10^13 changes take 7.0 * 10^5 s,
 *       about 8 days (5.4 days at the measured peak, 19.5 hours even at
 *       10^9/s).  The 32-bit tag this replaces came round in 2^32 / 10^8
 *       ~= 43 s, within a VM pause or a long deschedule; a thief stalled
 *       for days between two instructions is not a case to design for.
 *       That is why the positions are short: 9 bits is the least that
 *       holds capacity 256 (CORIO__DEQUE_CAPACITY) with full != empty, and
 *       it leaves the rest of the 64-bit word (a lock-free CAS on every
 *       target) to the tag.
 *
 * Memory orders: pushes CAS with release (they publish the slot and the
 * item's contents); every load of pos that precedes reading or refilling a
 * slot is acquire, so a thief's slot reads (before its release CAS) happen
 * before the owner refills those slots; the owner's pop reads only a slot
 * it wrote itself, so it is relaxed.
 */
#include "runtime/deque.h"

#include <errno.h>
#include <stdlib.h>

#include "runtime/panic.h"

_Static_assert(sizeof(corio__deque) == CORIO__DEQUE_SIZE,
               "deque.h: CORIO__DEQUE_SIZE must match the C layout");
_Static_assert(_Alignof(corio__deque) == CORIO__DEQUE_ALIGN,
               "deque.h: CORIO__DEQUE_ALIGN must match the C layout");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the position word must be a lock-free atomic");
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2, "slots must be lock-free atomics");

#define POS_BITS CORIO__DEQUE_POS_BITS
#define POS_MASK ((1u << POS_BITS) - 1)
#define TAG_SHIFT (2 * POS_BITS)
#define MAX_CAPACITY ((size_t)CORIO__DEQUE_MAX_CAPACITY)

_Static_assert(CORIO__DEQUE_MAX_CAPACITY == 1u << (POS_BITS - 1),
               "len <= capacity must stay below the position modulus (full != empty)");
_Static_assert(CORIO__DEQUE_TAG_BITS == 64 - TAG_SHIFT, "the tag is the rest of the word");
_Static_assert(CORIO__DEQUE_CAPACITY <= CORIO__DEQUE_MAX_CAPACITY, "the runtime's capacity fits");

/* Positions are computed in uint32_t and reduced mod 2^POS_BITS where they
 * are read out of or packed into the word; in between, h - 1 or t + n may
 * leave that range, which slot_at does not mind (capacity divides 2^32). */
static inline uint32_t head_of(uint64_t p) { return (uint32_t)p & POS_MASK; }
static inline uint32_t tail_of(uint64_t p) { return (uint32_t)(p >> POS_BITS) & POS_MASK; }
static inline uint32_t len_of(uint64_t p) { return (tail_of(p) - head_of(p)) & POS_MASK; }
/* The word after a change from `old` to (head, tail): the tag goes up
 * (mod 2^46: the carry leaves the word). */
static inline uint64_t next(uint64_t old, uint32_t head, uint32_t tail) {
    return (((old >> TAG_SHIFT) + 1) << TAG_SHIFT) | ((uint64_t)(tail & POS_MASK) << POS_BITS) |
           (head & POS_MASK);
}

static inline _Atomic(void *) *slot_at(const corio__deque *q, uint32_t pos) {
    return &q->slots[pos & q->mask];
}

static inline uint32_t cap_of(const corio__deque *q) { return (uint32_t)(q->mask + 1); }

int corio__deque_init(corio__deque *q, size_t capacity) {
    if (capacity < 2 || capacity > MAX_CAPACITY || (capacity & (capacity - 1)) != 0)
        return -EINVAL;
    q->slots = calloc(capacity, sizeof *q->slots);
    if (q->slots == NULL) return -ENOMEM;
    for (size_t i = 0; i < capacity; i++) atomic_init(&q->slots[i], NULL);
    q->mask = capacity - 1;
    atomic_init(&q->pos, 0);
    return 0;
}

void corio__deque_fini(corio__deque *q) {
    free(q->slots);
    q->slots = NULL;
}

size_t corio__deque_capacity(const corio__deque *q) { return cap_of(q); }

int corio__deque_push(corio__deque *q, void *item) {
    CORIO_ASSERT(item != NULL, "deque.c: NULL item pushed", 0);
    /* acquire: pairs with a thief's release CAS, so its reads of the slot
     * we are about to refill happened before (I3). */
    uint64_t p = atomic_load_explicit(&q->pos, memory_order_acquire);
    for (;;) {
        uint32_t h = head_of(p), t = tail_of(p);
        if (len_of(p) >= cap_of(q)) return -ENOSPC;
        atomic_store_explicit(slot_at(q, t), item, memory_order_relaxed); /* I2 */
        /* release: publishes the slot and the item's contents to thieves,
         * pairs with their acquire load of pos. */
        if (atomic_compare_exchange_weak_explicit(&q->pos, &p, next(p, h, t + 1),
                                                  memory_order_release, memory_order_acquire))
            return 0;
    }
}

int corio__deque_push_front(corio__deque *q, void *item) {
    CORIO_ASSERT(item != NULL, "deque.c: NULL item pushed", 0);
    /* acquire: as in push. */
    uint64_t p = atomic_load_explicit(&q->pos, memory_order_acquire);
    for (;;) {
        uint32_t h = head_of(p), t = tail_of(p);
        if (len_of(p) >= cap_of(q)) return -ENOSPC;
        atomic_store_explicit(slot_at(q, h - 1), item, memory_order_relaxed); /* I2 */
        /* release: as in push. */
        if (atomic_compare_exchange_weak_explicit(&q->pos, &p, next(p, h - 1, t),
                                                  memory_order_release, memory_order_acquire))
            return 0;
    }
}

void *corio__deque_pop(corio__deque *q) {
    uint64_t p = atomic_load_explicit(&q->pos, memory_order_relaxed);
    for (;;) {
        uint32_t h = head_of(p), t = tail_of(p);
        if (h == t) return NULL;
        /* The owner wrote this slot itself (I2); a thief never writes it. */
        void *item = atomic_load_explicit(slot_at(q, t - 1), memory_order_relaxed);
        /* relaxed suffices for the claim itself: atomicity of the CAS is
         * what keeps the item from a thief (I1). */
        if (atomic_compare_exchange_weak_explicit(&q->pos, &p, next(p, h, t - 1),
                                                  memory_order_relaxed, memory_order_relaxed))
            return item;
    }
}

/* Copy n items from the head of q into out, then claim them with one CAS.
 * Returns n, or 0 if the snapshot changed (the caller re-reads). */
static uint32_t claim_head(corio__deque *q, uint64_t *p, uint32_t n, void **out) {
    uint32_t h = head_of(*p), t = tail_of(*p);
    for (uint32_t i = 0; i < n; i++)
        out[i] = atomic_load_explicit(slot_at(q, h + i), memory_order_relaxed); /* I3 */
    /* acq_rel: the acquire half (on failure too) re-reads a snapshot whose
     * slots we may read next; the release half orders our slot reads before
     * the owner's later refills (it reads pos before refilling). */
    if (atomic_compare_exchange_strong_explicit(&q->pos, p, next(*p, h + n, t),
                                                memory_order_acq_rel, memory_order_acquire))
        return n;
    return 0;
}

void *corio__deque_pop_front(corio__deque *q) {
    uint64_t p = atomic_load_explicit(&q->pos, memory_order_acquire);
    for (;;) {
        if (tail_of(p) == head_of(p)) return NULL;
        void *item;
        if (claim_head(q, &p, 1, &item) == 1) return item;
    }
}

size_t corio__deque_take_half(corio__deque *q, void **out) {
    uint64_t p = atomic_load_explicit(&q->pos, memory_order_acquire);
    for (;;) {
        uint32_t len = len_of(p);
        uint32_t n = len / 2;
        if (n == 0) return 0;
        if (claim_head(q, &p, n, out) == n) return n;
    }
}

void *corio__deque_steal(corio__deque *src, corio__deque *dst) {
    void *buf[CORIO__DEQUE_CAPACITY];
    /* Room in dst: only its owner (us) adds to it, so it cannot shrink. */
    uint64_t dp = atomic_load_explicit(&dst->pos, memory_order_relaxed);
    uint32_t room = cap_of(dst) - len_of(dp);
    uint32_t max = room + 1; /* one item is returned, not stored */
    if (max > CORIO__DEQUE_CAPACITY) max = CORIO__DEQUE_CAPACITY;
    /* acquire: pairs with the owner's release CAS in push (I3). */
    uint64_t p = atomic_load_explicit(&src->pos, memory_order_acquire);
    uint32_t n;
    for (;;) {
        uint32_t len = len_of(p);
        if (len == 0) return NULL;
        n = len - len / 2;
        if (n > max) n = max;
        if (claim_head(src, &p, n, buf) == n) break;
    }
    for (uint32_t i = 1; i < n; i++)
        if (corio__deque_push(dst, buf[i]) != 0)
            corio__panic(__func__, "steal overflowed the thief's queue", n);
    return buf[0];
}

size_t corio__deque_len(const corio__deque *q) {
    uint64_t p = atomic_load_explicit(&((corio__deque *)q)->pos, memory_order_acquire);
    return len_of(p);
}

int corio__deque_is_empty(const corio__deque *q) { return corio__deque_len(q) == 0; }

void corio__deque_test_set_pos(corio__deque *q, uint64_t pos) {
    uint64_t p = pos & POS_MASK;
    atomic_store_explicit(&q->pos, (p << POS_BITS) | p, memory_order_relaxed);
}

uint64_t corio__deque_test_word(const corio__deque *q) {
    /* acquire: as a thief's load before it reads slots (I3). */
    return atomic_load_explicit(&((corio__deque *)q)->pos, memory_order_acquire);
}

void corio__deque_test_add_tag(corio__deque *q, uint64_t n) {
    /* Adding n to the tag field is adding n << TAG_SHIFT to the word:
     * carries out of the tag leave the word, so it wraps as in next().
     * relaxed: only on an unshared queue; still an RMW, so it continues
     * the release sequences the next push relies on. */
    atomic_fetch_add_explicit(&q->pos, n << TAG_SHIFT, memory_order_relaxed);
}

int corio__deque_test_claim(corio__deque *q, uint64_t snapshot, void **out) {
    *out = NULL;
    if (len_of(snapshot) == 0) return 0;
    void *item;
    if (claim_head(q, &snapshot, 1, &item) != 1) return 0;
    *out = item;
    return 1;
}
