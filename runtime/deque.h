/* runtime/deque.h - the per-worker run queue: a bounded work-stealing
 * deque of `void *` items (Chase-Lev's shape: the owner works at the newest
 * end, thieves take from the oldest end), with steal-half.
 *
 *   - The owner pushes and pops at the tail: LIFO for the owner, so a
 *     fork-join program runs depth-first and keeps few tasks (and stacks)
 *     alive.  It can also push at the head (push_front), where a task that
 *     yields goes to wait its turn behind everything else.
 *   - Thieves claim about half of the items at the head, oldest first (the
 *     biggest pieces of work in a fork-join tree).
 *   - head and tail are 9-bit positions packed into one 64-bit atomic word
 *     with a 46-bit tag that every change increments, and every change of
 *     either end is a CAS on that word (the tag stops ABA: both ends move
 *     both ways, so the positions alone come back to old values; 2^46
 *     changes take days, see I4 in deque.c).  This is what makes
 *     an owner pop and a steal-half safe together: a thief that read an old
 *     tail cannot claim items the owner has popped since, because the
 *     owner's pop changed the word and the thief's CAS fails.  (The classic
 *     Chase-Lev owner pop, without a CAS, is only safe with single-item
 *     steals; docs/deque.md has the argument.)
 *   - A thief copies the items out before its claim and keeps them only if
 *     the CAS succeeds; slots are atomics so those reads are not races.
 *
 * Roles.  "Owner" is a role, held by one thread at a time (the worker that
 * runs this queue).  Handing the role to another thread needs a
 * happens-before edge (a mutex, a thread start) between the two.  The
 * owner-only calls are push, push_front, pop and take_half, and being `dst`
 * of a steal.
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

/* The position word: (tag << 2 * POS_BITS) | (tail << POS_BITS) | head.
 * Positions are mod 2^POS_BITS, so a capacity can be at most half of that
 * (len <= capacity must not look like a wrap: full != empty); the tag gets
 * the rest of the 64 bits.  Short positions buy a wide tag (deque.c, I4). */
#define CORIO__DEQUE_POS_BITS 9u
#define CORIO__DEQUE_TAG_BITS (64u - 2u * CORIO__DEQUE_POS_BITS) /* 46 */
#define CORIO__DEQUE_MAX_CAPACITY (1u << (CORIO__DEQUE_POS_BITS - 1)) /* 256 */

/* sizeof / alignof of corio__deque: one cache line. */
#define CORIO__DEQUE_SIZE 64
#define CORIO__DEQUE_ALIGN 64

#ifdef __cplusplus
typedef struct corio__deque {
    alignas(CORIO__DEQUE_ALIGN) unsigned char opaque_[CORIO__DEQUE_SIZE];
} corio__deque;
#else
typedef struct corio__deque {
    /* (tag << 18) | (tail << 9) | head: positions of one past the newest
     * item and of the oldest item, mod 2^9, and a 46-bit change counter.
     * Changed only by CAS. */
    _Alignas(CORIO__DEQUE_ALIGN) _Atomic uint64_t pos;
    /* capacity slots; item at position p lives in slots[p & mask]. */
    _Atomic(void *) *slots;
    uint64_t mask; /* capacity - 1; set by init, read-only after */
} corio__deque;
#endif

/* Sets up an empty queue of `capacity` slots (a power of two, 2 ..
 * CORIO__DEQUE_MAX_CAPACITY = 256).  Returns 0, -EINVAL (bad capacity) or
 * -ENOMEM. */
int corio__deque_init(corio__deque *q, size_t capacity);

/* Frees the slots.  No other thread may use the queue any more; items still
 * in it are not touched (the caller drains it first if they matter). */
void corio__deque_fini(corio__deque *q);

/* Owner only.  Appends `item` (non-NULL) at the tail.  Returns 0, or
 * -ENOSPC when the ring is full: the caller then moves a batch to the
 * global injection queue with corio__deque_take_half and sends `item`
 * along with it. */
int corio__deque_push(corio__deque *q, void *item);

/* Owner only.  Removes and returns the newest item, or NULL if empty. */
void *corio__deque_pop(corio__deque *q);

/* Owner only.  Removes and returns the oldest item, or NULL if empty (the
 * worker's anti-starvation turn). */
void *corio__deque_pop_front(corio__deque *q);

/* Owner only.  Puts `item` at the head (oldest end): it runs after every
 * item now queued, and is the first a thief takes.  0 or -ENOSPC. */
int corio__deque_push_front(corio__deque *q, void *item);

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
 * tail to `pos` (mod 2^CORIO__DEQUE_POS_BITS) and sets the tag to 0, so
 * tests can cross the wrap of the positions. */
void corio__deque_test_set_pos(corio__deque *q, uint64_t pos);

/* Test hook: the position word as a thief would load it (acquire), to be
 * handed to corio__deque_test_claim later. */
uint64_t corio__deque_test_word(const corio__deque *q);

/* Test hook: on a queue that no other thread uses, stands in for `n`
 * changes of the word: adds `n` to its change counter (mod
 * 2^CORIO__DEQUE_TAG_BITS, as the counter wraps) and leaves head and tail
 * as they are. */
void corio__deque_test_add_tag(corio__deque *q, uint64_t n);

/* Test hook: what a thief that stalled after loading `snapshot` does when
 * it resumes: copies the head item of the snapshot into *out and claims
 * that one item with a CAS from `snapshot`.  Returns 1 if the CAS
 * succeeded (the item is the caller's), else 0 with *out = NULL; 0 also if
 * the snapshot was empty. */
int corio__deque_test_claim(corio__deque *q, uint64_t snapshot, void **out);

#ifdef __cplusplus
}
#endif

#endif
