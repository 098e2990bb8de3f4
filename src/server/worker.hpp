#pragma once
// Worker: one thread, one event loop, its own SO_REUSEPORT socket for every listener, its own
// sessions, buffers and counters. Nothing on the data path is shared with other workers.

#include <atomic>
#include <cassert>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/loop.hpp"
#include "io/slot_table.hpp"
#include "net/address.hpp"
#include "net/fd.hpp"
#include "server/counters.hpp"
#include "server/guard_log.hpp"
#include "server/heartbeat.hpp"
#include "server/idle.hpp"
#include "server/limits.hpp"
#include "server/proxy_header.hpp"
#include "server/tcp_session.hpp"
#include "server/udp_endpoint.hpp"
#include "service/stream.hpp"

namespace netecho::server {

// What the workers share, owned by the Server, which outlives them.
struct WorkerShared {
  ConnectionLimits& limits;
  GuardLog& log;
  std::chrono::nanoseconds idle_timeout{0};  // zero: connections are never idle-closed
  // Thread-safe: tells the server's main thread that this worker's state changed (its listeners
  // are closed, or it has finished draining).
  std::function<void()> notify;
  // PROXY listeners (TcpListener::proxy): who may connect, and the header's deadline.
  const std::vector<proxy::Network>* proxy_from = nullptr;
  std::chrono::nanoseconds proxy_timeout{0};
};

struct TcpListener {
  net::Fd fd;
  service::StreamService service;  // what its connections get back
  // The supervisor's socket (socket activation), kept listening for the next start: closing
  // our descriptor must not shut it down.
  bool passed = false;
  std::string name;  // "tcp://127.0.0.1:7", for the log
  // Its connections start with a PROXY header (--tcp-proxy): read before any session opens.
  bool proxy = false;
};

struct WorkerSockets {
  std::vector<TcpListener> tcp;
  std::vector<UdpEndpoint> udp;
};

// The worker's token space: what the token of a completion names, told apart by its op.
//   accept:          slot = index of the TCP listener, gen 0
//   recv, send:      slot = a session's slot (below kUdpBase), gen = the session's generation
//   recv_from:       slot = kUdpBase + index of the UDP endpoint, gen 0
// Listener and endpoint indices are checked when their tokens are made, and the session table
// is bounded by kUdpBase, so the ranges never overlap.
struct WorkerTokens {
  static constexpr std::uint32_t kUdpBase = 1u << 30;

  static io::Token listener(std::size_t index) noexcept {
    assert(index < kUdpBase);
    return {static_cast<std::uint32_t>(index), 0};
  }
  static io::Token udp(std::size_t index) noexcept {
    assert(index < kUdpBase);
    return {kUdpBase + static_cast<std::uint32_t>(index), 0};
  }
  static bool is_udp(io::Token t) noexcept { return t.slot >= kUdpBase; }
  static std::size_t udp_index(io::Token t) noexcept {
    assert(is_udp(t));
    return t.slot - kUdpBase;
  }
};

class Worker final : private io::Handler {
 public:
  Worker(unsigned id, std::unique_ptr<io::Backend> backend, WorkerSockets sockets,
         WorkerShared shared);

  // The thread body: serves until stop() is called, or until a drain has finished; then closes
  // every socket it owns and returns only once the backend has released them all (so their
  // ports are free again), also when it throws.
  void run();
  // Thread-safe: asks run() to return soon, cutting the connections still open.
  void stop() noexcept;
  // Thread-safe: starts a graceful stop. The worker closes its listeners at once (and then
  // calls notify), lets every connection finish the echo in flight, closing each once it has
  // owed nothing and had no unread input for a quiet period (kDrainQuiet plus two round
  // trips), and returns from run() when none is left.
  void drain() noexcept;
  bool listeners_closed() const noexcept {
    return listeners_closed_.load(std::memory_order_acquire);
  }

  // Before run(): while the loop turns, stamp heartbeat() every period, from a repeating loop
  // timer (one wake-up per period). Zero, the default: never, and no wake-ups for it.
  void beat_every(std::chrono::nanoseconds period) noexcept { beat_every_ = period; }
  Heartbeat& heartbeat() noexcept { return heartbeat_; }
  // Before run(), for tests only (the hidden --test-stall-worker): `after` the loop starts,
  // block the loop thread for `length` in a timer callback, as a handler stuck in a blocking
  // call would, so that a test can watch the watchdog's pings stop.
  void stall_for_test(std::chrono::nanoseconds after, std::chrono::nanoseconds length) noexcept {
    test_stall_after_ = after;
    test_stall_length_ = length;
  }

  // The counters of the i-th TCP listener (WorkerSockets::tcp) and of the i-th UDP endpoint, in
  // this worker. Any thread may read them.
  const Counters& tcp_counters(std::size_t i) const noexcept { return tcp_counters_[i]; }
  const Counters& udp_counters(std::size_t i) const noexcept { return udp_counters_[i]; }
  unsigned id() const noexcept { return id_; }
  // Thread-safe: what the worker's backend counted (io_uring's buffer exhaustions, re-arms).
  io::BackendStats backend_stats() const noexcept { return loop_.backend().stats(); }

 private:
  static constexpr auto kAcceptPause = std::chrono::milliseconds(100);
  // A draining connection that owes nothing and holds no unread input may still have bytes
  // the peer has sent, waiting in the peer's send queue for a window update from us; Linux
  // holds a delayed ACK for at most 200 ms. Closing before they arrive would answer them with
  // a reset, and the peer would lose echo it was owed. So a connection closes only after it
  // has stayed so this long, plus two of its round trips.
  static constexpr auto kDrainQuiet = std::chrono::milliseconds(250);
  static constexpr auto kDrainTick = std::chrono::milliseconds(50);

  void serve();
  // Closes every listener and connection, and waits until the backend has released them all.
  void close_all();
  void on_completion(const io::Completion& c) override;
  void on_accept(std::size_t listener, int res);
  // Resets fd and counts it in counter_of(why). client: whom the debug line names, when not
  // the socket's peer (a client behind a proxy).
  void refuse(int fd, std::size_t listener, Guard why, const net::SockAddr* client = nullptr);
  // PROXY listeners: a connection waits in its slot, with no session, until its header is
  // read (on_header_ready: peeked, and consumed only as far as the header goes, so what the
  // client sent after it stays in the socket for the session) or its deadline passes.
  void await_header(std::size_t listener, int fd);
  void on_header_ready(io::Token token);
  void start_session(io::Token token, const proxy::Header& header);
  // Closes a connection still waiting for its header, counting it under why (unless why is
  // empty: the server is stopping).
  void drop_awaiting(std::uint32_t slot, std::optional<Guard> why);
  // Why a connection closed, for its close event. `ended`: as its session said (the client's
  // FIN, a --once reply, or an error).
  enum class CloseReason : std::uint8_t { ended, idle, drained, drain_cut, stopped };
  void finish(std::uint32_t slot, TcpSession::Status status,
              CloseReason why = CloseReason::ended);
  // The debug events of a connection (serve -v): only called at debug level.
  void log_open(std::uint32_t slot, const net::SockAddr& peer);
  void log_close(std::uint32_t slot, TcpSession::Status status, CloseReason why);
  // A connection: its session, whom it counts against, and the listener that accepted it.
  struct Connection {
    TcpSession session;
    SourceKey source;
    std::uint32_t listener = 0;
    // While a PROXY header is awaited: the socket (the session has none yet), the bytes of
    // the header consumed so far, and the proxy's address.
    net::Fd awaiting;
    std::string header;
    net::SockAddr proxy;
  };
  void close_listeners();
  void sweep_idle();
  void beat();
  void begin_drain();
  void close_quiet_sessions();
  void drain_tick();
  // The data path's only guard work: one store for the idle timer, one push while draining.
  void note_progress(std::uint32_t slot) {
    if (idle_.enabled()) {
      idle_.touch(slot);
    }
    if (draining_) {
      // Activity ends a quiet period at once: the turn's timers (drain_tick) run after its
      // completions, before close_quiet_sessions() has looked at this one again.
      quiet_until_[slot] = {};
      drain_check_.push_back(slot);
    }
  }

  unsigned id_;
  io::Loop loop_;
  WorkerSockets sockets_;
  io::SlotTable<Connection> conns_{WorkerTokens::kUdpBase};
  std::vector<std::byte> scratch_;         // one datagram reply
  std::vector<Counters> tcp_counters_;  // per TCP listener, in sockets_.tcp's order
  std::vector<Counters> udp_counters_;  // per UDP endpoint, in sockets_.udp's order
  std::atomic<bool> stopping_{false};
  bool accept_paused_ = false;
  WorkerShared shared_;
  IdleTracker idle_;
  std::size_t open_ = 0;                   // sessions open
  std::atomic<bool> drain_requested_{false};
  std::atomic<bool> listeners_closed_{false};
  bool draining_ = false;
  std::vector<std::uint32_t> drain_check_;  // draining sessions that had a completion this turn
  std::vector<io::Clock::time_point> quiet_until_;  // per slot while draining; {}: not quiet
  bool drain_tick_armed_ = false;
  // Per slot, at debug level only (empty otherwise): what a connection's close event needs
  // and its session does not keep.
  struct Trace {
    net::SockAddr peer;
    io::Clock::time_point opened;
  };
  std::vector<Trace> traces_;
  std::chrono::nanoseconds beat_every_{0};
  Heartbeat heartbeat_;
  std::chrono::nanoseconds test_stall_after_{0};
  std::chrono::nanoseconds test_stall_length_{0};  // zero: no stall
};

}  // namespace netecho::server
