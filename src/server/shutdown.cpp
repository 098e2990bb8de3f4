#include "server/shutdown.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>

#include <optional>
#include <system_error>

#include "base/duration.hpp"
#include "base/log.hpp"
#include "io/signal_fd.hpp"

namespace netecho::server {
namespace {

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

// The main loop's handler: the signals, the drain's state, and everything else passed on.
class ShutdownLoop final : public io::Handler {
 public:
  ShutdownLoop(io::Loop& loop, io::Handler* other, const ShutdownHooks& hooks,
               const ShutdownTiming& timing, io::SignalFd& signals)
      : loop_(loop), other_(other), hooks_(hooks), timing_(timing), signals_(signals) {}

  void start_periodic() {
    for (const Periodic& p : hooks_.periodic) {
      schedule(p, io::Clock::now() + p.every);
    }
  }

  bool draining() const noexcept { return draining_; }
  const std::optional<Ending>& ending() const noexcept { return ending_; }
  bool timed_out() const noexcept { return timed_out_; }

  void on_completion(const io::Completion& c) override {
    if (c.op != io::Op::ready || c.token.slot != kSignalToken.slot) {
      if (other_ != nullptr) {
        other_->on_completion(c);
      }
      return;
    }
    // Read them all, then watch again (a watch completes once).
    while (const int sig = signals_.take()) {
      on_signal(sig);
    }
    watch_signals();
  }

  void watch_signals() { loop_.backend().watch(signals_.fd(), kSignalToken, POLLIN); }

 private:
  void schedule(const Periodic& p, io::Clock::time_point due) {
    loop_.add_timer(due, [this, &p, due] {
      p.run();
      const auto now = io::Clock::now();
      const auto next = due + p.every;
      schedule(p, next > now ? next : now + p.every);
    });
  }

  void on_signal(int sig) {
    if (ending_) {
      return;
    }
    if (sig == SIGHUP) {
      base::log("SIGHUP received: nothing to reload, still serving");
    } else if (sig == SIGUSR1) {
      hooks_.report();
    } else if (sig == SIGINT || sig == SIGTERM) {
      if (draining_) {
        base::log_event(base::Level::warn,
                        fmt::format("{} received again: closing the connections now",
                                    signal_name(sig)),
                        {{"connections", hooks_.open_connections()}});
        ending_ = Ending::second_signal;
        return;
      }
      base::log_event(base::Level::info,
                      fmt::format("{} received: closing listeners, draining", signal_name(sig)),
                      {{"connections", hooks_.open_connections()},
                       {"drain_timeout", base::format_duration(timing_.drain_timeout)}});
      hooks_.begin_drain();
      draining_ = true;
      loop_.add_timer(io::Clock::now() + timing_.drain_timeout, [this] { timed_out_ = true; });
    }
  }

  io::Loop& loop_;
  io::Handler* other_;
  const ShutdownHooks& hooks_;
  const ShutdownTiming& timing_;
  io::SignalFd& signals_;
  bool draining_ = false;
  bool timed_out_ = false;
  std::optional<Ending> ending_;
};

}  // namespace

Ending run_until_shutdown(io::Loop& loop, io::Handler* other, const ShutdownHooks& hooks,
                          const ShutdownTiming& timing, std::FILE* out) {
  auto signals = io::SignalFd::open({SIGINT, SIGTERM, SIGHUP, SIGUSR1});
  if (!signals) {
    throw std::system_error(signals.error(), "cannot set up signal handling");
  }
  ShutdownLoop control(loop, other, hooks, timing, *signals);
  control.watch_signals();
  // Before the descriptor closes, whichever way this returns.
  struct Unwatch {
    io::Backend& backend;
    int fd;
    ~Unwatch() { backend.forget(fd); }
  } unwatch{loop.backend(), signals->fd()};
  control.start_periodic();
  bool announced = false;
  for (;;) {
    // The workers' notes carry no data (wake-ups merge): look at the state itself.
    if (hooks.worker_failed()) {
      return Ending::failed;
    }
    if (control.ending()) {
      return *control.ending();
    }
    if (control.draining()) {
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
      if (control.timed_out()) {
        base::log_event(base::Level::warn, "drain timeout passed: closing the connections",
                        {{"drain_timeout", base::format_duration(timing.drain_timeout)},
                         {"connections", hooks.open_connections()}});
        return Ending::drain_timeout;
      }
    }
    loop.run_once(control);
  }
}

}  // namespace netecho::server
