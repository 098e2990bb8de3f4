#pragma once
// IdleTracker: finds the connections of one worker that made no progress for --idle-timeout
// (no byte read, none written), at the cost of one 32-bit store per completion on the data path
// and no clock read there.
//
// A periodic sweep, every period = timeout / 8, advances a tick counter and looks at every
// session; a session records the tick current at its last progress. Since that progress happened
// somewhere within its tick, a session is idle for at least the timeout once the tick has moved
// on more than 8 times, and is closed after between timeout and timeout + period (9/8 of it)
// without progress. A stalled peer (one that sends but never reads, so the server cannot write)
// makes no progress either, and is cut the same way: the documented timer of the backpressure
// promise. The sweep is O(sessions) per period, which at eight sweeps per timeout costs far less
// than a timer per connection (no per-event timer updates on the hot path).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace netecho::server {

class IdleTracker {
 public:
  static constexpr std::uint32_t kTicksPerTimeout = 8;

  // timeout zero: never idle (the tracker does nothing).
  explicit IdleTracker(std::chrono::nanoseconds timeout) noexcept : timeout_(timeout) {}

  bool enabled() const noexcept { return timeout_.count() > 0; }
  std::chrono::nanoseconds period() const noexcept {
    return std::max<std::chrono::nanoseconds>(timeout_ / kTicksPerTimeout,
                                              std::chrono::milliseconds(1));
  }

  // Progress on the session in slot (opened, read, written).
  void touch(std::uint32_t slot) {
    if (slot >= last_.size()) {
      last_.resize(slot + 1);
    }
    last_[slot] = tick_;
  }
  // Called by the sweep timer, once per period.
  void advance() noexcept { ++tick_; }
  bool expired(std::uint32_t slot) const noexcept {
    return slot < last_.size() && tick_ - last_[slot] > kTicksPerTimeout;
  }

 private:
  std::chrono::nanoseconds timeout_;
  std::uint32_t tick_ = 0;
  std::vector<std::uint32_t> last_;  // per slot: the tick of the last progress
};

}  // namespace netecho::server
