#include "server/shutdown.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <ctime>
#include <vector>

#include "base/duration.hpp"
#include "base/log.hpp"

namespace netecho::server {
namespace {

using Clock = std::chrono::steady_clock;

// The next signal of set, or 0 when deadline passes first.
int wait_signal(const sigset_t& set, Clock::time_point deadline) {
  const auto left = std::max(deadline - Clock::now(), Clock::duration::zero());
  const timespec ts =
      base::to_timespec(std::chrono::duration_cast<std::chrono::nanoseconds>(left));
  const int sig = ::sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;  // EAGAIN: the deadline; EINTR: look again
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal";
  }
}

}  // namespace

Ending wait_for_shutdown(const ShutdownHooks& hooks, const ShutdownTiming& timing, std::FILE* out) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  bool draining = false;
  bool announced = false;
  Clock::time_point drain_deadline{};
  std::vector<Clock::time_point> due(hooks.periodic.size());
  const Clock::time_point start = Clock::now();
  for (std::size_t i = 0; i < due.size(); ++i) {
    due[i] = start + hooks.periodic[i].every;
  }
  for (;;) {
    // The workers' notes carry no data (signals of one kind merge): look at the state itself.
    if (hooks.worker_failed()) {
      return Ending::failed;
    }
    if (draining) {
      if (!announced && hooks.listeners_closed()) {
        fmt::print(
            out, "draining connections={} timeout_ms={}\n", hooks.open_connections(),
            std::chrono::duration_cast<std::chrono::milliseconds>(timing.drain_timeout).count());
        std::fflush(out);
        announced = true;
      }
      if (hooks.workers_ended()) {
        return Ending::drained;
      }
    }
    Clock::time_point wake = draining ? drain_deadline : Clock::time_point::max();
    for (const auto& d : due) {
      wake = std::min(wake, d);
    }
    const int sig = wait_signal(set, wake);
    const auto now = Clock::now();
    for (std::size_t i = 0; i < due.size(); ++i) {
      if (now >= due[i]) {
        hooks.periodic[i].run();
        due[i] += hooks.periodic[i].every;
        if (due[i] <= now) {
          due[i] = now + hooks.periodic[i].every;
        }
      }
    }
    if (sig == SIGHUP) {
      base::log("SIGHUP received: nothing to reload, still serving");
    } else if (sig == SIGINT || sig == SIGTERM) {
      if (draining) {
        base::log_event(base::Level::warn,
                        fmt::format("{} received again: closing the connections now",
                                    signal_name(sig)),
                        {{"connections", hooks.open_connections()}});
        return Ending::second_signal;
      }
      base::log_event(base::Level::info,
                      fmt::format("{} received: closing listeners, draining", signal_name(sig)),
                      {{"connections", hooks.open_connections()},
                       {"drain_timeout", base::format_duration(timing.drain_timeout)}});
      hooks.begin_drain();
      draining = true;
      drain_deadline = now + timing.drain_timeout;
    } else if (draining && now >= drain_deadline && !hooks.workers_ended()) {
      base::log_event(base::Level::warn, "drain timeout passed: closing the connections",
                      {{"drain_timeout", base::format_duration(timing.drain_timeout)},
                       {"connections", hooks.open_connections()}});
      return Ending::drain_timeout;
    }
  }
}

}  // namespace netecho::server
