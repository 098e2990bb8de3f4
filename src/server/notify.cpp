#include "server/notify.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "base/duration.hpp"
#include "base/log.hpp"
#include "net/error.hpp"

namespace netecho::server {
namespace {

// A decimal number without sign, spaces or leading junk; nullopt if it is not one or overflows.
std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return std::nullopt;
    }
    value = value * 10 + digit;
  }
  return value;
}

std::optional<std::string> take_env(const char* name) {
  const char* value = std::getenv(name);
  std::optional<std::string> out;
  if (value != nullptr) {
    out = value;
  }
  ::unsetenv(name);
  return out;
}

}  // namespace

std::variant<NotifyAddress, std::string> parse_notify_socket(std::string_view value) {
  NotifyAddress out;
  out.addr.sun_family = AF_UNIX;
  constexpr std::size_t kPathRoom = sizeof(out.addr.sun_path);
  const std::size_t base = offsetof(sockaddr_un, sun_path);
  if (value.empty()) {
    return std::string("it is empty");
  }
  if (value.size() == 1 && (value[0] == '/' || value[0] == '@')) {
    return std::string("it names no socket");
  }
  if (value[0] == '@') {
    // Abstract: sun_path starts with a NUL, and the name is exactly the bytes that follow (no
    // terminator: the address length delimits it).
    if (value.size() > kPathRoom) {
      return "the abstract name is longer than " + std::to_string(kPathRoom - 1) + " bytes";
    }
    out.addr.sun_path[0] = '\0';
    std::memcpy(out.addr.sun_path + 1, value.data() + 1, value.size() - 1);
    out.len = static_cast<socklen_t>(base + value.size());
    return out;
  }
  if (value[0] == '/') {
    if (value.size() >= kPathRoom) {
      return "the path is longer than " + std::to_string(kPathRoom - 1) + " bytes";
    }
    std::memcpy(out.addr.sun_path, value.data(), value.size());
    out.addr.sun_path[value.size()] = '\0';
    out.len = static_cast<socklen_t>(base + value.size() + 1);
    return out;
  }
  if (value.rfind("vsock:", 0) == 0) {
    return std::string("AF_VSOCK addresses are not supported, only AF_UNIX ones");
  }
  return std::string("it is neither an absolute path nor an abstract name ('@name')");
}

std::variant<std::chrono::microseconds, std::string> parse_watchdog(
    std::optional<std::string_view> usec, std::optional<std::string_view> pid, pid_t self) {
  if (!usec) {
    return std::chrono::microseconds{0};
  }
  // Nanoseconds hold the timeout everywhere else, so the largest is what they can hold (about
  // 292 years); systemd sends no WATCHDOG_USEC at all for an infinite timeout.
  constexpr std::uint64_t kMaxUsec =
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / 1000;
  const auto value = parse_decimal(*usec);
  if (!value || *value == 0 || *value > kMaxUsec) {
    return "WATCHDOG_USEC='" + std::string(*usec) +
           "' is not a positive number of microseconds";
  }
  if (pid) {
    const auto owner = parse_decimal(*pid);
    if (!owner || *owner == 0 ||
        *owner > static_cast<std::uint64_t>(std::numeric_limits<pid_t>::max())) {
      return "WATCHDOG_PID='" + std::string(*pid) + "' is not a process id";
    }
    if (static_cast<pid_t>(*owner) != self) {
      return std::chrono::microseconds{0};
    }
  }
  return std::chrono::microseconds{static_cast<std::int64_t>(*value)};
}

Notifier Notifier::from_environment() {
  const auto socket_name = take_env("NOTIFY_SOCKET");
  const auto usec = take_env("WATCHDOG_USEC");
  const auto pid = take_env("WATCHDOG_PID");
  Notifier n;
  if (!socket_name) {
    return n;  // not started by a service manager that listens: nothing to say, nothing to log
  }
  auto parsed = parse_notify_socket(*socket_name);
  if (const auto* err = std::get_if<std::string>(&parsed)) {
    base::warn("NOTIFY_SOCKET='{}' ignored: {}; the service manager will not be notified",
              *socket_name, *err);
    return n;
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    base::warn("cannot notify the service manager at {}: socket: {}", *socket_name,
              net::errno_code().message());
    return n;
  }
  n.fd_.reset(fd);
  n.to_ = std::get<NotifyAddress>(parsed);
  n.name_ = *socket_name;
  std::string watchdog = "off";
  std::optional<std::string_view> pid_view;
  if (pid) {
    pid_view = *pid;
  }
  std::optional<std::string_view> usec_view;
  if (usec) {
    usec_view = *usec;
  }
  auto timeout = parse_watchdog(usec_view, pid_view, ::getpid());
  if (const auto* err = std::get_if<std::string>(&timeout)) {
    watchdog = "off: " + *err;
  } else if (const auto t = std::get<std::chrono::microseconds>(timeout); t.count() != 0) {
    n.watchdog_ = t;
    watchdog = "timeout " + base::format_duration(t) + ", pinged every " +
               base::format_duration(t / 2) + " while every worker's loop turns";
  } else if (usec) {
    watchdog = "off: WATCHDOG_PID=" + *pid + " is another process";
  }
  base::log("notifying the service manager at {}; watchdog {}", *socket_name, watchdog);
  return n;
}

void Notifier::send(std::string_view state) noexcept {
  if (!fd_.valid()) {
    return;
  }
  ssize_t sent;
  do {
    sent = ::sendto(fd_.get(), state.data(), state.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&to_.addr), to_.len);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && !failure_logged_) {
    failure_logged_ = true;
    base::warn("cannot notify the service manager at {}: {} (serving on; later failures are not "
              "logged)",
              name_, net::errno_code().message());
  }
}

}  // namespace netecho::server
