#pragma once
// Heartbeat: proof that a worker's loop is turning. The worker stamps it from a repeating loop
// timer (Worker::beat_every), so a stamp means the loop came back from its handlers and its wait;
// a worker stuck in a handler or a blocking call stops stamping. The main thread reads it to
// decide whether to ping the service manager's watchdog (supervisor.hpp). One relaxed store per
// period: the stamp publishes nothing else, so no ordering is needed.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>

namespace netecho::server {

class Heartbeat {
 public:
  using Clock = std::chrono::steady_clock;

  // Worker thread.
  void beat(Clock::time_point now) noexcept {
    last_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  }
  // The loop has ended on purpose (its drain finished, or it was stopped): from now on it
  // counts as turning, so that workers done draining early do not hold back the others' pings.
  void retire() noexcept {
    last_.store(std::numeric_limits<Clock::rep>::max(), std::memory_order_relaxed);
  }
  // Any thread. Before the first beat: the clock's epoch, which is long past.
  Clock::time_point last() const noexcept {
    return Clock::time_point(Clock::duration(last_.load(std::memory_order_relaxed)));
  }

 private:
  std::atomic<Clock::rep> last_{0};
};

}  // namespace netecho::server
