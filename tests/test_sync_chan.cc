// tests/test_sync_chan.cc - channels and select (corio/sync.h), suites Chan
// and Select: argument checks, FIFO order, rendezvous hand-over, close and
// drain, timeouts, many senders and receivers (tasks and plain threads on
// both workers) with every item received exactly once, and tight rounds of
// a kill or a timeout racing a hand-over (nothing lost, nothing twice).
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "corio.h"
#include "support/task_helpers.h"

namespace {

class Chan : public TaskBase {};
class Select : public TaskBase {};

struct ChanPtr {
  corio_chan *c = nullptr;
  ChanPtr(size_t isz, size_t cap) { EXPECT_EQ(0, corio_chan_create(&c, isz, cap)); }
  ~ChanPtr() { EXPECT_EQ(0, corio_chan_destroy(c)); }
  operator corio_chan *() const { return c; }
};

TEST_F(Chan, CreateRejectsBadArguments) {
  corio_chan *c = nullptr;
  EXPECT_EQ(-EINVAL, corio_chan_create(nullptr, 8, 0));
  EXPECT_EQ(-EINVAL, corio_chan_create(&c, 0, 0));
  EXPECT_EQ(-EINVAL, corio_chan_create(&c, 65537, 0));
  ASSERT_EQ(0, corio_chan_create(&c, 65536, 1));
  EXPECT_EQ(0, corio_chan_destroy(c));
  long v = 1;
  EXPECT_EQ(-EINVAL, corio_chan_send(nullptr, &v, 0));
  EXPECT_EQ(-EINVAL, corio_chan_recv(nullptr, &v, 0));
  EXPECT_EQ(-EINVAL, corio_chan_close(nullptr));
  EXPECT_EQ(0, corio_chan_destroy(nullptr));
}

TEST_F(Chan, BufferedIsFifoAndTriesDoNotWait) {
  ChanPtr c(sizeof(long), 4);
  for (long i = 0; i < 4; i++) ASSERT_EQ(0, corio_chan_try_send(c, &i));
  long v = 99;
  EXPECT_EQ(-EAGAIN, corio_chan_try_send(c, &v));
  EXPECT_EQ(-ETIMEDOUT, corio_chan_send(c, &v, 0));  // timeout 0 only tries
  EXPECT_EQ(4u, corio_chan_len(c));
  auto t0 = Clock::now();
  EXPECT_EQ(-ETIMEDOUT, corio_chan_send(c, &v, CORIO_MS(30)));
  EXPECT_GE(Clock::now() - t0, milliseconds(29));
  for (long i = 0; i < 4; i++) {
    ASSERT_EQ(0, corio_chan_recv(c, &v, CORIO_FOREVER));
    EXPECT_EQ(i, v);
  }
  EXPECT_EQ(-EAGAIN, corio_chan_try_recv(c, &v));
  t0 = Clock::now();
  EXPECT_EQ(-ETIMEDOUT, corio_chan_recv(c, &v, CORIO_MS(30)));
  EXPECT_GE(Clock::now() - t0, milliseconds(29));
}

TEST_F(Chan, UnboundedNeverWaitsAndKeepsOrder) {
  ChanPtr c(sizeof(long), CORIO_CHAN_UNBOUNDED);
  const long n = 100000;
  for (long i = 0; i < n; i++) ASSERT_EQ(0, corio_chan_try_send(c, &i));
  EXPECT_EQ(size_t(n), corio_chan_len(c));
  for (long i = 0; i < n; i++) {
    long v = -1;
    ASSERT_EQ(0, corio_chan_try_recv(c, &v));
    ASSERT_EQ(i, v);
  }
}

TEST_F(Chan, RendezvousHasNoBufferAndHandsOverBetweenTasks) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  ChanPtr c(sizeof(long), 0);
  long v = 1;
  EXPECT_EQ(-EAGAIN, corio_chan_try_send(c, &v));  // nobody receives
  const long n = scaled(100000, 10000);
  corio_tid p = spawn(rt, [&]() -> void * {
    for (long i = 1; i <= n; i++)
      if (corio_chan_send(c, &i, CORIO_FOREVER) != 0) return V(-1);
    return V(0);
  });
  void *r = run(rt, [&]() -> void * {
    for (long i = 1; i <= n; i++) {
      long x = 0;
      if (corio_chan_recv(c, &x, CORIO_FOREVER) != 0 || x != i) return V(i);
    }
    return V(0);
  });
  EXPECT_EQ(0, I(r));
  EXPECT_EQ(0, join(rt, p));
  EXPECT_EQ(0u, corio_chan_len(c));
}

// A send to a waiting receiver is a hand-off: the receiver goes to the
// sender's run-next slot and runs as soon as the sender parks, ahead of
// work queued before the wake (here a task spawned just before the send,
// which the wake moves from the slot to the ring).  Queued behind
// everything, as I/O completions are, the receiver would run after it.
TEST_F(Chan, AWokenReceiverRunsAsSoonAsTheSenderParks) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  ChanPtr c(sizeof(long), 0);
  std::vector<char> log;  // one worker: no two tasks at once
  bool receiving = false;
  void *r = run(rt, [&]() -> void * {
    corio_tid rx = tspawn([&]() -> void * {
      long v = 0;
      receiving = true;
      if (corio_chan_recv(c, &v, CORIO_FOREVER) != 0 || v != 42) return V(-1);
      log.push_back('R');
      return V(0);
    });
    // The receiver runs and parks in its receive before we run again.
    if (!yield_until([&] { return receiving; })) return V(-2);
    corio_tid other = tspawn([&]() -> void * {
      log.push_back('O');
      return V(0);
    });
    long v = 42;
    if (corio_chan_send(c, &v, CORIO_FOREVER) != 0) return V(-3);
    void *res = V(-4);
    if (corio_task_join(rx, &res) != 0 || res != V(0)) return V(-5);
    if (corio_task_join(other, &res) != 0 || res != V(0)) return V(-6);
    return V(0);
  });
  EXPECT_EQ(0, I(r));
  EXPECT_EQ((std::vector<char>{'R', 'O'}), log);
}

TEST_F(Chan, CloseLetsReceiversDrainThenSaysClosed) {
  ChanPtr c(sizeof(long), 8);
  for (long i = 0; i < 5; i++) ASSERT_EQ(0, corio_chan_send(c, &i, 0));
  ASSERT_EQ(0, corio_chan_close(c));
  EXPECT_EQ(-EPIPE, corio_chan_close(c));
  long v = 7;
  EXPECT_EQ(-EPIPE, corio_chan_send(c, &v, CORIO_FOREVER));
  EXPECT_EQ(-EPIPE, corio_chan_try_send(c, &v));
  for (long i = 0; i < 5; i++) {
    ASSERT_EQ(0, corio_chan_recv(c, &v, CORIO_FOREVER));
    EXPECT_EQ(i, v);
  }
  EXPECT_EQ(CORIO_CHAN_CLOSED, corio_chan_recv(c, &v, CORIO_FOREVER));
  EXPECT_EQ(CORIO_CHAN_CLOSED, corio_chan_try_recv(c, &v));
}

// Waiters of both kinds, tasks and threads, all woken by one close.
TEST_F(Chan, CloseWakesEveryWaitingSenderAndReceiver) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  ChanPtr empty(sizeof(long), 0), full(sizeof(long), 1);
  long one = 1;
  ASSERT_EQ(0, corio_chan_send(full, &one, 0));
  const int k = 20;
  std::atomic<int> started{0};
  std::vector<corio_tid> ts;
  for (int i = 0; i < k; i++) {
    ts.push_back(spawn(rt, [&, i]() -> void * {
      long x = 5;
      started++;
      return V(i % 2 ? corio_chan_recv(empty, &x, CORIO_FOREVER)
                     : corio_chan_send(full, &x, CORIO_FOREVER));
    }));
  }
  std::atomic<int> thread_recv{0}, thread_send{0};
  std::thread tr([&] {
    long x;
    started++;
    thread_recv = corio_chan_recv(empty, &x, CORIO_FOREVER);
  });
  std::thread tsend([&] {
    long x = 3;
    started++;
    thread_send = corio_chan_send(full, &x, CORIO_FOREVER);
  });
  ASSERT_TRUE(eventually([&] { return started.load() == k + 2; }));
  std::this_thread::sleep_for(milliseconds(50));  // let them queue
  EXPECT_EQ(-EBUSY, corio_chan_destroy(empty));   // waiters: refused
  ASSERT_EQ(0, corio_chan_close(empty));
  ASSERT_EQ(0, corio_chan_close(full));
  for (int i = 0; i < k; i++) EXPECT_EQ(i % 2 ? CORIO_CHAN_CLOSED : -EPIPE, join(rt, ts[i]));
  tr.join();
  tsend.join();
  EXPECT_EQ(CORIO_CHAN_CLOSED, thread_recv.load());
  EXPECT_EQ(-EPIPE, thread_send.load());
  long x = 0;
  EXPECT_EQ(0, corio_chan_recv(full, &x, 0));  // the buffered item survives
  EXPECT_EQ(1, x);
}

// Senders and receivers, tasks and plain threads, each item sent once:
// each is received exactly once, whatever the capacity.
void many_to_many(TaskBase *, corio_rt *rt, size_t cap, long per_sender) {
  ChanPtr c(sizeof(long), cap);
  const int task_senders = 4, thread_senders = 2, task_receivers = 3;
  const long total = per_sender * (task_senders + thread_senders);
  std::vector<std::atomic<int>> seen(total);
  std::atomic<long> received{0}, bad{0};
  auto sender = [&](int s) {
    for (long i = 0; i < per_sender; i++) {
      long v = s * per_sender + i;
      if (corio_chan_send(c, &v, CORIO_FOREVER) != 0) bad++;
    }
  };
  auto receiver = [&] {
    for (;;) {
      long v;
      int r = corio_chan_recv(c, &v, CORIO_FOREVER);
      if (r == CORIO_CHAN_CLOSED) return;
      if (r != 0 || v < 0 || v >= total) {
        bad++;
        return;
      }
      seen[v]++;
      received++;
    }
  };
  struct Fn {
    std::function<void()> f;
  };
  std::vector<Fn> fns;
  fns.reserve(task_senders + task_receivers);
  for (int s = 0; s < task_senders; s++) fns.push_back({[&, s] { sender(s); }});
  for (int r = 0; r < task_receivers; r++) fns.push_back({receiver});
  std::vector<corio_tid> tids;
  for (auto &f : fns) {
    corio_tid t;
    ASSERT_EQ(0, corio_rt_spawn(rt, &t, [](void *a) -> void * {
      static_cast<Fn *>(a)->f();
      return nullptr;
    }, &f));
    tids.push_back(t);
  }
  std::vector<std::thread> threads;
  for (int s = 0; s < thread_senders; s++) threads.emplace_back(sender, task_senders + s);
  std::thread thread_receiver(receiver);
  for (auto &t : threads) t.join();
  for (int s = 0; s < task_senders; s++) EXPECT_EQ(0, corio_rt_join(rt, tids[s], nullptr));
  ASSERT_EQ(0, corio_chan_close(c));
  for (int r = 0; r < task_receivers; r++)
    EXPECT_EQ(0, corio_rt_join(rt, tids[task_senders + r], nullptr));
  thread_receiver.join();
  EXPECT_EQ(0, bad.load());
  EXPECT_EQ(total, received.load());
  long wrong = 0;
  for (long i = 0; i < total; i++) wrong += seen[i].load() != 1;
  EXPECT_EQ(0, wrong) << "items not received exactly once";
}

TEST_F(Chan, ManySendersAndReceiversEachItemOnceRendezvous) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  many_to_many(this, rt, 0, scaled(20000, 2000));
}

TEST_F(Chan, ManySendersAndReceiversEachItemOnceBounded) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  many_to_many(this, rt, 16, scaled(20000, 2000));
}

TEST_F(Chan, ManySendersAndReceiversEachItemOnceUnbounded) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  many_to_many(this, rt, CORIO_CHAN_UNBOUNDED, scaled(20000, 2000));
}

// Tight rounds: a receiver blocked on a rendezvous channel is killed while
// a sender hands it an item.  Either the receiver got the item (and the
// send succeeded) or it was cancelled and the item is still the sender's,
// which the test then receives: every round, exactly once.
TEST_F(Chan, KillOfABlockedReceiverRacingASendLosesNothing) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  ChanPtr c(sizeof(long), 0);
  const long rounds = scaled(20000, 1000);
  long got_by_receiver = 0, got_after = 0;
  for (long i = 0; i < rounds; i++) {
    std::atomic<long> item{-1};
    std::atomic<bool> started{false};
    corio_tid rcv = spawn(rt, [&]() -> void * {
      long v = -1;
      started = true;
      int r = corio_chan_recv(c, &v, CORIO_FOREVER);
      item = v;
      return V(r);
    });
    corio_tid snd = spawn(rt, [&, i]() -> void * {
      long v = i;
      return V(corio_chan_send(c, &v, CORIO_FOREVER));
    });
    // Odd rounds: the kill lands while the receiver is queueing or queued.
    if (i % 2) {
      ASSERT_TRUE(eventually([&] { return started.load(); }));
    }
    for (long j = 0; j < (i * 7) % 500; j++) std::atomic_signal_fence(std::memory_order_seq_cst);
    corio_task_kill(rcv);
    intptr_t rr = join_or_error(rt, rcv);
    if (rr == 0) {
      ASSERT_EQ(i, item.load());
      got_by_receiver++;
    } else {
      ASSERT_EQ(-ECANCELED, rr);
      ASSERT_EQ(-1, item.load()) << "a cancelled receive wrote the item";
      long v = -1;
      ASSERT_EQ(0, corio_chan_recv(c, &v, CORIO_MS(20000)));
      ASSERT_EQ(i, v);
      got_after++;
    }
    ASSERT_EQ(0, join(rt, snd));
  }
  EXPECT_EQ(rounds, got_by_receiver + got_after);
  printf("kill race: %ld received by the task, %ld after its kill\n", got_by_receiver, got_after);
}

// The same with a sender killed while blocked: the item reaches the
// receiver only if the send returned 0.
TEST_F(Chan, KillOfABlockedSenderRacingAReceiveLosesNothing) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  ChanPtr c(sizeof(long), 0);
  const long rounds = scaled(5000, 500);
  for (long i = 0; i < rounds; i++) {
    std::atomic<bool> started{false};
    corio_tid snd = spawn(rt, [&, i]() -> void * {
      long v = i;
      started = true;
      return V(corio_chan_send(c, &v, CORIO_FOREVER));
    });
    if (i % 2) {
      ASSERT_TRUE(eventually([&] { return started.load(); }));
    }
    std::atomic<int> rr{1};
    std::atomic<long> got{-1};
    corio_tid rcv = spawn(rt, [&]() -> void * {
      long v = -1;
      rr = corio_chan_recv(c, &v, 200000);
      got = v;
      return nullptr;
    });
    for (long j = 0; j < (i * 13) % 500; j++) std::atomic_signal_fence(std::memory_order_seq_cst);
    corio_task_kill(snd);
    intptr_t sr = join_or_error(rt, snd);
    join(rt, rcv);
    if (sr == 0) {
      // Sent: the receiver (or nobody else) has it.
      ASSERT_EQ(0, rr.load());
      ASSERT_EQ(i, got.load());
    } else {
      ASSERT_EQ(-ECANCELED, sr);
      ASSERT_EQ(-ETIMEDOUT, rr.load()) << "a cancelled send delivered its item";
      ASSERT_EQ(-1, got.load());
    }
  }
}

// A receive whose timeout expires while a sender arrives: the item is
// either received (0) or stays with the sender, whose own timeout then
// ends it; never both, never neither.
TEST_F(Chan, TimeoutRacingAHandOverLosesNothing) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  ChanPtr c(sizeof(long), 0);
  const long rounds = scaled(5000, 500);
  long both = 0;
  for (long i = 0; i < rounds; i++) {
    std::atomic<int> rr{1}, sr{1};
    std::atomic<long> got{-1};
    corio_tid rcv = spawn(rt, [&, i]() -> void * {
      long v = -1;
      rr = corio_chan_recv(c, &v, 20000 + (i % 50) * 1000);
      got = v;
      return nullptr;
    });
    corio_tid snd = spawn(rt, [&, i]() -> void * {
      long v = i;
      for (long j = 0; j < (i * 31) % 3000; j++) std::atomic_signal_fence(std::memory_order_seq_cst);
      sr = corio_chan_send(c, &v, 300000);
      return nullptr;
    });
    join(rt, rcv);
    join(rt, snd);
    ASSERT_EQ(rr.load(), sr.load()) << "round " << i << ": one side completed alone";
    if (rr.load() == 0) {
      ASSERT_EQ(i, got.load());
      both++;
    } else {
      ASSERT_EQ(-ETIMEDOUT, rr.load());
    }
  }
  printf("timeout race: %ld of %ld handed over\n", both, rounds);
}

// ---- select ---------------------------------------------------------------

TEST_F(Select, RejectsBadArgumentsAndTimesOut) {
  corio_select_case cs[2] = {};
  EXPECT_EQ(-EINVAL, corio_select(nullptr, 1, 0));
  EXPECT_EQ(-EINVAL, corio_select(cs, 0, 0));
  EXPECT_EQ(-EINVAL, corio_select(cs, CORIO_SELECT_MAX + 1, 0));
  // Only NULL channels: never ready.
  EXPECT_EQ(-EINVAL, corio_select(cs, 2, CORIO_FOREVER));
  EXPECT_EQ(-EAGAIN, corio_select(cs, 2, 0));
  EXPECT_EQ(-ETIMEDOUT, corio_select(cs, 2, CORIO_MS(10)));
  ChanPtr a(sizeof(long), 0);
  cs[0] = {a, 1, nullptr, 0};  // a send needs an item
  EXPECT_EQ(-EINVAL, corio_select(cs, 1, 0));
  long v;
  cs[0] = {a, 0, &v, 0};
  EXPECT_EQ(-EAGAIN, corio_select(cs, 2, 0));
  auto t0 = Clock::now();
  EXPECT_EQ(-ETIMEDOUT, corio_select(cs, 2, CORIO_MS(30)));
  EXPECT_GE(Clock::now() - t0, milliseconds(29));
  // The timed-out select left no node behind: nobody receives now.
  EXPECT_EQ(-EAGAIN, corio_chan_try_send(a, &v));
}

TEST_F(Select, ChoosesFairlyBetweenReadyCases) {
  ChanPtr a(sizeof(long), CORIO_CHAN_UNBOUNDED), b(sizeof(long), CORIO_CHAN_UNBOUNDED);
  const int n = 4000;
  for (long i = 0; i < n; i++) {
    ASSERT_EQ(0, corio_chan_send(a, &i, 0));
    ASSERT_EQ(0, corio_chan_send(b, &i, 0));
  }
  long va, vb;
  int count[3] = {0, 0, 0};
  for (int i = 0; i < n; i++) {
    corio_select_case cs[3] = {{nullptr, 0, nullptr, 0}, {a, 0, &va, 0}, {b, 0, &vb, 0}};
    int r = corio_select(cs, 3, 0);
    ASSERT_TRUE(r == 1 || r == 2) << r;
    ASSERT_EQ(0, cs[r].result);
    count[r]++;
  }
  // Fair: each about half (a fixed order would give 4000:0).
  EXPECT_GT(count[1], n * 4 / 10);
  EXPECT_GT(count[2], n * 4 / 10);
  EXPECT_EQ(size_t(n - count[1]), corio_chan_len(a));
}

TEST_F(Select, WaitsForTheFirstReadyCaseAndLeavesNoNodes) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  ChanPtr a(sizeof(long), 0), b(sizeof(long), 0), out(sizeof(long), 0);
  std::atomic<int> which{-1};
  std::atomic<long> got{0};
  corio_tid s = spawn(rt, [&]() -> void * {
    long va = 0, vb = 0, vo = 5;
    corio_select_case cs[3] = {{a, 0, &va, 0}, {b, 0, &vb, 0}, {out, 1, &vo, 0}};
    int r = corio_select(cs, 3, CORIO_MS(20000));
    which = r;
    got = r == 1 ? vb : -1;
    return V(r >= 0 ? cs[r].result : r);
  });
  std::this_thread::sleep_for(milliseconds(30));
  long v = 42;
  ASSERT_EQ(0, corio_chan_send(b, &v, CORIO_MS(20000)));
  EXPECT_EQ(0, join(rt, s));
  EXPECT_EQ(1, which.load());
  EXPECT_EQ(42, got.load());
  // The other cases' nodes are gone: nobody waits on a or out any more.
  EXPECT_EQ(-EAGAIN, corio_chan_try_send(a, &v));
  EXPECT_EQ(-EAGAIN, corio_chan_try_recv(out, &v));
}

TEST_F(Select, SeesCloseOnEitherKindOfCase) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  ChanPtr a(sizeof(long), 0), b(sizeof(long), 0);
  corio_tid s = spawn(rt, [&]() -> void * {
    long va = 0;
    corio_select_case cs[1] = {{a, 0, &va, 0}};
    int r = corio_select(cs, 1, CORIO_FOREVER);
    return V(r == 0 ? cs[0].result : -1000 + r);
  });
  long x = 1;
  corio_tid t = spawn(rt, [&]() -> void * {
    corio_select_case cs[1] = {{b, 1, &x, 0}};
    int r = corio_select(cs, 1, CORIO_FOREVER);
    return V(r == 0 ? cs[0].result : -1000 + r);
  });
  std::this_thread::sleep_for(milliseconds(30));
  ASSERT_EQ(0, corio_chan_close(a));
  ASSERT_EQ(0, corio_chan_close(b));
  EXPECT_EQ(CORIO_CHAN_CLOSED, join(rt, s));
  EXPECT_EQ(-EPIPE, join(rt, t));
  // Already closed: ready at once.
  corio_select_case cs[2] = {{a, 0, &x, 0}, {b, 1, &x, 0}};
  int r = corio_select(cs, 2, 0);
  ASSERT_TRUE(r == 0 || r == 1);
  EXPECT_EQ(r == 0 ? CORIO_CHAN_CLOSED : -EPIPE, cs[r].result);
}

// Two producers on two rendezvous channels, selecting consumers (a task
// and a plain thread) with a send case each to a third channel that a
// drain task reads: every item is taken exactly once, and each select
// performed exactly one case.
TEST_F(Select, ConcurrentSelectsPerformEachItemOnce) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  ChanPtr a(sizeof(long), 0), b(sizeof(long), 0), echo(sizeof(long), 0);
  const long per = scaled(20000, 2000);
  std::vector<std::atomic<int>> seen(2 * per);
  std::atomic<long> echoed{0}, bad{0};
  corio_tid pa = spawn(rt, [&]() -> void * {
    for (long i = 0; i < per; i++)
      if (corio_chan_send(a, &i, CORIO_FOREVER) != 0) bad++;
    return nullptr;
  });
  corio_tid pb = spawn(rt, [&]() -> void * {
    for (long i = per; i < 2 * per; i++)
      if (corio_chan_send(b, &i, CORIO_FOREVER) != 0) bad++;
    return nullptr;
  });
  corio_tid drain = spawn(rt, [&]() -> void * {
    long v;
    while (corio_chan_recv(echo, &v, CORIO_FOREVER) == 0) echoed++;
    return nullptr;
  });
  std::atomic<long> taken{0};
  auto consumer = [&] {
    long token = -7;
    while (taken.load() < 2 * per) {
      long va = -1, vb = -1;
      corio_select_case cs[3] = {{a, 0, &va, 0}, {b, 0, &vb, 0}, {echo, 1, &token, 0}};
      int r = corio_select(cs, 3, CORIO_MS(50));
      if (r == -ETIMEDOUT) continue;
      if (r < 0 || cs[r].result != 0) {
        fprintf(stderr, "select: %d result %d\n", r, r >= 0 ? cs[r].result : 0);
        bad++;
        return;
      }
      if (r == 0 || r == 1) {
        long v = r == 0 ? va : vb;
        if (v < 0 || v >= 2 * per) {
          fprintf(stderr, "select: case %d value %ld\n", r, v);
          bad++;
          return;
        }
        seen[v]++;
        taken++;
      }
    }
  };
  Body cb = [&]() -> void * {
    consumer();
    return nullptr;
  };
  corio_tid ct = spawn(rt, cb);
  std::thread th(consumer);
  th.join();
  join(rt, ct);
  join(rt, pa);
  join(rt, pb);
  ASSERT_EQ(0, corio_chan_close(echo));
  join(rt, drain);
  EXPECT_EQ(0, bad.load());
  long wrong = 0;
  for (long i = 0; i < 2 * per; i++) wrong += seen[i].load() != 1;
  EXPECT_EQ(0, wrong);
  EXPECT_GT(echoed.load(), 0);
}

TEST_F(Select, KillOfABlockedSelectLeavesEveryChannelClean) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  ChanPtr a(sizeof(long), 0), b(sizeof(long), 0);
  const long rounds = scaled(5000, 500);
  for (long i = 0; i < rounds; i++) {
    std::atomic<long> got{-1};
    std::atomic<bool> started{false};
    corio_tid s = spawn(rt, [&]() -> void * {
      long va = -1, vb = -1;
      started = true;
      corio_select_case cs[2] = {{a, 0, &va, 0}, {b, 0, &vb, 0}};
      int r = corio_select(cs, 2, CORIO_FOREVER);
      if (r >= 0) got = r == 0 ? va : vb;
      return V(r);
    });
    std::atomic<int> sr{1};
    corio_tid p = spawn(rt, [&, i]() -> void * {
      long v = i;
      sr = corio_chan_send(i % 2 ? a : b, &v, 200000);
      return nullptr;
    });
    if (i % 2) {
      ASSERT_TRUE(eventually([&] { return started.load(); }));
    }
    for (long j = 0; j < (i * 7) % 400; j++) std::atomic_signal_fence(std::memory_order_seq_cst);
    corio_task_kill(s);
    intptr_t r = join_or_error(rt, s);
    join(rt, p);
    if (r >= 0) {
      ASSERT_EQ(0, sr.load());
      ASSERT_EQ(i, got.load());
    } else {
      ASSERT_EQ(-ECANCELED, r);
      ASSERT_EQ(-ETIMEDOUT, sr.load()) << "item delivered to a cancelled select";
    }
  }
  long v = 0;
  EXPECT_EQ(-EAGAIN, corio_chan_try_send(a, &v));
  EXPECT_EQ(-EAGAIN, corio_chan_try_send(b, &v));
}

}  // namespace
