#pragma once
// Supervisor: what the service manager is told about the server, and when (the protocol itself
// is in notify.hpp). Used by the server's main thread only; every call does nothing when no
// manager listens.
//   - ready(): READY=1 with "STATUS=serving L listener(s), C connection(s)", once every listener
//     serves.
//   - refresh(): STATUS= again with the current connection count, sent only when the text
//     changed. The server calls it on ticks it has anyway (the watchdog's, else the guard log's),
//     so it costs no wake-up of its own.
//   - draining() / stopping(): STOPPING=1 with a STATUS= saying why, once: when the drain starts,
//     or when the server ends without one (a worker failed).
//   - ping(): WATCHDOG=1, but only if every watched worker's heartbeat is at most one ping period
//     old. The workers stamp theirs twice per ping period, so a healthy worker is never more than
//     half a period late, and a stuck one stops the pings within one period: the manager, which
//     acts after two periods without a ping, then kills and restarts the service. A withheld ping
//     is logged (once per stall, naming the workers), and so is the recovery.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "server/heartbeat.hpp"
#include "server/notify.hpp"

namespace netecho::server {

// The indexes of the heartbeats older than max_age at now.
std::vector<std::size_t> stuck_loops(const std::vector<const Heartbeat*>& beats,
                                     Heartbeat::Clock::time_point now,
                                     std::chrono::nanoseconds max_age);

class Supervisor {
 public:
  explicit Supervisor(Notifier notifier);

  static constexpr std::chrono::milliseconds kMinPing{1};

  // Half the manager's watchdog timeout (at least kMinPing): how often ping() should run.
  // Zero: no watchdog.
  std::chrono::nanoseconds ping_every() const noexcept { return ping_every_; }
  // How often each worker should stamp its heartbeat: twice per ping. Zero: no watchdog, and
  // so no stamping and no wake-ups for it.
  std::chrono::nanoseconds beat_every() const noexcept { return ping_every_ / 2; }

  // Adds a worker's heartbeat to the ones ping() checks; index i names worker i in the log. The
  // heartbeat must outlive this object.
  void watch(const Heartbeat& heartbeat) { beats_.push_back(&heartbeat); }

  void ready(std::size_t listeners, std::size_t connections);
  void refresh(std::size_t connections);
  void draining(std::size_t connections);
  void stopping(const std::string& status);
  void ping(Heartbeat::Clock::time_point now);

 private:
  std::string status_text(std::size_t connections) const;

  Notifier notifier_;
  std::chrono::nanoseconds ping_every_{0};
  std::vector<const Heartbeat*> beats_;
  std::size_t listeners_ = 0;
  std::string last_status_;
  bool draining_ = false;
  bool stopping_sent_ = false;
  bool withholding_ = false;  // the last ping() found a stuck loop
};

}  // namespace netecho::server
