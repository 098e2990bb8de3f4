#include "io/loop.hpp"

namespace netecho::io {

std::uint64_t Loop::add_timer(Clock::time_point deadline, std::function<void()> fn) {
  const std::uint64_t id = next_id_++;
  timers_.push({deadline, id});
  callbacks_.emplace(id, std::move(fn));
  return id;
}

void Loop::cancel_timer(std::uint64_t id) { callbacks_.erase(id); }

void Loop::run_once(Handler& handler, std::chrono::nanoseconds max_wait) {
  while (!timers_.empty() && !callbacks_.contains(timers_.top().id)) {
    timers_.pop();  // cancelled
  }
  std::chrono::nanoseconds wait = max_wait;
  if (!timers_.empty()) {
    const auto until = std::max(timers_.top().deadline - Clock::now(), Clock::duration::zero());
    const auto until_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(until);
    wait = wait.count() < 0 ? until_ns : std::min(wait, until_ns);
  }
  backend_->poll(handler, wait);
  if (timers_.empty()) {
    return;
  }
  const auto now = Clock::now();
  while (!timers_.empty() && timers_.top().deadline <= now) {
    const std::uint64_t id = timers_.top().id;
    timers_.pop();
    auto it = callbacks_.find(id);
    if (it == callbacks_.end()) {
      continue;
    }
    auto fn = std::move(it->second);
    callbacks_.erase(it);
    fn();
  }
}

}  // namespace netecho::io
