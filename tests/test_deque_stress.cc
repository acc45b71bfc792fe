// tests/test_deque_stress.cc - the per-worker run queue (runtime/deque.h)
// under concurrency.
//
// Owns the concurrent stress suites (DequeStress, DequeStressThievesOnly,
// DequeStressPopPush): one owner pushing, pushing at the front and popping,
// two thieves stealing into their own queues and from each other, each with
// capacity 4 (to hit the full and wraparound edges constantly) and 256 (the
// runtime's size).
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
#include <deque>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/deque.h"
#include "support/deque_helpers.h"

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

// ---------------------------------------------------------------------------
// Concurrent stress.

enum class Overflow { kPopOne, kTakeHalf };

struct StressParam {
    size_t capacity;
    Overflow overflow;
};

void PrintTo(const StressParam &p, std::ostream *os) {
    *os << "capacity " << p.capacity
        << (p.overflow == Overflow::kPopOne ? ", pop one on full" : ", take half on full");
}

std::string ParamName(const ::testing::TestParamInfo<StressParam> &info) {
    return "Cap" + std::to_string(info.param.capacity) +
           (info.param.overflow == Overflow::kPopOne ? "PopOnFull" : "TakeHalfOnFull");
}

class DequeStress : public ::testing::TestWithParam<StressParam> {};

// One owner, two thieves.
//
// The owner adds items 0..N-1, every fifth with push_front and the rest
// with push, pops one after every third item, and every seventh of those
// pops puts the popped item back with push_front instead of taking it (a
// task that yields).  When a push fails (full), kPopOne pops an item and
// retries; kTakeHalf does what the worker does: take the oldest half into
// a side list standing in for the global injection queue, and put the new
// item there too.
//
// Each thief steals from the owner (and every fourth attempt from the other
// thief), counts the returned item and pops a few from its own queue, so
// its queue holds items that the other thief can steal.  After the owner
// has added everything and emptied its queue it raises `done`; a thief that
// sees `done` empties its own queue and stops.  Nobody else can add to a
// thief's queue, so nothing is stranded.
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
    uint64_t overflows = 0, fronts = 0, yields = 0;

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

    // The overflow path, for a push or push_front of `it` that failed.
    // Returns true if `it` was disposed of (sent to the side list).
    std::vector<void *> batch(p.capacity / 2 + 1);
    auto on_full = [&](void *it) -> bool {
        if (p.overflow == Overflow::kPopOne) {
            if (void *got = corio__deque_pop(owner_q)) owner_seen[index_of(got)]++;
            return false; // retry
        }
        size_t got = corio__deque_take_half(owner_q, batch.data());
        EXPECT_LE(got, p.capacity / 2);
        for (size_t k = 0; k < got; k++) side_seen[index_of(batch[k])]++;
        side_seen[index_of(it)]++; // the new item goes to the side list too
        overflows++;
        return true;
    };

    // Start together.  The test is only worth something while the thieves
    // run beside the owner, and this machine may have fewer free cores than
    // there are threads here; so every kCheckpoint items the owner waits
    // (queue non-empty) until some thief has stolen again.  That bounds the
    // steals from below by n / kCheckpoint without any timing assumption.
    constexpr uint64_t kCheckpoint = 4096;
    while (started.load(std::memory_order_relaxed) < 2) std::this_thread::yield();
    uint64_t pops = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (i % kCheckpoint == kCheckpoint - 1) {
            uint64_t before = steal_events.load(std::memory_order_relaxed);
            while (steal_events.load(std::memory_order_relaxed) == before &&
                   !corio__deque_is_empty(owner_q))
                std::this_thread::yield();
        }
        // "Run" each item a varying short while (0..31 spins), so the
        // thieves' steals meet the owner's operations at every offset
        // instead of only at the checkpoints.
        for (volatile uint64_t spin = i % 32; spin > 0; spin = spin - 1) {
        }
        const bool front = i % 5 == 4;
        fronts += front;
        for (;;) {
            int rc = front ? corio__deque_push_front(owner_q, item(i))
                           : corio__deque_push(owner_q, item(i));
            if (rc == 0 || on_full(item(i))) break;
        }
        if (i % 3 == 2) {
            void *it = corio__deque_pop(owner_q);
            if (it == nullptr) continue;
            if (++pops % 7 == 0 && corio__deque_push_front(owner_q, it) == 0) {
                yields++; // a yield: back at the oldest end, still in play
                continue;
            }
            owner_seen[index_of(it)]++;
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
    std::printf("  [stats] cap %zu: items %u (%llu push_front, %llu yields), owner %llu, "
                "side list %llu (%llu overflows), thieves %llu (%llu + %llu successful steals), "
                "bad %llu\n",
                p.capacity, n, (unsigned long long)fronts, (unsigned long long)yields,
                (unsigned long long)by_owner, (unsigned long long)by_side,
                (unsigned long long)overflows, (unsigned long long)by_thieves,
                (unsigned long long)steals_ok[0].load(), (unsigned long long)steals_ok[1].load(),
                (unsigned long long)bad);
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

// The fork-join pattern at its smallest: the owner keeps one item queued,
// and in a loop pops it and pushes a new one (run a task, it spawns a
// child), while one thief steals.  The word returns to the same value after
// every pop + push, so this is where a stale steal can succeed (see
// ReplayStaleStealAfterOwnerPopThenPush).  Counted exactly once, as above.
TEST(DequeStressPopPush, OwnerPopsAndPushesAtLenOne) {
    const uint32_t n = kStressItems;
    Q owner_q(CORIO__DEQUE_CAPACITY), thief_q(CORIO__DEQUE_CAPACITY);
    std::vector<uint8_t> owner_seen(n, 0), thief_seen(n, 0);
    std::atomic<bool> done{false};
    std::atomic<uint64_t> steal_events{0};
    std::thread thief([&] {
        for (;;) {
            bool finished = done.load(std::memory_order_acquire);
            if (void *it = corio__deque_steal(owner_q, thief_q)) {
                thief_seen[index_of(it)]++;
                steal_events.fetch_add(1, std::memory_order_relaxed);
            }
            while (void *it = corio__deque_pop(thief_q)) thief_seen[index_of(it)]++;
            if (finished) break;
        }
    });
    constexpr uint64_t kCheckpoint = 4096;
    for (uint64_t i = 0; i < n; i++) {
        if (i % kCheckpoint == kCheckpoint - 1) { // make sure the thief runs
            uint64_t before = steal_events.load(std::memory_order_relaxed);
            while (steal_events.load(std::memory_order_relaxed) == before &&
                   !corio__deque_is_empty(owner_q))
                std::this_thread::yield();
        }
        if (void *it = corio__deque_pop(owner_q)) owner_seen[index_of(it)]++;
        ASSERT_EQ(0, corio__deque_push(owner_q, item(i)));
        // "Run" the new task a varying while, so the thief's steals meet
        // the owner's pop + push at every offset.
        for (volatile uint64_t spin = i % 64; spin > 0; spin = spin - 1) {
        }
    }
    while (void *it = corio__deque_pop(owner_q)) owner_seen[index_of(it)]++;
    done.store(true, std::memory_order_release);
    thief.join();
    uint64_t bad = 0, dup = 0, lost = 0, stolen = 0;
    for (uint32_t i = 0; i < n; i++) {
        unsigned total = owner_seen[i] + thief_seen[i];
        stolen += thief_seen[i];
        if (total > 1) dup++;
        if (total == 0) lost++;
        if (total != 1 && bad++ < 10) ADD_FAILURE() << "item " << i << " taken " << total << " times";
    }
    EXPECT_EQ(0u, bad);
    std::printf("  [stats] items %u, stolen %llu, taken twice %llu, lost %llu\n", n,
                (unsigned long long)stolen, (unsigned long long)dup, (unsigned long long)lost);
}

// The head-side twin: the owner keeps two items queued by putting a new
// one at the front whenever a thief has taken one (a yielded task going
// back), while two thieves steal one of two.  The word returns to the same
// value after every steal + push_front (see
// ReplayStaleStealAfterStealThenPushFront).  Counted exactly once.
TEST(DequeStressPopPush, ThievesStealOwnerPushesFront) {
    const uint32_t n = kStressItems / 4;
    Q owner_q(CORIO__DEQUE_CAPACITY);
    Q thief_q[2] = {Q(CORIO__DEQUE_CAPACITY), Q(CORIO__DEQUE_CAPACITY)};
    std::vector<uint8_t> owner_seen(n, 0);
    std::vector<uint8_t> thief_seen[2] = {std::vector<uint8_t>(n, 0), std::vector<uint8_t>(n, 0)};
    std::atomic<bool> done{false};
    auto thief = [&](int me) {
        for (;;) {
            bool finished = done.load(std::memory_order_acquire);
            if (void *it = corio__deque_steal(owner_q, thief_q[me])) thief_seen[me][index_of(it)]++;
            else std::this_thread::yield(); // let the owner refill
            while (void *it = corio__deque_pop(thief_q[me])) thief_seen[me][index_of(it)]++;
            if (finished) break;
        }
    };
    std::thread t0(thief, 0), t1(thief, 1);
    for (uint64_t i = 0; i < n; i++) {
        while (corio__deque_len(owner_q) >= 2) std::this_thread::yield();
        ASSERT_EQ(0, corio__deque_push_front(owner_q, item(i)));
    }
    while (void *it = corio__deque_pop(owner_q)) owner_seen[index_of(it)]++;
    done.store(true, std::memory_order_release);
    t0.join();
    t1.join();
    uint64_t bad = 0, dup = 0, lost = 0, stolen = 0;
    for (uint32_t i = 0; i < n; i++) {
        unsigned total = owner_seen[i] + thief_seen[0][i] + thief_seen[1][i];
        stolen += thief_seen[0][i] + thief_seen[1][i];
        if (total > 1) dup++;
        if (total == 0) lost++;
        if (total != 1 && bad++ < 10) ADD_FAILURE() << "item " << i << " taken " << total << " times";
    }
    EXPECT_EQ(0u, bad);
    std::printf("  [stats] items %u, stolen %llu, taken twice %llu, lost %llu\n", n,
                (unsigned long long)stolen, (unsigned long long)dup, (unsigned long long)lost);
}

} // namespace
