// tests/test_parker.cc - the scheduler over a fake parker (runtime/park.h):
// the seam the I/O layer plugs into.  The fake counts calls and delegates to
// the condition-variable parker, so scheduler behaviour is unchanged.
#include <gtest/gtest.h>

#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "corio.h"
#include "runtime/park.h"
#include "runtime/testhooks.h"

namespace {

std::atomic<long> creates, destroys, parks, unparks, polls;

int f_create(void *ctx, unsigned index, void **out) {
  creates++;
  return corio__cond_parker.create(ctx, index, out);
}
void f_destroy(void *p) {
  destroys++;
  corio__cond_parker.destroy(p);
}
void f_park(void *p, int64_t timeout_ns) {
  parks++;
  corio__cond_parker.park(p, timeout_ns);
}
void f_unpark(void *p) {
  unparks++;
  corio__cond_parker.unpark(p);
}
int f_poll(void *) {
  polls++;
  return 0;
}

const corio__parker_ops fake = {f_create, f_destroy, f_park, f_unpark, f_poll, nullptr, "fake"};

void *yield_n(void *a) {
  for (intptr_t i = 0; i < (intptr_t)a; i++) corio_task_yield();
  return a;
}

TEST(Parker, RuntimeUsesThePluggedParker) {
  corio__parker_set_default(&fake);
  corio_rt_opts o = {};
  o.workers = 2;
  corio_rt *rt;
  ASSERT_EQ(0, corio_rt_create(&rt, &o));
  corio__parker_set_default(nullptr);  // later runtimes: the default again
  EXPECT_EQ(2, creates.load());
  // Idle first (workers park), then work from outside (a worker is unparked),
  // then enough turns that the periodic poll runs.
  for (int round = 0; round < 20; round++) {
    void *r;
    ASSERT_EQ(0, corio_rt_run(rt, yield_n, (void *)(intptr_t)500, &r));
    ASSERT_EQ(500, (intptr_t)r);
  }
  EXPECT_GT(parks.load(), 0);
  EXPECT_GT(unparks.load(), 0);
  EXPECT_GT(polls.load(), 0);  // the fairness turn and the worker going to steal poll it
  EXPECT_EQ(0, corio_rt_shutdown(rt));
  EXPECT_EQ(2, destroys.load());
  EXPECT_EQ(nullptr, corio__parker_get_default());  // no override any more
}

// ---- a runtime that cannot start ------------------------------------------

// Worker `fail_index` cannot create its parker (as an io_uring parker fails
// under RLIMIT_MEMLOCK or a seccomp filter): corio_rt_create must return
// that errno, with every started worker joined and every parker that was
// created destroyed.
std::atomic<int> fail_index{-1};
std::atomic<long> live_parkers{0};

int failing_create(void *ctx, unsigned index, void **out) {
  if (static_cast<int>(index) == fail_index.load()) return -EPERM;
  int r = corio__cond_parker.create(ctx, index, out);
  if (r == 0) live_parkers++;
  return r;
}
void counted_destroy(void *p) {
  live_parkers--;
  corio__cond_parker.destroy(p);
}
const corio__parker_ops failing = {failing_create, counted_destroy, f_park, f_unpark,
                                   nullptr,        nullptr,         "failing"};

TEST(Parker, ParkerThatCannotBeCreatedFailsCreateCleanly) {
  corio__parker_set_default(&failing);
  for (int idx = 0; idx < 3; idx++) {
    fail_index = idx;
    corio_rt_opts o = {};
    o.workers = 3;
    corio_rt *rt = reinterpret_cast<corio_rt *>(0x1);
    EXPECT_EQ(-EPERM, corio_rt_create(&rt, &o)) << "worker " << idx;
    EXPECT_EQ(reinterpret_cast<corio_rt *>(0x1), rt);  // untouched on failure
    EXPECT_EQ(0, live_parkers.load());
  }
  // And the seam still makes a working runtime afterwards.
  fail_index = -1;
  corio_rt_opts o = {};
  o.workers = 2;
  corio_rt *rt = nullptr;
  ASSERT_EQ(0, corio_rt_create(&rt, &o));
  corio__parker_set_default(nullptr);
  void *r = nullptr;
  ASSERT_EQ(0, corio_rt_run(rt, yield_n, (void *)(intptr_t)10, &r));
  EXPECT_EQ(10, (intptr_t)r);
  EXPECT_EQ(0, corio_rt_shutdown(rt));
  EXPECT_EQ(0, live_parkers.load());
}

// pthread_create fails for the second worker (EAGAIN, as under a thread
// limit): the first one is joined, and the error comes back.
std::atomic<int> thread_calls{0};
int failing_thread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
  if (thread_calls++ == 1) return EAGAIN;
  return pthread_create(t, a, fn, arg);
}

TEST(Parker, WorkerThreadThatCannotStartFailsCreateCleanly) {
  corio__parker_set_default(&failing);
  fail_index = -1;
  corio__thread_create_hook = failing_thread_create;
  corio_rt_opts o = {};
  o.workers = 3;
  corio_rt *rt = nullptr;
  EXPECT_EQ(-EAGAIN, corio_rt_create(&rt, &o));
  EXPECT_EQ(2, thread_calls.load());
  EXPECT_EQ(0, live_parkers.load());  // the started worker's parker is gone again
  corio__thread_create_hook = pthread_create;
  corio__parker_set_default(nullptr);
  ASSERT_EQ(0, corio_rt_create(&rt, &o));
  EXPECT_EQ(0, corio_rt_shutdown(rt));
}

}  // namespace
