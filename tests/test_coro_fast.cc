// tests/test_coro_fast.cc - the inline fast path of corio/coro_fast.h
// against the exported functions: that it is taken where it should be, that
// the two paths interoperate on one coroutine (either side of a round trip
// may be either), that its slow ends (a body that returns, queued
// synchronized senders) are the library's, and that a chain that migrates
// between workers in the middle of a step comes back right.
//
// Every call written `corio_coro_send(...)` is the inline path where it is
// compiled in (not under the sanitizers); `(corio_coro_send)(...)` is always
// the exported function.  The whole suite also runs with CORIO_NO_INLINE=1
// (ctest entries slow.*), where the library marks no coroutine fast.
#include <gtest/gtest.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "corio.h"
extern "C" {
#include "runtime/stack.h"
}

#define V(x) ((void *)(intptr_t)(x))
#define I(p) ((intptr_t)(p))

namespace {

bool env_set(const char *name) {
  const char *e = getenv(name);
  return e != nullptr && *e != '\0' && *e != '0';
}

// What runtime/asym.c registers: without it the light fence is a full
// fence, which the inline path does not issue.
bool membarrier_usable() {
  if (env_set("CORIO_NO_MEMBARRIER")) return false;
  long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  return q > 0 && (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0;
}

int fast_flag(corio_coro *co) { return reinterpret_cast<corio__coro_head *>(co)->fast; }

// Adds 1 to whatever it is sent; `mode` picks the yield used at each step.
struct Adder {
  int mode = 0;  // 0 inline, 1 exported, 2 alternate
  long steps = 0;
};

void *adder_body(void *arg) {
  Adder *a = static_cast<Adder *>(arg);
  void *in = nullptr;
  int r = corio_coro_yield(nullptr, &in);
  while (r == 0) {
    a->steps++;
    void *out = V(I(in) + 1);
    bool exported = a->mode == 1 || (a->mode == 2 && (a->steps % 3) == 0);
    r = exported ? (corio_coro_yield)(out, &in) : corio_coro_yield(out, &in);
  }
  return V(r == -ECANCELED ? 1000 : r);
}

TEST(CoroFast, FastFlagFollowsTheBuildAndTheEnvironment) {
  corio_coro *co = nullptr;
  Adder a;
  ASSERT_EQ(0, corio_coro_create(&co, adder_body, &a, nullptr));
  bool want = !env_set("CORIO_NO_INLINE") && membarrier_usable() &&
              corio__stack_guard_kind() != CORIO__GUARD_CANARY;
#if defined(CORIO_ASAN) || defined(CORIO_TSAN)
  want = false;  // the library's switch must annotate every jump
#endif
  EXPECT_EQ(want ? 1 : 0, fast_flag(co));
  // The header compiles the inline path in exactly when the sanitizers are off.
#if defined(CORIO_ASAN) || defined(CORIO_TSAN)
  EXPECT_EQ(0, CORIO__INLINE);
#else
  EXPECT_EQ(1, CORIO__INLINE);
#endif
  EXPECT_EQ(0, corio_coro_destroy(co));
}

// Either side of each round trip is the inline or the exported function, in
// all four combinations, on one coroutine; every value comes back + 1.
TEST(CoroFast, InlineAndExportedPathsInteroperate) {
  for (int mode = 0; mode < 3; mode++) {
    SCOPED_TRACE("yield mode " + std::to_string(mode));
    Adder a;
    a.mode = mode;
    corio_coro *co = nullptr;
    ASSERT_EQ(0, corio_coro_create(&co, adder_body, &a, nullptr));
    long bad = 0;
    const long n = 100000;
    for (long i = 0; i < n; i++) {
      void *out = nullptr;
      int r;
      switch (i % 4) {
        case 0: r = corio_coro_send(co, V(i), &out); break;
        case 1: r = (corio_coro_send)(co, V(i), &out); break;
        case 2: r = corio_coro_send_wait(co, V(i), &out, CORIO_FOREVER); break;
        default: r = (corio_coro_send_wait)(co, V(i), &out, CORIO_FOREVER); break;
      }
      if (r != CORIO_YIELDED || I(out) != i + 1) bad++;
      if (corio_coro_state(co) != CORIO_CORO_SUSPENDED) bad++;
    }
    EXPECT_EQ(0, bad);
    EXPECT_EQ(n, a.steps);
    EXPECT_EQ(0, corio_coro_close(co));
    void *res = nullptr;
    EXPECT_EQ(0, corio_coro_result(co, &res));
    EXPECT_EQ(1000, I(res));
    EXPECT_EQ(0, corio_coro_destroy(co));
  }
}

void *count_to(void *arg) {
  intptr_t n = I(arg);
  for (intptr_t i = 1; i <= n; i++) corio_coro_yield(V(i), nullptr);
  return V(-7);
}

// The inline next: a generator not yet started goes through the library
// (its first resume), later ones inline, and the end is the library's
// finish: 0, the result kept, and -EPIPE after it.
TEST(CoroFast, GeneratorRunsToItsEndThroughEitherNext) {
  for (int exported = 0; exported < 2; exported++) {
    corio_coro *g = nullptr;
    ASSERT_EQ(0, corio_gen_create(&g, count_to, V(1000), nullptr));
    intptr_t want = 1;
    void *item = nullptr;
    for (;;) {
      int r = exported && (want % 2) ? (corio_gen_next)(g, &item) : corio_gen_next(g, &item);
      if (r == 0) break;
      ASSERT_EQ(1, r);
      ASSERT_EQ(want, I(item));
      want++;
    }
    EXPECT_EQ(1001, want);
    EXPECT_EQ(CORIO_CORO_FINISHED, corio_coro_state(g));
    void *res = nullptr;
    EXPECT_EQ(0, corio_coro_result(g, &res));
    EXPECT_EQ(-7, I(res));
    EXPECT_EQ(-EPIPE, corio_gen_next(g, &item));
    EXPECT_EQ(-EPIPE, corio_coro_send(g, nullptr, nullptr));
    EXPECT_EQ(0, corio_coro_destroy(g));
  }
}

void *return_what_was_sent(void *) {
  void *in = nullptr;
  corio_coro_yield(nullptr, &in);
  return V(I(in) * 2);
}

TEST(CoroFast, SendThatEndsTheBodyFinishesIt) {
  corio_coro *co = nullptr;
  ASSERT_EQ(0, corio_coro_create(&co, return_what_was_sent, nullptr, nullptr));
  void *out = nullptr;
  EXPECT_EQ(CORIO_FINISHED, corio_coro_send(co, V(21), &out));
  EXPECT_EQ(42, I(out));
  EXPECT_EQ(CORIO_CORO_FINISHED, corio_coro_state(co));
  EXPECT_EQ(-EPIPE, corio_coro_send(co, V(1), &out));
  EXPECT_EQ(-EPIPE, corio_coro_send_wait(co, V(1), &out, CORIO_FOREVER));
  EXPECT_EQ(0, corio_coro_destroy(co));
}

// Errors of bad use reach the caller through the inline entry points too.
void *self_sender(void *arg) {
  corio_coro **me = static_cast<corio_coro **>(arg);
  void *in = nullptr;
  corio_coro_yield(nullptr, &in);
  int r = corio_coro_send(*me, nullptr, nullptr);
  int r2 = corio_coro_send_wait(*me, nullptr, nullptr, CORIO_FOREVER);
  corio_coro_yield(V(r), &in);
  return V(r2);
}

TEST(CoroFast, InlineEntryPointsReportBadUse) {
  EXPECT_EQ(-EINVAL, corio_coro_send(nullptr, nullptr, nullptr));
  EXPECT_EQ(-EINVAL, corio_coro_send_wait(nullptr, nullptr, nullptr, CORIO_FOREVER));
  EXPECT_EQ(-EINVAL, corio_gen_next(nullptr, nullptr));
  EXPECT_EQ(-EPERM, corio_coro_yield(nullptr, nullptr));
  corio_coro *co = nullptr;
  ASSERT_EQ(0, corio_coro_create(&co, self_sender, &co, nullptr));
  void *out = nullptr;
  EXPECT_EQ(CORIO_YIELDED, corio_coro_send(co, nullptr, &out));
  EXPECT_EQ(-EDEADLK, I(out));
  EXPECT_EQ(CORIO_FINISHED, corio_coro_send(co, nullptr, &out));
  EXPECT_EQ(-EDEADLK, I(out));
  EXPECT_EQ(0, corio_coro_destroy(co));
}

// Threads ping-pong one coroutine with the inline send (each resume is on
// another thread than the last: the thread pointer must come from the
// jump, never from a cached TLS address) while the synchronized send's
// queue makes the inline give-back hand the coroutine over (the kick).
struct Counter {
  long seen = 0;
  long sum = 0;
};

void *counter_body(void *arg) {
  Counter *c = static_cast<Counter *>(arg);
  void *in = nullptr;
  while (corio_coro_yield(V(c->seen), &in) == 0) {
    c->seen++;
    c->sum += I(in);
  }
  return nullptr;
}

TEST(CoroFast, ThreadsSharingOneCoroutineLoseNothing) {
  Counter c;
  corio_coro *co = nullptr;
  ASSERT_EQ(0, corio_coro_create(&co, counter_body, &c, nullptr));
  const int threads = 4;
  const long per = 20000;
  std::atomic<long> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&, t] {
      for (long i = 0; i < per; i++) {
        int r;
        // Odd threads wait their turn; even ones retry the plain send.
        if (t % 2)
          r = corio_coro_send_wait(co, V(1), nullptr, CORIO_FOREVER);
        else
          while ((r = corio_coro_send(co, V(1), nullptr)) == -EBUSY) std::this_thread::yield();
        if (r != CORIO_YIELDED) bad++;
      }
    });
  for (auto &t : ts) t.join();
  EXPECT_EQ(0, bad.load());
  EXPECT_EQ(threads * per, c.seen);
  EXPECT_EQ(threads * per, c.sum);
  EXPECT_EQ(0, corio_coro_destroy(co));
}

// A coroutine inside a task that yields its task (and so may resume on the
// other worker) between two inline yields; the task drives it with the
// inline send.  After each step the chain must still know who it is.
struct Hopper {
  corio_coro *self = nullptr;
  corio_tid owner = 0;
  long steps = 0, migrations = 0, bad = 0;
};

void *hopper_body(void *arg) {
  Hopper *h = static_cast<Hopper *>(arg);
  void *in = nullptr;
  while (corio_coro_yield(V(h->steps), &in) == 0) {
    int w0 = corio_task_worker();
    if (corio_task_yield() != 0) h->bad++;
    if (corio_task_worker() != w0) h->migrations++;
    if (corio_coro_self() != h->self || corio_task_id() != h->owner) h->bad++;
    h->steps++;
  }
  return nullptr;
}

void *hopper_task(void *arg) {
  Hopper *h = static_cast<Hopper *>(arg);
  h->owner = corio_task_id();
  if (corio_coro_create(&h->self, hopper_body, h, nullptr) != 0) return V(-1);
  for (long i = 0; i < 20000; i++) {
    void *out = nullptr;
    if (corio_coro_send(h->self, nullptr, &out) != CORIO_YIELDED || I(out) != i + 1) h->bad++;
    if (corio_coro_self() != nullptr) h->bad++;  // back in the task itself
  }
  return V(corio_coro_destroy(h->self));
}

void *busy_task(void *arg) {
  std::atomic<int> *stop = static_cast<std::atomic<int> *>(arg);
  while (!stop->load()) corio_task_yield();
  return nullptr;
}

TEST(CoroFast, ChainMigratingInsideAStepComesBackRight) {
  corio_rt *rt = nullptr;
  corio_rt_opts o = {};
  o.workers = 2;
  ASSERT_EQ(0, corio_rt_create(&rt, &o));
  Hopper h[2];
  std::atomic<int> stop{0};
  corio_tid t[2], b[2];
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(0, corio_rt_spawn(rt, &t[i], hopper_task, &h[i]));
    ASSERT_EQ(0, corio_rt_spawn(rt, &b[i], busy_task, &stop));
  }
  for (int i = 0; i < 2; i++) {
    void *r = V(-9);
    EXPECT_EQ(0, corio_rt_join(rt, t[i], &r));
    EXPECT_EQ(0, I(r));
  }
  stop = 1;
  for (int i = 0; i < 2; i++) EXPECT_EQ(0, corio_rt_join(rt, b[i], nullptr));
  EXPECT_EQ(0, corio_rt_shutdown(rt));
  for (auto &x : h) {
    EXPECT_EQ(0, x.bad);
    EXPECT_EQ(20000, x.steps);
  }
  RecordProperty("migrations", static_cast<int>(h[0].migrations + h[1].migrations));
}

}  // namespace
