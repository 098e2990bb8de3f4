#pragma once
// The intended-send-time schedule of an open-loop run (wrk2's "constant throughput" model).
//
// A run at R messages per second over N flows gives every flow the same period N / R and
// staggers their origins by 1 / R, so that the flows' schedules interleave into one evenly
// spaced stream of R messages per second. Message k of a flow is due at origin + k * period,
// computed from k each time (never by adding periods up), so the schedule does not drift
// however long the run. A flow that falls behind sends as soon as it may, and its latency is
// still counted from the due time: a stalled server then shows in the tail instead of silently
// slowing the client down (coordinated omission).

#include <chrono>
#include <cstdint>

namespace netecho::client {

class Pacer {
 public:
  using Clock = std::chrono::steady_clock;

  // An unpaced schedule (closed loop): paced() is false and due() returns origin.
  Pacer() = default;
  // Message k is due at origin + k * period_ns. period_ns must be positive.
  Pacer(Clock::time_point origin, long double period_ns) noexcept
      : origin_(origin), period_ns_(period_ns) {}

  // Flow `flow` of `flows` (flow < flows) in a run of `total_rate` messages per second that
  // starts at start.
  static Pacer for_flow(Clock::time_point start, double total_rate, std::uint32_t flow,
                        std::uint32_t flows) noexcept;

  bool paced() const noexcept { return period_ns_ > 0; }
  Clock::time_point origin() const noexcept { return origin_; }
  long double period_ns() const noexcept { return period_ns_; }

  // When message k (counted from 0) is due.
  Clock::time_point due(std::uint64_t k) const noexcept;

 private:
  Clock::time_point origin_{};
  long double period_ns_ = 0;  // 0: unpaced
};

}  // namespace netecho::client
