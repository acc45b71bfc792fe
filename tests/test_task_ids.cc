// tests/test_task_ids.cc - task ids never come back (runtime/idtable.c):
// not after a slot has been reused for as long as its generations last,
// and not across runtimes (the last runtime shut down, a new one created).
// Suite TaskIds.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <set>
#include <thread>
#include <atomic>

#include "corio.h"
#include "runtime/testhooks.h"
#include "support/task_helpers.h"

namespace {

class TaskIds : public TaskBase {};

constexpr uint64_t kSlotMask = (uint64_t{1} << CORIO__TEST_ID_SLOT_BITS) - 1;

void *park_once(void *) {
  corio_task_park();
  return V(7);
}

// The first runtime's first task and the second runtime's first task land
// in the same slot (the table is freed with the last runtime and made
// again): their ids must still differ, and the old id must name nothing.
// With generations restarting at 0 they were equal, and a kill through the
// old id reached the new task.
TEST_F(TaskIds, IdsOfAShutDownRuntimeNeverAliasANewOnes) {
  std::set<corio_tid> seen;
  corio_tid first_old = 0;
  for (int round = 0; round < 3; round++) {
    Rt rt(1);
    ASSERT_EQ(0, rt.rc());
    corio_tid t = 0;
    ASSERT_EQ(0, corio_rt_spawn(rt, &t, park_once, nullptr));
    if (round == 0) first_old = t;
    EXPECT_TRUE(seen.insert(t).second) << "id " << t << " came back in runtime " << round;
    if (round > 0) {
      EXPECT_EQ(first_old & kSlotMask, t & kSlotMask);  // same slot, the case that matters
      EXPECT_EQ(-ESRCH, corio_task_kill(first_old));
      EXPECT_EQ(-ESRCH, corio_task_unpark(first_old));
    }
    EXPECT_EQ(0, corio_task_unpark(t));
    EXPECT_EQ(7, join(rt, t));
    EXPECT_EQ(0, rt.shutdown());
  }
}

// A slot whose generation reaches the limit is retired: the task in it
// keeps working to its end, its id then names nothing, and no later task
// is given that slot again (its next id would have wrapped to an old one).
TEST_F(TaskIds, ASlotIsRetiredWhenItsGenerationsAreUsedUp) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  corio_tid t = 0;
  ASSERT_EQ(0, corio_rt_spawn(rt, &t, park_once, nullptr));
  const uint64_t slot = t & kSlotMask;
  corio__idtable_test_set_gen(t, CORIO__TEST_ID_GEN_LIMIT - 1);
  const corio_tid last = ((CORIO__TEST_ID_GEN_LIMIT - 1) << CORIO__TEST_ID_SLOT_BITS) | slot;
  EXPECT_EQ(-ESRCH, corio_task_unpark(t));  // the old id names nothing now
  ASSERT_EQ(0, corio_task_unpark(last));
  EXPECT_EQ(7, join(rt, last));
  EXPECT_EQ(-ESRCH, corio_task_kill(last));
  // Spawn and join many tasks: the worker's cache would hand this slot
  // back first if it were still in use.
  for (int i = 0; i < 5000; i++) {
    corio_tid u = 0;
    ASSERT_EQ(0, corio_rt_spawn(rt, &u, return_arg, V(1)));
    EXPECT_NE(slot, u & kSlotMask) << "a retired slot was handed out again";
    EXPECT_NE(t, u);
    EXPECT_EQ(1, join(rt, u));
  }
  void *bad = run(rt, [&]() -> void * {
    intptr_t n = 0;
    for (int i = 0; i < 5000; i++) {
      corio_tid u = 0;
      if (corio_task_spawn(&u, return_arg, V(1)) != 0) n++;
      if ((u & kSlotMask) == slot) n++;
      if (corio_task_join(u, nullptr) != 0) n++;
    }
    return V(n);
  });
  EXPECT_EQ(0, I(bad));
}

// A plain thread keeps calling kill and unpark with an id of the current
// runtime while the last runtime shuts down and a new one starts, round
// after round: the id table must still be there for a lookup already under
// way (it used to be freed with the last runtime: ASan, heap use after
// free in the lookup), and each call answers as it documents (a kill 1 or
// 0, an unpark 0) or -ESRCH.
TEST_F(TaskIds, IdsUsedFromAThreadWhileTheLastRuntimeShutsDown) {
  std::atomic<corio_tid> id{0};
  std::atomic<bool> stop{false};
  std::atomic<long> calls{0};
  std::atomic<int> bad{0};
  std::thread hammer([&] {
    for (unsigned long i = 0; !stop.load(std::memory_order_relaxed); i++) {
      corio_tid t = id.load(std::memory_order_relaxed);
      if (t == 0) continue;
      int r = i % 2 ? corio_task_unpark(t) : corio_task_kill(t);
      if (r < 0 && r != -ESRCH) bad = r;  // kill: 1 or 0; unpark: 0
      calls++;
    }
  });
  const int rounds = scaled(2000, 300);
  for (int round = 0; round < rounds; round++) {
    corio_rt *rt;
    corio_rt_opts o{};
    o.workers = 1;
    ASSERT_EQ(0, corio_rt_create(&rt, &o));
    for (int k = 0; k < 4; k++) {
      corio_tid t = 0;
      ASSERT_EQ(0, corio_rt_spawn(rt, &t, park_once, nullptr));
      id.store(t, std::memory_order_relaxed);
    }
    ASSERT_EQ(0, corio_rt_shutdown(rt));
  }
  stop = true;
  hammer.join();
  EXPECT_EQ(0, bad.load());
  EXPECT_GT(calls.load(), 0);
}

}  // namespace
