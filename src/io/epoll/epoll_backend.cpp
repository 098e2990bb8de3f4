#include "io/epoll/epoll_backend.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <system_error>

#include "base/duration.hpp"
#include "base/log.hpp"
#include "io/accept_error.hpp"

namespace netecho::io {
namespace {

constexpr std::uint64_t kWakeTag = ~std::uint64_t{0};
constexpr std::size_t kBufferSize = 65536;

std::uint64_t tag(int fd, std::uint32_t gen) {
  return (std::uint64_t{gen} << 32) | static_cast<std::uint32_t>(fd);
}

}  // namespace

EpollBackend::EpollBackend()
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      events_(256),
      buffer_(kBufferSize + 1) {
  if (!epoll_ || !wake_fd_) {
    throw std::system_error(errno, std::system_category(), "epoll backend");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev) != 0) {
    throw std::system_error(errno, std::system_category(), "epoll backend");
  }
}

EpollBackend::~EpollBackend() {
  if (ctl_failures_ > 1) {
    base::log_event(base::Level::warn,
                    "epoll: registrations refused by the kernel; their operations failed",
                    {{"refused", ctl_failures_}});
  }
}

EpollBackend::FdState& EpollBackend::state(int fd) {
  const auto index = static_cast<std::size_t>(fd);
  if (index >= fds_.size()) {
    fds_.resize(index + 1 + index / 2);
  }
  return fds_[index];
}

void EpollBackend::mark_dirty(int fd, FdState& st) {
  if (!st.dirty) {
    st.dirty = true;
    dirty_.push_back(fd);
  }
}

void EpollBackend::apply_interest() {
  for (const int fd : dirty_) {
    FdState& st = fds_[static_cast<std::size_t>(fd)];
    if (!st.dirty) {
      continue;  // forgotten since
    }
    st.dirty = false;
    std::uint32_t want = 0;
    if (st.read != ReadOp::none) {
      want |= EPOLLIN;
    }
    if (st.out.data() != nullptr || st.connecting) {
      want |= EPOLLOUT;
    }
    want |= st.watch & EPOLLIN;  // errors and hang-ups need no interest of their own
    if (st.registered && want == st.events) {
      continue;
    }
    if (want == 0 && st.watch == 0) {
      // Nothing wanted: leave it registered with an empty mask, which still reports errors
      // and hang-ups; handle_read() deregisters a socket that reports them unwanted.
      // (If the kernel no longer knows the descriptor, nothing is left to silence.)
      if (st.registered) {
        epoll_event ev{};
        ev.data.u64 = tag(fd, st.gen);
        st.registered = ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) == 0;
        st.events = 0;
      }
      continue;
    }
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = tag(fd, st.gen);
    int rc = ::epoll_ctl(epoll_.get(), st.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    if (rc != 0 && (errno == EEXIST || errno == ENOENT)) {
      // Our record and the kernel's disagree (a descriptor reused without forget()): the other
      // operation is the right one.
      rc = ::epoll_ctl(epoll_.get(), st.registered ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
    }
    if (rc == 0) {
      st.registered = true;
      st.events = want;
      continue;
    }
    const int err = errno;
    if (ctl_failures_++ == 0) {
      base::log_event(base::Level::warn, "epoll: cannot watch a descriptor; its operations fail",
                      {{"fd", fd}, {"error", std::system_category().message(err)}});
    }
    switch (st.read) {
      case ReadOp::none:
        break;
      case ReadOp::accept:
        failed_.push_back({Op::accept, st.read_token, err});
        break;
      case ReadOp::recv:
        failed_.push_back({Op::recv, st.read_token, err});
        break;
      case ReadOp::recv_from:
        failed_.push_back({Op::recv_from, st.read_token, err});
        break;
    }
    if (st.out.data() != nullptr) {
      failed_.push_back({Op::send, st.write_token, err});
    }
    if (st.connecting) {
      failed_.push_back({Op::connect, st.write_token, err});
    }
    if (st.watch != 0) {
      failed_.push_back({Op::ready, st.watch_token, err});
    }
    st.read = ReadOp::none;
    st.out = {};
    st.connecting = false;
    st.watch = 0;
  }
  dirty_.clear();
}

int EpollBackend::deliver_failed(Handler& handler) {
  // Handlers may ask for more (and so fail more): take the list first.
  std::vector<Failed> failed;
  failed.swap(failed_);
  for (const Failed& f : failed) {
    handler.on_completion({f.op, f.token, -f.err, {}, nullptr});
  }
  return static_cast<int>(failed.size());
}

void EpollBackend::accept(int fd, Token t) {
  FdState& st = state(fd);
  st.read = ReadOp::accept;
  st.read_token = t;
  mark_dirty(fd, st);
}

void EpollBackend::recv(int fd, Token t) {
  FdState& st = state(fd);
  st.read = ReadOp::recv;
  st.read_token = t;
  mark_dirty(fd, st);
}

void EpollBackend::recv_from(int fd, Token t) {
  FdState& st = state(fd);
  st.read = ReadOp::recv_from;
  st.read_token = t;
  mark_dirty(fd, st);
}

void EpollBackend::stop_read(int fd) {
  FdState& st = state(fd);
  st.read = ReadOp::none;
  mark_dirty(fd, st);
}

void EpollBackend::connect(int fd, Token t) {
  FdState& st = state(fd);
  st.connecting = true;
  st.write_token = t;
  mark_dirty(fd, st);
}

void EpollBackend::watch(int fd, Token t, short events) {
  FdState& st = state(fd);
  st.watch = static_cast<std::uint16_t>(events) & (EPOLLIN | EPOLLERR | EPOLLHUP);
  st.watch |= EPOLLERR | EPOLLHUP;  // as poll(2) reports them, asked or not
  st.watch_token = t;
  mark_dirty(fd, st);
}

long EpollBackend::try_send(int fd, std::span<const std::byte> data) noexcept {
  ssize_t n;
  do {
    n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) {
    return n;
  }
  return errno == EAGAIN ? 0 : -errno;
}

void EpollBackend::send(int fd, Token t, std::span<const std::byte> data) {
  FdState& st = state(fd);
  st.out = data;
  st.write_token = t;
  mark_dirty(fd, st);
}

long EpollBackend::send_to(int fd, std::span<const std::byte> data,
                           const net::Datagram& to) noexcept {
  return to_res(net::send_datagram(fd, data, to));
}

void EpollBackend::forget(int fd) {
  FdState& st = state(fd);
  // The owner closes fd next, which removes it from the epoll set; no system call is needed.
  // The generation bump makes events already fetched for fd in this batch stale.
  const std::uint32_t gen = st.gen + 1;
  st = FdState{};
  st.gen = gen;
}

int EpollBackend::handle_read(Handler& handler, int fd, std::uint32_t gen) {
  // Handlers may open descriptors (growing fds_) or forget this one: every step re-reads the
  // state through at() and stops once the generation or the armed operation changed.
  const auto at = [this, fd]() -> FdState& { return fds_[static_cast<std::size_t>(fd)]; };
  const ReadOp op = at().read;
  const auto still = [&] { return at().gen == gen && at().read == op; };
  int delivered = 0;
  switch (op) {
    case ReadOp::none:
      break;
    case ReadOp::accept:
      for (int i = 0; i < kBatch && still(); ++i) {
        const int conn = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (conn < 0) {
          const int err = errno;
          if (err == EAGAIN) {
            break;
          }
          if (accept_error_is_transient(err)) {
            continue;
          }
          // EMFILE, ENFILE, ENOBUFS, ENOMEM: stop, or level-triggered readiness would spin.
          at().read = ReadOp::none;
          mark_dirty(fd, at());
          handler.on_completion({Op::accept, at().read_token, -err, {}, nullptr});
          return delivered + 1;
        }
        handler.on_completion({Op::accept, at().read_token, conn, {}, nullptr});
        ++delivered;
      }
      break;
    case ReadOp::recv: {
      ssize_t n;
      do {
        n = ::recv(fd, buffer_.data(), kBufferSize, MSG_DONTWAIT);
      } while (n < 0 && errno == EINTR);
      if (n < 0 && errno == EAGAIN) {
        break;
      }
      const std::int32_t res = n < 0 ? -errno : static_cast<std::int32_t>(n);
      const std::span<const std::byte> data(buffer_.data(),
                                            n > 0 ? static_cast<std::size_t>(n) : 0);
      if (n <= 0) {
        // End of stream or an error: stop reading, the owner decides what follows.
        at().read = ReadOp::none;
        mark_dirty(fd, at());
      }
      handler.on_completion({Op::recv, at().read_token, res, data, nullptr});
      ++delivered;
      break;
    }
    case ReadOp::recv_from: {
      net::Datagram dgram;
      for (int i = 0; i < kBatch && still(); ++i) {
        const int n = net::receive_datagram(fd, {buffer_.data(), kBufferSize}, dgram);
        if (n == -EAGAIN) {
          break;
        }
        const std::span<const std::byte> data(buffer_.data(), n > 0 ? dgram.size : 0);
        handler.on_completion({Op::recv_from, at().read_token, n, data, &dgram});
        ++delivered;
      }
      break;
    }
  }
  return delivered;
}

int EpollBackend::handle_write(Handler& handler, int fd, FdState& st) {
  if (st.connecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    st.connecting = false;
    mark_dirty(fd, st);
    handler.on_completion({Op::connect, st.write_token, -err, {}, nullptr});
    return 1;
  }
  if (st.out.data() == nullptr) {
    return 0;
  }
  const long n = try_send(fd, st.out);
  if (n == 0 && !st.out.empty()) {
    return 0;  // spurious wake-up: still full
  }
  st.out = {};
  mark_dirty(fd, st);
  handler.on_completion({Op::send, st.write_token, static_cast<std::int32_t>(n), {}, nullptr});
  return 1;
}

int EpollBackend::handle_watch(Handler& handler, int fd, std::uint32_t gen, std::uint32_t events) {
  FdState& st = fds_[static_cast<std::size_t>(fd)];
  const std::uint32_t got = events & st.watch;
  if (st.gen != gen || got == 0) {
    return 0;
  }
  st.watch = 0;
  mark_dirty(fd, st);
  handler.on_completion({Op::ready, st.watch_token, static_cast<std::int32_t>(got), {}, nullptr});
  return 1;
}

int EpollBackend::poll(Handler& handler, std::chrono::nanoseconds timeout) {
  apply_interest();
  int delivered = 0;
  if (!failed_.empty()) {
    // Failures are completions like any other: the turn does not wait when it has some.
    delivered = deliver_failed(handler);
    apply_interest();
    timeout = std::chrono::nanoseconds{0};
  }
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout.count() >= 0) {
    ts = base::to_timespec(timeout);
    tsp = &ts;
  }
  int n = -1;
  if (have_pwait2_) {
    n = ::epoll_pwait2(epoll_.get(), events_.data(), static_cast<int>(events_.size()), tsp,
                       nullptr);
    if (n < 0 && errno == ENOSYS) {
      have_pwait2_ = false;  // kernels before 5.11, valgrind: fall back for good
    }
  }
  if (!have_pwait2_) {
    // Millisecond timeouts, rounded up so that a timer is never woken for early.
    const long long ms = timeout.count() < 0 ? -1 : (timeout.count() + 999'999) / 1'000'000;
    n = ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()),
                     static_cast<int>(std::min<long long>(ms, 1 << 30)));
  }
  if (n < 0) {
    if (errno == EINTR) {
      return delivered;  // a signal: the loop turns again
    }
    // EBADF, EFAULT, EINVAL: the epoll instance itself is broken. Fatal to this worker.
    throw std::system_error(errno, std::system_category(), "epoll backend: epoll_wait");
  }
  for (int i = 0; i < n; ++i) {
    const std::uint64_t data = events_[static_cast<std::size_t>(i)].data.u64;
    const std::uint32_t ev = events_[static_cast<std::size_t>(i)].events;
    if (data == kWakeTag) {
      std::uint64_t count;
      [[maybe_unused]] auto r = ::read(wake_fd_.get(), &count, sizeof(count));
      continue;
    }
    const int fd = static_cast<int>(data & 0xffffffffu);
    const auto gen = static_cast<std::uint32_t>(data >> 32);
    if (fds_[static_cast<std::size_t>(fd)].gen != gen) {
      continue;  // forgotten while this batch was pending
    }
    if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
      FdState& st = fds_[static_cast<std::size_t>(fd)];
      const bool wanted = st.read != ReadOp::none || st.out.data() != nullptr ||
                          st.connecting || st.watch != 0;
      if (!wanted) {
        // An error or hang-up nobody asked about: deregister, or it would be reported forever.
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
        st.registered = false;
        st.events = 0;
        continue;
      }
      delivered += handle_read(handler, fd, gen);
    }
    if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
      FdState& st = fds_[static_cast<std::size_t>(fd)];
      if (st.gen == gen) {
        delivered += handle_write(handler, fd, st);
      }
    }
    delivered += handle_watch(handler, fd, gen, ev);
  }
  if (n == static_cast<int>(events_.size()) && events_.size() < 4096) {
    events_.resize(events_.size() * 2);
  }
  return delivered;
}

void EpollBackend::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(wake_fd_.get(), &one, sizeof(one));
}

}  // namespace netecho::io
