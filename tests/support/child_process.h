// ChildProcess: runs a function in a forked child, connected to the test by a socketpair.
// The child never returns into GoogleTest: it _exits with the function's return value (its
// "step": 0 for success), or 125 when the function throws. The parent waits for it with a
// deadline; past the deadline the child is killed and the wait fails, saying what it waited
// for. A ChildProcess that is never waited for kills and reaps its child when destroyed.
#pragma once

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

namespace syncbridge::testing {

class ChildProcess {
 public:
  static constexpr int kThrew = 125;

  // Forks a child running fn(int socket), its end of a fresh AF_UNIX SOCK_STREAM pair, and
  // _exits with what fn returns. started() is false (and errno says why) when it could not.
  template <class Fn>
  explicit ChildProcess(Fn fn) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      error_ = errno;
      return;
    }
    pid_ = ::fork();
    if (pid_ < 0) {
      error_ = errno;
      ::close(sv[0]);
      ::close(sv[1]);
      return;
    }
    if (pid_ == 0) {
      ::close(sv[0]);
      int code = kThrew;
      try {
        code = fn(sv[1]);
      } catch (...) {
      }
      ::_exit(code);
    }
    ::close(sv[1]);
    socket_ = sv[0];
  }

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      (void)::waitpid(pid_, &status, 0);
    }
    close_socket();
  }

  ::testing::AssertionResult started() const {
    if (pid_ > 0 && socket_ >= 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "could not start a child: " << std::strerror(error_);
  }
  pid_t pid() const { return pid_; }
  int socket() const { return socket_; }  // the parent's end
  void close_socket() {
    if (socket_ >= 0) ::close(socket_);
    socket_ = -1;
  }

  // True once the child has exited (it stays a zombie until exited_with() reaps it).
  bool has_exited() const {
    if (reaped_) return true;
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_;
  }

  // Waits up to `deadline` for the child to exit with `expected`; `waiting_for` says what the
  // child was doing, for the message when it does not (killed at the deadline, another exit
  // code: "failed at step N", or a signal).
  ::testing::AssertionResult exited_with(int expected, const std::string& waiting_for,
                                         std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    if (pid_ <= 0) return started();
    if (reaped_) return ::testing::AssertionFailure() << "the child was already waited for";
    const auto until = std::chrono::steady_clock::now() + deadline;
    int status = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (r < 0 && errno != EINTR) {
        return ::testing::AssertionFailure() << "waitpid(" << pid_ << "): " << std::strerror(errno);
      }
      if (std::chrono::steady_clock::now() >= until) {
        ::kill(pid_, SIGKILL);
        (void)::waitpid(pid_, &status, 0);
        reaped_ = true;
        return ::testing::AssertionFailure() << "the child (pid " << pid_ << ") had not exited after "
                                             << deadline.count() << " ms waiting for " << waiting_for << "; killed";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    reaped_ = true;
    if (WIFSIGNALED(status)) {
      return ::testing::AssertionFailure()
             << "the child was killed by signal " << WTERMSIG(status) << " while " << waiting_for;
    }
    if (!WIFEXITED(status)) return ::testing::AssertionFailure() << "the child ended oddly: status " << status;
    const int code = WEXITSTATUS(status);
    if (code == expected) return ::testing::AssertionSuccess();
    if (code == kThrew) return ::testing::AssertionFailure() << "the child threw while " << waiting_for;
    return ::testing::AssertionFailure() << "child failed at step " << code << " (" << waiting_for << ")";
  }

 private:
  pid_t pid_ = -1;
  int socket_ = -1;
  int error_ = 0;
  bool reaped_ = false;
};

}  // namespace syncbridge::testing
