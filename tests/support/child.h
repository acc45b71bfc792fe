// tests/support/child.h - running a program as a child process in the
// end-to-end tests: where the build tree is, a bounded run with stdin fed
// from a string or a file, and the collected result (exit status, stdout,
// stderr).  Every wait is bounded by kDeadline: a child that outlives it is
// killed together with everything it started, and the result says so.
#ifndef CORIO_TESTS_SUPPORT_CHILD_H
#define CORIO_TESTS_SUPPORT_CHILD_H

#include <sys/types.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace corio_test {

using Clock = std::chrono::steady_clock;

// Generous: sanitizer builds start slowly; a passing run takes well under 1 s.
constexpr std::chrono::milliseconds kDeadline{30000};

// Everything before the last '/' of `path`, or "." when there is none.
std::string dir_of(const std::string &path);

// <build>, from /proc/self/exe = <build>/tests/<this test>.
std::string build_dir();

// How a child ended, and what it wrote.
struct Result {
  bool timed_out = false;
  int status = -1;  // waitpid status
  std::string out, err;

  bool exited_with(int code) const;
};

// The status, then stdout and stderr in full (for failure messages).
std::ostream &operator<<(std::ostream &os, const Result &r);

// The child's stdin read from this file (opened read-only in the child),
// e.g. StdinFile{"/dev/null"}.
struct StdinFile {
  std::string path;
};

// A running program (argv[0] is a path: no PATH search) in its own process
// group, with pipes on its stdout and stderr.  Test failures (pipe2, fork,
// poll, waitpid) are reported with ADD_FAILURE.
class Child {
 public:
  // stdin is a pipe fed with `input`, closed once all of it is written
  // (at once when it is empty).
  Child(const std::vector<std::string> &argv, std::string input);
  // stdin is `in.path`.
  Child(const std::vector<std::string> &argv, const StdinFile &in);
  // A child not finished (a failed ASSERT) is killed and reaped.
  ~Child();
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;

  pid_t pid() const { return pid_; }

  // Feed stdin, collect stdout and stderr until both close, reap the child;
  // kill it if it has not exited by the deadline.
  Result finish();

 private:
  void start(const std::vector<std::string> &argv, const char *stdin_path);
  static void close_fd(int &fd);

  std::string input_;
  Clock::time_point deadline_;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
};

// Reaps `pid` (status into r->status), polling until `deadline`; past it,
// or at once when r->timed_out is already set, kills its process group,
// reaps it and sets r->timed_out.
void reap_until(pid_t pid, Clock::time_point deadline, Result *r);

// argv as execv takes it: pointers into `argv` (which must outlive them),
// then a null.
std::vector<char *> exec_args(const std::vector<std::string> &argv);

// For a child between fork and exec (async-signal-safe): SIGPIPE back to
// its default disposition, and a process group of its own, so that a
// timeout kills what it started too.
void child_default_sigpipe_own_group();

// Start argv and finish it: stdin from `input` through a pipe.
Result run(const std::vector<std::string> &argv, const std::string &input = "");

// Start argv and finish it: stdin from a file.
Result run(const std::vector<std::string> &argv, const StdinFile &in);

}  // namespace corio_test

#endif
