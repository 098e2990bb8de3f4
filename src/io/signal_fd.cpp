#include "io/signal_fd.hpp"

#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace netecho::io {

net::Result<SignalFd> SignalFd::open(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (const int s : signals) {
    sigaddset(&set, s);
  }
  sigset_t previous;
  if (const int rc = ::pthread_sigmask(SIG_BLOCK, &set, &previous); rc != 0) {
    return net::errno_code(rc);
  }
  net::Fd fd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd) {
    const auto ec = net::errno_code();
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return ec;
  }
  return SignalFd(std::move(fd), previous);
}

SignalFd::SignalFd(SignalFd&& other) noexcept
    : fd_(std::move(other.fd_)),
      previous_(other.previous_),
      restore_(std::exchange(other.restore_, false)) {}

SignalFd::~SignalFd() {
  if (restore_) {
    while (take() != 0) {
    }
    ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
}

int SignalFd::take() noexcept {
  signalfd_siginfo info{};
  ssize_t n;
  do {
    n = ::read(fd_.get(), &info, sizeof(info));
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(info)) ? static_cast<int>(info.ssi_signo) : 0;
}

}  // namespace netecho::io
