// tests/support/server_child.h - a long-running server as a child process
// in the end-to-end tests: started with its stdout and stderr on one pipe
// that a thread of the test reads all along (so that the test can wait for
// a line, such as "listening on", and count lines while the server runs),
// optionally under a descriptor limit (RLIMIT_NOFILE set in the child
// before exec), stopped with a signal and reaped within a deadline.  Also
// what the tests read of a running process in /proc (VmRSS, CPU time).
//
// Header-only, like task_helpers.h.  Every wait is bounded: a server that
// outlives its deadline is killed with its process group and the result
// says so; a ServerChild destroyed while its server runs (a failed ASSERT)
// kills and reaps it, and the server gets SIGKILL if the thread that
// started it ends first (the test killed by a timeout, or aborted).
#ifndef CORIO_TESTS_SUPPORT_SERVER_CHILD_H
#define CORIO_TESTS_SUPPORT_SERVER_CHILD_H

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child.h"

namespace corio_test {

class ServerChild {
 public:
  // Starts argv (argv[0] a path: no PATH search) in its own process group,
  // stdin from /dev/null, stdout and stderr into the log.  nofile > 0: the
  // child's RLIMIT_NOFILE, soft and hard, before exec.  Failures (pipe2,
  // fork) are reported with ADD_FAILURE and leave pid() <= 0.
  explicit ServerChild(const std::vector<std::string> &argv, rlim_t nofile = 0) {
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
      ADD_FAILURE() << "pipe2: " << strerror(errno);
      return;
    }
    std::vector<char *> args = exec_args(argv);
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = nofile;
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls until exec.
      child_default_sigpipe_own_group();
      // Killed with the test, even by a signal or the watchdog's abort.
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) _exit(126);
      if (nofile > 0 && setrlimit(RLIMIT_NOFILE, &rl) < 0) _exit(126);
      int in = open("/dev/null", O_RDONLY);
      if (in < 0) _exit(126);
      dup2(in, 0);
      close(in);
      dup2(p[1], 1);
      dup2(p[1], 2);
      execv(args[0], args.data());
      _exit(127);
    }
    close(p[1]);
    if (pid_ < 0) {
      ADD_FAILURE() << "fork: " << strerror(errno);
      close(p[0]);
      return;
    }
    setpgid(pid_, pid_);  // either side may come first
    fd_ = p[0];
    reader_ = std::thread([this] { read_log(); });
  }

  ~ServerChild() {
    if (pid_ > 0 && !reaped_) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    stop_reader();
  }
  ServerChild(const ServerChild &) = delete;
  ServerChild &operator=(const ServerChild &) = delete;

  pid_t pid() const { return pid_; }

  // Everything the server wrote so far.
  std::string log() {
    std::lock_guard<std::mutex> l(m_);
    return log_;
  }

  // The first complete line of the log containing `needle`, waiting for it
  // until `deadline`; "" when it did not come (or the server closed its
  // output first).
  std::string wait_line(const std::string &needle, Clock::time_point deadline) {
    std::unique_lock<std::mutex> l(m_);
    for (;;) {
      size_t at = log_.find(needle);
      if (at != std::string::npos) {
        size_t end = log_.find('\n', at);
        if (end != std::string::npos) {
          size_t begin = log_.rfind('\n', at);
          begin = begin == std::string::npos ? 0 : begin + 1;
          return log_.substr(begin, end - begin);
        }
      }
      if (eof_ || Clock::now() >= deadline) return "";
      cv_.wait_until(l, deadline);
    }
  }

  // How many lines of the log so far contain `needle`.
  size_t count_lines(const std::string &needle) {
    std::lock_guard<std::mutex> l(m_);
    size_t n = 0;
    std::istringstream in(log_);
    std::string line;
    while (std::getline(in, line))
      if (line.find(needle) != std::string::npos) n++;
    return n;
  }

  // Sends `sig` to the server (not its group).
  void send_signal(int sig) {
    if (pid_ > 0 && !reaped_) kill(pid_, sig);
  }

  // Sends `sig` and reaps the server within `limit`: see reap().
  Result stop(int sig, std::chrono::milliseconds limit) {
    send_signal(sig);
    return reap(limit);
  }

  // Reaps the server within `limit` (killing its group if it is not gone by
  // then); the log is the result's `err`.
  Result reap(std::chrono::milliseconds limit) {
    Result r;
    if (pid_ <= 0 || reaped_) return r;
    reap_until(pid_, Clock::now() + limit, &r);
    reaped_ = true;
    // The write end closes with the server; anything it started and left
    // holding it is killed with the group.
    {
      std::unique_lock<std::mutex> l(m_);
      if (!cv_.wait_for(l, std::chrono::seconds(2), [this] { return eof_; })) {
        l.unlock();
        kill(-pid_, SIGKILL);
      }
    }
    stop_reader();
    r.err = log();
    return r;
  }

 private:
  void read_log() {
    for (;;) {
      if (stopping_.load()) break;
      struct pollfd p = {fd_, POLLIN, 0};
      int k = poll(&p, 1, 50);
      if (k < 0 && errno != EINTR) break;
      if (k <= 0) continue;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      std::lock_guard<std::mutex> l(m_);
      if (n <= 0) {
        eof_ = true;
        cv_.notify_all();
        break;
      }
      log_.append(buf, static_cast<size_t>(n));
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> l(m_);
    eof_ = true;
    cv_.notify_all();
  }

  void stop_reader() {
    stopping_ = true;
    if (reader_.joinable()) reader_.join();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  int fd_ = -1;
  std::mutex m_;
  std::condition_variable cv_;
  std::string log_;
  bool eof_ = false;
  std::atomic<bool> stopping_{false};
  std::thread reader_;  // last: starts once the members above exist
};

// VmRSS of process `pid` in KiB, from /proc/<pid>/status; -1 if unreadable.
inline long process_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, 6, "VmRSS:") == 0) return std::stol(line.substr(6));
  return -1;
}

// utime + stime of process `pid` (all its threads) in seconds, from
// /proc/<pid>/stat; -1 if unreadable.
inline double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = all.rfind(')');
  if (paren == std::string::npos) return -1;
  // After "pid (comm)": field 3 (state) onwards; utime and stime are 14, 15.
  std::istringstream rest(all.substr(paren + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; i++) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace corio_test

#endif  // CORIO_TESTS_SUPPORT_SERVER_CHILD_H
