// tests/test_coro.cc - the coroutine object (runtime/coro.c, context.c,
// stack.c): generators, send, priming, close, throw, nesting, bad use,
// cross-thread resume, many live coroutines and the stack-overflow report.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "corio.h"
#include "runtime/stack.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORIO_TEST_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define CORIO_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CORIO_TEST_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define CORIO_TEST_TSAN 1
#endif

#define V(x) ((void *)(intptr_t)(x))
#define I(p) ((intptr_t)(p))

namespace {

void *countdown(void *arg) {
  intptr_t n = I(arg);
  while (n > 0) {
    corio_coro_yield(V(n), nullptr);
    n--;
  }
  return V(-1);
}

TEST(Coro, GeneratorCountdown) {
  corio_coro *g;
  ASSERT_EQ(0, corio_gen_create(&g, countdown, V(5), nullptr));
  EXPECT_EQ(CORIO_CORO_CREATED, corio_coro_state(g));
  void *v;
  intptr_t expect = 5;
  int r;
  while ((r = corio_gen_next(g, &v)) == 1) {
    EXPECT_EQ(expect, I(v));
    EXPECT_EQ(CORIO_CORO_SUSPENDED, corio_coro_state(g));
    expect--;
  }
  EXPECT_EQ(0, r);
  EXPECT_EQ(0, expect);
  EXPECT_EQ(CORIO_CORO_FINISHED, corio_coro_state(g));
  EXPECT_EQ(0, corio_coro_result(g, &v));
  EXPECT_EQ(-1, I(v));
  EXPECT_EQ(-EPIPE, corio_gen_next(g, &v));
  EXPECT_EQ(-EPIPE, corio_coro_send(g, nullptr, &v));
  EXPECT_EQ(0, corio_coro_destroy(g));
}

TEST(Coro, GeneratorDoesNotRunUntilNext) {
  static int started;
  started = 0;
  auto body = [](void *) -> void * {
    started = 1;
    corio_coro_yield(V(7), nullptr);
    return nullptr;
  };
  corio_coro *g;
  ASSERT_EQ(0, corio_gen_create(&g, body, nullptr, nullptr));
  EXPECT_EQ(0, started);
  void *v;
  EXPECT_EQ(1, corio_gen_next(g, &v));
  EXPECT_EQ(1, started);
  EXPECT_EQ(7, I(v));
  EXPECT_EQ(0, corio_coro_destroy(g));
}

// A summing sink: primed at create; each send adds; a send of 0 returns.
void *summer(void *) {
  intptr_t sum = 0;
  for (;;) {
    void *in;
    int r = corio_coro_yield(V(sum), &in);
    if (r == -ECANCELED) return V(-sum);
    if (r < 0) {
      sum += 1000 * -r;  // a thrown code is counted, then we go on
      continue;
    }
    if (I(in) == 0) return V(sum);
    sum += I(in);
  }
}

TEST(Coro, CreateIsPrimedAndSendReturnsNextYield) {
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, summer, nullptr, nullptr));
  EXPECT_EQ(CORIO_CORO_SUSPENDED, corio_coro_state(c));
  void *out;
  EXPECT_EQ(CORIO_YIELDED, corio_coro_send(c, V(3), &out));
  EXPECT_EQ(3, I(out));
  EXPECT_EQ(CORIO_YIELDED, corio_coro_send(c, V(4), &out));
  EXPECT_EQ(7, I(out));
  EXPECT_EQ(CORIO_FINISHED, corio_coro_send(c, V(0), &out));
  EXPECT_EQ(7, I(out));
  EXPECT_EQ(-EPIPE, corio_coro_send(c, V(1), &out));
  void *res;
  EXPECT_EQ(0, corio_coro_result(c, &res));
  EXPECT_EQ(7, I(res));
  EXPECT_EQ(0, corio_coro_destroy(c));
}

TEST(Coro, BodyReturningBeforeYieldIsFinishedAtCreate) {
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, [](void *a) -> void * { return a; }, V(42), nullptr));
  EXPECT_EQ(CORIO_CORO_FINISHED, corio_coro_state(c));
  void *res;
  EXPECT_EQ(0, corio_coro_result(c, &res));
  EXPECT_EQ(42, I(res));
  EXPECT_EQ(-EPIPE, corio_coro_send(c, nullptr, nullptr));
  EXPECT_EQ(0, corio_coro_close(c));
  EXPECT_EQ(0, corio_coro_destroy(c));
}

// Suspension from deep inside ordinary nested C calls (the course's
// limitation of yield to the top level does not apply: the stack is real).
int deep(int depth, int *acc) {
  if (depth == 0) {
    void *in;
    int r = corio_coro_yield(V(*acc), &in);
    if (r < 0) return r;
    *acc += (int)I(in);
    return 0;
  }
  char pad[64];
  memset(pad, depth, sizeof pad);
  int r = deep(depth - 1, acc);
  return r + (pad[depth % 64] == (char)depth ? 0 : 1000);
}

void *nested(void *) {
  int acc = 0;
  for (;;) {
    int r = deep(50, &acc);
    if (r < 0) return V(acc);
  }
}

TEST(Coro, YieldFromNestedCalls) {
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, nested, nullptr, nullptr));
  void *out;
  for (int i = 1; i <= 100; i++) {
    ASSERT_EQ(CORIO_YIELDED, corio_coro_send(c, V(i), &out));
    EXPECT_EQ(i * (i + 1) / 2, I(out));
  }
  EXPECT_EQ(0, corio_coro_close(c));
  EXPECT_EQ(0, corio_coro_result(c, &out));
  EXPECT_EQ(5050, I(out));
  EXPECT_EQ(0, corio_coro_destroy(c));
}

TEST(Coro, CloseDeliversCancelAndFinishes) {
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, summer, nullptr, nullptr));
  ASSERT_EQ(CORIO_YIELDED, corio_coro_send(c, V(5), nullptr));
  EXPECT_EQ(0, corio_coro_close(c));
  EXPECT_EQ(CORIO_CORO_FINISHED, corio_coro_state(c));
  void *res;
  EXPECT_EQ(0, corio_coro_result(c, &res));
  EXPECT_EQ(-5, I(res));  // the body saw -ECANCELED
  EXPECT_EQ(0, corio_coro_close(c));  // closing again is a no-op
  EXPECT_EQ(0, corio_coro_destroy(c));
}

void *stubborn(void *) {
  for (;;) corio_coro_yield(nullptr, nullptr);  // ignores close
}

TEST(Coro, IgnoringCloseIsAnError) {
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, stubborn, nullptr, nullptr));
  EXPECT_EQ(-EPROTO, corio_coro_close(c));
  EXPECT_EQ(CORIO_CORO_SUSPENDED, corio_coro_state(c));
  EXPECT_EQ(-EPROTO, corio_coro_destroy(c));  // freed anyway, error reported
}

TEST(Coro, DestroyClosesASuspendedCoroutine) {
  static int saw_cancel;
  saw_cancel = 0;
  auto body = [](void *) -> void * {
    for (;;) {
      if (corio_coro_yield(nullptr, nullptr) == -ECANCELED) {
        saw_cancel++;
        return nullptr;
      }
    }
  };
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, body, nullptr, nullptr));
  EXPECT_EQ(0, corio_coro_destroy(c));
  EXPECT_EQ(1, saw_cancel);
  EXPECT_EQ(0, corio_coro_destroy(nullptr));
}

TEST(Coro, CloseOfUnstartedGeneratorDoesNotRunIt) {
  corio_coro *g;
  ASSERT_EQ(0, corio_gen_create(&g, countdown, V(3), nullptr));
  EXPECT_EQ(0, corio_coro_close(g));
  EXPECT_EQ(CORIO_CORO_FINISHED, corio_coro_state(g));
  EXPECT_EQ(-EPIPE, corio_gen_next(g, nullptr));
  EXPECT_EQ(0, corio_coro_destroy(g));
}

TEST(Coro, ThrowIsHandledAndTheBodyContinues) {
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, summer, nullptr, nullptr));
  void *out;
  ASSERT_EQ(CORIO_YIELDED, corio_coro_send(c, V(2), &out));
  EXPECT_EQ(CORIO_YIELDED, corio_coro_throw(c, -EIO, &out));
  EXPECT_EQ(2 + 1000 * EIO, I(out));
  EXPECT_EQ(CORIO_YIELDED, corio_coro_send(c, V(1), &out));
  EXPECT_EQ(3 + 1000 * EIO, I(out));
  EXPECT_EQ(CORIO_FINISHED, corio_coro_send(c, V(0), &out));
  EXPECT_EQ(0, corio_coro_destroy(c));
}

TEST(Coro, ThrowThatEndsTheBody) {
  auto body = [](void *) -> void * {
    int r = corio_coro_yield(nullptr, nullptr);
    return V(r);  // any error ends it, reporting the code
  };
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, body, nullptr, nullptr));
  void *out;
  EXPECT_EQ(CORIO_FINISHED, corio_coro_throw(c, -ENOENT, &out));
  EXPECT_EQ(-ENOENT, I(out));
  EXPECT_EQ(-EPIPE, corio_coro_throw(c, -ENOENT, &out));
  EXPECT_EQ(0, corio_coro_destroy(c));
}

TEST(Coro, ThrowRejectsNonErrors) {
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, summer, nullptr, nullptr));
  EXPECT_EQ(-EINVAL, corio_coro_throw(c, 0, nullptr));
  EXPECT_EQ(-EINVAL, corio_coro_throw(c, 5, nullptr));
  EXPECT_EQ(-EINVAL, corio_coro_throw(c, -ECANCELED, nullptr));
  EXPECT_EQ(CORIO_CORO_SUSPENDED, corio_coro_state(c));
  EXPECT_EQ(0, corio_coro_destroy(c));
}

TEST(Coro, ThrowIntoUnstartedGeneratorFinishesIt) {
  corio_coro *g;
  ASSERT_EQ(0, corio_gen_create(&g, countdown, V(3), nullptr));
  void *out = V(1);
  EXPECT_EQ(CORIO_FINISHED, corio_coro_throw(g, -EIO, &out));
  EXPECT_EQ(nullptr, out);
  EXPECT_EQ(CORIO_CORO_FINISHED, corio_coro_state(g));
  EXPECT_EQ(0, corio_coro_destroy(g));
}

TEST(Coro, BadArguments) {
  corio_coro *c = nullptr;
  EXPECT_EQ(-EINVAL, corio_coro_create(nullptr, summer, nullptr, nullptr));
  EXPECT_EQ(-EINVAL, corio_coro_create(&c, nullptr, nullptr, nullptr));
  corio_coro_opts big = {};
  big.stack_size = (size_t)CORIO_STACK_MAX + 1;
  EXPECT_EQ(-EINVAL, corio_coro_create(&c, summer, nullptr, &big));
  EXPECT_EQ(-EINVAL, corio_coro_send(nullptr, nullptr, nullptr));
  EXPECT_EQ(-EINVAL, corio_gen_next(nullptr, nullptr));
  EXPECT_EQ(-EINVAL, corio_coro_close(nullptr));
  EXPECT_EQ(-EINVAL, corio_coro_state(nullptr));
  EXPECT_EQ(-EINVAL, corio_coro_result(nullptr, nullptr));
  EXPECT_EQ(-EPERM, corio_coro_yield(nullptr, nullptr));  // not in a coroutine
  EXPECT_EQ(nullptr, corio_coro_self());
}

TEST(Coro, ResultOfUnfinishedIsEAGAIN) {
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, summer, nullptr, nullptr));
  void *r;
  EXPECT_EQ(-EAGAIN, corio_coro_result(c, &r));
  EXPECT_EQ(0, corio_coro_destroy(c));
}

TEST(Coro, StackSizeOption) {
  corio_coro_opts o = {};
  o.stack_size = 1024 * 1024;
  o.name = "big";
  // Uses ~600 KiB of stack: fails on a default-size stack, fine on 1 MiB.
  auto body = [](void *) -> void * {
    volatile char buf[600 * 1024];
    for (size_t i = 0; i < sizeof buf; i += 4096) buf[i] = (char)i;
    corio_coro_yield(nullptr, nullptr);
    return V(buf[4096]);
  };
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, body, nullptr, &o));
  void *out;
  EXPECT_EQ(CORIO_FINISHED, corio_coro_send(c, nullptr, &out));
  EXPECT_EQ(0, corio_coro_destroy(c));
}

// Self and the states seen from inside.
TEST(Coro, SelfAndRunningState) {
  auto body = [](void *) -> void * {
    corio_coro *me = corio_coro_self();
    corio_coro_yield(V(corio_coro_state(me)), nullptr);
    // Resuming ourselves is a cycle; destroying ourselves is refused.
    intptr_t a = corio_coro_send(me, nullptr, nullptr);
    intptr_t b = corio_coro_destroy(me);
    intptr_t c = corio_coro_close(me);
    corio_coro_yield(V(a), nullptr);
    corio_coro_yield(V(b), nullptr);
    corio_coro_yield(V(c), nullptr);
    return V(corio_coro_id(me));
  };
  corio_coro *c;
  ASSERT_EQ(0, corio_gen_create(&c, body, nullptr, nullptr));
  void *v;
  ASSERT_EQ(1, corio_gen_next(c, &v));
  EXPECT_EQ(CORIO_CORO_RUNNING, I(v));
  ASSERT_EQ(1, corio_gen_next(c, &v));
  EXPECT_EQ(-EDEADLK, I(v));
  ASSERT_EQ(1, corio_gen_next(c, &v));
  EXPECT_EQ(-EBUSY, I(v));
  ASSERT_EQ(1, corio_gen_next(c, &v));
  EXPECT_EQ(-EDEADLK, I(v));
  ASSERT_EQ(0, corio_gen_next(c, &v));
  EXPECT_EQ(0, corio_coro_result(c, &v));
  EXPECT_EQ(corio_coro_id(c), (uint64_t)I(v));
  EXPECT_GT(corio_coro_id(c), 0u);
  EXPECT_EQ(0, corio_coro_destroy(c));
}

// A cycle: A sends to B, B sends back to A -> a clear error, not a crash.
corio_coro *cyc_a, *cyc_b;
void *cyc_b_body(void *) {
  for (;;) {
    int r = corio_coro_yield(nullptr, nullptr);
    if (r == -ECANCELED) return nullptr;
    int rc = corio_coro_send(cyc_a, V(1), nullptr);  // A is resuming us
    if (corio_coro_yield(V(rc), nullptr) == -ECANCELED) return nullptr;
  }
}
void *cyc_a_body(void *) {
  for (;;) {
    int r = corio_coro_yield(nullptr, nullptr);
    if (r == -ECANCELED) return nullptr;
    void *out;
    int rc = corio_coro_send(cyc_b, nullptr, &out);  // B yields the error code
    if (corio_coro_yield(rc == CORIO_YIELDED ? out : V(rc), nullptr) == -ECANCELED) return nullptr;
  }
}

TEST(Coro, SendCycleIsEDEADLK) {
  ASSERT_EQ(0, corio_coro_create(&cyc_b, cyc_b_body, nullptr, nullptr));
  ASSERT_EQ(0, corio_coro_create(&cyc_a, cyc_a_body, nullptr, nullptr));
  void *out;
  ASSERT_EQ(CORIO_YIELDED, corio_coro_send(cyc_a, nullptr, &out));
  EXPECT_EQ(-EDEADLK, I(out));
  EXPECT_EQ(CORIO_CORO_SUSPENDED, corio_coro_state(cyc_a));
  EXPECT_EQ(0, corio_coro_destroy(cyc_a));
  EXPECT_EQ(0, corio_coro_destroy(cyc_b));
}

// A pipeline of coroutines: source loop -> doubler -> sink.
corio_coro *sink_co;
void *doubler(void *) {
  void *in;
  while (corio_coro_yield(nullptr, &in) == 0) corio_coro_send(sink_co, V(2 * I(in)), nullptr);
  corio_coro_close(sink_co);  // close propagates down the pipe
  return nullptr;
}

TEST(Coro, PipelineAndClosePropagation) {
  ASSERT_EQ(0, corio_coro_create(&sink_co, summer, nullptr, nullptr));
  corio_coro *d;
  ASSERT_EQ(0, corio_coro_create(&d, doubler, nullptr, nullptr));
  for (int i = 1; i <= 10; i++) ASSERT_EQ(CORIO_YIELDED, corio_coro_send(d, V(i), nullptr));
  EXPECT_EQ(0, corio_coro_close(d));
  EXPECT_EQ(CORIO_CORO_FINISHED, corio_coro_state(sink_co));
  void *res;
  EXPECT_EQ(0, corio_coro_result(sink_co, &res));
  EXPECT_EQ(-110, I(res));
  EXPECT_EQ(0, corio_coro_destroy(d));
  EXPECT_EQ(0, corio_coro_destroy(sink_co));
}

// ---- threads -----------------------------------------------------------

// A coroutine resumed by a different OS thread each time.  What it reads
// after each yield must be the new thread's identity (no stale TLS).
thread_local int tls_marker;
void *migrant(void *) {
  intptr_t n = 0;
  for (;;) {
    void *in;
    // Report the marker of the thread that resumed us.
    if (corio_coro_yield(V(tls_marker), &in) < 0) return V(n);
    if (corio_coro_self() == nullptr) return V(-1);
    n += I(in);
  }
}

TEST(CoroThreads, ResumeOnAnotherThread) {
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, migrant, nullptr, nullptr));
  const int kThreads = 200;
  int bad = 0;
  for (int i = 1; i <= kThreads; i++) {
    std::thread t([&, i] {
      tls_marker = i;
      void *out;
      int r = corio_coro_send(c, V(i), &out);
      if (r != CORIO_YIELDED || I(out) != i) bad++;
    });
    t.join();
  }
  EXPECT_EQ(0, bad);
  std::thread t([&] { EXPECT_EQ(0, corio_coro_close(c)); });
  t.join();
  void *res;
  EXPECT_EQ(0, corio_coro_result(c, &res));
  EXPECT_EQ(kThreads * (kThreads + 1) / 2, I(res));
  EXPECT_EQ(0, corio_coro_destroy(c));
}

// Two threads resume the same coroutine alternately through a handshake,
// without joining in between: the state word is the only synchronisation.
TEST(CoroThreads, PingPongBetweenTwoThreads) {
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, summer, nullptr, nullptr));
  std::atomic<int> turn{0};
  const int kRounds = 20000;
  std::atomic<int> errors{0};
  auto run = [&](int me) {
    for (int i = 0; i < kRounds; i++) {
      while (turn.load(std::memory_order_acquire) != me) std::this_thread::yield();
      if (corio_coro_send(c, V(1), nullptr) != CORIO_YIELDED) errors++;
      turn.store(1 - me, std::memory_order_release);
    }
  };
  std::thread a(run, 0), b(run, 1);
  a.join();
  b.join();
  EXPECT_EQ(0, errors.load());
  void *out;
  EXPECT_EQ(CORIO_FINISHED, corio_coro_send(c, V(0), &out));
  EXPECT_EQ(2 * kRounds, I(out));
  EXPECT_EQ(0, corio_coro_destroy(c));
}

// Concurrent senders never crash a coroutine: each send either
// runs it alone or is refused with -EBUSY; no value is lost on success.
TEST(CoroThreads, ConcurrentSendersGetEBUSYNotACrash) {
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, summer, nullptr, nullptr));
  const int kSenders = 4, kEach = 5000;
  std::atomic<long> busy{0};
  std::vector<std::thread> ts;
  for (int s = 0; s < kSenders; s++)
    ts.emplace_back([&] {
      for (int i = 0; i < kEach;) {
        int r = corio_coro_send(c, V(1), nullptr);
        if (r == -EBUSY) {
          busy++;
          std::this_thread::yield();
          continue;
        }
        ASSERT_EQ(CORIO_YIELDED, r);
        i++;
      }
    });
  for (auto &t : ts) t.join();
  void *out;
  EXPECT_EQ(CORIO_FINISHED, corio_coro_send(c, V(0), &out));
  EXPECT_EQ(kSenders * kEach, I(out));
  EXPECT_EQ(0, corio_coro_destroy(c));
}

TEST(CoroThreads, RunningOnAnotherThreadIsEBUSY) {
  static std::atomic<int> inside, release_it;
  inside = 0;
  release_it = 0;
  auto body = [](void *) -> void * {
    for (;;) {
      if (corio_coro_yield(nullptr, nullptr) < 0) return nullptr;
      inside.store(1);
      while (!release_it.load()) std::this_thread::yield();
    }
  };
  corio_coro *c;
  ASSERT_EQ(0, corio_coro_create(&c, body, nullptr, nullptr));
  std::thread t([&] { EXPECT_EQ(CORIO_YIELDED, corio_coro_send(c, nullptr, nullptr)); });
  while (!inside.load()) std::this_thread::yield();
  EXPECT_EQ(CORIO_CORO_RUNNING, corio_coro_state(c));
  EXPECT_EQ(-EBUSY, corio_coro_send(c, nullptr, nullptr));
  EXPECT_EQ(-EBUSY, corio_coro_close(c));
  EXPECT_EQ(-EBUSY, corio_coro_destroy(c));
  release_it.store(1);
  t.join();
  EXPECT_EQ(0, corio_coro_destroy(c));
}

// ---- scale ---------------------------------------------------------------

bool kernel_has_guard_install() {
  void *p = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  bool ok = madvise(p, 4096, 102 /* MADV_GUARD_INSTALL */) == 0;
  munmap(p, 8192);
  return ok;
}

// 100,000 live coroutines on a default-configured Linux.  Guard pages made
// with MADV_GUARD_INSTALL do not split mappings; on kernels without it the
// documented way past vm.max_map_count is the canary mode.
TEST(CoroScale, HundredThousandLive) {
  if (!kernel_has_guard_install()) setenv("CORIO_STACK_GUARD", "canary", 1);
#if defined(CORIO_TEST_TSAN) || defined(CORIO_TEST_ASAN)
  // The sanitizers map memory per fiber (TSan a shadow call stack, ASan a
  // fake stack for detect_stack_use_after_return), one mapping each, so
  // vm.max_map_count (65530) bounds live fibers there, not corio.  The
  // release configuration runs the full 100,000.
  const int kN = 30000;
#else
  const int kN = 100000;
#endif
  std::vector<corio_coro *> cs(kN);
  corio_coro_opts o = {};
  o.stack_size = CORIO_STACK_MIN;
  for (int i = 0; i < kN; i++) ASSERT_EQ(0, corio_coro_create(&cs[i], summer, nullptr, &o)) << i;
  for (int i = 0; i < kN; i++) ASSERT_EQ(CORIO_YIELDED, corio_coro_send(cs[i], V(i + 1), nullptr));
  long total = 0;
  for (int i = 0; i < kN; i++) {
    void *out;
    ASSERT_EQ(CORIO_FINISHED, corio_coro_send(cs[i], V(0), &out));
    total += I(out);
    ASSERT_EQ(0, corio_coro_destroy(cs[i]));
  }
  EXPECT_EQ((long)kN * (kN + 1) / 2, total);
}

// ---- stack overflow --------------------------------------------------------

int recurse(int n);
int (*volatile recurse_ptr)(int) = recurse;
int recurse(int n) {
  volatile char buf[512];
  buf[0] = (char)n;
  return recurse_ptr(n + 1) + buf[0];
}

void *overflow_body(void *) {
  corio_coro_yield(nullptr, nullptr);
  return V(recurse(0));
}

// Opaque to the optimizer, so the big frame below must really exist.
void (*volatile touch_ptr)(char *) = [](char *p) { p[0] = 1; };

void *big_frame_body(void *) {
  corio_coro_yield(nullptr, nullptr);
  // One frame larger than the guard page: -fstack-clash-protection makes it
  // probe page by page, so it still lands in the guard.
  char big[256 * 1024];
  touch_ptr(big);
  return V(big[0]);
}

void provoke(corio_coro_fn fn) {
  corio_coro *c;
  if (corio_coro_create(&c, fn, nullptr, nullptr) != 0) _exit(3);
  corio_coro_send(c, nullptr, nullptr);
  _exit(4);  // not reached
}

const char *kOverflowRe = "corio: stack overflow in coroutine [0-9]+ \\(stack [0-9]+ bytes\\)";

TEST(CoroDeathTest, StackOverflowIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(provoke(overflow_body), kOverflowRe);
}

TEST(CoroDeathTest, OverflowReportNamesTheCoroutine) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        corio_coro_opts o = {};
        o.name = "parser";
        corio_coro *c;
        if (corio_coro_create(&c, overflow_body, nullptr, &o) != 0) _exit(3);
        corio_coro_send(c, nullptr, nullptr);
        _exit(4);
      },
      "corio: stack overflow in coroutine [0-9]+ \\(stack [0-9]+ bytes\\) \"parser\"");
}

TEST(CoroDeathTest, BigFrameStillHitsTheGuard) {
#if defined(CORIO_TEST_ASAN)
  GTEST_SKIP() << "ASan moves large frames to its fake stack; nothing to overflow";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(provoke(big_frame_body), kOverflowRe);
}

TEST(CoroDeathTest, StackOverflowOnAnotherThread) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        std::thread t([] { provoke(overflow_body); });
        t.join();
      },
      kOverflowRe);
}

TEST(CoroDeathTest, CanaryModeReportsOverflow) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        setenv("CORIO_STACK_GUARD", "canary", 1);
        // Overwrite the canary without running off the mapping, then yield:
        // the check on the switch reports it.
        auto body = [](void *) -> void * {
          volatile char *p = (volatile char *)__builtin_frame_address(0);
          // Walk down to the lowest usable bytes of this stack and clobber.
          p -= (CORIO_STACK_DEFAULT - 16384);
          for (int i = 0; i < 20480; i++) p[-i] = 0;
          corio_coro_yield(nullptr, nullptr);
          return nullptr;
        };
        corio_coro *c;
        if (corio_coro_create(&c, body, nullptr, nullptr) != 0) _exit(3);
        _exit(4);
      },
      kOverflowRe);
}

}  // namespace
