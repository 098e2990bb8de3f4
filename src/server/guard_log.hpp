#pragma once
// GuardLog: the log of refusals and drops, at most one line per interval however hard the server
// is hit. A flood of refused connections or rate-limited datagrams must not turn into a flood of
// log lines (which would be a second denial of service, on the disk).
//
// note() counts an event of one kind; it is called by any worker and costs one relaxed atomic
// add in the common case. The first event after a quiet spell is logged at once (so an operator
// sees an attack start); after that, the counts are written by flush(), which the server's main
// thread calls every interval, as one line with the count of each kind since the line before:
//   netecho: refused or dropped in_last="10 s" tcp_refused_per_ip=12 udp_rate_limited=9000
// (a warning). The per-worker Counters remain the exact totals; this is only the operator's
// summary.
//
// At debug level (serve -v), an event may also get a line of its own, with its details (the
// peer, the listener): detail_due() allows one per kind per interval, however many events there
// are, so that a flood of refusals or drops still costs a bounded number of lines. The summary
// counts them all, detailed or not.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "server/counters.hpp"

namespace netecho::server {

// The kinds of refusal and drop the log summarises. Each is counted exactly by the server
// counter of the same name (kGuards maps it), whose name the log line uses.
enum class Guard : std::uint8_t {
  tcp_refused_max,
  tcp_refused_per_ip,
  tcp_idle_closed,
  accept_errors,
  udp_truncated,
  udp_denied_port,
  udp_denied_self,
  udp_denied_address,
  udp_rate_limited,
  tcp_proxy_refused,
  tcp_proxy_malformed,
  tcp_proxy_oversized,
  tcp_proxy_unsupported,
  tcp_proxy_timeout,
};

struct GuardKind {
  Guard id;
  Stat counter;
};
// In the order of the log line.
inline constexpr std::array<GuardKind, 14> kGuards{{
    {Guard::tcp_refused_max, Stat::tcp_refused_max},
    {Guard::tcp_refused_per_ip, Stat::tcp_refused_per_ip},
    {Guard::tcp_idle_closed, Stat::tcp_idle_closed},
    {Guard::accept_errors, Stat::accept_errors},
    {Guard::udp_truncated, Stat::udp_truncated},
    {Guard::udp_denied_port, Stat::udp_denied_port},
    {Guard::udp_denied_self, Stat::udp_denied_self},
    {Guard::udp_denied_address, Stat::udp_denied_address},
    {Guard::udp_rate_limited, Stat::udp_rate_limited},
    {Guard::tcp_proxy_refused, Stat::tcp_proxy_refused},
    {Guard::tcp_proxy_malformed, Stat::tcp_proxy_malformed},
    {Guard::tcp_proxy_oversized, Stat::tcp_proxy_oversized},
    {Guard::tcp_proxy_unsupported, Stat::tcp_proxy_unsupported},
    {Guard::tcp_proxy_timeout, Stat::tcp_proxy_timeout},
}};
inline constexpr std::size_t kGuardKinds = kGuards.size();
static_assert([] {
  for (std::size_t i = 0; i < kGuards.size(); ++i) {
    if (static_cast<std::size_t>(kGuards[i].id) != i) {
      return false;
    }
  }
  return static_cast<std::size_t>(Guard::tcp_proxy_timeout) + 1 == kGuards.size();
}());

constexpr Stat counter_of(Guard g) noexcept { return kGuards[static_cast<std::size_t>(g)].counter; }

constexpr std::string_view to_string(Guard g) noexcept { return to_string(counter_of(g)); }

class GuardLog {
 public:
  using Clock = std::chrono::steady_clock;

  explicit GuardLog(std::chrono::nanoseconds interval = std::chrono::seconds(10)) noexcept
      : interval_(interval) {}
  GuardLog(const GuardLog&) = delete;
  GuardLog& operator=(const GuardLog&) = delete;

  // Thread-safe; never blocks (a flush in progress elsewhere is not waited for).
  void note(Guard g) noexcept;
  // Whether this event of kind g gets a debug line of its own: false below debug level (one
  // relaxed load), else true for the first event of the kind in each interval. Thread-safe.
  bool detail_due(Guard g) noexcept;
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
  // Per kind: when (Clock's nanoseconds) the next detailed debug line may be written.
  std::array<std::atomic<std::int64_t>, kGuardKinds> next_detail_{};
  std::mutex mutex_;               // one writer at a time; guards the fields below
  Clock::time_point last_line_{};  // when the last line was written
  bool wrote_any_ = false;         // whether there was a last line
};

}  // namespace netecho::server
