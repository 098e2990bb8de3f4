#pragma once
// The service manager's notification protocol (sd_notify(3)), spoken by hand. systemd documents
// the protocol as a stable interface; speaking it directly keeps libsystemd out of the binary, so
// that it can be linked statically. A notification is one datagram of newline-separated
// VARIABLE=VALUE lines (READY=1, STATUS=..., STOPPING=1, WATCHDOG=1) sent to the AF_UNIX
// datagram socket that $NOTIFY_SOCKET names: a path, or with a leading '@', a name in Linux's
// abstract namespace. The manager reads the sender's credentials from the kernel (it sets
// SO_PASSCRED), so nothing is attached here, and any thread of the process counts as the main
// process; this one sends from the main thread only anyway.
//
// The watchdog (sd_watchdog_enabled(3)): $WATCHDOG_USEC is the time after which the manager
// acts on a service that has not sent WATCHDOG=1 (recommended: send it at half of that). When
// $WATCHDOG_PID is set, the watchdog is for that process only: a process that merely inherited
// the environment must not ping.

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "net/fd.hpp"

namespace netecho::server {

// Where notifications go, ready for sendto().
struct NotifyAddress {
  sockaddr_un addr{};
  socklen_t len = 0;
};

// Parses $NOTIFY_SOCKET: "/absolute/path" or "@abstract-name". Anything else (a relative path,
// systemd's newer "vsock:" addresses, a bare "/" or "@", a name too long for sun_path) is a
// message saying why.
std::variant<NotifyAddress, std::string> parse_notify_socket(std::string_view value);

// Parses $WATCHDOG_USEC and $WATCHDOG_PID (nullopt: unset) for the process self, as
// sd_watchdog_enabled() does. Returns the watchdog timeout; zero when there is no watchdog for
// this process (WATCHDOG_USEC unset, or WATCHDOG_PID naming another process); or, for a value
// that is not a positive decimal number (or is too large to be a timeout), a message naming it.
std::variant<std::chrono::microseconds, std::string> parse_watchdog(
    std::optional<std::string_view> usec, std::optional<std::string_view> pid, pid_t self);

// The sending end. Used by the server's main thread only (not thread-safe).
class Notifier {
 public:
  Notifier() = default;  // off: send() does nothing
  Notifier(Notifier&&) noexcept = default;
  Notifier& operator=(Notifier&&) noexcept = default;

  // Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, then removes all three from the
  // environment, as sd_notify(unset_environment=1) and sd_watchdog_enabled(1) do: they speak to
  // this process alone, and nothing started later (a child, a helper) may act on them. A
  // malformed value is logged in one line and leaves its part off (no notifications, or no
  // watchdog); the server runs on either way. The watchdog needs the socket, so it is off
  // without one. Call it before any other thread runs: setenv and unsetenv are not thread-safe.
  static Notifier from_environment();

  bool enabled() const noexcept { return fd_.valid(); }
  // The manager's watchdog timeout; zero when there is no watchdog.
  std::chrono::microseconds watchdog_timeout() const noexcept { return watchdog_; }

  // Sends state (VARIABLE=VALUE lines separated by '\n') as one datagram. Never blocks: with
  // MSG_DONTWAIT a manager that does not read loses the message and the server goes on. The
  // first failure is logged with its reason; the later ones are not (one line, not one per
  // message), and sending is still tried each time, so a manager that comes back is told again.
  void send(std::string_view state) noexcept;

 private:
  net::Fd fd_;
  NotifyAddress to_;
  std::string name_;  // $NOTIFY_SOCKET as given, for the log
  std::chrono::microseconds watchdog_{0};
  bool failure_logged_ = false;
};

}  // namespace netecho::server
