// tests/test_stack.cc - the stack pools (runtime/stack.c): every size is
// reused without a new mapping, stacks move between threads through the
// process-wide pool, its caps hold, pooled stacks past the warm threshold
// give their pages back, a failed mapping is retried after draining the
// pools (for coroutines and for a task's first run), and a thread's cache
// outlives the thread.  The counters come from corio__stack_test_stats.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "corio.h"
extern "C" {
#include "runtime/stack.h"
}

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kKiB = 1024, kMiB = 1024 * 1024;

corio__stack_stats stats(size_t size = 0) {
  corio__stack_stats s;
  corio__stack_test_stats(size, &s);
  return s;
}

// Stacks mapped and not yet unmapped, process-wide.
uint64_t live() {
  corio__stack_stats s = stats();
  return s.maps - s.unmaps;
}

corio__stack *get(size_t size) {
  corio__stack *s = nullptr;
  int r = corio__stack_get(size, &s);
  EXPECT_EQ(0, r) << "size " << size;
  return r == 0 ? s : nullptr;
}

// Each test starts from an empty pool and an empty cache on this thread
// (the tests of one binary may share a process).
class StackPool : public ::testing::Test {
 protected:
  void SetUp() override {
    corio__stack_test_fail_maps(0);
    corio__stack_drain();
  }
  void TearDown() override { corio__stack_test_fail_maps(0); }
};

// Opens once; threads wait for it.
class Gate {
 public:
  void open() {
    std::lock_guard<std::mutex> g(m_);
    open_ = true;
    c_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> g(m_);
    c_.wait(g, [&] { return open_; });
  }

 private:
  std::mutex m_;
  std::condition_variable c_;
  bool open_ = false;
};

// Pages of [p, p + len) resident, by mincore.
size_t resident_pages(const char *p, size_t len) {
  std::vector<unsigned char> v(len / kPage);
  if (mincore(const_cast<char *>(p), len, v.data()) != 0) return SIZE_MAX;
  size_t n = 0;
  for (unsigned char b : v) n += b & 1;
  return n;
}

// ---- reuse --------------------------------------------------------------

// Sizes other than the default are pooled too: an exact class (20 KiB and
// 256 KiB) and the classes above 1 MiB, each get having exactly the size
// the request rounds to.
TEST_F(StackPool, NonDefaultSizesAreReusedWithoutNewMappings) {
  for (size_t size : {20 * kKiB, 256 * kKiB, 3 * kMiB + kPage, 8 * kMiB}) {
    corio__stack_drain();
    uint64_t maps0 = stats().maps;
    for (int i = 0; i < 1000; i++) {
      corio__stack *s = get(size);
      ASSERT_NE(nullptr, s);
      ASSERT_EQ(corio__stack_round(size) + kPage - 64, s->size) << size;
      s->lo[0] = 1;  // both ends are usable
      s->lo[s->size - 1] = 1;
      corio__stack_put(s);
    }
    EXPECT_LE(stats().maps - maps0, 1u) << "stacks of " << size << " bytes are mapped per use";
  }
}

// Two sizes that share a class above 1 MiB: each request still gets its
// own size, and both are reused.
TEST_F(StackPool, SizesSharingAClassEachGetTheirOwn) {
  const size_t a = kMiB + kPage, b = kMiB + 64 * kKiB;
  uint64_t maps0 = stats().maps;
  for (int i = 0; i < 200; i++) {
    corio__stack *sa = get(a), *sb = get(b);
    ASSERT_NE(nullptr, sa);
    ASSERT_NE(nullptr, sb);
    ASSERT_EQ(corio__stack_round(a) + kPage - 64, sa->size);
    ASSERT_EQ(corio__stack_round(b) + kPage - 64, sb->size);
    if (i % 2) {
      corio__stack_put(sa);
      corio__stack_put(sb);
    } else {
      corio__stack_put(sb);
      corio__stack_put(sa);
    }
  }
  EXPECT_LE(stats().maps - maps0, 2u);
}

// A stack freed on one thread is reused by another while the first thread
// lives: only what the first thread's cache keeps stays out of reach.
TEST_F(StackPool, FreedOnOneThreadReusedOnAnother) {
  const int kN = 200;
  Gate freed, done;
  size_t kept = 0;
  std::thread a([&] {
    std::vector<corio__stack *> v;
    for (int i = 0; i < kN; i++) v.push_back(get(0));
    for (corio__stack *s : v)
      if (s != nullptr) corio__stack_put(s);
    kept = stats().cached_size;
    freed.open();
    done.wait();
  });
  freed.wait();
  corio__stack_stats st = stats();
  EXPECT_LE(kept, st.cache_max);
  uint64_t maps0 = st.maps;
  std::vector<corio__stack *> v;
  for (int i = 0; i < kN; i++) v.push_back(get(0));
  EXPECT_LE(stats().maps - maps0, kept) << "stacks freed on the other thread were not reused";
  for (corio__stack *s : v)
    if (s != nullptr) corio__stack_put(s);
  done.open();
  a.join();
}

// A thread's cache goes to the process-wide pool when the thread exits.
TEST_F(StackPool, ThreadExitReturnsItsCache) {
  const size_t size = 256 * kKiB;
  const size_t k = stats(size).cache_max;
  ASSERT_GE(k, 2u);
  std::thread a([&] {
    std::vector<corio__stack *> v;
    for (size_t i = 0; i < k; i++) v.push_back(get(size));
    for (corio__stack *s : v)
      if (s != nullptr) corio__stack_put(s);
    corio__stack_stats st = stats(size);
    EXPECT_EQ(k, st.cached_size);
    EXPECT_EQ(0u, st.global_size);
  });
  a.join();
  corio__stack_stats st = stats(size);
  EXPECT_EQ(k, st.global_size) << "the exiting thread's cache was not returned";
  uint64_t maps0 = st.maps;
  std::vector<corio__stack *> v;
  for (size_t i = 0; i < k; i++) v.push_back(get(size));
  EXPECT_EQ(maps0, stats().maps);
  for (corio__stack *s : v)
    if (s != nullptr) corio__stack_put(s);
}

// ---- caps ---------------------------------------------------------------

// Many more stacks than the cap, freed from several threads at once: the
// process-wide pool never holds more than its cap (sampled while they are
// freed), and what stays mapped is the pool plus one small cache per
// thread; the rest went back to the kernel.
TEST_F(StackPool, GlobalCountCapHolds) {
  const corio__stack_stats st0 = stats(0);
  const size_t kThreads = 8;
  const size_t kPer = st0.global_max / 4;  // twice the cap in all
  const uint64_t live0 = live();
  std::atomic<size_t> ready{0}, freed{0};
  std::atomic<bool> sampling{true};
  Gate go, exit;
  std::vector<std::thread> ts;
  for (size_t t = 0; t < kThreads; t++)
    ts.emplace_back([&] {
      std::vector<corio__stack *> v;
      for (size_t i = 0; i < kPer; i++) v.push_back(get(0));
      ready.fetch_add(1);
      go.wait();
      for (corio__stack *s : v)
        if (s != nullptr) corio__stack_put(s);
      EXPECT_LE(stats(0).cached_size, st0.cache_max);
      freed.fetch_add(1);
      exit.wait();
    });
  size_t most = 0;
  std::thread sampler([&] {
    while (sampling.load()) {
      // A size with nothing pooled: the stats do not walk a long list
      // under the pool's lock.
      size_t n = stats(CORIO_STACK_MIN).global_count;
      if (n > most) most = n;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  while (ready.load() < kThreads) std::this_thread::yield();
  go.open();
  while (freed.load() < kThreads) std::this_thread::yield();
  corio__stack_stats st = stats();
  EXPECT_LE(st.global_count, st.global_max);
  EXPECT_LE(live() - live0, st.global_max + kThreads * st0.cache_max)
      << "stacks freed past the cap stayed mapped";
  exit.open();
  for (auto &t : ts) t.join();
  sampling.store(false);
  sampler.join();
  EXPECT_LE(most, st0.global_max);
  st = stats();
  EXPECT_LE(st.global_count, st.global_max);
  EXPECT_LE(live() - live0, st.global_max + st.cached);
}

// The byte cap: large stacks are pooled only up to global_max_bytes.
TEST_F(StackPool, GlobalByteCapHolds) {
  const size_t size = 16 * kMiB;
  const corio__stack_stats st0 = stats(size);
  const size_t map = corio__stack_round(size) + 2 * kPage;
  const size_t n = st0.global_max_bytes / map + st0.cache_max + 8;
  const uint64_t live0 = live();
  std::vector<corio__stack *> v;
  for (size_t i = 0; i < n; i++) v.push_back(get(size));
  for (corio__stack *s : v)
    if (s != nullptr) corio__stack_put(s);
  corio__stack_stats st = stats(size);
  EXPECT_LE(st.global_bytes, st.global_max_bytes);
  EXPECT_LE(live() - live0, st.global_max_bytes / map + st.cache_max);
  corio__stack_drain();
}

// ---- giving pages back ----------------------------------------------------

// Pooled stacks past the warm threshold give their pages back, except the
// top one (the descriptor); the ones within it keep theirs; all are usable.
TEST_F(StackPool, ColdStacksGiveTheirPagesBack) {
  const corio__stack_stats st0 = stats(0);
  const size_t map = corio__stack_round(0) + 2 * kPage;
  const size_t warm = st0.warm_max / map;
  const size_t n = warm + st0.cache_max + 100;
  std::vector<corio__stack *> v;
  for (size_t i = 0; i < n; i++) {
    corio__stack *s = get(0);
    ASSERT_NE(nullptr, s);
    memset(s->lo, 0x5a, s->size);  // every page resident
    v.push_back(s);
  }
  for (corio__stack *s : v) corio__stack_put(s);
  corio__stack_stats st = stats(0);
  EXPECT_LE(st.global_warm, st.warm_max);
  size_t cold = 0, hot = 0;
  const size_t body = map - 2 * kPage;  // from lo up to the top page
  for (corio__stack *s : v) {
    size_t r = resident_pages(s->lo, body);
    EXPECT_EQ(1u, resident_pages(s->map + map - kPage, kPage)) << "the descriptor's page";
    if (r == 0) cold++;
    else if (r == body / kPage) hot++;
  }
  EXPECT_EQ(n, cold + hot) << "a stack half given back";
  EXPECT_EQ(st.cooled - st0.cooled, cold);
  EXPECT_GE(cold, n - warm - st0.cache_max);
  EXPECT_GE(hot, warm);
  // All of them come back usable, descriptor intact.
  std::vector<corio__stack *> again;
  for (size_t i = 0; i < n; i++) {
    corio__stack *s = get(0);
    ASSERT_NE(nullptr, s);
    ASSERT_EQ(corio__stack_round(0) + kPage - 64, s->size);
    s->lo[0] = 1;
    s->lo[s->size - 1] = 1;
    again.push_back(s);
  }
  for (corio__stack *s : again) corio__stack_put(s);
}

// With the canary guard, cooling keeps the canary's page: no false
// overflow report when a cooled stack runs again.
TEST_F(StackPool, CooledCanaryStacksKeepTheirCanary) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("CORIO_STACK_GUARD", "canary", 1);
        if (corio__stack_guard_kind() != CORIO__GUARD_CANARY) _exit(2);
        const corio__stack_stats st0 = stats(0);
        const size_t n = st0.warm_max / (corio__stack_round(0) + 2 * kPage) + st0.cache_max + 50;
        std::vector<corio__stack *> v;
        for (size_t i = 0; i < n; i++) {
          corio__stack *s = nullptr;
          if (corio__stack_get(0, &s) != 0) _exit(3);
          memset(s->lo + 8, 0x5a, s->size - 8);
          v.push_back(s);
        }
        for (corio__stack *s : v) corio__stack_put(s);
        if (stats(0).cooled == st0.cooled) _exit(4);  // nothing was cooled
        for (corio__stack *s : v) corio__stack_check(s, "coroutine", 1, nullptr);
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// ---- failed mappings ---------------------------------------------------------

// A failed mapping unmaps what this thread's cache and the pool hold and
// tries once more; with nothing to unmap and the retry failing too, -ENOMEM.
TEST_F(StackPool, FailedMappingRetriesAfterDrainingThePools) {
  const size_t a = 256 * kKiB, b = 128 * kKiB;
  const size_t k = stats(a).cache_max + 10;  // some cached, some in the pool
  std::vector<corio__stack *> v;
  for (size_t i = 0; i < k; i++) v.push_back(get(a));
  for (corio__stack *s : v)
    if (s != nullptr) corio__stack_put(s);
  corio__stack_stats st0 = stats(a);
  EXPECT_EQ(k, st0.cached_size + st0.global_size);
  EXPECT_GT(st0.global_size, 0u);

  corio__stack_test_fail_maps(1);
  corio__stack *s = nullptr;
  ASSERT_EQ(0, corio__stack_get(b, &s)) << "the failed mapping was not retried";
  corio__stack_stats st = stats(a);
  EXPECT_EQ(0u, st.cached);
  EXPECT_EQ(0u, st.global_count);
  EXPECT_EQ(st0.unmaps + k, st.unmaps);
  EXPECT_EQ(st0.maps + 1, st.maps);
  corio__stack_put(s);

  corio__stack_drain();
  st0 = stats(b);
  corio__stack_test_fail_maps(2);
  EXPECT_EQ(-ENOMEM, corio__stack_get(b, &s));
  EXPECT_EQ(st0.maps, stats(b).maps);
  corio__stack_test_fail_maps(0);
  ASSERT_EQ(0, corio__stack_get(b, &s));
  corio__stack_put(s);
}

void *answer(void *) { return (void *)(intptr_t)42; }

// The same for a task: its stack comes at its first run on a worker, and a
// failed mapping there drains the pool and runs the task instead of ending
// it with -ENOMEM.
TEST_F(StackPool, TaskFirstRunRetriesAfterDrainingThePool) {
  // Stacks of another size in the process-wide pool: the drain unmaps them.
  std::vector<corio__stack *> v;
  const size_t k = stats(128 * kKiB).cache_max + 10;
  for (size_t i = 0; i < k; i++) v.push_back(get(128 * kKiB));
  for (corio__stack *s : v)
    if (s != nullptr) corio__stack_put(s);
  EXPECT_GT(stats(128 * kKiB).global_size, 0u);

  corio_rt_opts o{};
  o.workers = 1;
  o.stack_size = 256 * kKiB;
  corio_rt *rt = nullptr;
  ASSERT_EQ(0, corio_rt_create(&rt, &o));
  corio__stack_test_fail_maps(1);
  void *res = nullptr;
  EXPECT_EQ(0, corio_rt_run(rt, answer, nullptr, &res)) << "the task ended unrun";
  EXPECT_EQ(42, (intptr_t)res);
  EXPECT_EQ(0u, stats(128 * kKiB).global_size);
  ASSERT_EQ(0, corio_rt_shutdown(rt));

  // Nothing to drain and both attempts failing: the task ends with -ENOMEM.
  o.stack_size = 512 * kKiB;  // not pooled yet
  ASSERT_EQ(0, corio_rt_create(&rt, &o));
  corio__stack_test_fail_maps(2);
  EXPECT_EQ(-ENOMEM, corio_rt_run(rt, answer, nullptr, &res));
  corio__stack_test_fail_maps(0);
  ASSERT_EQ(0, corio_rt_shutdown(rt));
}

// ---- concurrency ------------------------------------------------------------

// Stacks of three sizes handed between threads through a shared list, each
// filled with its holder's mark and checked before it is freed: a stack is
// never handed out twice, and the pools stay within their bounds.
TEST_F(StackPool, ConcurrentGetPutAcrossThreads) {
  const size_t sizes[] = {0, 24 * kKiB, 200 * kKiB};
  const int kThreads = 4, kRounds = 3000;
  std::mutex m;
  std::vector<corio__stack *> shared;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      unsigned seed = 1234u + (unsigned)t;
      for (int i = 0; i < kRounds; i++) {
        corio__stack *s = get(sizes[rand_r(&seed) % 3]);
        if (s == nullptr) return;
        const unsigned char mark = (unsigned char)(t * 16 + i % 16);
        s->lo[0] = (char)mark;
        s->lo[s->size / 2] = (char)mark;
        s->lo[s->size - 1] = (char)mark;
        std::this_thread::yield();
        EXPECT_EQ(mark, (unsigned char)s->lo[0]);
        EXPECT_EQ(mark, (unsigned char)s->lo[s->size / 2]);
        EXPECT_EQ(mark, (unsigned char)s->lo[s->size - 1]);
        corio__stack *give = nullptr;
        {
          std::lock_guard<std::mutex> g(m);
          if (rand_r(&seed) % 2) {
            shared.push_back(s);  // someone else frees it
            if (shared.size() > 8) {
              give = shared.front();
              shared.erase(shared.begin());
            }
          } else {
            give = s;
          }
        }
        if (give != nullptr) corio__stack_put(give);
      }
    });
  for (auto &t : ts) t.join();
  for (corio__stack *s : shared) corio__stack_put(s);
  corio__stack_stats st = stats();
  EXPECT_LE(st.global_count, st.global_max);
}

}  // namespace
