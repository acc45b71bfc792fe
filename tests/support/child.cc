// tests/support/child.cc - the child-process runner of the end-to-end tests
// (see child.h): fork/exec with pipes, the poll loop that feeds stdin and
// collects stdout and stderr, and the bounded reaping.
#include "child.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace corio_test {

using std::chrono::milliseconds;

std::string dir_of(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::string build_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  return dir_of(dir_of(std::string(buf, static_cast<size_t>(n))));
}

bool Result::exited_with(int code) const {
  return !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == code;
}

std::ostream &operator<<(std::ostream &os, const Result &r) {
  os << "timed_out=" << r.timed_out;
  if (WIFEXITED(r.status)) os << " exit=" << WEXITSTATUS(r.status);
  if (WIFSIGNALED(r.status)) os << " signal=" << WTERMSIG(r.status);
  return os << "\n--- stdout ---\n" << r.out << "--- stderr ---\n" << r.err;
}

Child::Child(const std::vector<std::string> &argv, std::string input)
    : input_(std::move(input)), deadline_(Clock::now() + kDeadline) {
  start(argv, nullptr);
}

Child::Child(const std::vector<std::string> &argv, const StdinFile &in)
    : deadline_(Clock::now() + kDeadline) {
  start(argv, in.path.c_str());
}

// stdin_path null: stdin is a pipe fed from input_.
void Child::start(const std::vector<std::string> &argv, const char *stdin_path) {
  signal(SIGPIPE, SIG_IGN);  // a child exiting early must not kill us
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if ((stdin_path == nullptr && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 ||
      pipe2(err, O_CLOEXEC) < 0) {
    ADD_FAILURE() << "pipe2: " << strerror(errno);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      if (fd >= 0) close(fd);
    return;
  }
  std::vector<char *> args = exec_args(argv);
  pid_ = fork();
  if (pid_ == 0) {
    // Only async-signal-safe calls until exec.
    child_default_sigpipe_own_group();
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (stdin_path == nullptr) {
      dup2(in[0], 0);
    } else {
      int fd = open(stdin_path, O_RDONLY);
      if (fd < 0) {
        static const char msg[] = "child: cannot open its stdin\n";
        ssize_t ignored = write(2, msg, sizeof msg - 1);
        (void)ignored;
        _exit(127);
      }
      if (fd != 0) {
        dup2(fd, 0);
        close(fd);
      }
    }
    execv(args[0], args.data());
    _exit(127);
  }
  if (pid_ > 0) setpgid(pid_, pid_);  // either side may come first
  if (in[0] >= 0) close(in[0]);
  close(out[1]);
  close(err[1]);
  if (pid_ < 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    if (in[1] >= 0) close(in[1]);
    close(out[0]);
    close(err[0]);
    return;
  }
  in_ = in[1];
  out_ = out[0];
  err_ = err[0];
  if (in_ >= 0) fcntl(in_, F_SETFL, O_NONBLOCK);
  if (input_.empty()) close_fd(in_);
}

Child::~Child() {
  if (pid_ > 0) {  // finish() was not called (a failed ASSERT): no leftovers
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  close_fd(in_);
  close_fd(out_);
  close_fd(err_);
}

Result Child::finish() {
  Result r;
  if (pid_ <= 0) return r;
  size_t written = 0;
  while (out_ >= 0 || err_ >= 0 || in_ >= 0) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline_ - Clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      break;
    }
    struct pollfd p[3];
    nfds_t n = 0;
    int *fds[3] = {&in_, &out_, &err_};
    int *which[3];
    for (int *fd : fds) {
      if (*fd < 0) continue;
      p[n].fd = *fd;
      p[n].events = fd == &in_ ? POLLOUT : POLLIN;
      p[n].revents = 0;
      which[n++] = fd;
    }
    int k = poll(p, n, static_cast<int>(left.count()));
    if (k < 0 && errno != EINTR) {
      ADD_FAILURE() << "poll: " << strerror(errno);
      break;
    }
    for (nfds_t i = 0; k > 0 && i < n; i++) {
      if (p[i].revents == 0) continue;
      if (which[i] == &in_) {
        ssize_t w = write(in_, input_.data() + written, input_.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input_.size())
          close_fd(in_);  // done, or the child stopped reading (EPIPE)
      } else {
        char buf[4096];
        ssize_t got = read(*which[i], buf, sizeof buf);
        if (got > 0) {
          (which[i] == &out_ ? r.out : r.err).append(buf, static_cast<size_t>(got));
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          close_fd(*which[i]);
        }
      }
    }
  }
  // Reap, still within the deadline.
  reap_until(pid_, deadline_, &r);
  pid_ = -1;
  return r;
}

void Child::close_fd(int &fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

void reap_until(pid_t pid, Clock::time_point deadline, Result *r) {
  for (;;) {
    pid_t w = waitpid(pid, &r->status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      ADD_FAILURE() << "waitpid: " << strerror(errno);
      break;
    }
    if (r->timed_out || Clock::now() >= deadline) {
      r->timed_out = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &r->status, 0);
      break;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
}

std::vector<char *> exec_args(const std::vector<std::string> &argv) {
  std::vector<char *> args;
  for (const std::string &a : argv) args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  return args;
}

void child_default_sigpipe_own_group() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &sa, nullptr);
  setpgid(0, 0);
}

Result run(const std::vector<std::string> &argv, const std::string &input) {
  Child c(argv, input);
  return c.finish();
}

Result run(const std::vector<std::string> &argv, const StdinFile &in) {
  Child c(argv, in);
  return c.finish();
}

}  // namespace corio_test
