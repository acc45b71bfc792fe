// tests/test_samples_pipelines.cc - end-to-end tests of the programs in
// samples/pipelines/: each one is run as a child process
// on its own input and its exact output is checked.  The binaries are found
// next to this test's build directory: <build>/tests/<this> runs
// <build>/samples/pipelines/<program>.  Every wait is bounded: a child that
// outlives its deadline is killed and the test fails (the runner is
// tests/support/child.h).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/child.h"

namespace {

using corio_test::build_dir;
using corio_test::Child;
using corio_test::Clock;
using corio_test::dir_of;
using corio_test::kDeadline;
using corio_test::Result;
using corio_test::run;
using std::chrono::milliseconds;

std::string sample(const char *name) {
  return build_dir() + "/samples/pipelines/" + name;
}

bool is_executable(const std::string &path) { return access(path.c_str(), X_OK) == 0; }

// A temporary file, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string &contents = "") {
    const char *tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                       "/corio-pipelines-XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    int fd = mkstemp(name.data());
    EXPECT_GE(fd, 0) << strerror(errno);
    if (fd >= 0) close(fd);
    path_ = name.data();
    append(contents);
  }
  ~TempFile() { unlink(path_.c_str()); }
  TempFile(const TempFile &) = delete;
  TempFile &operator=(const TempFile &) = delete;

  const std::string &path() const { return path_; }

  // One write(2) in append mode, as a logger would.
  void append(const std::string &s) const {
    if (s.empty()) return;
    int fd = open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    ASSERT_GE(fd, 0) << strerror(errno);
    ASSERT_EQ(static_cast<ssize_t>(s.size()), write(fd, s.data(), s.size()));
    close(fd);
  }

 private:
  std::string path_;
};

// Wait (bounded) until process `pid` has `path` open at offset `pos`: the
// follow programs seek to the end at start-up, and lines appended before
// that would (rightly) be skipped.
bool wait_open_at(pid_t pid, const std::string &path, long long pos) {
  char real[PATH_MAX];
  if (realpath(path.c_str(), real) == nullptr) return false;
  auto deadline = Clock::now() + kDeadline;
  std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd/";
  while (Clock::now() < deadline) {
    for (int fd = 3; fd < 64; fd++) {
      char link[PATH_MAX];
      ssize_t n = readlink((fd_dir + std::to_string(fd)).c_str(), link, sizeof link - 1);
      if (n <= 0 || std::string(link, static_cast<size_t>(n)) != real) continue;
      std::ifstream info("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd));
      std::string key;
      long long value;
      while (info >> key >> value) {
        if (key == "pos:" && value == pos) return true;
        if (key == "pos:") break;
      }
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return false;
}

// Let the follower find the file quiet, so the next append arrives while it
// polls (the program's poll interval is 100 ms).
void let_it_poll() { std::this_thread::sleep_for(milliseconds(150)); }

class SamplesPipelines : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char *p : {"countdown", "follow", "grep", "printer", "copipe", "broadcast",
                          "broadcast-shared"})
      ASSERT_TRUE(is_executable(sample(p)))
          << sample(p) << " is missing: build the samples (the default target) first";
  }
};

// ---- countdown --------------------------------------------

TEST_F(SamplesPipelines, Countdown) {
  Result r = run({sample("countdown"), "5"});
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ("Counting down from 5\n5\n4\n3\n2\n1\n", r.out);
  EXPECT_EQ("", r.err);

  r = run({sample("countdown"), "0"});
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ("Counting down from 0\n", r.out);
}

TEST_F(SamplesPipelines, CountdownRejectsBadArguments) {
  const std::vector<std::vector<std::string>> cases = {
      {sample("countdown")},
      {sample("countdown"), "ten"},
      {sample("countdown"), "-3"},
      {sample("countdown"), "5", "6"}};
  for (const std::vector<std::string> &args : cases) {
    Result r = run(args);
    EXPECT_TRUE(r.exited_with(2)) << r;
    EXPECT_EQ("", r.out);
    EXPECT_NE(std::string::npos, r.err.find("usage: countdown N")) << r;
  }
}

// ---- follow ---------------------------------------------------

TEST_F(SamplesPipelines, FollowFromStartWaitsForNewLines) {
  TempFile log("one\ntwo\n");
  Child c({sample("follow"), log.path(), "--from-start", "--max-lines", "5"}, "");
  let_it_poll();
  log.append("three\n");
  let_it_poll();
  log.append("fo");  // half a line: held back until its newline arrives
  let_it_poll();
  log.append("ur\nfive\nsix\n");  // six is past --max-lines
  Result r = c.finish();
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ("one\ntwo\nthree\nfour\nfive\n", r.out);
  EXPECT_EQ("", r.err);
}

TEST_F(SamplesPipelines, FollowStartsAtTheEnd) {
  const std::string old = "old 1\nold 2\n";
  TempFile log(old);
  Child c({sample("follow"), "--max-lines", "3", log.path()}, "");
  ASSERT_TRUE(wait_open_at(c.pid(), log.path(), static_cast<long long>(old.size())));
  log.append("new 1\n");
  let_it_poll();
  log.append("new 2\nnew 3\nnew 4\n");
  Result r = c.finish();
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ("new 1\nnew 2\nnew 3\n", r.out);
  EXPECT_EQ("", r.err);
}

TEST_F(SamplesPipelines, FollowReportsErrors) {
  Result r = run({sample("follow"), "/nonexistent/corio/access-log", "--max-lines", "1"});
  EXPECT_TRUE(r.exited_with(1)) << r;
  EXPECT_EQ("follow: /nonexistent/corio/access-log: No such file or directory\n", r.err);

  r = run({sample("follow"), "/tmp", "--max-lines", "x"});
  EXPECT_TRUE(r.exited_with(2)) << r;
  EXPECT_NE(std::string::npos, r.err.find("bad line count 'x'")) << r;

  r = run({sample("follow")});
  EXPECT_TRUE(r.exited_with(2)) << r;
  EXPECT_NE(std::string::npos, r.err.find("usage: follow FILE")) << r;
}

TEST_F(SamplesPipelines, FollowMaxLinesZeroReadsNothing) {
  TempFile log("a\n");
  Result r = run({sample("follow"), log.path(), "--from-start", "--max-lines", "0"});
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ("", r.out);
}

// ---- grep -------------------------------------------------

TEST_F(SamplesPipelines, Grep) {
  Result r = run({sample("grep"), "python"},
                 "Yeah, but no, but yeah, but no\n"
                 "A series of tubes\n"
                 "python generators rock!\n"
                 "no newline at the end: python");
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ(
      "Looking for python\n"
      "python generators rock!\n"
      "no newline at the end: python"
      "Going away. Goodbye\n",
      r.out);
  EXPECT_EQ("", r.err);
}

TEST_F(SamplesPipelines, GrepOnEmptyInputStillSaysGoodbye) {
  Result r = run({sample("grep"), "python"});
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ("Looking for python\nGoing away. Goodbye\n", r.out);

  r = run({sample("grep")});
  EXPECT_TRUE(r.exited_with(2)) << r;
}

TEST_F(SamplesPipelines, GrepLongLines) {
  // Lines much longer than any fixed buffer go through unchanged.
  std::string a(100000, 'a'), b(70000, 'b');
  Result r = run({sample("grep"), "needle"}, a + "needle\n" + b + "\n" + "needle" + b + "\n");
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ("Looking for needle\n" + a + "needle\n" + "needle" + b + "\nGoing away. Goodbye\n",
            r.out);
}

// ---- printer ----------------------------------------------

TEST_F(SamplesPipelines, Printer) {
  const std::string in = "first\n\nthird line\nlast, without newline";
  Result r = run({sample("printer")}, in);
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ(in, r.out);
  EXPECT_EQ("", r.err);

  r = run({sample("printer")});
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ("", r.out);
}

// ---- copipe -----------------------------------------------

TEST_F(SamplesPipelines, Copipe) {
  const std::string old = "GET /python/old.html\n";
  TempFile log(old);
  Child c({sample("copipe"), log.path(), "python", "--max-lines", "4"}, "");
  ASSERT_TRUE(wait_open_at(c.pid(), log.path(), static_cast<long long>(old.size())));
  log.append("GET /index.html\nGET /python/index.html\n");
  let_it_poll();
  log.append("GET /ply/\nGET /python/ply/");
  let_it_poll();
  // --max-lines counts the lines read from the file, matching or not:
  // swig.html completes the fourth, after.html is past the limit.
  log.append("swig.html\nGET /python/after.html\n");
  Result r = c.finish();
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ("GET /python/index.html\nGET /python/ply/swig.html\n", r.out);
  EXPECT_EQ("", r.err);
}

TEST_F(SamplesPipelines, CopipeArguments) {
  TempFile log;
  Result r = run({sample("copipe"), log.path()});
  EXPECT_TRUE(r.exited_with(2)) << r;
  EXPECT_NE(std::string::npos, r.err.find("usage: copipe FILE PATTERN")) << r;

  r = run({sample("copipe"), log.path(), "python", "--verbose"});
  EXPECT_TRUE(r.exited_with(2)) << r;
  EXPECT_NE(std::string::npos, r.err.find("unknown option '--verbose'")) << r;

  r = run({sample("copipe"), "/nonexistent/corio/log", "python"});
  EXPECT_TRUE(r.exited_with(1)) << r;
  EXPECT_EQ("copipe: /nonexistent/corio/log: No such file or directory\n", r.err);

  r = run({sample("copipe"), "--help"});
  EXPECT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ("usage: copipe FILE PATTERN [--max-lines N] [--from-start]\n", r.out);
}

// ---- broadcast --------------------------------------------

// Lines matching none, one, two and all three of python, ply, swig.
const char *const kAccessLog =
    "GET /index.html\n"
    "GET /python/index.html\n"
    "GET /ply/index.html\n"
    "GET /swig/index.html\n"
    "GET /swig/python.html\n"
    "GET /python/ply/swig.html\n"
    "GET /about.html\n";

// For each line, each grep in order (python, ply, swig) prints it if it
// matches: every send runs to completion before the next one starts.
const char *const kBroadcastOut =
    "GET /python/index.html\n"
    "GET /ply/index.html\n"
    "GET /swig/index.html\n"
    "GET /swig/python.html\n"  // python
    "GET /swig/python.html\n"  // swig
    "GET /python/ply/swig.html\n"
    "GET /python/ply/swig.html\n"
    "GET /python/ply/swig.html\n";

// Run `program` over kAccessLog, the first half there before it starts
// (--from-start), the rest appended while it runs.
Result run_broadcast(const char *program, std::vector<std::string> extra) {
  const std::string all = kAccessLog;
  size_t half = all.find("GET /swig/index");
  TempFile log(all.substr(0, half));
  std::vector<std::string> argv = {sample(program), log.path(), "--from-start",
                                   "--max-lines", "7"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  Child c(argv, "");
  let_it_poll();
  log.append(all.substr(half));
  return c.finish();
}

TEST_F(SamplesPipelines, Broadcast) {
  Result r = run_broadcast("broadcast", {});
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ(kBroadcastOut, r.out);
  EXPECT_EQ("", r.err);
}

TEST_F(SamplesPipelines, BroadcastShared) {
  // One printer behind the three greps prints the same thing.
  Result r = run_broadcast("broadcast-shared", {});
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_EQ(kBroadcastOut, r.out);
  EXPECT_EQ("", r.err);
}

TEST_F(SamplesPipelines, BroadcastPatterns) {
  // --pattern replaces the defaults; the greps run in command-line order.
  const char *expected =
      "GET /index.html\n"          // index
      "GET /python/index.html\n"   // index
      "GET /ply/index.html\n"      // index
      "GET /swig/index.html\n"     // swig
      "GET /swig/index.html\n"     // index
      "GET /swig/python.html\n"    // swig
      "GET /python/ply/swig.html\n";  // swig
  for (const char *program : {"broadcast", "broadcast-shared"}) {
    Result r = run_broadcast(program, {"--pattern", "swig", "--pattern", "index"});
    ASSERT_TRUE(r.exited_with(0)) << program << ": " << r;
    EXPECT_EQ(expected, r.out) << program;
    EXPECT_EQ("", r.err) << program;
  }
}

TEST_F(SamplesPipelines, BroadcastManyPatterns) {
  std::vector<std::string> extra;
  std::string expected;
  for (int i = 0; i < 40; i++) {
    extra.push_back("--pattern");
    extra.push_back(i % 2 == 0 ? "GET" : "html");
  }
  for (const char *line = kAccessLog; *line != '\0';) {
    const char *nl = strchr(line, '\n');
    for (int i = 0; i < 40; i++) expected.append(line, static_cast<size_t>(nl - line) + 1);
    line = nl + 1;
  }
  for (const char *program : {"broadcast", "broadcast-shared"}) {
    Result r = run_broadcast(program, extra);
    ASSERT_TRUE(r.exited_with(0)) << program << ": " << r;
    EXPECT_EQ(expected, r.out) << program;
  }
}

TEST_F(SamplesPipelines, BroadcastArguments) {
  for (const char *program : {"broadcast", "broadcast-shared"}) {
    Result r = run({sample(program), "/nonexistent/corio/log"});
    EXPECT_TRUE(r.exited_with(1)) << r;
    EXPECT_EQ(std::string(program) + ": /nonexistent/corio/log: No such file or directory\n",
              r.err);

    r = run({sample(program), "/tmp", "--pattern"});
    EXPECT_TRUE(r.exited_with(2)) << r;
    EXPECT_NE(std::string::npos, r.err.find("missing the value of '--pattern'")) << r;
  }
}

// ---- errors inside a pipeline --------------------------------------------

// With stdout on /dev/full the printer's write fails; the error travels back
// through every send to the source, the program says so and exits 1, after
// destroying every stage (the sanitizer builds check for leaks).
TEST_F(SamplesPipelines, WriteErrorsReachTheSource) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  TempFile log(kAccessLog);
  const std::string redirect = "exec \"$0\" \"$@\" > /dev/full";
  struct Case {
    const char *program;
    std::vector<std::string> args;
    const char *err;
  };
  const std::vector<Case> cases = {
      {"copipe", {log.path(), "python", "--from-start", "--max-lines", "7"},
       "copipe: pipeline: No space left on device\n"},
      {"broadcast", {log.path(), "--from-start", "--max-lines", "7"},
       "broadcast: pipeline: No space left on device\n"},
      {"broadcast-shared", {log.path(), "--from-start", "--max-lines", "7"},
       "broadcast-shared: pipeline: No space left on device\n"},
      {"follow", {log.path(), "--from-start", "--max-lines", "7"},
       "follow: writing: No space left on device\n"},
      {"countdown", {"100000"}, "countdown: writing: No space left on device\n"},
      {"grep", {"python"}, "grep: writing: No space left on device\n"},
  };
  for (const Case &c : cases) {
    std::vector<std::string> argv = {"/bin/sh", "-c", redirect, sample(c.program)};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    Result r = run(argv);
    EXPECT_TRUE(r.exited_with(1)) << c.program << ": " << r;
    EXPECT_EQ(c.err, r.err) << c.program;
  }
}

// ---- demo.sh ------------------------------------------------------------

TEST_F(SamplesPipelines, DemoScript) {
  std::string script = dir_of(dir_of(__FILE__)) + "/samples/pipelines/demo.sh";
  if (script[0] != '/' || access(script.c_str(), R_OK) != 0)
    GTEST_SKIP() << "demo.sh not found from " << __FILE__;
  auto start = Clock::now();
  Result r = run({"/bin/bash", script, build_dir()});
  ASSERT_TRUE(r.exited_with(0)) << r;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(15));
  for (const char *header : {"== countdown", "== follow", "== grep", "== printer",
                             "== copipe", "== broadcast", "== broadcast-shared"})
    EXPECT_NE(std::string::npos, r.out.find(header)) << header << "\n" << r;
  EXPECT_NE(std::string::npos, r.out.find("Going away. Goodbye")) << r;
  EXPECT_EQ("", r.err);
}

}  // namespace
