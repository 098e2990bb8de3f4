#pragma once
// GuardLog: the log of refusals and drops, at most one line per interval however hard the server
// is hit. A flood of refused connections or rate-limited datagrams must not turn into a flood of
// log lines (which would be a second denial of service, on the disk).
//
// note() counts an event of one kind; it is called by any worker and costs one relaxed atomic
// add in the common case. The first event after a quiet spell is logged at once (so an operator
// sees an attack start); after that, the counts are written by flush(), which the server's main
// thread calls every interval, as one line with the count of each kind since the line before:
//   netecho: refused or dropped in the last 10 s: tcp_refused_per_ip=12 udp_rate_limited=9000
// The per-worker Counters remain the exact totals; this is only the operator's summary.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>

namespace netecho::server {

// Each kind has the name of the counter that counts it exactly (see counters.hpp).
enum class Guard : std::uint8_t {
  tcp_refused_max,     // over --max-conns
  tcp_refused_per_ip,  // over --max-conns-per-ip
  tcp_idle_closed,     // closed by --idle-timeout
  accept_errors,       // EMFILE, ENFILE, ENOBUFS, ENOMEM: accepting paused
  udp_truncated,       // larger than the receive buffer (--udp-buffer)
  udp_denied_port,     // source port 0 or on --udp-deny-ports
  udp_denied_self,     // from one of the server's own UDP addresses
  udp_denied_address,  // source or destination not unicast, or a mapped source not over IPv4
  udp_rate_limited,    // over --udp-rate for its source
};
inline constexpr std::size_t kGuardKinds = 9;

std::string_view to_string(Guard g) noexcept;

class GuardLog {
 public:
  using Clock = std::chrono::steady_clock;

  explicit GuardLog(std::chrono::nanoseconds interval = std::chrono::seconds(10)) noexcept
      : interval_(interval) {}
  GuardLog(const GuardLog&) = delete;
  GuardLog& operator=(const GuardLog&) = delete;

  // Thread-safe; never blocks (a flush in progress elsewhere is not waited for).
  void note(Guard g) noexcept;
  // note(Guard::accept_errors), remembering err (an errno) for the line.
  void note_accept_error(int err) noexcept;

  // Writes the line for the events noted since the last line, if there are any. The server's
  // main thread calls it once per interval and at exit.
  void flush() noexcept;

  std::chrono::nanoseconds interval() const noexcept { return interval_; }

 private:
  void write_pending(Clock::time_point now) noexcept;  // with mutex_ held

  const std::chrono::nanoseconds interval_;
  std::array<std::atomic<std::uint64_t>, kGuardKinds> pending_{};
  std::atomic<bool> quiet_{true};  // nothing noted since a flush found nothing to write
  std::atomic<int> last_errno_{0};
  std::mutex mutex_;               // one writer at a time; guards the fields below
  Clock::time_point last_line_{};  // when the last line was written
  bool wrote_any_ = false;         // whether there was a last line
};

}  // namespace netecho::server
