#pragma once
// Loop: one per thread. It owns a Backend and a timer queue, and runs a turn at a time: wait for
// completions until the next timer is due, deliver them, then fire the due timers.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <unordered_map>
#include <vector>

#include "io/backend.hpp"

namespace netecho::io {

using Clock = std::chrono::steady_clock;

class Loop {
 public:
  explicit Loop(std::unique_ptr<Backend> backend) : backend_(std::move(backend)) {}

  Backend& backend() noexcept { return *backend_; }
  const Backend& backend() const noexcept { return *backend_; }

  // Calls fn once at (or shortly after) deadline. Returns an id for cancel_timer().
  std::uint64_t add_timer(Clock::time_point deadline, std::function<void()> fn);
  void cancel_timer(std::uint64_t id);

  // One turn: waits for completions at most until max_wait or the next timer, whichever is
  // first (max_wait negative: no limit but the timers), delivers them to handler, then fires
  // every timer that is due.
  void run_once(Handler& handler, std::chrono::nanoseconds max_wait = std::chrono::nanoseconds(-1));

 private:
  struct Timer {
    Clock::time_point deadline;
    std::uint64_t id;
    bool operator>(const Timer& o) const { return deadline > o.deadline; }
  };

  std::unique_ptr<Backend> backend_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::unordered_map<std::uint64_t, std::function<void()>> callbacks_;  // pending timers only
  std::uint64_t next_id_ = 1;
};

}  // namespace netecho::io
