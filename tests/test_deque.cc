// tests/test_deque.cc - the per-worker run queue (runtime/deque.h) alone.
//
// Owns: single-threaded semantics (FIFO order, full at capacity, take-half,
// wraparound of slots and of the 64-bit positions, steal-half counts) and
// concurrent stress (one owner pushing and popping, two thieves stealing
// into their own queues and from each other), each with capacity 4 (to hit
// the full and wraparound edges constantly) and 256 (the runtime's size).
//
// Invariant checked by every stress test: each item is taken exactly once.
// Every consumer counts what it takes in its own array; the arrays are
// summed after join, so the check itself adds no synchronisation.  Stress
// is bounded by item counts, never by time.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "runtime/deque.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define DQ_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define DQ_SANITIZED 1
#endif
#endif
#if !defined(DQ_SANITIZED) && (defined(CORIO_TSAN) || defined(CORIO_ASAN))
#define DQ_SANITIZED 1
#endif

#ifdef DQ_SANITIZED
static constexpr uint32_t kStressItems = 200000;
#else
static constexpr uint32_t kStressItems = 2000000;
#endif

namespace {

// Items are 1-based indices disguised as pointers (items are non-NULL).
void *item(uint64_t i) { return reinterpret_cast<void *>(static_cast<uintptr_t>(i + 1)); }
uint64_t index_of(void *p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)) - 1; }

struct Q {
    corio__deque q;
    explicit Q(size_t cap) { EXPECT_EQ(0, corio__deque_init(&q, cap)); }
    ~Q() { corio__deque_fini(&q); }
    operator corio__deque *() { return &q; }
    Q(const Q &) = delete;
    Q &operator=(const Q &) = delete;
};

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

TEST(Deque, OwnerPopIsFifo) {
    Q q(256);
    for (uint64_t i = 0; i < 100; i++) ASSERT_EQ(0, corio__deque_push(q, item(i)));
    EXPECT_EQ(100u, corio__deque_len(q));
    for (uint64_t i = 0; i < 100; i++) ASSERT_EQ(item(i), corio__deque_pop(q));
    EXPECT_EQ(nullptr, corio__deque_pop(q));
}

TEST(Deque, FullAtCapacity) {
    Q q(4);
    for (uint64_t i = 0; i < 4; i++) ASSERT_EQ(0, corio__deque_push(q, item(i)));
    EXPECT_EQ(4u, corio__deque_len(q));
    EXPECT_EQ(-ENOSPC, corio__deque_push(q, item(4)));
    EXPECT_EQ(-ENOSPC, corio__deque_push(q, item(4)));
    EXPECT_EQ(4u, corio__deque_len(q));
    EXPECT_EQ(item(0), corio__deque_pop(q));
    EXPECT_EQ(0, corio__deque_push(q, item(4)));
    EXPECT_EQ(-ENOSPC, corio__deque_push(q, item(5)));
    for (uint64_t i = 1; i <= 4; i++) EXPECT_EQ(item(i), corio__deque_pop(q));
    EXPECT_TRUE(corio__deque_is_empty(q));
}

TEST(Deque, TakeHalfMovesOldestHalf) {
    for (size_t cap : {size_t{4}, size_t{256}}) {
        Q q(cap);
        for (uint64_t i = 0; i < cap; i++) ASSERT_EQ(0, corio__deque_push(q, item(i)));
        ASSERT_EQ(-ENOSPC, corio__deque_push(q, item(cap)));
        std::vector<void *> out(cap / 2 + 1, nullptr);
        ASSERT_EQ(cap / 2, corio__deque_take_half(q, out.data()));
        for (uint64_t i = 0; i < cap / 2; i++) EXPECT_EQ(item(i), out[i]);
        EXPECT_EQ(nullptr, out[cap / 2]); // wrote exactly cap / 2
        EXPECT_EQ(cap / 2, corio__deque_len(q));
        ASSERT_EQ(0, corio__deque_push(q, item(cap)));
        for (uint64_t i = cap / 2; i <= cap; i++) EXPECT_EQ(item(i), corio__deque_pop(q));
        EXPECT_EQ(nullptr, corio__deque_pop(q));
    }
}

TEST(Deque, TakeHalfOfOddAndSmallCounts) {
    Q q(4);
    void *out[2] = {nullptr, nullptr};
    ASSERT_EQ(0, corio__deque_push(q, item(0)));
    EXPECT_EQ(0u, corio__deque_take_half(q, out)); // half of 1 is 0
    ASSERT_EQ(0, corio__deque_push(q, item(1)));
    ASSERT_EQ(0, corio__deque_push(q, item(2)));
    EXPECT_EQ(1u, corio__deque_take_half(q, out)); // half of 3 is 1
    EXPECT_EQ(item(0), out[0]);
    EXPECT_EQ(item(1), corio__deque_pop(q));
    EXPECT_EQ(item(2), corio__deque_pop(q));
}

// Capacity 4 over many cycles at every fill level 1..4, so each slot is
// reused and the full/empty distinction is exercised at every offset.
TEST(Deque, WraparoundCapacity4) {
    Q q(4);
    uint64_t next_in = 0, next_out = 0;
    size_t len = 0;
    for (int cycle = 0; cycle < 20000; cycle++) {
        const size_t target = 1 + static_cast<size_t>(cycle % 4);
        while (len < target) {
            ASSERT_EQ(0, corio__deque_push(q, item(next_in++)));
            len++;
        }
        if (target == 4) {
            ASSERT_EQ(-ENOSPC, corio__deque_push(q, item(next_in)));
        }
        ASSERT_EQ(len, corio__deque_len(q));
        // Leave one behind every other cycle so head and tail drift apart
        // from slot 0 by odd amounts.
        const size_t keep = (cycle % 2) ? 0 : 1;
        while (len > keep) {
            ASSERT_EQ(item(next_out++), corio__deque_pop(q));
            len--;
        }
    }
    while (void *p = corio__deque_pop(q)) ASSERT_EQ(item(next_out++), p);
    EXPECT_EQ(next_in, next_out);
    EXPECT_EQ(40000u, next_in); // 2 pushes per cycle on average
}

// The 64-bit positions cross 2^64 in the middle of a queue's life.
TEST(Deque, PositionsCross64BitWrap) {
    Q q(4), d(4);
    corio__deque_test_set_pos(q, UINT64_MAX - 5);
    corio__deque_test_set_pos(d, UINT64_MAX - 1);
    uint64_t next_in = 0, next_out = 0;
    for (int cycle = 0; cycle < 16; cycle++) {
        for (int k = 0; k < 4; k++) ASSERT_EQ(0, corio__deque_push(q, item(next_in++)));
        ASSERT_EQ(-ENOSPC, corio__deque_push(q, item(next_in)));
        ASSERT_EQ(4u, corio__deque_len(q));
        for (int k = 0; k < 4; k++) ASSERT_EQ(item(next_out++), corio__deque_pop(q));
    }
    for (int k = 0; k < 4; k++) ASSERT_EQ(0, corio__deque_push(q, item(k)));
    EXPECT_EQ(item(0), corio__deque_steal(q, d));
    EXPECT_EQ(1u, corio__deque_len(d));
    EXPECT_EQ(item(1), corio__deque_pop(d));
    EXPECT_EQ(item(2), corio__deque_pop(q));
    EXPECT_EQ(item(3), corio__deque_pop(q));
}

// Steal takes len - len/2, returns the oldest, queues the rest in dst in
// order, and leaves the newest in src.
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
        for (uint64_t i = 1; i < c.taken; i++) EXPECT_EQ(item(i), corio__deque_pop(dst));
        for (uint64_t i = c.taken; i < c.have; i++) EXPECT_EQ(item(i), corio__deque_pop(src));
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
    for (uint64_t i = 1; i < 128; i++) ASSERT_EQ(item(i), corio__deque_pop(dst));
    for (uint64_t i = 128; i < 256; i++) ASSERT_EQ(item(i), corio__deque_pop(src));
}

// The batch is cut to dst's room; with dst full, only the returned item.
TEST(Deque, StealRespectsRoomInDst) {
    Q src(4), dst(4);
    for (uint64_t i = 0; i < 4; i++) ASSERT_EQ(0, corio__deque_push(src, item(i)));
    for (uint64_t i = 100; i < 104; i++) ASSERT_EQ(0, corio__deque_push(dst, item(i)));
    EXPECT_EQ(item(0), corio__deque_steal(src, dst)); // room 0: one item
    EXPECT_EQ(4u, corio__deque_len(dst));
    EXPECT_EQ(3u, corio__deque_len(src));
    EXPECT_EQ(item(100), corio__deque_pop(dst));
    EXPECT_EQ(item(101), corio__deque_pop(dst));
    EXPECT_EQ(0, corio__deque_push(src, item(4)));
    // src has 1,2,3,4: half is 2; dst room 2 allows 2 (1 returned, 1 queued).
    EXPECT_EQ(item(1), corio__deque_steal(src, dst));
    EXPECT_EQ(3u, corio__deque_len(dst));
    EXPECT_EQ(2u, corio__deque_len(src));
    EXPECT_EQ(item(102), corio__deque_pop(dst));
    EXPECT_EQ(item(103), corio__deque_pop(dst));
    EXPECT_EQ(item(2), corio__deque_pop(dst));
    EXPECT_EQ(item(3), corio__deque_pop(src));
    EXPECT_EQ(item(4), corio__deque_pop(src));
}

// Steals appended to a dst whose slots wrap around.
TEST(Deque, StealIntoWrappedDst) {
    Q src(4), dst(4);
    uint64_t next = 0;
    for (int cycle = 0; cycle < 1000; cycle++) {
        // Move dst's head and tail to a different slot offset each cycle.
        for (int k = 0; k <= cycle % 4; k++) {
            ASSERT_EQ(0, corio__deque_push(dst, item(9999)));
            ASSERT_EQ(item(9999), corio__deque_pop(dst));
        }
        uint64_t first = next;
        for (int k = 0; k < 4; k++) ASSERT_EQ(0, corio__deque_push(src, item(next++)));
        ASSERT_EQ(item(first), corio__deque_steal(src, dst));
        ASSERT_EQ(item(first + 1), corio__deque_pop(dst));
        ASSERT_EQ(item(first + 2), corio__deque_pop(src));
        ASSERT_EQ(item(first + 3), corio__deque_pop(src));
        ASSERT_TRUE(corio__deque_is_empty(src));
        ASSERT_TRUE(corio__deque_is_empty(dst));
    }
}

TEST(DequeDeathTest, NullItemPanics) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    Q q(4);
    EXPECT_DEATH(corio__deque_push(q, nullptr), "non-NULL");
}

// ---------------------------------------------------------------------------
// Concurrent stress.

enum class Overflow { kPopOne, kTakeHalf };

struct StressParam {
    size_t capacity;
    Overflow overflow;
};

std::string ParamName(const ::testing::TestParamInfo<StressParam> &info) {
    return "Cap" + std::to_string(info.param.capacity) +
           (info.param.overflow == Overflow::kPopOne ? "PopOnFull" : "TakeHalfOnFull");
}

class DequeStress : public ::testing::TestWithParam<StressParam> {};

// One owner, two thieves.
//
// The owner pushes items 0..N-1 and pops one after every third push.  When
// push fails (full), kPopOne pops an item and retries; kTakeHalf does what
// the worker does: take the oldest half into a side list standing in for
// the global injection queue, and put the new item there too.
//
// Each thief steals from the owner (and every fourth attempt from the other
// thief), counts the returned item and pops a few from its own queue, so
// its queue holds items that the other thief can steal.  After the owner
// has pushed everything and emptied its queue it raises `done`; a thief
// that sees `done` empties its own queue and stops.  Nobody else can add to
// a thief's queue, so nothing is stranded.
TEST_P(DequeStress, EveryItemTakenExactlyOnce) {
    const StressParam p = GetParam();
    const uint32_t n = kStressItems;
    Q owner_q(p.capacity);
    Q thief_q[2] = {Q(p.capacity), Q(p.capacity)};

    std::vector<uint8_t> owner_seen(n, 0), side_seen(n, 0);
    std::vector<uint8_t> thief_seen[2] = {std::vector<uint8_t>(n, 0), std::vector<uint8_t>(n, 0)};
    std::atomic<bool> done{false};
    std::atomic<int> started{0};
    std::atomic<uint64_t> steal_events{0};
    std::atomic<uint64_t> steals_ok[2] = {{0}, {0}};
    uint64_t overflows = 0;

    auto thief = [&](int me) {
        corio__deque *mine = thief_q[me];
        corio__deque *other = thief_q[1 - me];
        std::vector<uint8_t> &seen = thief_seen[me];
        uint64_t ok = 0;
        started.fetch_add(1, std::memory_order_relaxed);
        for (uint64_t attempt = 0;; attempt++) {
            bool finished = done.load(std::memory_order_acquire);
            corio__deque *victim = (attempt % 4 == 3) ? other : owner_q;
            bool got = false;
            // Steal only when our queue is nearly empty, as a worker does.
            if (corio__deque_len(mine) <= 1) {
                if (void *it = corio__deque_steal(victim, mine)) {
                    seen[index_of(it)]++;
                    ok++;
                    steal_events.fetch_add(1, std::memory_order_relaxed);
                    got = true;
                }
            }
            for (int k = 0; k < 2; k++) {
                void *it = corio__deque_pop(mine);
                if (it == nullptr) break;
                seen[index_of(it)]++;
                got = true;
            }
            if (!got) std::this_thread::yield(); // nothing anywhere: let the owner run
            if (finished) {
                while (void *it = corio__deque_pop(mine)) seen[index_of(it)]++;
                break;
            }
        }
        steals_ok[me].store(ok, std::memory_order_relaxed);
    };
    std::thread t0(thief, 0), t1(thief, 1);

    // Start together.  The test is only worth something while the thieves
    // run beside the owner, and this machine may have fewer free cores than
    // there are threads here; so every kCheckpoint items the owner waits
    // (queue non-empty) until some thief has stolen again.  That bounds the
    // steals from below by n / kCheckpoint without any timing assumption.
    constexpr uint64_t kCheckpoint = 4096;
    while (started.load(std::memory_order_relaxed) < 2) std::this_thread::yield();
    std::vector<void *> batch(p.capacity / 2 + 1);
    for (uint64_t i = 0; i < n; i++) {
        if (i % kCheckpoint == kCheckpoint - 1) {
            uint64_t before = steal_events.load(std::memory_order_relaxed);
            while (steal_events.load(std::memory_order_relaxed) == before &&
                   !corio__deque_is_empty(owner_q))
                std::this_thread::yield();
        }
        while (corio__deque_push(owner_q, item(i)) != 0) {
            if (p.overflow == Overflow::kPopOne) {
                void *it = corio__deque_pop(owner_q);
                if (it != nullptr) owner_seen[index_of(it)]++;
            } else {
                size_t got = corio__deque_take_half(owner_q, batch.data());
                EXPECT_LE(got, p.capacity / 2);
                for (size_t k = 0; k < got; k++) side_seen[index_of(batch[k])]++;
                side_seen[i]++; // the new item goes to the side list too
                overflows++;
                break;
            }
        }
        if (i % 3 == 2) {
            void *it = corio__deque_pop(owner_q);
            if (it != nullptr) owner_seen[index_of(it)]++;
        }
    }
    while (void *it = corio__deque_pop(owner_q)) owner_seen[index_of(it)]++;
    done.store(true, std::memory_order_release);
    t0.join();
    t1.join();

    uint64_t by_owner = 0, by_side = 0, by_thieves = 0, bad = 0;
    for (uint32_t i = 0; i < n; i++) {
        unsigned total = owner_seen[i] + side_seen[i] + thief_seen[0][i] + thief_seen[1][i];
        if (total != 1 && bad++ < 10) ADD_FAILURE() << "item " << i << " taken " << total << " times";
        by_owner += owner_seen[i];
        by_side += side_seen[i];
        by_thieves += thief_seen[0][i] + thief_seen[1][i];
    }
    EXPECT_EQ(0u, bad);
    EXPECT_EQ(uint64_t{n}, by_owner + by_side + by_thieves);
    EXPECT_TRUE(corio__deque_is_empty(owner_q));
    EXPECT_TRUE(corio__deque_is_empty(thief_q[0]));
    EXPECT_TRUE(corio__deque_is_empty(thief_q[1]));
    if (p.overflow == Overflow::kPopOne) {
        EXPECT_EQ(0u, by_side);
    }
    RecordProperty("items", std::to_string(n));
    std::printf("  [stats] cap %zu: items %u, owner %llu, side list %llu (%llu overflows), "
                "thieves %llu (%llu + %llu successful steals)\n",
                p.capacity, n, (unsigned long long)by_owner, (unsigned long long)by_side,
                (unsigned long long)overflows, (unsigned long long)by_thieves,
                (unsigned long long)steals_ok[0].load(), (unsigned long long)steals_ok[1].load());
}

INSTANTIATE_TEST_SUITE_P(Caps, DequeStress,
                         ::testing::Values(StressParam{4, Overflow::kPopOne},
                                           StressParam{256, Overflow::kPopOne},
                                           StressParam{4, Overflow::kTakeHalf},
                                           StressParam{256, Overflow::kTakeHalf}),
                         ParamName);

// Thieves only: the owner only pushes (waiting while its queue is full), so
// every claim is a steal racing another steal for the same head.
TEST(DequeStressThievesOnly, RefillAndRace) {
    const uint32_t n = kStressItems / 4;
    for (size_t cap : {size_t{4}, size_t{256}}) {
        SCOPED_TRACE(cap);
        Q owner_q(cap);
        Q thief_q[2] = {Q(cap), Q(cap)};
        std::vector<uint8_t> seen[2] = {std::vector<uint8_t>(n, 0), std::vector<uint8_t>(n, 0)};
        std::atomic<bool> done{false};
        uint64_t steals[2] = {0, 0};
        auto thief = [&](int me) {
            for (;;) {
                bool finished = done.load(std::memory_order_acquire);
                if (void *it = corio__deque_steal(owner_q, thief_q[me])) {
                    seen[me][index_of(it)]++;
                    steals[me]++;
                } else {
                    std::this_thread::yield(); // let the owner refill
                }
                while (void *it = corio__deque_pop(thief_q[me])) seen[me][index_of(it)]++;
                if (finished && corio__deque_is_empty(owner_q)) break;
            }
        };
        std::thread t0(thief, 0), t1(thief, 1);
        for (uint64_t i = 0; i < n; i++) {
            while (corio__deque_push(owner_q, item(i)) != 0) std::this_thread::yield();
        }
        done.store(true, std::memory_order_release);
        t0.join();
        t1.join();
        uint64_t bad = 0;
        for (uint32_t i = 0; i < n; i++) {
            unsigned total = seen[0][i] + seen[1][i];
            if (total != 1 && bad++ < 10) ADD_FAILURE() << "item " << i << " taken " << total << " times";
        }
        EXPECT_EQ(0u, bad);
        std::printf("  [stats] cap %zu: items %u, successful steals %llu + %llu\n", cap, n,
                    (unsigned long long)steals[0], (unsigned long long)steals[1]);
    }
}

} // namespace
