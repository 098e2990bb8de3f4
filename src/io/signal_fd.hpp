#pragma once
// SignalFd: signals as a readable descriptor (signalfd(2)), so a single-threaded event loop can
// wait for SIGINT with its sockets and finish in order (print its report, choose its exit code)
// instead of being killed or interrupted in the middle of a system call.

#include <signal.h>

#include <initializer_list>

#include "net/error.hpp"
#include "net/fd.hpp"

namespace netecho::io {

class SignalFd {
 public:
  // Blocks the signals in the calling thread (threads started later inherit the mask) and opens
  // a non-blocking signalfd for them. The destructor discards the signals still pending (they
  // were meant for the owner, who has seen the descriptor turn readable), then restores the
  // previous mask.
  static net::Result<SignalFd> open(std::initializer_list<int> signals);

  SignalFd(SignalFd&& other) noexcept;
  SignalFd& operator=(SignalFd&&) = delete;
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;
  ~SignalFd();

  // Readable while one of the signals is pending.
  int fd() const noexcept { return fd_.get(); }

  // Takes one pending signal: its number, or 0 when none is pending.
  int take() noexcept;

 private:
  SignalFd(net::Fd fd, const sigset_t& previous) noexcept
      : fd_(std::move(fd)), previous_(previous) {}

  net::Fd fd_;
  sigset_t previous_{};
  bool restore_ = true;
};

}  // namespace netecho::io
