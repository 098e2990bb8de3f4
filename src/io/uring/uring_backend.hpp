#pragma once
// The io_uring backend: completions straight from the kernel, one io_uring_enter per loop turn.
//
// - accept, recv and recv_from are multishot: armed once, they complete again and again. recv
//   and recv_from pick their buffers from a provided-buffer ring of this thread (BufRing); a
//   buffer goes back to the ring as soon as the handler of its completion returns, so no
//   connection ever holds one, and a client that never reads cannot starve the others of them.
//   When the ring runs dry in a burst, the kernel ends the receive with ENOBUFS; the data stays
//   in the socket and the receive is armed again in the next turn, after the batch has given
//   its buffers back.
// - send_lent() sends a reply straight from its receive buffer: the buffer stays out of the
//   ring until the send has written every byte. At most half the ring is lent at a time, so
//   clients that never read (whose sends never end) cannot take every buffer; past that, the
//   owner copies.
// - Nothing is submitted when the owner asks: each request only marks its channel dirty, and
//   poll() turns the dirty channels into SQEs right before the one io_uring_enter of the turn
//   (submit and wait together). So in the steady state there is no system call per operation,
//   asking and cancelling within one turn costs nothing, and a descriptor closed during a turn
//   never reaches the kernel in an SQE prepared before its close.
// - try_send() writes nothing (returns 0): every send goes through send() and the ring.
//   send_to() (UDP replies) and the final check of connect() are plain system calls.
// - Identity: every SQE carries (kind, generation, channel slot) in its user_data, never the
//   descriptor. forget() bumps the channel's generation and cancels what is in flight; a
//   completion of an older generation is dropped, after its buffer is given back (and, for an
//   accept, the new descriptor closed).
// - The ring is created with SINGLE_ISSUER and DEFER_TASKRUN (Linux 6.1): the kernel does this
//   thread's socket work only inside its io_uring_enter, with no interrupting task work. The
//   ring starts disabled and is enabled by the first poll(), so it may be built on one thread
//   and then serve on another.

#include <liburing.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "io/backend.hpp"
#include "io/probe.hpp"
#include "io/uring/buf_ring.hpp"
#include "net/fd.hpp"

namespace netecho::io {

// Sets ring up the way every netecho ring is: SINGLE_ISSUER, DEFER_TASKRUN, SUBMIT_ALL, a
// completion queue of cq_entries (clamped to the kernel's limit), and, with disabled, not yet
// enabled. Returns 0 or -errno, as io_uring_queue_init_params() does.
int init_uring(io_uring& ring, unsigned entries, unsigned cq_entries, bool disabled) noexcept;

class UringBackend final : public Backend {
 public:
  // Throws std::system_error when the kernel refuses the ring, the eventfd or a buffer ring.
  explicit UringBackend(const BackendOptions& options);
  ~UringBackend() override;
  UringBackend(const UringBackend&) = delete;
  UringBackend& operator=(const UringBackend&) = delete;

  std::string_view name() const noexcept override { return "io_uring"; }
  void accept(int fd, Token t) override;
  void recv(int fd, Token t) override;
  void recv_from(int fd, Token t) override;
  void stop_accept(int fd) override;
  void stop_recv(int fd) override;
  void connect(int fd, Token t) override;
  long try_send(int fd, std::span<const std::byte> data) noexcept override;
  void send(int fd, Token t, std::span<const std::byte> data) override;
  bool send_lent(int fd, Token t, const Completion& c,
                 std::span<const std::byte> data) override;
  long send_to(int fd, std::span<const std::byte> data,
               const net::Datagram& to) noexcept override;
  void forget(int fd) override;
  int poll(Handler& handler, std::chrono::nanoseconds timeout) override;
  void wake() noexcept override;

  // Times the provided buffers ran out (a receive ended with ENOBUFS and was armed again).
  std::uint64_t buffer_exhaustions() const noexcept { return exhaustions_; }

 private:
  // What an SQE (and so its completions) belongs to: the top byte of user_data.
  enum class Kind : std::uint8_t { wake, cancel, accept, recv, recv_from, send, connect };
  enum class Read : std::uint8_t { none, accept, recv, recv_from };

  // The backend's state for one descriptor the owner uses. The slot is reused once the owner
  // forgets the descriptor; the generation tells the occupants apart.
  struct Channel {
    int fd = -1;
    std::uint32_t gen = 0;
    Read want = Read::none;    // the multishot read the owner asked for
    Read armed = Read::none;   // the multishot read in the kernel, until its final completion
    bool cancelling = false;   // a cancel for `armed` was submitted
    bool send_queued = false;  // send() asked; submitted at the next flush
    bool send_armed = false;
    bool send_lent = false;         // the send writes from a lent receive buffer...
    std::uint16_t lent_bid = 0;     // ...this one
    std::uint32_t lent_done = 0;    // bytes of it already written by earlier, short sends
    bool connect_queued = false;
    bool connect_armed = false;
    bool dirty = false;        // on dirty_, to be turned into SQEs at the next flush
    Token read_token;
    Token write_token;
    std::span<const std::byte> out;
  };

  static constexpr std::uint32_t kGenMask = 0xffffff;  // 24 bits of generation in user_data

  static std::uint64_t pack(Kind kind, std::uint32_t gen, std::uint32_t slot) noexcept {
    return (std::uint64_t{static_cast<std::uint8_t>(kind)} << 56) |
           (std::uint64_t{gen & kGenMask} << 32) | slot;
  }

  static Kind read_kind(Read read) noexcept {
    return read == Read::accept ? Kind::accept : read == Read::recv ? Kind::recv : Kind::recv_from;
  }
  std::uint32_t slot_of(const Channel& ch) const noexcept {
    return static_cast<std::uint32_t>(&ch - channels_.data());
  }

  Channel& channel(int fd);
  void mark_dirty(std::uint32_t slot);
  io_uring_sqe* get_sqe();
  void flush();
  void arm(std::uint32_t slot);
  void enable();
  void wait(std::chrono::nanoseconds timeout);
  void dispatch(Handler& handler, const io_uring_cqe& cqe);
  void on_stale(Kind kind, const io_uring_cqe& cqe) noexcept;
  void on_read(Handler& handler, Kind kind, std::uint32_t slot, const io_uring_cqe& cqe);
  void deliver_datagram(Handler& handler, Token token, const io_uring_cqe& cqe);
  void recycle(BufRing& ring, const io_uring_cqe& cqe) noexcept;
  void on_send(Handler& handler, std::uint32_t slot, const io_uring_cqe& cqe);
  void release_lent(std::uint16_t bid) noexcept;

  io_uring ring_{};
  bool enabled_ = false;
  net::Fd wake_fd_;
  std::uint64_t wake_value_ = 0;  // the wake read's target; only the kernel writes it
  bool wake_armed_ = false;
  std::optional<BufRing> stream_bufs_;    // group 0: TCP receives
  std::optional<BufRing> datagram_bufs_;  // group 1: whole datagrams, with header and address
  msghdr datagram_hdr_{};                 // the layout of each datagram buffer
  std::vector<Channel> channels_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::int32_t> slot_of_fd_;  // -1: no channel
  std::vector<std::uint32_t> dirty_;
  std::vector<std::uint64_t> cancels_;  // user_data of requests to cancel at the next flush
  // The receive completion being handled, whose buffer send_lent() may take.
  struct Delivering {
    const Completion* completion = nullptr;
    std::uint16_t bid = 0;
    bool lent = false;
  };
  Delivering delivering_;
  std::uint32_t lent_ = 0;      // receive buffers lent to sends now
  std::uint32_t lent_cap_ = 0;  // at most half the ring
  // Lent sends of forgotten channels, still in the kernel: (user_data, buffer), given back
  // when their completion comes.
  std::vector<std::pair<std::uint64_t, std::uint16_t>> orphans_;
  std::uint64_t exhaustions_ = 0;
};

}  // namespace netecho::io
