// tests/test_parker.cc - the scheduler over a fake parker (runtime/park.h):
// the seam the I/O layer plugs into.  The fake counts calls and delegates to
// the condition-variable parker, so scheduler behaviour is unchanged.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>

#include "corio.h"
#include "runtime/park.h"

namespace {

std::atomic<long> creates, destroys, parks, unparks, polls;

void *f_create(void *ctx, unsigned index) {
  creates++;
  return corio__cond_parker.create(ctx, index);
}
void f_destroy(void *p) {
  destroys++;
  corio__cond_parker.destroy(p);
}
void f_park(void *p) {
  parks++;
  corio__cond_parker.park(p);
}
void f_unpark(void *p) {
  unparks++;
  corio__cond_parker.unpark(p);
}
void f_poll(void *) { polls++; }

const corio__parker_ops fake = {f_create, f_destroy, f_park, f_unpark, f_poll};

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
  EXPECT_GT(polls.load(), 0);  // every 61st scheduler turn polls the parker
  EXPECT_EQ(0, corio_rt_shutdown(rt));
  EXPECT_EQ(2, destroys.load());
  EXPECT_EQ(&corio__cond_parker, corio__parker_get_default());
}

}  // namespace
