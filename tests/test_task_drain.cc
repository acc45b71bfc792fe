// tests/test_task_drain.cc - corio_rt_shutdown_drain (suite TaskDrain):
// tasks that end within the drain are not killed and the call says 0;
// tasks still alive at its end are killed and counted; spawns still work
// during the drain; the server pattern (a task closes the listener, the
// acceptor leaves with -EBADF, the connections finish their work) drains
// to 0; bad calls err.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "support/task_helpers.h"

namespace {

class TaskDrain : public TaskBase {};

// A runtime the test shuts down itself (with the drain), or NULL.
corio_rt *make_rt(unsigned workers) {
  corio_rt_opts o{};
  o.workers = workers;
  corio_rt *rt = nullptr;
  return corio_rt_create(&rt, &o) == 0 ? rt : nullptr;
}

// A task that sleeps `ms` and then counts itself as finished normally.
struct Sleepers {
  std::atomic<int> finished{0};
  std::atomic<int> cancelled{0};
};

TEST_F(TaskDrain, TasksThatEndWithinTheDrainAreNotKilled) {
  corio_rt *rt = make_rt(2);
  ASSERT_NE(nullptr, rt);
  Sleepers s;
  constexpr int kTasks = 50;
  for (int i = 0; i < kTasks; i++) {
    corio_tid t = spawn(rt, [&, i]() -> void * {
      int r = corio_sleep_ns(CORIO_MS(20 + i));
      (r == 0 ? s.finished : s.cancelled)++;
      return nullptr;
    });
    corio_task_detach(t);
  }
  EXPECT_EQ(0, corio_rt_shutdown_drain(rt, CORIO_MS(30000)));
  EXPECT_EQ(kTasks, s.finished.load());
  EXPECT_EQ(0, s.cancelled.load());
}

TEST_F(TaskDrain, TasksAliveAtTheEndAreKilledAndCounted) {
  corio_rt *rt = make_rt(2);
  ASSERT_NE(nullptr, rt);
  Sleepers s;
  // Three that finish soon, two that would wait forever.
  for (int i = 0; i < 5; i++) {
    bool forever = i >= 3;
    corio_tid t = spawn(rt, [&, forever]() -> void * {
      int r = forever ? corio_task_park() : corio_sleep_ns(CORIO_MS(10));
      while (forever && r == 0) r = corio_task_park();
      (r == 0 ? s.finished : s.cancelled)++;
      return nullptr;
    });
    corio_task_detach(t);
  }
  auto t0 = Clock::now();
  EXPECT_EQ(2, corio_rt_shutdown_drain(rt, CORIO_MS(200)));
  EXPECT_GE(Clock::now() - t0, milliseconds(200)) << "the drain waited its time";
  EXPECT_EQ(3, s.finished.load());
  EXPECT_EQ(2, s.cancelled.load());
}

TEST_F(TaskDrain, ZeroDrainIsAShutdownAndSpawnsWorkDuringADrain) {
  corio_rt *rt = make_rt(1);
  ASSERT_NE(nullptr, rt);
  std::atomic<int> children{0};
  corio_tid t = spawn(rt, [&]() -> void * {
    corio_sleep_ns(CORIO_MS(50));
    // The drain has begun by now: a spawn still works, and the child is
    // drained too.
    corio_tid c = tspawn([&]() -> void * {
      if (corio_sleep_ns(CORIO_MS(20)) == 0) children++;
      return nullptr;
    });
    corio_task_detach(c);
    return nullptr;
  });
  corio_task_detach(t);
  EXPECT_EQ(0, corio_rt_shutdown_drain(rt, CORIO_FOREVER));
  EXPECT_EQ(1, children.load());

  rt = make_rt(1);
  ASSERT_NE(nullptr, rt);
  std::atomic<int> cancelled{0}, started{0};
  t = spawn(rt, [&]() -> void * {
    started++;
    if (corio_sleep_ns(CORIO_MS(60000)) == -ECANCELED) cancelled++;
    return nullptr;
  });
  corio_task_detach(t);
  ASSERT_TRUE(eventually([&] { return started.load() == 1; }));
  EXPECT_EQ(1, corio_rt_shutdown_drain(rt, 0));
  EXPECT_EQ(1, cancelled.load());
}

TEST_F(TaskDrain, BadCallsErr) {
  EXPECT_EQ(-EINVAL, corio_rt_shutdown_drain(nullptr, 0));
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  void *r = run(rt, [&]() -> void * { return V(corio_rt_shutdown_drain(rt, 0)); });
  EXPECT_EQ(-EPERM, I(r)) << "from a task";
}

// The server pattern of docs/server.md: an acceptor with connection
// tasks; a "stop" task closes the listener (the acceptor gets -EBADF and
// returns), the connections finish the lines they were sent; the drain
// ends with nothing left to kill.
TEST_F(TaskDrain, AServerClosesItsListenerAndDrainsToZero) {
  corio_rt *rt = make_rt(2);
  ASSERT_NE(nullptr, rt);
  int l = corio_listen("127.0.0.1:0", 64, 0);
  ASSERT_GE(l, 0);
  char name[64];
  ASSERT_EQ(0, corio_sock_name(l, name, sizeof name));
  std::atomic<int> accept_result{1};
  std::atomic<int> served{0};
  corio_tid acceptor = spawn(rt, [&]() -> void * {
    for (;;) {
      int c = corio_accept(l, nullptr, nullptr, 0, CORIO_FOREVER);
      if (c < 0) {
        accept_result = c;
        return nullptr;
      }
      corio_tid h = tspawn([&, c]() -> void * {
        char buf[16];
        ssize_t n = corio_recv(c, buf, 4, MSG_WAITALL, CORIO_MS(30000));
        if (n == 4) {
          corio_sleep_ns(CORIO_MS(50)); // work in flight when the stop comes
          if (corio_send_all(c, "done", 4, 0, CORIO_MS(30000), nullptr) == 4) served++;
        }
        corio_close(c);
        return nullptr;
      });
      corio_task_detach(h);
    }
  });
  corio_task_detach(acceptor);
  // Clients, each with a request in flight.
  constexpr int kClients = 8;
  std::vector<int> fds;
  for (int i = 0; i < kClients; i++) {
    corio_sockaddr a[1];
    ASSERT_EQ(1, corio_addr_resolve(name, a, 1));
    int s = socket(a[0].ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(s, 0);
    ASSERT_EQ(0, connect(s, reinterpret_cast<sockaddr *>(&a[0].ss), a[0].len));
    ASSERT_EQ(4, write(s, "work", 4));
    fds.push_back(s);
  }
  // The stop: from a task, as a signal-waiting task would.
  corio_tid stop = spawn(rt, [&]() -> void * {
    corio_sleep_ns(CORIO_MS(10));
    return V(corio_close(l));
  });
  corio_task_detach(stop);
  EXPECT_EQ(0, corio_rt_shutdown_drain(rt, CORIO_MS(30000)));
  EXPECT_EQ(-EBADF, accept_result.load());
  for (int s : fds) {
    char buf[8] = {};
    ssize_t n = recv(s, buf, sizeof buf, MSG_WAITALL);
    close(s);
    if (n == 4 && memcmp(buf, "done", 4) == 0) continue;
    // A client the acceptor had not reached when the listener closed is
    // reset; every one it accepted was served.
    EXPECT_LE(n, 0);
  }
  printf("%d of %d clients served before the listener closed\n", served.load(), kClients);
  EXPECT_GT(served.load(), 0);
}

}  // namespace
