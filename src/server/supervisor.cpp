#include "server/supervisor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "base/duration.hpp"
#include "base/log.hpp"

namespace netecho::server {

std::vector<std::size_t> stuck_loops(const std::vector<const Heartbeat*>& beats,
                                     Heartbeat::Clock::time_point now,
                                     std::chrono::nanoseconds max_age) {
  std::vector<std::size_t> stuck;
  for (std::size_t i = 0; i < beats.size(); ++i) {
    if (now - beats[i]->last() > max_age) {
      stuck.push_back(i);
    }
  }
  return stuck;
}

Supervisor::Supervisor(Notifier notifier) : notifier_(std::move(notifier)) {
  const auto timeout = notifier_.watchdog_timeout();
  if (timeout.count() != 0) {
    // A timeout of a few microseconds cannot be met anyway; the floor keeps the workers' timers
    // and the main thread from spinning while the manager gives up on the service.
    ping_every_ = std::max<std::chrono::nanoseconds>(timeout / 2, kMinPing);
  }
}

std::string Supervisor::status_text(std::size_t connections) const {
  if (draining_) {
    return fmt::format("draining {} connection(s)", connections);
  }
  return fmt::format("serving {} listener(s), {} connection(s)", listeners_, connections);
}

void Supervisor::ready(std::size_t listeners, std::size_t connections) {
  if (!notifier_.enabled()) {
    return;
  }
  listeners_ = listeners;
  last_status_ = status_text(connections);
  notifier_.send(fmt::format("READY=1\nSTATUS={}", last_status_));
}

void Supervisor::refresh(std::size_t connections) {
  if (!notifier_.enabled() || (stopping_sent_ && !draining_)) {
    return;
  }
  std::string text = status_text(connections);
  if (text != last_status_) {
    notifier_.send("STATUS=" + text);
    last_status_ = std::move(text);
  }
}

void Supervisor::draining(std::size_t connections) {
  if (!notifier_.enabled() || stopping_sent_) {
    return;
  }
  draining_ = true;
  stopping(status_text(connections));
}

void Supervisor::stopping(const std::string& status) {
  if (!notifier_.enabled() || stopping_sent_) {
    return;
  }
  stopping_sent_ = true;
  last_status_ = status;
  notifier_.send(fmt::format("STOPPING=1\nSTATUS={}", status));
}

void Supervisor::ping(Heartbeat::Clock::time_point now) {
  if (!notifier_.enabled() || ping_every_.count() == 0) {
    return;
  }
  const std::vector<std::size_t> stuck = stuck_loops(beats_, now, ping_every_);
  if (stuck.empty()) {
    if (withholding_) {
      withholding_ = false;
      base::log("watchdog: every worker's loop turns again; WATCHDOG=1 resumed");
    }
    notifier_.send("WATCHDOG=1");
    return;
  }
  if (!withholding_) {
    withholding_ = true;
    base::error(
        "watchdog: the loop of worker(s) {} has not turned for over {}: WATCHDOG=1 withheld "
        "(the service manager acts, restarting the service, after {} without one)",
        fmt::join(stuck, ","), base::format_duration(ping_every_),
        base::format_duration(2 * ping_every_));
  }
}

}  // namespace netecho::server
