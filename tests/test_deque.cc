// tests/test_deque.cc - the per-worker run queue (runtime/deque.h) alone,
// on one thread.
//
// Owns: single-threaded semantics (owner LIFO at the tail, push_front at
// the head, full at capacity for both pushes, take-half and steal-half of
// the oldest items, wraparound of slots and of the 9-bit positions), and
// replays of a thief's steps interleaved with the owner's (the reason for
// the packed position word and for its wide change counter).  The
// concurrent stress suites live in test_deque_stress.cc; the shared
// helpers in support/deque_helpers.h.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/deque.h"
#include "support/deque_helpers.h"

namespace {

// Positions run mod kPosMod (deque.h: CORIO__DEQUE_POS_BITS).
constexpr uint64_t kPosMod = uint64_t{1} << CORIO__DEQUE_POS_BITS;
constexpr size_t kMaxCap = CORIO__DEQUE_MAX_CAPACITY;

// ---------------------------------------------------------------------------
// Single-threaded semantics.

TEST(Deque, InitRejectsBadCapacity) {
    corio__deque q;
    EXPECT_EQ(-EINVAL, corio__deque_init(&q, 0));
    EXPECT_EQ(-EINVAL, corio__deque_init(&q, 1));
    EXPECT_EQ(-EINVAL, corio__deque_init(&q, 3));
    EXPECT_EQ(-EINVAL, corio__deque_init(&q, 257));
    ASSERT_EQ(0, corio__deque_init(&q, 2));
    EXPECT_EQ(2u, corio__deque_capacity(&q));
    corio__deque_fini(&q);
    ASSERT_EQ(0, corio__deque_init(&q, CORIO__DEQUE_CAPACITY));
    EXPECT_EQ(256u, corio__deque_capacity(&q));
    corio__deque_fini(&q);
}

// Positions mod 2^9 leave room for 256 items at most (full != empty); the
// capacities 512 .. 2^15 that the 16-bit positions allowed are refused.
TEST(Deque, InitRejectsCapacityAboveMaximum) {
    static_assert(kMaxCap == 256 && kPosMod == 2 * kMaxCap, "deque.h: 9-bit positions");
    corio__deque q;
    for (size_t cap :
         {2 * kMaxCap, 4 * kMaxCap, size_t{1} << 15, size_t{1} << 16, size_t{1} << 30}) {
        SCOPED_TRACE(cap);
        EXPECT_EQ(-EINVAL, corio__deque_init(&q, cap));
    }
    ASSERT_EQ(0, corio__deque_init(&q, kMaxCap));
    EXPECT_EQ(kMaxCap, corio__deque_capacity(&q));
    corio__deque_fini(&q);
}

TEST(Deque, EmptyQueue) {
    Q q(4);
    EXPECT_EQ(0u, corio__deque_len(q));
    EXPECT_TRUE(corio__deque_is_empty(q));
    EXPECT_EQ(nullptr, corio__deque_pop(q));
    void *out[2];
    EXPECT_EQ(0u, corio__deque_take_half(q, out));
    Q d(4);
    EXPECT_EQ(nullptr, corio__deque_steal(q, d));
    EXPECT_TRUE(corio__deque_is_empty(d));
}

TEST(Deque, OwnerPopIsLifo) {
    Q q(256);
    for (uint64_t i = 0; i < 100; i++) ASSERT_EQ(0, corio__deque_push(q, item(i)));
    EXPECT_EQ(100u, corio__deque_len(q));
    for (uint64_t i = 100; i-- > 0;) ASSERT_EQ(item(i), corio__deque_pop(q));
    EXPECT_EQ(nullptr, corio__deque_pop(q));
    // Interleaved: the item pushed last is always the next one popped.
    ASSERT_EQ(0, corio__deque_push(q, item(0)));
    ASSERT_EQ(0, corio__deque_push(q, item(1)));
    EXPECT_EQ(item(1), corio__deque_pop(q));
    ASSERT_EQ(0, corio__deque_push(q, item(2)));
    EXPECT_EQ(item(2), corio__deque_pop(q));
    EXPECT_EQ(item(0), corio__deque_pop(q));
    EXPECT_EQ(nullptr, corio__deque_pop(q));
}

// push_front puts an item at the oldest end: the owner gets it after
// everything else, a thief gets it before everything else.
TEST(Deque, PushFrontIsLastForOwnerFirstForThieves) {
    Q q(8);
    ASSERT_EQ(0, corio__deque_push(q, item(0)));
    ASSERT_EQ(0, corio__deque_push(q, item(1)));
    ASSERT_EQ(0, corio__deque_push_front(q, item(10)));
    ASSERT_EQ(0, corio__deque_push(q, item(2)));
    ASSERT_EQ(0, corio__deque_push_front(q, item(11)));
    // Oldest to newest: 11 10 0 1 2.
    EXPECT_EQ(5u, corio__deque_len(q));
    EXPECT_EQ((std::vector<void *>{item(2), item(1), item(0), item(10), item(11)}), drain(q));

    for (uint64_t i = 0; i < 3; i++) ASSERT_EQ(0, corio__deque_push(q, item(i)));
    ASSERT_EQ(0, corio__deque_push_front(q, item(10)));
    ASSERT_EQ(0, corio__deque_push_front(q, item(11)));
    // Oldest to newest: 11 10 0 1 2; a thief claims 3 of 5, oldest first.
    Q d(8);
    EXPECT_EQ(item(11), corio__deque_steal(q, d));
    EXPECT_EQ((std::vector<void *>{item(0), item(10)}), drain(d));
    EXPECT_EQ((std::vector<void *>{item(2), item(1)}), drain(q));

    // Into an empty queue push_front is the only item: the owner gets it.
    ASSERT_EQ(0, corio__deque_push_front(q, item(7)));
    EXPECT_EQ(item(7), corio__deque_pop(q));
    EXPECT_TRUE(corio__deque_is_empty(q));
}

TEST(Deque, FullAtCapacity) {
    Q q(4);
    for (uint64_t i = 0; i < 4; i++) ASSERT_EQ(0, corio__deque_push(q, item(i)));
    EXPECT_EQ(4u, corio__deque_len(q));
    EXPECT_EQ(-ENOSPC, corio__deque_push(q, item(4)));
    EXPECT_EQ(-ENOSPC, corio__deque_push_front(q, item(4)));
    EXPECT_EQ(-ENOSPC, corio__deque_push(q, item(4)));
    EXPECT_EQ(4u, corio__deque_len(q));
    EXPECT_EQ(item(3), corio__deque_pop(q));
    EXPECT_EQ(0, corio__deque_push(q, item(4)));
    EXPECT_EQ(-ENOSPC, corio__deque_push(q, item(5)));
    EXPECT_EQ(-ENOSPC, corio__deque_push_front(q, item(5)));
    EXPECT_EQ((std::vector<void *>{item(4), item(2), item(1), item(0)}), drain(q));
    EXPECT_TRUE(corio__deque_is_empty(q));
}

TEST(Deque, FullAtCapacityWithPushFront) {
    Q q(4);
    for (uint64_t i = 0; i < 4; i++) ASSERT_EQ(0, corio__deque_push_front(q, item(i)));
    EXPECT_EQ(4u, corio__deque_len(q));
    EXPECT_EQ(-ENOSPC, corio__deque_push_front(q, item(4)));
    EXPECT_EQ(-ENOSPC, corio__deque_push(q, item(4)));
    EXPECT_EQ(4u, corio__deque_len(q));
    // Oldest to newest: 3 2 1 0.
    EXPECT_EQ(item(0), corio__deque_pop(q));
    EXPECT_EQ(0, corio__deque_push_front(q, item(4)));
    EXPECT_EQ(-ENOSPC, corio__deque_push_front(q, item(5)));
    EXPECT_EQ(-ENOSPC, corio__deque_push(q, item(5)));
    EXPECT_EQ((std::vector<void *>{item(1), item(2), item(3), item(4)}), drain(q));

    // Mixed: two at each end.
    ASSERT_EQ(0, corio__deque_push(q, item(0)));
    ASSERT_EQ(0, corio__deque_push_front(q, item(1)));
    ASSERT_EQ(0, corio__deque_push(q, item(2)));
    ASSERT_EQ(0, corio__deque_push_front(q, item(3)));
    EXPECT_EQ(-ENOSPC, corio__deque_push(q, item(4)));
    EXPECT_EQ(-ENOSPC, corio__deque_push_front(q, item(4)));
    EXPECT_EQ((std::vector<void *>{item(2), item(0), item(1), item(3)}), drain(q));
}

TEST(Deque, TakeHalfMovesOldestHalf) {
    for (size_t cap : {size_t{4}, size_t{256}}) {
        SCOPED_TRACE(cap);
        Q q(cap);
        for (uint64_t i = 0; i < cap; i++) ASSERT_EQ(0, corio__deque_push(q, item(i)));
        ASSERT_EQ(-ENOSPC, corio__deque_push(q, item(cap)));
        std::vector<void *> out(cap / 2 + 1, nullptr);
        ASSERT_EQ(cap / 2, corio__deque_take_half(q, out.data()));
        for (uint64_t i = 0; i < cap / 2; i++) EXPECT_EQ(item(i), out[i]);
        EXPECT_EQ(nullptr, out[cap / 2]); // wrote exactly cap / 2
        EXPECT_EQ(cap / 2, corio__deque_len(q));
        ASSERT_EQ(0, corio__deque_push(q, item(cap)));
        EXPECT_EQ(item(cap), corio__deque_pop(q)); // the newest first
        for (uint64_t i = cap; i-- > cap / 2;) EXPECT_EQ(item(i), corio__deque_pop(q));
        EXPECT_EQ(nullptr, corio__deque_pop(q));
    }
}

// Items put at the front are the oldest, so take_half moves them first.
TEST(Deque, TakeHalfTakesPushFrontItemsFirst) {
    Q q(4);
    ASSERT_EQ(0, corio__deque_push(q, item(0)));
    ASSERT_EQ(0, corio__deque_push(q, item(1)));
    ASSERT_EQ(0, corio__deque_push_front(q, item(10)));
    ASSERT_EQ(0, corio__deque_push_front(q, item(11)));
    ASSERT_EQ(-ENOSPC, corio__deque_push_front(q, item(12)));
    void *out[3] = {nullptr, nullptr, nullptr};
    ASSERT_EQ(2u, corio__deque_take_half(q, out));
    EXPECT_EQ(item(11), out[0]);
    EXPECT_EQ(item(10), out[1]);
    EXPECT_EQ(nullptr, out[2]);
    EXPECT_EQ((std::vector<void *>{item(1), item(0)}), drain(q));
}

TEST(Deque, TakeHalfOfOddAndSmallCounts) {
    Q q(4);
    void *out[2] = {nullptr, nullptr};
    ASSERT_EQ(0, corio__deque_push(q, item(0)));
    EXPECT_EQ(0u, corio__deque_take_half(q, out)); // half of 1 is 0
    EXPECT_EQ(nullptr, out[0]);
    ASSERT_EQ(0, corio__deque_push(q, item(1)));
    ASSERT_EQ(0, corio__deque_push(q, item(2)));
    EXPECT_EQ(1u, corio__deque_take_half(q, out)); // half of 3 is 1
    EXPECT_EQ(item(0), out[0]);
    EXPECT_EQ(nullptr, out[1]);
    EXPECT_EQ(item(2), corio__deque_pop(q));
    EXPECT_EQ(item(1), corio__deque_pop(q));
    EXPECT_EQ(nullptr, corio__deque_pop(q));
}

// A reference model (oldest at the front) driven through the same
// operations as the queue; every result is compared with it.
struct Model {
    std::deque<uint64_t> d;
    size_t cap;
    uint64_t pushes = 0, fronts = 0, fulls = 0, pops = 0, steals = 0;
};

// The owner-side operations and a steal into `dst` (drained here, so it
// always has room), checked against the model; callers wrap them in
// ASSERT_NO_FATAL_FAILURE to stop at the first mismatch.
void model_push(corio__deque *q, Model &m, uint64_t v, bool front) {
    int rc = front ? corio__deque_push_front(q, item(v)) : corio__deque_push(q, item(v));
    if (m.d.size() == m.cap) {
        ASSERT_EQ(-ENOSPC, rc) << (front ? "push_front" : "push") << " of " << v;
        m.fulls++;
        return;
    }
    ASSERT_EQ(0, rc) << (front ? "push_front" : "push") << " of " << v;
    if (front) m.d.push_front(v), m.fronts++;
    else m.d.push_back(v), m.pushes++;
}

void model_pop(corio__deque *q, Model &m) {
    void *p = corio__deque_pop(q);
    if (m.d.empty()) {
        ASSERT_EQ(nullptr, p);
        return;
    }
    ASSERT_EQ(item(m.d.back()), p);
    m.d.pop_back();
    m.pops++;
}

void model_steal(corio__deque *q, corio__deque *dst, Model &m) {
    ASSERT_TRUE(corio__deque_is_empty(dst));
    void *p = corio__deque_steal(q, dst);
    if (m.d.empty()) {
        ASSERT_EQ(nullptr, p);
        return;
    }
    const size_t n = m.d.size() - m.d.size() / 2;
    ASSERT_EQ(item(m.d.front()), p);
    m.d.pop_front();
    m.steals++;
    std::vector<void *> want; // dst holds the next n - 1, in order; its pop is LIFO
    for (size_t i = 0; i + 1 < n; i++) {
        want.insert(want.begin(), item(m.d.front()));
        m.d.pop_front();
    }
    ASSERT_EQ(want, drain(dst));
}

// Runs `cycles` cycles over the model from the queue's current (empty)
// state: each cycle fills to a level 1..cap with a mix of push and
// push_front (checking -ENOSPC at cap for both), then empties it to 0 or 1
// item with a mix of pop and steal.  The mix rotates with the cycle number,
// so over many cycles every fill level meets every slot offset and every
// combination of ends.
void run_model_cycles(corio__deque *q, corio__deque *dst, size_t cap, int cycles, uint64_t &next,
                      Model &m) {
    m.cap = cap;
    for (int cycle = 0; cycle < cycles; cycle++) {
        const size_t target = 1 + static_cast<size_t>(cycle) % cap;
        const unsigned mix = static_cast<unsigned>(cycle / static_cast<int>(cap));
        for (unsigned k = 0; m.d.size() < target; k++) {
            const bool front = ((mix >> (k % 4)) & 1) != 0;
            ASSERT_NO_FATAL_FAILURE(model_push(q, m, next++, front));
        }
        if (target == cap) {
            ASSERT_NO_FATAL_FAILURE(model_push(q, m, next, false));
            ASSERT_NO_FATAL_FAILURE(model_push(q, m, next, true));
        }
        ASSERT_EQ(m.d.size(), corio__deque_len(q));
        // Leave one behind every other cycle so head and tail drift apart
        // from slot 0 by odd amounts.
        const size_t keep = (cycle % 2) ? 0 : 1;
        for (unsigned k = 0; m.d.size() > keep; k++) {
            if (((mix + k) % 3) == 0) ASSERT_NO_FATAL_FAILURE(model_steal(q, dst, m));
            else ASSERT_NO_FATAL_FAILURE(model_pop(q, m));
        }
        ASSERT_EQ(m.d.size(), corio__deque_len(q));
    }
    while (!m.d.empty()) ASSERT_NO_FATAL_FAILURE(model_pop(q, m));
    ASSERT_EQ(nullptr, corio__deque_pop(q));
    ASSERT_TRUE(corio__deque_is_empty(q));
}

// Capacity 4 over many cycles at every fill level 1..4, mixing push,
// push_front, pop and steal, so each slot is reused from both ends and the
// full/empty distinction is exercised at every offset.
TEST(Deque, WraparoundCapacity4) {
    Q q(4), d(4);
    uint64_t next = 0;
    Model m;
    run_model_cycles(q, d, 4, 20000, next, m);
    EXPECT_EQ(40000u, next); // 2 items per cycle on average
    EXPECT_EQ(next, m.pushes + m.fronts);
    EXPECT_GT(m.pushes, 10000u);
    EXPECT_GT(m.fronts, 10000u);
    EXPECT_EQ(5000u * 2, m.fulls); // both pushes refused at every fill to 4
    EXPECT_GT(m.pops, 10000u);
    EXPECT_GT(m.steals, 5000u);
    std::printf("  [stats] push %llu, push_front %llu, pop %llu, steal %llu\n",
                (unsigned long long)m.pushes, (unsigned long long)m.fronts,
                (unsigned long long)m.pops, (unsigned long long)m.steals);
}

// The 9-bit positions cross 2^9 in the middle of a queue's life, in both
// directions: the tail upward (push), the head downward (push_front from
// position 0 goes to 2^9 - 1).  At the maximum capacity a full queue
// spans half the position range, so full and empty are told apart right at
// the limit, on both sides of the wrap.
TEST(Deque, PositionsCrossWrap) {
    for (size_t cap : {size_t{4}, kMaxCap}) {
        for (uint64_t start :
             {uint64_t{0}, uint64_t{1}, kPosMod - 5, kPosMod - 1, 7 * kPosMod - 2}) {
            SCOPED_TRACE("capacity " + std::to_string(cap) + ", start " + std::to_string(start));
            Q q(cap), d(cap);
            corio__deque_test_set_pos(q, start);
            corio__deque_test_set_pos(d, kPosMod - 2);
            EXPECT_TRUE(corio__deque_is_empty(q));
            uint64_t next = 0;
            Model m;
            run_model_cycles(q, d, cap, static_cast<int>(2 * cap + 64), next, m);
            // Plain FIFO traffic through the wrap: thieves see the oldest.
            corio__deque_test_set_pos(q, start);
            corio__deque_test_set_pos(d, start);
            for (uint64_t k = 0; k < cap; k++) ASSERT_EQ(0, corio__deque_push(q, item(k)));
            ASSERT_EQ(-ENOSPC, corio__deque_push(q, item(cap)));
            ASSERT_EQ(-ENOSPC, corio__deque_push_front(q, item(cap)));
            ASSERT_EQ(cap, corio__deque_len(q));
            EXPECT_EQ(item(0), corio__deque_steal(q, d)); // cap / 2 of cap
            EXPECT_EQ(cap / 2 - 1, corio__deque_len(d));
            for (uint64_t k = cap / 2; k-- > 1;) ASSERT_EQ(item(k), corio__deque_pop(d));
            for (uint64_t k = cap; k-- > cap / 2;) ASSERT_EQ(item(k), corio__deque_pop(q));
            EXPECT_TRUE(corio__deque_is_empty(q));
            EXPECT_TRUE(corio__deque_is_empty(d));
        }
    }
}

// A pos value above 2^9 is taken modulo 2^9 (both ends set to it).
TEST(Deque, TestSetPosTruncatesToPositionBits) {
    Q q(4);
    corio__deque_test_set_pos(q, (uint64_t{5} << CORIO__DEQUE_POS_BITS) | (kPosMod - 1));
    EXPECT_EQ(0u, corio__deque_len(q));
    ASSERT_EQ(0, corio__deque_push(q, item(0)));
    ASSERT_EQ(0, corio__deque_push_front(q, item(1)));
    EXPECT_EQ(2u, corio__deque_len(q));
    EXPECT_EQ((std::vector<void *>{item(0), item(1)}), drain(q));
}

// Steal takes len - len/2 of the oldest items, returns the oldest, queues
// the rest in dst in order (so dst's owner pops them newest first), and
// leaves the newest in src.
TEST(Deque, StealHalfCounts) {
    struct Case {
        unsigned have, taken;
    };
    for (Case c : {Case{1, 1}, Case{2, 1}, Case{3, 2}, Case{4, 2}}) {
        SCOPED_TRACE(c.have);
        Q src(4), dst(4);
        for (uint64_t i = 0; i < c.have; i++) ASSERT_EQ(0, corio__deque_push(src, item(i)));
        EXPECT_EQ(item(0), corio__deque_steal(src, dst));
        EXPECT_EQ(c.taken - 1, corio__deque_len(dst));
        EXPECT_EQ(c.have - c.taken, corio__deque_len(src));
        for (uint64_t i = c.taken; i-- > 1;) EXPECT_EQ(item(i), corio__deque_pop(dst));
        for (uint64_t i = c.have; i-- > c.taken;) EXPECT_EQ(item(i), corio__deque_pop(src));
        EXPECT_TRUE(corio__deque_is_empty(src));
        EXPECT_TRUE(corio__deque_is_empty(dst));
    }
}

TEST(Deque, StealHalfOf256) {
    Q src(256), dst(256);
    for (uint64_t i = 0; i < 256; i++) ASSERT_EQ(0, corio__deque_push(src, item(i)));
    EXPECT_EQ(item(0), corio__deque_steal(src, dst));
    EXPECT_EQ(127u, corio__deque_len(dst));
    EXPECT_EQ(128u, corio__deque_len(src));
    for (uint64_t i = 128; i-- > 1;) ASSERT_EQ(item(i), corio__deque_pop(dst));
    for (uint64_t i = 256; i-- > 128;) ASSERT_EQ(item(i), corio__deque_pop(src));
}

// The batch is cut to dst's room; with dst full, only the returned item.
TEST(Deque, StealRespectsRoomInDst) {
    Q src(4), dst(4);
    for (uint64_t i = 0; i < 4; i++) ASSERT_EQ(0, corio__deque_push(src, item(i)));
    for (uint64_t i = 100; i < 104; i++) ASSERT_EQ(0, corio__deque_push(dst, item(i)));
    EXPECT_EQ(item(0), corio__deque_steal(src, dst)); // room 0: one item
    EXPECT_EQ(4u, corio__deque_len(dst));
    EXPECT_EQ(3u, corio__deque_len(src));
    EXPECT_EQ(item(103), corio__deque_pop(dst));
    EXPECT_EQ(item(102), corio__deque_pop(dst));
    EXPECT_EQ(0, corio__deque_push(src, item(4)));
    // src has 1,2,3,4: half is 2; dst room 2 allows 2 (1 returned, 1 queued).
    EXPECT_EQ(item(1), corio__deque_steal(src, dst));
    EXPECT_EQ(3u, corio__deque_len(dst));
    EXPECT_EQ(2u, corio__deque_len(src));
    EXPECT_EQ((std::vector<void *>{item(2), item(101), item(100)}), drain(dst));
    EXPECT_EQ((std::vector<void *>{item(4), item(3)}), drain(src));

    // Room 1 in dst, 4 in src: half is 2 and fits exactly (1 returned, 1 queued).
    for (uint64_t i = 0; i < 4; i++) ASSERT_EQ(0, corio__deque_push(src, item(i)));
    for (uint64_t i = 100; i < 103; i++) ASSERT_EQ(0, corio__deque_push(dst, item(i)));
    EXPECT_EQ(item(0), corio__deque_steal(src, dst));
    EXPECT_EQ(4u, corio__deque_len(dst));
    EXPECT_EQ(2u, corio__deque_len(src));

    // 256 in src, room 3 in dst (253 queued): 4 taken, not 128.
    Q big(256), full(256);
    for (uint64_t i = 0; i < 256; i++) ASSERT_EQ(0, corio__deque_push(big, item(i)));
    for (uint64_t i = 1000; i < 1253; i++) ASSERT_EQ(0, corio__deque_push(full, item(i)));
    EXPECT_EQ(item(0), corio__deque_steal(big, full));
    EXPECT_EQ(256u, corio__deque_len(full));
    EXPECT_EQ(252u, corio__deque_len(big));
    EXPECT_EQ(item(3), corio__deque_pop(full));
    EXPECT_EQ(item(2), corio__deque_pop(full));
    EXPECT_EQ(item(1), corio__deque_pop(full));
    EXPECT_EQ(item(1252), corio__deque_pop(full));
}

// Steals appended to a dst whose slots wrap around.
TEST(Deque, StealIntoWrappedDst) {
    Q src(4), dst(4);
    uint64_t next = 0;
    for (int cycle = 0; cycle < 1000; cycle++) {
        // Move dst's head and tail to a different slot offset each cycle,
        // from either end.
        for (int k = 0; k <= cycle % 4; k++) {
            if (cycle & 4) ASSERT_EQ(0, corio__deque_push_front(dst, item(9999)));
            else ASSERT_EQ(0, corio__deque_push(dst, item(9999)));
            ASSERT_EQ(item(9999), corio__deque_pop(dst));
        }
        uint64_t first = next;
        for (int k = 0; k < 4; k++) ASSERT_EQ(0, corio__deque_push(src, item(next++)));
        ASSERT_EQ(item(first), corio__deque_steal(src, dst));
        ASSERT_EQ(item(first + 1), corio__deque_pop(dst));
        ASSERT_EQ(item(first + 3), corio__deque_pop(src));
        ASSERT_EQ(item(first + 2), corio__deque_pop(src));
        ASSERT_TRUE(corio__deque_is_empty(src));
        ASSERT_TRUE(corio__deque_is_empty(dst));
    }
}

TEST(DequeDeathTest, NullItemPanics) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    Q q(4);
    EXPECT_DEATH(corio__deque_push(q, nullptr), "NULL item");
    EXPECT_DEATH(corio__deque_push_front(q, nullptr), "NULL item");
}

// ---------------------------------------------------------------------------
// Interleavings, single-threaded.
//
// What the packed position word is for: a thief reads (head, tail), copies
// its range [head, head + n) out, and then claims it with a CAS.  Between
// its read and its CAS the owner may pop from the tail.  The API cannot
// stop a thief between those steps, so the first test below does it with
// the public calls only, in the one order the API allows (the owner's pops
// come first, the steal sees them), and the "Replay" tests do the thief's
// three steps by hand on the layout declared in deque.h, so the owner's
// calls can go in between.  They are single-threaded and deterministic.
// The concurrent stress tests below meet the same races by timing only,
// but their exactly-once accounting already covers them: a stale steal
// that succeeds takes an item twice and loses another, and the counts show
// it (DequeStressPopPush aims at the two ABA orders shown here).

TEST(DequeInterleaving, StealAfterOwnerPopsClaimsOnlyItemsStillThere) {
    for (unsigned k = 0; k <= 4; k++) {
        SCOPED_TRACE(k);
        Q src(4), dst(4);
        for (uint64_t i = 0; i < 4; i++) ASSERT_EQ(0, corio__deque_push(src, item(i)));
        for (unsigned j = 0; j < k; j++) ASSERT_EQ(item(3 - j), corio__deque_pop(src));
        const unsigned left = 4 - k, taken = left - left / 2;
        void *got = corio__deque_steal(src, dst);
        if (left == 0) {
            EXPECT_EQ(nullptr, got);
            continue;
        }
        EXPECT_EQ(item(0), got);
        std::vector<void *> rest = drain(dst), want;
        for (uint64_t i = taken; i-- > 1;) want.push_back(item(i));
        EXPECT_EQ(want, rest);
        for (void *p : rest) EXPECT_LT(index_of(p), left); // never a popped item
        EXPECT_EQ(left - taken, corio__deque_len(src));
    }
}

// The C layout of corio__deque (deque.h, the #else branch), mirrored so a
// test can act as a thief one step at a time.  If deque.c changes its
// layout, the size check below or the ReplayMatchesSteal test breaks first.
struct Mirror {
    alignas(CORIO__DEQUE_ALIGN) std::atomic<uint64_t> pos;
    std::atomic<void *> *slots;
    uint64_t mask;
};
static_assert(sizeof(Mirror) == CORIO__DEQUE_SIZE, "mirror of corio__deque");
static_assert(alignof(Mirror) == CORIO__DEQUE_ALIGN, "mirror of corio__deque");
static_assert(sizeof(std::atomic<uint64_t>) == 8 && sizeof(std::atomic<void *>) == sizeof(void *),
              "mirror of corio__deque");

Mirror *mirror(corio__deque *q) { return reinterpret_cast<Mirror *>(q); }
// pos = (tag << 2 * POS_BITS) | (tail << POS_BITS) | head (deque.h);
// every change bumps the tag.
constexpr unsigned kTagShift = 2 * CORIO__DEQUE_POS_BITS;
uint32_t head_of(uint64_t p) { return static_cast<uint32_t>(p % kPosMod); }
uint32_t tail_of(uint64_t p) {
    return static_cast<uint32_t>((p >> CORIO__DEQUE_POS_BITS) % kPosMod);
}
uint64_t next_word(uint64_t old, uint32_t head, uint32_t tail) {
    return (((old >> kTagShift) + 1) << kTagShift) | ((tail % kPosMod) << CORIO__DEQUE_POS_BITS) |
           (head % kPosMod);
}

// A thief's steal in deque.c's steps (claim_head): load pos, copy
// n = len - len/2 slots from the head, then CAS pos from the loaded value
// to (head + n, tail).
struct ReplayThief {
    uint64_t seen = 0;
    std::vector<void *> copy;

    void load_and_copy(corio__deque *q) {
        Mirror *m = mirror(q);
        seen = m->pos.load(std::memory_order_acquire);
        uint32_t h = head_of(seen);
        uint32_t len = static_cast<uint32_t>((tail_of(seen) - h) % kPosMod);
        copy.clear();
        for (uint32_t i = 0; i < len - len / 2; i++)
            copy.push_back(m->slots[(h + i) & m->mask].load(std::memory_order_relaxed));
    }
    bool cas(corio__deque *q) {
        uint64_t expect = seen;
        uint64_t want =
            next_word(seen, head_of(seen) + static_cast<uint32_t>(copy.size()), tail_of(seen));
        return mirror(q)->pos.compare_exchange_strong(expect, want, std::memory_order_acq_rel,
                                                      std::memory_order_acquire);
    }
};

// Sanity check of the replay: without interference it does what
// corio__deque_steal does to the source.
TEST(DequeInterleaving, ReplayMatchesSteal) {
    Q a(4), b(4), d(4);
    for (uint64_t i = 0; i < 3; i++) {
        ASSERT_EQ(0, corio__deque_push(a, item(i)));
        ASSERT_EQ(0, corio__deque_push(b, item(i)));
    }
    ReplayThief t;
    t.load_and_copy(a);
    ASSERT_TRUE(t.cas(a));
    EXPECT_EQ((std::vector<void *>{item(0), item(1)}), t.copy);
    EXPECT_EQ(item(0), corio__deque_steal(b, d));
    EXPECT_EQ(item(1), corio__deque_pop(d));
    EXPECT_EQ(mirror(a)->pos.load(), mirror(b)->pos.load());
    EXPECT_EQ(drain(a), drain(b));
}

// Why every end change is a CAS on one word.  The thief copies items 0 and
// 1 (2 of 4); the owner then pops 3, 2 and 1.  The head never moved, so a
// thief that CASed the head alone (classic Chase-Lev with a plain tail
// store in pop) would succeed and run item 1 a second time.  Here the
// owner's pops changed the word, so the thief's CAS fails and it re-reads.
TEST(DequeInterleaving, ReplayStaleStealFailsAfterOwnerPops) {
    Q q(4);
    for (uint64_t i = 0; i < 4; i++) ASSERT_EQ(0, corio__deque_push(q, item(i)));
    ReplayThief t;
    t.load_and_copy(q);
    ASSERT_EQ((std::vector<void *>{item(0), item(1)}), t.copy);
    EXPECT_EQ(item(3), corio__deque_pop(q));
    EXPECT_EQ(item(2), corio__deque_pop(q));
    EXPECT_EQ(item(1), corio__deque_pop(q));
    EXPECT_EQ(head_of(t.seen), head_of(mirror(q)->pos.load())); // head unchanged
    EXPECT_FALSE(t.cas(q)) << "stale steal claimed item 1, which the owner popped";
    t.load_and_copy(q); // the retry sees one item left
    ASSERT_TRUE(t.cas(q));
    EXPECT_EQ((std::vector<void *>{item(0)}), t.copy);
    EXPECT_TRUE(corio__deque_is_empty(q));
}

// The same with a take_half in between (it moves the head): the thief's
// CAS must fail, or it would claim positions the owner already handed out.
TEST(DequeInterleaving, ReplayStaleStealFailsAfterTakeHalf) {
    Q q(4);
    for (uint64_t i = 0; i < 4; i++) ASSERT_EQ(0, corio__deque_push(q, item(i)));
    ReplayThief t;
    t.load_and_copy(q);
    void *out[2];
    ASSERT_EQ(2u, corio__deque_take_half(q, out));
    EXPECT_FALSE(t.cas(q));
    EXPECT_EQ(2u, corio__deque_len(q));
}

// The owner's pop and push are inverse changes of the tail, so the word can
// come back to the value a thief read without any wrap of the positions
// (ABA).  A fork-join worker does exactly this all the time: pop the only
// task (len 1 -> 0), run it, it spawns a child (push, len 0 -> 1).  A thief
// that copied the popped task before and CASes after succeeds: the popped
// task is taken twice and the child is lost.  The queue must reject this
// stale claim (or the claim must hand out what is in the slot now).
TEST(DequeInterleaving, ReplayStaleStealAfterOwnerPopThenPush) {
    Q q(4);
    ASSERT_EQ(0, corio__deque_push(q, item(0)));
    ReplayThief t;
    t.load_and_copy(q); // copies item 0
    EXPECT_EQ(item(0), corio__deque_pop(q)); // the owner runs item 0 ...
    ASSERT_EQ(0, corio__deque_push(q, item(1))); // ... which spawns item 1
    EXPECT_EQ(head_of(t.seen), head_of(mirror(q)->pos.load()));
    EXPECT_EQ(tail_of(t.seen), tail_of(mirror(q)->pos.load()))
        << "(the positions are back to the thief's snapshot; only the tag differs)";
    bool claimed = t.cas(q);
    if (claimed) {
        EXPECT_EQ((std::vector<void *>{item(1)}), t.copy)
            << "stale steal claimed item 0, which the owner popped; item 1 is lost";
    } else {
        EXPECT_EQ(item(1), corio__deque_pop(q));
    }
}

// The same on the head side: thief A copies item 0; thief B steals item 0
// (head + 1); the owner yields a task with push_front (head - 1).  The word
// is back to A's snapshot, with a different item in the head slot.
TEST(DequeInterleaving, ReplayStaleStealAfterStealThenPushFront) {
    Q q(4), d(4);
    ASSERT_EQ(0, corio__deque_push(q, item(0)));
    ASSERT_EQ(0, corio__deque_push(q, item(1)));
    ReplayThief a;
    a.load_and_copy(q); // 1 of 2: copies item 0
    EXPECT_EQ(item(0), corio__deque_steal(q, d)); // thief B
    ASSERT_EQ(0, corio__deque_push_front(q, item(2))); // the owner yields item 2
    EXPECT_EQ(head_of(a.seen), head_of(mirror(q)->pos.load()));
    EXPECT_EQ(tail_of(a.seen), tail_of(mirror(q)->pos.load()))
        << "(the positions are back to thief A's snapshot; only the tag differs)";
    bool claimed = a.cas(q);
    if (claimed) {
        EXPECT_EQ((std::vector<void *>{item(2)}), a.copy)
            << "stale steal claimed item 0, which thief B took; item 2 is lost";
    } else {
        EXPECT_EQ((std::vector<void *>{item(1), item(2)}), drain(q));
    }
}

// A thief that stalls between its load of the word and its CAS (a
// descheduled thread, a VM pause) while the queue goes on changing: the
// positions come back to its snapshot with other items in the slots (the
// two ABA orders above), and meanwhile the change counter goes round 2^32
// times, about 43 s at 100 million changes per second.  The stale claim
// must still fail.  No test can make 2^32 real changes, so after the few
// real ones corio__deque_test_add_tag stands in for the rest.
void expect_stale_claim_fails_after_2_to_32_changes(corio__deque *q, uint64_t snapshot,
                                                    uint64_t changes_made) {
    corio__deque_test_add_tag(q, (uint64_t{1} << 32) - changes_made);
    EXPECT_NE(snapshot, corio__deque_test_word(q))
        << "after 2^32 changes the word is back to the stalled thief's snapshot";
    void *got = item(999);
    EXPECT_EQ(0, corio__deque_test_claim(q, snapshot, &got))
        << "the stale claim succeeded (it took item " << index_of(got)
        << " from the slot; a real thief copied before its stall, an item already taken)";
    EXPECT_EQ(nullptr, got);
}

TEST(DequeInterleaving, StalledThiefCannotClaimAfterCounterWraps) {
    {
        SCOPED_TRACE("tail side: the owner pops item 0 and pushes item 1");
        Q q(4);
        ASSERT_EQ(0, corio__deque_push(q, item(0)));
        const uint64_t snapshot = corio__deque_test_word(q); // the thief copies item 0
        EXPECT_EQ(item(0), corio__deque_pop(q));
        ASSERT_EQ(0, corio__deque_push(q, item(1)));
        expect_stale_claim_fails_after_2_to_32_changes(q, snapshot, 2);
        EXPECT_EQ((std::vector<void *>{item(1)}), drain(q)); // item 1 is not lost
    }
    {
        SCOPED_TRACE("head side: thief B steals item 0, the owner push_fronts item 2");
        Q q(4), d(4);
        ASSERT_EQ(0, corio__deque_push(q, item(0)));
        ASSERT_EQ(0, corio__deque_push(q, item(1)));
        const uint64_t snapshot = corio__deque_test_word(q); // the thief copies item 0
        EXPECT_EQ(item(0), corio__deque_steal(q, d));
        ASSERT_EQ(0, corio__deque_push_front(q, item(2)));
        expect_stale_claim_fails_after_2_to_32_changes(q, snapshot, 2);
        EXPECT_EQ((std::vector<void *>{item(1), item(2)}), drain(q));
        EXPECT_TRUE(corio__deque_is_empty(d));
    }
}

// The other side of the bound in deque.c (I4): the counter is 46 bits
// wide, so only 2^46 changes (days, not seconds) bring the word back.
TEST(DequeInterleaving, WordRepeatsOnlyAfter2To46Changes) {
    static_assert(CORIO__DEQUE_TAG_BITS == 46, "deque.h: a 46-bit change counter");
    Q q(4);
    ASSERT_EQ(0, corio__deque_push(q, item(0)));
    const uint64_t snapshot = corio__deque_test_word(q);
    EXPECT_EQ(item(0), corio__deque_pop(q));
    ASSERT_EQ(0, corio__deque_push(q, item(1)));
    corio__deque_test_add_tag(q, (uint64_t{1} << 32) - 2);
    EXPECT_NE(snapshot, corio__deque_test_word(q));
    corio__deque_test_add_tag(q, (uint64_t{1} << CORIO__DEQUE_TAG_BITS) - (uint64_t{1} << 32));
    EXPECT_EQ(snapshot, corio__deque_test_word(q));
    EXPECT_EQ(1u, corio__deque_len(q)); // the positions were left alone
    EXPECT_EQ(item(1), corio__deque_pop(q));
}

} // namespace
