#pragma once
// The epoll backend: readiness turned into completions. Level-triggered; each ready socket gets
// one read (or up to kBatch accepts or datagrams) per wake-up, so no client can starve the
// others. Interest changes are collected during a batch and applied in one pass before the
// next epoll_pwait2, so pausing and resuming a session within one batch costs no system call.

#include <sys/epoll.h>

#include <cstdint>
#include <vector>

#include "io/backend.hpp"
#include "net/fd.hpp"

namespace netecho::io {

class EpollBackend final : public Backend {
 public:
  // Throws std::system_error when the kernel refuses an epoll instance or eventfd.
  EpollBackend();
  ~EpollBackend() override;
  EpollBackend(const EpollBackend&) = delete;
  EpollBackend& operator=(const EpollBackend&) = delete;

  std::string_view name() const noexcept override { return "epoll"; }
  void accept(int fd, Token t) override;
  void recv(int fd, Token t) override;
  void recv_from(int fd, Token t) override;
  void readable(int fd, Token t) override;
  void stop_read(int fd) override;
  void connect(int fd, Token t) override;
  long try_send(int fd, std::span<const std::byte> data) noexcept override;
  void send(int fd, Token t, std::span<const std::byte> data) override;
  long send_to(int fd, std::span<const std::byte> data,
               const net::Datagram& to) noexcept override;
  void forget(int fd) override;
  int poll(Handler& handler, std::chrono::nanoseconds timeout) override;
  void wake() noexcept override;
  // Nothing to wait for: epoll holds no reference to a socket, so closing it releases it.
  void quiesce() noexcept override {}

 private:
  static constexpr int kBatch = 64;  // accepts or datagrams per ready socket per wake-up

  enum class ReadOp : std::uint8_t { none, accept, recv, recv_from, readable };

  struct FdState {
    std::uint32_t gen = 0;        // bumped by forget(), to recognise events of a closed fd
    std::uint32_t events = 0;     // the interest registered with the kernel
    bool registered = false;
    bool dirty = false;           // on dirty_, waiting for its interest to be applied
    ReadOp read = ReadOp::none;
    bool connecting = false;
    Token read_token;
    Token write_token;
    std::span<const std::byte> out;  // the pending send, if out.data() != nullptr
  };

  FdState& state(int fd);
  void mark_dirty(int fd, FdState& st);
  // Registers the interest of every dirty descriptor. A registration the kernel refuses
  // (ENOMEM, ENOSPC under max_user_watches, EPERM for a file epoll cannot watch) would leave
  // its operations waiting forever: they are failed instead, queued on failed_ for poll() to
  // deliver with -errno, counted, and logged.
  void apply_interest();
  int deliver_failed(Handler& handler);
  int handle_read(Handler& handler, int fd, std::uint32_t gen);
  int handle_write(Handler& handler, int fd, FdState& st);

  bool have_pwait2_ = true;  // epoll_pwait2 (ns timeouts) works; else epoll_wait
  net::Fd epoll_;
  net::Fd wake_fd_;
  std::vector<FdState> fds_;
  std::vector<int> dirty_;
  std::vector<epoll_event> events_;
  // An operation whose registration failed, and why.
  struct Failed {
    Op op;
    Token token;
    int err;
  };
  std::vector<Failed> failed_;
  std::uint64_t ctl_failures_ = 0;  // registrations refused, over the backend's life
  std::vector<std::byte> buffer_;  // shared by every read of this thread; 64 KiB + 1
};

}  // namespace netecho::io
