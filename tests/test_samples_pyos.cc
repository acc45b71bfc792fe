// tests/test_samples_pyos.cc - end-to-end tests of the task programs in
// samples/pyos/ (seed slides 113-150: multitask, taskexit, gettid,
// killtask, waittask).  Each program is run as a child process; with one
// worker its output must be the seed's, line for line, and with more
// workers the same lines in any order.  Task ids are corio's, not the
// seed's 1 and 2: outputs are compared under a one-to-one renaming of the
// ids.  The binaries are found from this test's own path:
// <build>/tests/<this> runs <build>/samples/pyos/<program>.  Every wait is
// bounded: a child that outlives its deadline is killed and the test fails.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Generous: sanitizer builds start slowly; a passing run takes milliseconds.
constexpr milliseconds kDeadline{30000};

std::string dir_of(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// <build>, from /proc/self/exe = <build>/tests/test_samples_pyos.
std::string build_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  return dir_of(dir_of(std::string(buf, static_cast<size_t>(n))));
}

std::string sample(const std::string &name) { return build_dir() + "/samples/pyos/" + name; }

struct Result {
  bool timed_out = false;
  int status = -1;  // waitpid status
  std::string out, err;

  bool exited_with(int code) const {
    return !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == code;
  }
};

std::ostream &operator<<(std::ostream &os, const Result &r) {
  os << "timed_out=" << r.timed_out;
  if (WIFEXITED(r.status)) os << " exit=" << WEXITSTATUS(r.status);
  if (WIFSIGNALED(r.status)) os << " signal=" << WTERMSIG(r.status);
  return os << "\n--- stdout ---\n" << r.out << "--- stderr ---\n" << r.err;
}

void close_fd(int &fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// Run argv with stdin from /dev/null; collect stdout and stderr; kill the
// child if it has not exited by the deadline.
Result run(const std::vector<std::string> &argv) {
  Result r;
  auto deadline = Clock::now() + kDeadline;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) < 0) {
    ADD_FAILURE() << "pipe2: " << strerror(errno);
    return r;
  }
  if (pipe2(err, O_CLOEXEC) < 0) {
    ADD_FAILURE() << "pipe2: " << strerror(errno);
    close(out[0]);
    close(out[1]);
    return r;
  }
  std::vector<char *> args;
  for (const std::string &a : argv) args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {  // only async-signal-safe calls until exec
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0) dup2(in, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    close(out[0]);
    close(err[0]);
    return r;
  }
  int fds[2] = {out[0], err[0]};
  while (fds[0] >= 0 || fds[1] >= 0) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      break;
    }
    struct pollfd p[2];
    nfds_t n = 0;
    int which[2];
    for (int i = 0; i < 2; i++) {
      if (fds[i] < 0) continue;
      p[n].fd = fds[i];
      p[n].events = POLLIN;
      p[n].revents = 0;
      which[n++] = i;
    }
    int k = poll(p, n, static_cast<int>(left.count()));
    if (k < 0 && errno != EINTR) {
      ADD_FAILURE() << "poll: " << strerror(errno);
      break;
    }
    for (nfds_t i = 0; k > 0 && i < n; i++) {
      if (p[i].revents == 0) continue;
      char buf[4096];
      ssize_t got = read(fds[which[i]], buf, sizeof buf);
      if (got > 0)
        (which[i] == 0 ? r.out : r.err).append(buf, static_cast<size_t>(got));
      else if (got == 0 || (errno != EAGAIN && errno != EINTR))
        close_fd(fds[which[i]]);
    }
  }
  close_fd(fds[0]);
  close_fd(fds[1]);
  // Reap, still within the deadline.
  for (;;) {
    pid_t w = waitpid(pid, &r.status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      ADD_FAILURE() << "waitpid: " << strerror(errno);
      break;
    }
    if (r.timed_out || Clock::now() >= deadline) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      waitpid(pid, &r.status, 0);
      break;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  return r;
}

// ---- comparing outputs modulo task ids -----------------------------------

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> v;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) v.push_back(line);
  return v;
}

bool is_number(const std::string &w) {
  return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return isdigit(static_cast<unsigned char>(c)); });
}

// The distinct ids (words made of digits) of `lines`, in order of first use.
std::vector<std::string> ids_of(const std::vector<std::string> &lines) {
  std::vector<std::string> ids;
  for (const std::string &line : lines) {
    std::istringstream in(line);
    std::string w;
    while (in >> w)
      if (is_number(w) && std::find(ids.begin(), ids.end(), w) == ids.end()) ids.push_back(w);
  }
  return ids;
}

std::vector<std::string> rename_ids(const std::vector<std::string> &lines,
                                const std::map<std::string, std::string> &to) {
  std::vector<std::string> out;
  for (const std::string &line : lines) {
    std::istringstream in(line);
    std::string w, renamed;
    while (in >> w) {
      auto it = to.find(w);
      if (!renamed.empty()) renamed += ' ';
      renamed += it != to.end() ? it->second : w;
    }
    out.push_back(renamed);
  }
  return out;
}

// True when some one-to-one renaming of the actual ids to the expected ones
// makes `actual` equal `expected`: in order, or as multisets (any order).
bool same_modulo_ids(const std::string &expected_text, const std::string &actual_text,
                     bool in_order) {
  std::vector<std::string> expected = lines_of(expected_text), actual = lines_of(actual_text);
  if (expected.size() != actual.size()) return false;
  std::vector<std::string> want = ids_of(expected), have = ids_of(actual);
  if (want.size() != have.size()) return false;
  for (const std::string &id : have)
    if (id == "0") return false;  // never a task's id
  if (!in_order) std::sort(expected.begin(), expected.end());
  std::vector<size_t> perm(have.size());
  for (size_t i = 0; i < perm.size(); i++) perm[i] = i;
  do {
    std::map<std::string, std::string> to;
    for (size_t i = 0; i < have.size(); i++) to[have[i]] = want[perm[i]];
    std::vector<std::string> got = rename_ids(actual, to);
    if (!in_order) std::sort(got.begin(), got.end());
    if (got == expected) return true;
  } while (std::next_permutation(perm.begin(), perm.end()));
  return false;
}

// ---- what the seed prints ------------------------------------------------

std::string times(int n, const std::string &s) {
  std::string r;
  for (int i = 0; i < n; i++) r += s;
  return r;
}

// Slide 122 (with the loops bounded to three turns each).
const std::string kMultitask = times(3, "I'm foo\nI'm bar\n");

// Slide 128.
const std::string kTaskexit = times(5, "I'm foo\nI'm bar\n") + "I'm foo\n" +
                              "Task 2 terminated\n" + times(4, "I'm foo\n") +
                              "Task 1 terminated\n";

// Slide 136.
const std::string kGettid = times(5, "I'm foo 1\nI'm bar 2\n") + "Task 1 terminated\n" +
                            times(5, "I'm bar 2\n") + "Task 2 terminated\n";

// Slide 142.
const std::string kKilltask =
    times(5, "I'm foo 2\n") + "Task 2 terminated\nmain done\nTask 1 terminated\n";

// Slide 150.
const std::string kWaittask = "Waiting for child\n" + times(5, "I'm foo 2\n") +
                              "Task 2 terminated\nChild done\nTask 1 terminated\n";

struct Program {
  const char *name;
  const std::string *seed;
};

const Program kPrograms[] = {
    {"multitask", &kMultitask}, {"taskexit", &kTaskexit}, {"gettid", &kGettid},
    {"killtask", &kKilltask},   {"waittask", &kWaittask},
};

class SamplesPyos : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const Program &p : kPrograms)
      ASSERT_EQ(0, access(sample(p.name).c_str(), X_OK))
          << sample(p.name) << " is missing: build the samples (the default target) first";
  }

  // One worker: exactly the seed's lines, in the seed's order (several
  // runs: the order must not depend on timing).
  void check_one_worker(const Program &p) {
    for (int run_no = 0; run_no < 3; run_no++) {
      for (const std::vector<std::string> &argv :
           {std::vector<std::string>{sample(p.name)},
            std::vector<std::string>{sample(p.name), "--workers", "1"}}) {
        Result r = run(argv);
        ASSERT_TRUE(r.exited_with(0)) << p.name << ": " << r;
        EXPECT_EQ("", r.err) << p.name;
        EXPECT_TRUE(same_modulo_ids(*p.seed, r.out, true))
            << p.name << " printed:\n" << r.out << "the seed prints:\n" << *p.seed;
      }
    }
  }

  // N workers: the seed's lines, in any order.
  void check_workers(const Program &p, const char *workers, int runs) {
    for (int run_no = 0; run_no < runs; run_no++) {
      Result r = run({sample(p.name), "--workers", workers});
      ASSERT_TRUE(r.exited_with(0)) << p.name << " --workers " << workers << ": " << r;
      EXPECT_EQ("", r.err) << p.name;
      EXPECT_TRUE(same_modulo_ids(*p.seed, r.out, false))
          << p.name << " --workers " << workers << " printed:\n"
          << r.out << "the seed prints (in some order):\n" << *p.seed;
    }
  }

  void check(const char *name) {
    for (const Program &p : kPrograms) {
      if (strcmp(p.name, name) != 0) continue;
      check_one_worker(p);
      if (HasFatalFailure()) return;
      check_workers(p, "2", 10);
      if (HasFatalFailure()) return;
      check_workers(p, "4", 3);  // more workers than this machine may have CPUs
      return;
    }
    FAIL() << "no program " << name;
  }
};

// ---- the comparison itself ---------------------------------------------------

TEST(SamplesPyosCompare, RenamesIdsOneToOne) {
  EXPECT_TRUE(same_modulo_ids("I'm foo 1\nTask 1 terminated\n",
                              "I'm foo 4294967297\nTask 4294967297 terminated\n", true));
  // Two ids may not both map to the same one, nor one to two.
  EXPECT_FALSE(same_modulo_ids("a 1\nb 1\n", "a 7\nb 8\n", true));
  EXPECT_FALSE(same_modulo_ids("a 1\nb 2\n", "a 7\nb 7\n", true));
  // Order matters only when asked for.
  EXPECT_FALSE(same_modulo_ids("a 1\nb 2\n", "b 8\na 7\n", true));
  EXPECT_TRUE(same_modulo_ids("a 1\nb 2\n", "b 8\na 7\n", false));
  EXPECT_TRUE(same_modulo_ids(kGettid, kGettid, true));
  // Swapped roles are not a renaming: foo's id is not bar's.
  EXPECT_FALSE(same_modulo_ids("I'm foo 1\nI'm bar 2\nTask 1 terminated\n",
                               "I'm foo 5\nI'm bar 6\nTask 6 terminated\n", false));
  EXPECT_FALSE(same_modulo_ids(kKilltask, kKilltask + "I'm foo 2\n", false));
  EXPECT_FALSE(same_modulo_ids("Task 1 terminated\n", "Task 0 terminated\n", true));
}

// ---- the programs ------------------------------------------------------------

TEST_F(SamplesPyos, Multitask) { check("multitask"); }    // slides 113-122
TEST_F(SamplesPyos, Taskexit) { check("taskexit"); }      // slides 123-128
TEST_F(SamplesPyos, Gettid) { check("gettid"); }          // slides 129-136
TEST_F(SamplesPyos, Killtask) { check("killtask"); }      // slides 137-142
TEST_F(SamplesPyos, Waittask) { check("waittask"); }      // slides 143-150

TEST_F(SamplesPyos, IdsAreDistinctAndNonzero) {
  // gettid prints two ids, killtask and waittask a parent's and a child's.
  for (const char *name : {"gettid", "killtask", "waittask"}) {
    Result r = run({sample(name), "--workers", "2"});
    ASSERT_TRUE(r.exited_with(0)) << name << ": " << r;
    std::vector<std::string> ids = ids_of(lines_of(r.out));
    EXPECT_EQ(2u, ids.size()) << name << ":\n" << r.out;
    for (const std::string &id : ids) EXPECT_NE("0", id) << name;
  }
}

TEST_F(SamplesPyos, CommandLine) {
  for (const Program &p : kPrograms) {
    const std::string usage = std::string("usage: ") + p.name + " [--workers N]\n";
    Result r = run({sample(p.name), "--help"});
    EXPECT_TRUE(r.exited_with(0)) << r;
    EXPECT_EQ(usage, r.out);

    r = run({sample(p.name), "--workers=2"});
    EXPECT_TRUE(r.exited_with(0)) << r;
    EXPECT_TRUE(same_modulo_ids(*p.seed, r.out, false)) << r;

    for (const std::vector<std::string> &bad :
         {std::vector<std::string>{sample(p.name), "--workers"},
          std::vector<std::string>{sample(p.name), "--workers", "0"},
          std::vector<std::string>{sample(p.name), "--workers", "two"},
          std::vector<std::string>{sample(p.name), "--workers", "-1"},
          std::vector<std::string>{sample(p.name), "--workers", "5000"},
          std::vector<std::string>{sample(p.name), "--verbose"}}) {
      r = run(bad);
      EXPECT_TRUE(r.exited_with(2)) << r;
      EXPECT_EQ("", r.out) << r;
      EXPECT_NE(std::string::npos, r.err.find(usage)) << r;
    }
  }
}

}  // namespace
