// tests/test_sched_idle.cc - idle workers park instead of spinning, and a
// woken runtime goes back to sleep (runtime/idle.c, runtime/park.c).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

#include "corio.h"

namespace {

double process_cpu_seconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

void *ret_arg(void *a) { return a; }

// An idle runtime uses ~0% CPU: over 300 ms of wall time, its workers burn
// far less than a single spinning worker would (300 ms).  The bound is
// generous (10% of one core) so that a loaded machine cannot make it flaky; a worker
// that spins would use 100% of a core and fail it by an order of magnitude.
TEST(SchedIdle, IdleWorkersDoNotSpin) {
  corio_rt_opts o = {};
  o.workers = 2;
  corio_rt *rt;
  ASSERT_EQ(0, corio_rt_create(&rt, &o));
  // Wake everyone once, then let the runtime go idle.
  for (int i = 0; i < 100; i++) {
    void *r;
    ASSERT_EQ(0, corio_rt_run(rt, ret_arg, (void *)(intptr_t)i, &r));
    ASSERT_EQ(i, (intptr_t)r);
  }
  usleep(50 * 1000);
  double c0 = process_cpu_seconds();
  usleep(300 * 1000);
  double used = process_cpu_seconds() - c0;
  EXPECT_LT(used, 0.030) << "idle workers used " << used << " s of CPU in 0.3 s";
  uint64_t parks = 0;
  for (unsigned w = 0; w < corio_rt_workers(rt); w++) {
    corio_worker_metrics m;
    ASSERT_EQ(0, corio_rt_metrics(rt, w, &m));
    parks += m.parks;
  }
  EXPECT_GE(parks, 2u);  // every worker has slept at least once
  EXPECT_EQ(0, corio_rt_shutdown(rt));
}

}  // namespace
