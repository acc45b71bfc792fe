// tests/test_task_dump.cc - seeing inside a runtime (suite TaskDump): task
// names (at spawn, set by the task, cut, errors), the runtime's counts, the
// task dump (each task's state, what it waits on, a waiting task's stack
// through the test's own function), the dump to a descriptor, dumps taken
// while tasks come and go, and the worker threads' names.
//
// This executable exports its symbols and keeps frame pointers
// (tests/CMakeLists.txt), so the dump can name dump_reader_body.
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "support/task_helpers.h"

namespace {

class TaskDump : public TaskBase {};

std::vector<std::string> dump_lines(corio_rt *rt) {
  std::vector<std::string> lines;
  int n = corio_rt_dump_with(
      rt, [](void *arg, const char *line) { static_cast<std::vector<std::string> *>(arg)->push_back(line); },
      &lines);
  EXPECT_GE(n, 0);
  return lines;
}

// The line of the task named `name`, and the frame lines under it.
std::string line_of(const std::vector<std::string> &lines, const std::string &name,
                    std::string *frames = nullptr) {
  std::string quoted = "\"" + name + "\"";
  for (size_t i = 0; i < lines.size(); i++) {
    if (lines[i].rfind("task ", 0) != 0 || lines[i].find(quoted) == std::string::npos) continue;
    if (frames != nullptr) {
      frames->clear();
      for (size_t j = i + 1; j < lines.size() && lines[j].rfind("    ", 0) == 0; j++)
        *frames += lines[j] + "\n";
    }
    return lines[i];
  }
  return "";
}

std::string all(const std::vector<std::string> &lines) {
  std::string s;
  for (const auto &l : lines) s += l + "\n";
  return s;
}

}  // namespace

// Exported (not static, C linkage): the dump names it in the reader's stack.
extern "C" __attribute__((noinline)) void *dump_reader_body(void *arg) {
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  char c;
  ssize_t n = corio_recv(fd, &c, 1, 0, CORIO_FOREVER);
  return reinterpret_cast<void *>(static_cast<intptr_t>(n));
}

namespace {

TEST_F(TaskDump, NamesAtSpawnAndByTheTask) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  corio_spawn_opts o{};
  o.name = "from the spawn";
  corio_tid t = 0;
  std::atomic<int> go{0};
  Body b = [&]() -> void * {
    while (go.load() == 0) corio_task_yield();
    EXPECT_EQ(0, corio_task_set_name(0, "renamed by itself"));
    char buf[CORIO_TASK_NAME_MAX];
    EXPECT_EQ(0, corio_task_get_name(0, buf, sizeof buf));
    EXPECT_STREQ("renamed by itself", buf);
    go = 2;
    while (go.load() != 3) corio_task_yield();
    return nullptr;
  };
  ASSERT_EQ(0, corio_rt_spawn_opts(rt, &t, tramp, body(b), &o));
  char buf[CORIO_TASK_NAME_MAX];
  EXPECT_EQ(0, corio_task_get_name(t, buf, sizeof buf));
  EXPECT_STREQ("from the spawn", buf);
  go = 1;
  ASSERT_TRUE(eventually([&] { return go.load() == 2; }));
  EXPECT_EQ(0, corio_task_get_name(t, buf, sizeof buf));
  EXPECT_STREQ("renamed by itself", buf);
  // Cut to fit: the buffer's and the task's.
  std::string longname(100, 'x');
  EXPECT_EQ(0, corio_task_set_name(t, longname.c_str()));
  EXPECT_EQ(0, corio_task_get_name(t, buf, sizeof buf));
  EXPECT_EQ(std::string(CORIO_TASK_NAME_MAX - 1, 'x'), buf);
  char small[4];
  EXPECT_EQ(0, corio_task_get_name(t, small, sizeof small));
  EXPECT_STREQ("xxx", small);
  EXPECT_EQ(0, corio_task_set_name(t, nullptr));
  EXPECT_EQ(0, corio_task_get_name(t, buf, sizeof buf));
  EXPECT_STREQ("", buf);
  go = 3;
  join(rt, t);
  EXPECT_EQ(-ESRCH, corio_task_set_name(t, "gone"));
  EXPECT_EQ(-ESRCH, corio_task_get_name(t, buf, sizeof buf));
  EXPECT_EQ(-EPERM, corio_task_set_name(0, "not a task"));
  EXPECT_EQ(-EINVAL, corio_task_get_name(t, nullptr, 8));
  // A spawn without options, or with a NULL name: unnamed.
  void *r = run(rt, [&]() -> void * {
    char b2[8] = "junk";
    corio_task_get_name(0, b2, sizeof b2);
    return V(b2[0] == '\0');
  });
  EXPECT_EQ(1, I(r));
}

TEST_F(TaskDump, StatsCountTasksAliveSpawnedAndFinished) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  corio_rt_stats s{};
  ASSERT_EQ(0, corio_rt_get_stats(rt, &s));
  EXPECT_EQ(0u, s.tasks_alive);
  EXPECT_EQ(-EINVAL, corio_rt_get_stats(nullptr, &s));
  EXPECT_EQ(-EINVAL, corio_rt_get_stats(rt, nullptr));
  constexpr int kTasks = 10;
  std::atomic<int> parked{0};
  std::vector<corio_tid> ids;
  for (int i = 0; i < kTasks; i++)
    ids.push_back(spawn(rt, [&]() -> void * {
      parked++;
      while (corio_task_park() == 0) {
      }
      return nullptr;
    }));
  ASSERT_TRUE(eventually([&] { return parked.load() == kTasks; }));
  ASSERT_EQ(0, corio_rt_get_stats(rt, &s));
  EXPECT_EQ(static_cast<uint64_t>(kTasks), s.tasks_alive);
  EXPECT_EQ(static_cast<uint64_t>(kTasks), s.tasks_spawned);
  EXPECT_EQ(0u, s.tasks_finished);
  EXPECT_GE(s.workers.tasks_run, static_cast<uint64_t>(kTasks));
  for (corio_tid t : ids) corio_task_kill(t);
  for (corio_tid t : ids) join(rt, t);
  ASSERT_TRUE(eventually([&] {
    corio_rt_stats x{};
    corio_rt_get_stats(rt, &x);
    return x.tasks_alive == 0;
  }));
  ASSERT_EQ(0, corio_rt_get_stats(rt, &s));
  EXPECT_EQ(static_cast<uint64_t>(kTasks), s.tasks_finished);
}

TEST_F(TaskDump, EachTaskWithItsStateWaitAndStack) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  corio_chan *ch = nullptr;
  ASSERT_EQ(0, corio_chan_create(&ch, sizeof(int), 0));
  corio_sem *sem = nullptr;
  ASSERT_EQ(0, corio_sem_create(&sem, 0));
  std::atomic<int> started{0};
  auto named = [&](const char *name, corio_task_fn fn, void *arg) {
    corio_spawn_opts o{};
    o.name = name;
    corio_tid t = 0;
    EXPECT_EQ(0, corio_rt_spawn_opts(rt, &t, fn, arg, &o));
    return t;
  };
  auto body_named = [&](const char *name, Body b) { return named(name, tramp, body(std::move(b))); };
  corio_tid reader = named("reader", dump_reader_body, V(sv[0]));
  corio_tid sleeper = body_named("sleeper", [&]() -> void * {
    started++;
    return V(corio_sleep_ns(CORIO_MS(60000)));
  });
  corio_tid parked = body_named("parked", [&]() -> void * {
    started++;
    while (corio_task_park() == 0) {
    }
    return nullptr;
  });
  corio_tid joiner = body_named("joiner", [&]() -> void * {
    started++;
    return V(corio_task_join(parked, nullptr));
  });
  corio_tid chanwait = body_named("chanwait", [&]() -> void * {
    started++;
    int v;
    return V(corio_chan_recv(ch, &v, CORIO_FOREVER));
  });
  corio_tid semwait = body_named("semwait", [&]() -> void * {
    started++;
    return V(corio_sem_acquire(sem, CORIO_FOREVER));
  });
  ASSERT_TRUE(eventually([&] { return started.load() == 5; }));
  // Every one of them asleep: wait until the dump says so.
  std::vector<std::string> lines;
  ASSERT_TRUE(eventually([&] {
    lines = dump_lines(rt);
    for (const char *n : {"reader", "sleeper", "parked", "joiner", "chanwait", "semwait"})
      if (line_of(lines, n).find(" waiting ") == std::string::npos) return false;
    return true;
  })) << all(lines);
  std::string text = all(lines);
  EXPECT_EQ(0u, lines.front().rfind("corio: dump of runtime", 0)) << text;
  EXPECT_NE(std::string::npos, lines.back().find("end of dump (6 tasks)")) << text;
  std::string frames;
  EXPECT_NE(std::string::npos,
            line_of(lines, "reader", &frames).find("recv(fd " + std::to_string(sv[0]) + ")"))
      << text;
  EXPECT_NE(std::string::npos, frames.find("dump_reader_body")) << text;
  EXPECT_NE(std::string::npos, line_of(lines, "sleeper").find(": sleep, ")) << text;
  EXPECT_NE(std::string::npos, line_of(lines, "parked").find(": park")) << text;
  EXPECT_NE(std::string::npos,
            line_of(lines, "joiner").find("join of task " + std::to_string(parked)))
      << text;
  EXPECT_NE(std::string::npos, line_of(lines, "chanwait").find("channel receive")) << text;
  EXPECT_NE(std::string::npos, line_of(lines, "semwait").find("semaphore")) << text;
  // From a task: that task is the running one.
  void *r = run(rt, [&]() -> void * {
    corio_task_set_name(0, "dumper");
    std::vector<std::string> l = dump_lines(rt);
    return V(line_of(l, "dumper").find(" running on worker ") != std::string::npos);
  });
  EXPECT_EQ(1, I(r));
  for (corio_tid t : {reader, sleeper, parked, joiner, chanwait, semwait}) corio_task_kill(t);
  for (corio_tid t : {reader, sleeper, parked, joiner, chanwait, semwait}) join_or_error(rt, t);
  close(sv[0]);
  close(sv[1]);
  corio_chan_destroy(ch);
  corio_sem_destroy(sem);
}

TEST_F(TaskDump, ToADescriptor) {
  Rt rt(1);
  ASSERT_EQ(0, rt.rc());
  std::atomic<int> parked{0};
  corio_tid t = spawn(rt, [&]() -> void * {
    corio_task_set_name(0, "to-fd");
    parked++;
    while (corio_task_park() == 0) {
    }
    return nullptr;
  });
  ASSERT_TRUE(eventually([&] { return parked.load() == 1; }));
  char path[] = "/tmp/corio-dump-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  EXPECT_EQ(1, corio_rt_dump(rt, fd));
  EXPECT_EQ(-EINVAL, corio_rt_dump(rt, -1));
  EXPECT_EQ(-EINVAL, corio_rt_dump(nullptr, fd));
  EXPECT_EQ(-EINVAL, corio_rt_dump_with(rt, nullptr, nullptr));
  std::string text(8192, '\0');
  ssize_t n = pread(fd, &text[0], text.size(), 0);
  ASSERT_GT(n, 0);
  text.resize(static_cast<size_t>(n));
  EXPECT_NE(std::string::npos, text.find("\"to-fd\" waiting ")) << text;
  EXPECT_EQ('\n', text.back());
  close(fd);
  corio_task_kill(t);
  join(rt, t);
}

// Dumps while tasks start, switch and end on both workers: no crash, and
// every waiting task's stack is either shown or marked as moved.
TEST_F(TaskDump, DumpsWhileTasksComeAndGo) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  std::atomic<bool> stop{false};
  std::atomic<long> spawned{0};
  auto churn = [&]() -> void * {
    while (!stop.load()) {
      corio_tid c = tspawn([&]() -> void * {
        for (int i = 0; i < 3; i++) corio_task_yield();
        corio_sleep_ns(50000);
        return nullptr;
      });
      spawned++;
      corio_task_join(c, nullptr);
    }
    return nullptr;
  };
  corio_tid a = spawn(rt, churn), b = spawn(rt, churn);
  ASSERT_TRUE(eventually([&] { return spawned.load() >= 10; }));
  const long before = spawned.load();
  const int dumps = static_cast<int>(scaled(300, 60));
  long lines = 0;
  for (int i = 0; i < dumps; i++) {
    std::vector<std::string> l = dump_lines(rt);
    lines += static_cast<long>(l.size());
    ASSERT_GE(l.size(), 2u);
    ASSERT_EQ(0u, l.front().rfind("corio: dump of runtime", 0));
    ASSERT_EQ(0u, l.back().rfind("corio: end of dump", 0));
  }
  stop = true;
  join(rt, a);
  join(rt, b);
  printf("%d dumps, %ld lines, %ld tasks spawned meanwhile\n", dumps, lines, spawned.load() - before);
}

TEST_F(TaskDump, WorkerThreadsAreNamed) {
  Rt rt(2);
  ASSERT_EQ(0, rt.rc());
  std::set<std::string> names;
  ASSERT_TRUE(eventually([&] {
    names.clear();
    DIR *d = opendir("/proc/self/task");
    if (d == nullptr) return false;
    while (dirent *e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/comm");
      std::string comm;
      std::getline(f, comm);
      names.insert(comm);
    }
    closedir(d);
    return names.count("corio-w0") == 1 && names.count("corio-w1") == 1;
  }));
}

}  // namespace
