#pragma once
// The io_uring backend: completions straight from the kernel, one io_uring_enter per loop turn.
//
// - accept, recv and recv_from are multishot: armed once, they complete again and again. recv
//   and recv_from pick their buffers from provided-buffer rings of this thread (BufRing); a
//   buffer goes back to its ring as soon as the handler of its completion returns (unless it is
//   lent, below). When a ring runs dry in a burst, the kernel ends the receive with ENOBUFS; the
//   data stays in the socket and the receive is armed again in the next turn, after the batch
//   has given its buffers back.
// - TCP receives start in a ring of many small buffers (many connections with small messages
//   each take one per message, close together in memory). A connection that fills a small
//   buffer is streaming: its receive moves to a ring of few large buffers, so that a 64 KiB
//   message costs one completion instead of thirty-two.
// - send_lent() sends a reply straight from its receive buffer: the buffer stays out of the
//   ring until the send has written every byte. At most half of a ring is lent at a time, so
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
//
// Submission lives in uring_backend.cpp, completion in uring_completion.cpp.

#include <liburing.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "base/counter.hpp"
#include "io/backend.hpp"
#include "io/probe.hpp"
#include "io/slot_table.hpp"
#include "io/uring/buf_ring.hpp"
#include "io/uring/ring.hpp"
#include "net/fd.hpp"

namespace netecho::io {

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
  void stop_read(int fd) override;
  void connect(int fd, Token t) override;
  void watch(int fd, Token t, short events) override;
  long try_send(int fd, std::span<const std::byte> data) noexcept override;
  void send(int fd, Token t, std::span<const std::byte> data) override;
  bool send_lent(int fd, Token t, const Completion& c, std::span<const std::byte> data) override;
  long send_to(int fd, std::span<const std::byte> data, const net::Datagram& to) noexcept override;
  void forget(int fd) override;
  int poll(Handler& handler, std::chrono::nanoseconds timeout) override;
  BackendStats stats() const noexcept override;
  void wake() noexcept override;
  void quiesce() noexcept override;

 private:
  // What an SQE (and so its completions) belongs to: the top byte of user_data. A receive's
  // kind names the ring its buffers come from.
  enum class Kind : std::uint8_t {
    wake,
    cancel,
    accept,
    recv_small,
    recv_large,
    recv_from,
    send,
    connect,
    ready,  // a watch(): a one-shot POLL_ADD
  };
  enum class Read : std::uint8_t { none, accept, recv, recv_from };
  // A channel's one write-side request, from the ask to its completion. A connect completes
  // before the owner sends, and the owner sends one at a time (backend.hpp), so the states
  // exclude each other.
  enum class Write : std::uint8_t {
    none,
    send_queued,        // send() or send_lent() asked: submitted at the next flush
    send_in_kernel,     // submitted; its completion clears it (or queues the rest of a lent one)
    connect_queued,     // connect() asked
    connect_in_kernel,  // the POLLOUT that ends the connect is submitted
  };
  enum class Watch : std::uint8_t { none, queued, in_kernel };
  enum class Group : std::uint16_t { small = 0, datagram = 1, large = 2 };

  // A ring of receive buffers and how many of them are lent to sends.
  struct Pool {
    std::optional<BufRing> bufs;
    std::uint32_t lent = 0;
    std::uint32_t lent_cap = 0;  // half the ring
  };

  // The backend's state for one descriptor the owner uses. The slot is reused once the owner
  // forgets the descriptor; the generation tells the occupants apart.
  struct Channel {
    int fd = -1;
    Read want = Read::none;    // the multishot read the owner asked for
    Kind armed = Kind::wake;   // the multishot read in the kernel (wake: none), until its end
    bool cancelling = false;   // a cancel for `armed` was submitted
    bool large = false;        // TCP receives use the large buffers (the connection streams)
    Write write = Write::none;
    Watch watch = Watch::none;
    short watch_events = 0;
    bool dirty = false;      // on dirty_, to be turned into SQEs at the next flush
    bool send_lent = false;  // the send writes from a lent receive buffer...
    Group lent_group = Group::small;
    std::uint16_t lent_bid = 0;   // ...this one
    std::uint32_t lent_done = 0;  // bytes of it already written by earlier, short sends
    Token read_token;
    Token write_token;
    Token watch_token;
    std::span<const std::byte> out;
  };

  // The receive completion being handled, whose buffer send_lent() may take.
  struct Delivering {
    const Completion* completion = nullptr;
    Group group = Group::small;
    std::uint16_t bid = 0;
    bool lent = false;
  };

  // A lent send of a forgotten channel, still in the kernel: its buffer goes back when its
  // completion comes.
  struct Orphan {
    std::uint64_t user_data;
    Group group;
    std::uint16_t bid;
  };

  static constexpr unsigned kGenBits = 24;  // of generation in user_data
  static constexpr std::uint32_t kGenMask = SlotTable<Channel, kGenBits>::kGenMask;

  static std::uint64_t pack(Kind kind, std::uint32_t gen, std::uint32_t slot) noexcept {
    return (std::uint64_t{static_cast<std::uint8_t>(kind)} << 56) |
           (std::uint64_t{gen & kGenMask} << 32) | slot;
  }
  static bool is_read(Kind k) noexcept {
    return k == Kind::accept || k == Kind::recv_small || k == Kind::recv_large ||
           k == Kind::recv_from;
  }
  std::uint32_t slot_of(const Channel& ch) const noexcept { return channels_.slot_of(ch); }
  Pool& pool(Group g) noexcept {
    return g == Group::small ? small_ : g == Group::large ? large_ : datagram_;
  }
  // The pool whose buffers completions of kind carry (accept, send...: none).
  Pool* pool_of(Kind kind) noexcept;

  // uring_backend.cpp: asking and submitting.
  Channel& channel(int fd);
  void want_read(int fd, Read read, Token t);
  void mark_dirty(std::uint32_t slot);
  io_uring_sqe* get_sqe();
  // Sets the SQE of a request (not of a cancel) to user_data, and counts it in flight.
  void tag(io_uring_sqe* sqe, std::uint64_t user_data) noexcept;
  void count_completion(Kind kind, const io_uring_cqe& cqe) noexcept;
  void prep_cancel(std::uint64_t target);
  void flush();
  void arm(std::uint32_t slot);
  void enable();
  void wait(std::chrono::nanoseconds timeout);
  void release_lent(Group group, std::uint16_t bid) noexcept;
  void commit_buffers() noexcept;

  // uring_completion.cpp: what comes back.
  void dispatch(Handler& handler, const io_uring_cqe& cqe);
  void on_stale(Kind kind, const io_uring_cqe& cqe) noexcept;
  void on_read(Handler& handler, Kind kind, std::uint32_t slot, const io_uring_cqe& cqe);
  void on_stream(Handler& handler, Kind kind, std::uint32_t slot, const io_uring_cqe& cqe);
  void on_datagram(Handler& handler, Token token, const io_uring_cqe& cqe);
  void on_send(Handler& handler, std::uint32_t slot, const io_uring_cqe& cqe);
  void recycle(Kind kind, const io_uring_cqe& cqe) noexcept;

  bool enabled_ = false;
  net::Fd wake_fd_;
  std::uint64_t wake_value_ = 0;  // the wake read's target; only the kernel writes it
  bool wake_armed_ = false;
  Pool small_;             // TCP receives, to begin with
  Pool large_;             // TCP receives of streaming connections
  Pool datagram_;          // whole datagrams, with the kernel's header and the source address
  msghdr datagram_hdr_{};  // the layout of each datagram buffer
  SlotTable<Channel, kGenBits> channels_;  // the slot and generation of each SQE's user_data
  std::vector<std::int32_t> slot_of_fd_;  // -1: no channel
  std::vector<std::uint32_t> dirty_;
  std::vector<std::uint64_t> cancels_;  // user_data of requests to cancel at the next flush
  Delivering delivering_;
  std::vector<Orphan> orphans_;
  std::chrono::steady_clock::time_point last_completion_{};  // for the idle trim
  base::Counter exhaustions_;  // receives ended by ENOBUFS (and armed again)
  base::Counter rearms_;       // multishot reads ended by the kernel and armed again
  std::uint64_t in_flight_ = 0;    // requests submitted whose last completion has not come
  // Declared last, so destroyed first: its teardown cancels every request before the buffer
  // rings above are unmapped (they see the ring gone and do not unregister).
  Ring ring_;
};

}  // namespace netecho::io
