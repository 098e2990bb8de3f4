#pragma once
// Internal to netecho ping: the probing session, shared by ping.cpp (schedule, event loop,
// output), ping/udp.cpp and ping/tcp.cpp (the two transports). Not for use elsewhere.
//
// The session runs on an io::Loop, so on either backend: the schedule, the probe timeouts, the
// connect timeouts and the deadline are Loop timers; sockets, the stop descriptor and the UDP
// error queue are backend operations, each completion tagged with a Token (kStopSlot,
// kUdpSlot, or kConnSlot with the connection's id as its generation).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "client/ping/ping.hpp"
#include "client/ping/report.hpp"
#include "client/probe_stats.hpp"
#include "client/probe_frame.hpp"
#include "io/loop.hpp"
#include "net/address.hpp"
#include "net/fd.hpp"

namespace netecho::client::ping_detail {

using Clock = PingClock;
using std::chrono::nanoseconds;

// Queued ICMP errors read per watch completion, so a flood of them cannot starve the timers
// (the watch, asked again, completes at once while more are queued).
inline constexpr int kReadsPerTurn = 16;

// What a completion's token names: the stop descriptor, the UDP socket, or a TCP connection.
inline constexpr std::uint32_t kStopSlot = 0;
inline constexpr std::uint32_t kUdpSlot = 1;
inline constexpr std::uint32_t kConnSlot = 2;

// A time point as written into a probe frame: nanoseconds of the monotonic clock.
inline std::uint64_t to_ns(Clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<nanoseconds>(t.time_since_epoch()).count());
}

inline std::string error_text(int e) {
  return std::error_code(e, std::system_category()).message();
}

// A TCP connection and the probes that travel on it.
struct Conn {
  struct Written {
    std::uint64_t seq;
    Clock::time_point at;  // when the frame was handed to the socket
    std::uint64_t send_ns;
  };

  std::uint32_t id = 0;  // its tokens' generation
  net::Fd fd;
  bool connected = false;
  bool dead = false;  // to be closed at the end of this loop turn
  Clock::time_point connect_started;
  std::optional<nanoseconds> connect_time;
  std::optional<std::uint64_t> only_seq;  // --connect: the one probe of this connection
  std::vector<std::uint64_t> waiting;     // due while connecting; written once connected
  std::deque<Written> written;            // written, reply not yet read; TCP keeps the order
  // Frames the kernel has not taken yet: out is being written (by a send() in flight when
  // sending: it must not move until that completes), next waits for it.
  std::vector<std::byte> out;
  std::size_t out_done = 0;
  std::vector<std::byte> next;
  bool sending = false;
  std::vector<std::byte> in;  // reply bytes short of a whole frame
};

// One run of netecho ping: the schedule, the probes in flight and their sockets, the counters.
// Single-threaded: run() owns the loop until the run ends.
class Pinger final : private io::Handler {
 public:
  // The session for one run: o is the validated options, peer the resolved address probed.
  Pinger(const PingOptions& o, const net::SockAddr& peer, std::FILE* out, std::FILE* err);

  Outcome run();

 private:
  bool more_to_send() const {
    if (!o_.count) {
      return true;
    }
    // With a deadline, ping keeps probing until count replies came (or the deadline passed).
    return o_.deadline ? stats_.received < *o_.count : sent_ < *o_.count;
  }
  bool finished() const {
    if (!o_.count) {
      return false;
    }
    return o_.deadline ? stats_.received >= *o_.count
                       : sent_ >= *o_.count && tracker_.in_flight() == 0;
  }
  Clock::time_point due(std::uint64_t k) const { return start_ + o_.interval * k; }

  void on_completion(const io::Completion& c) override;
  void schedule_probe();
  void on_probe_due();
  void start_probe(Clock::time_point now);
  void expire_probes();
  void on_timeout(std::uint64_t seq);
  void close_dead();
  void close_all();
  void print_summary();

  // UDP
  void udp_send(std::uint64_t seq, Clock::time_point now);
  void udp_receive(const io::Completion& c);
  void udp_errors();
  void udp_datagram(std::span<std::byte> data, bool truncated, Clock::time_point now);

  // TCP
  void tcp_probe(std::uint64_t seq, Clock::time_point now);
  void on_conn(Conn& c, const io::Completion& comp);
  void on_connected(Conn& c, Clock::time_point now);
  void write_frame(Conn& c, std::uint64_t seq, Clock::time_point now);
  void flush(Conn& c);
  void tcp_receive(Conn& c, std::span<const std::byte> data);
  void tcp_frame(Conn& c, std::span<const std::byte> frame, Clock::time_point now);
  void lose(Conn& c, const std::string& why);
  void expire_connect(std::uint32_t id);
  Conn* find_conn(std::uint32_t id);

  // Output
  // A reply checked against what a probe frame of ours must look like: the header, as much of
  // it as could be read, and the problem, if any.
  struct FrameCheck {
    ProbeHeader header;
    std::optional<std::string> problem;
  };
  FrameCheck check_frame(std::span<const std::byte> data) const;
  void emit(ProbeEvent e);
  // Writes one line (or document) and flushes it; a closed or failing output ends the run.
  void write_out(const std::string& text);
  void reply(ProbeEvent e, const ReplyMatch& m, nanoseconds rtt);

  const PingOptions& o_;
  net::SockAddr peer_;
  std::FILE* out_;
  std::FILE* err_;
  PingRunInfo info_;
  PingStats stats_;
  ProbeTracker tracker_;
  std::uint32_t session_ = 0;
  Clock::time_point start_;
  std::uint64_t sent_ = 0;  // probes started; probe k (from 0) has seq k + 1
  bool interrupted_ = false;
  bool done_ = false;           // the run ends at the end of this loop turn
  int output_error_ = 0;        // errno of a failed write to out_ (EPIPE: the reader left)
  std::vector<std::byte> frame_;
  std::vector<std::byte> rbuf_ = std::vector<std::byte>(65536);

  io::Loop loop_;
  net::Fd udp_;
  bool errqueue_ = false;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::uint32_t next_conn_id_ = 0;
  bool had_connection_ = false;  // TCP: a connection was up before (the next one reconnects)
};

}  // namespace netecho::client::ping_detail
