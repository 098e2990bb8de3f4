#include "cli/common.hpp"
#include "cli/errors.hpp"

#include <charconv>
#include <csignal>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "net/error.hpp"

namespace netecho::cli {

net::Endpoint parse_endpoint_or_throw(std::string_view text, std::string_view flag) {
  auto parsed = net::parse_endpoint(text);
  if (!parsed) {
    throw cli::ConfigError(fmt::format("{}: {}", flag, parsed.error()), cli::kExitUsage);
  }
  return std::move(parsed).value();
}

net::Target parse_target_or_throw(std::string_view text, std::string_view what) {
  auto parsed = net::parse_target(text);
  if (!parsed) {
    throw cli::ConfigError(fmt::format("{}: {}", what, parsed.error()), cli::kExitUsage);
  }
  return std::move(parsed).value();
}

std::chrono::nanoseconds parse_duration_or_throw(std::string_view text, std::string_view flag) {
  auto parsed = base::parse_duration(text);
  if (!parsed) {
    throw cli::ConfigError(fmt::format("{}: {}", flag, parsed.error()), cli::kExitUsage);
  }
  return *parsed;
}

std::vector<net::SockAddr> resolve_target_or_throw(const net::Target& target, net::Family family,
                                                   int exit_code) {
  auto resolved = net::resolve(target.endpoint, target.transport, /*passive=*/false, family);
  if (!resolved) {
    throw cli::ConfigError(resolved.error(), exit_code);
  }
  return std::move(resolved).value();
}

int exit_code(client::Outcome outcome) noexcept {
  switch (outcome) {
    case client::Outcome::ok:
      return 0;
    case client::Outcome::failed:
      return cli::kExitFailure;
    case client::Outcome::error:
      return cli::kExitUsage;
  }
  return cli::kExitFailure;
}

namespace {

// "1,000,000": bounds read at a glance.
std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n);
  for (std::size_t at = digits.size(); at > 3; at -= 3) {
    digits.insert(at - 3, 1, ',');
  }
  return digits;
}

}  // namespace

// "64", "1k", "16KiB", "1M", "1MiB": bytes, with binary multiples.
std::size_t parse_size_or_throw(std::string_view text, std::string_view flag) {
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string_view unit(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "k" || unit == "K" || unit == "KiB") {
    scale = 1024;
  } else if (unit == "m" || unit == "M" || unit == "MiB") {
    scale = 1024 * 1024;
  }
  if (ptr == text.data() || ec != std::errc() || scale == 0 || value > (std::uint64_t{1} << 40)) {
    throw cli::ConfigError(
        fmt::format("{}: invalid size '{}' (expected bytes, e.g. 64, 16KiB, 1MiB)", flag, text),
        cli::kExitUsage);
  }
  return static_cast<std::size_t>(value * scale);
}

CLI::Validator whole_range(std::uint64_t lo, std::uint64_t hi, std::string_view unit) {
  std::string bounds = hi == std::numeric_limits<std::uint64_t>::max()
                           ? fmt::format("{} or more {}", grouped(lo), unit)
                           : fmt::format("{} to {} {}", grouped(lo), grouped(hi), unit);
  return CLI::Validator(
      [lo, hi, bounds](std::string& text) -> std::string {
        const char* first = text.data();
        const char* last = first + text.size();
        const bool negative = first != last && *first == '-';
        std::uint64_t value = 0;
        const auto [end, ec] = std::from_chars(first + (negative ? 1 : 0), last, value);
        if (end != last || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
          return fmt::format("'{}' is not a whole number ({})", text, bounds);
        }
        if (negative || ec == std::errc::result_out_of_range || value < lo || value > hi) {
          return fmt::format("{} is out of range: {}", text, bounds);
        }
        return {};
      },
      std::string(), "whole_range");
}

CLI::Validator more_than_zero(std::string_view unit) {
  return CLI::Validator(
      [unit = std::string(unit)](std::string& text) -> std::string {
        double value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (end != text.data() + text.size() || ec != std::errc() || !std::isfinite(value)) {
          return fmt::format("'{}' is not a number of {}", text, unit);
        }
        if (value <= 0) {
          return fmt::format("{} is out of range: more than 0 {}", text, unit);
        }
        return {};
      },
      std::string(), "more_than_zero");
}

CLI::Option* add_target_option(CLI::App& cmd, std::string& target, const std::string& help) {
  const std::string where = fmt::format("netecho {}", cmd.get_name());
  return cmd.add_option("target", target, help)
      ->type_name("TARGET")
      ->check(CLI::Validator(
          [where](std::string& text) -> std::string {
            if (!text.empty() && text[0] == '-') {
              return fmt::format("'{}' is not an option of {}", text, where);
            }
            return {};
          },
          std::string(), "not_an_option"));
}

void add_family_flags(CLI::App& cmd, FamilyFlags& flags) {
  auto* v4 = cmd.add_flag("-4", flags.v4, "use IPv4 only");
  auto* v6 = cmd.add_flag("-6", flags.v6, "use IPv6 only");
  v4->excludes(v6);
}

CLI::Option* add_expect_option(CLI::App& cmd, std::string& expect) {
  return cmd
      .add_option("--expect", expect,
                  "what the server answers: echo, or reverse (netecho serve --udp-reverse)")
      ->type_name("echo|reverse")
      ->check(CLI::IsMember({"echo", "reverse"}))
      ->capture_default_str();
}

bool expect_reverse_or_throw(std::string_view expect, net::Transport transport) {
  const bool reverse = expect == "reverse";
  if (reverse && transport == net::Transport::tcp) {
    throw cli::ConfigError(
        "--expect reverse applies to UDP targets only (netecho serve reverses datagrams)",
        cli::kExitUsage);
  }
  return reverse;
}

CLI::Option* add_backend_option(CLI::App& cmd, std::string& backend) {
  return cmd
      .add_option("--backend", backend,
                  "event engine: io_uring (completions, multishot receives, batched "
                  "submissions), epoll, or auto: io_uring where the kernel allows it, else epoll")
      ->type_name("auto|epoll|io_uring")
      ->check(CLI::IsMember({"auto", "epoll", "io_uring"}))
      ->capture_default_str();
}

io::BackendChoice choose_backend_or_throw(std::string_view name) {
  const auto kind = io::parse_backend(name);
  if (!kind) {
    throw cli::ConfigError(fmt::format("--backend: unknown backend '{}'", name), cli::kExitUsage);
  }
  auto choice = io::choose_backend(*kind);
  if (!choice) {
    throw cli::ConfigError(choice.error(), cli::kExitFailure);
  }
  return std::move(choice).value();
}

std::chrono::nanoseconds parse_interval_or_throw(std::string_view text) {
  const auto interval = parse_duration_or_throw(text, "-i/--interval");
  if (interval < std::chrono::milliseconds(1)) {
    throw ConfigError(fmt::format("-i/--interval: '{}' is shorter than the 1 ms minimum", text),
                      kExitUsage);
  }
  return interval;
}

std::chrono::nanoseconds parse_probe_timeout_or_throw(std::string_view text) {
  const auto timeout = parse_duration_or_throw(text, "-W/--timeout");
  if (timeout <= std::chrono::nanoseconds(0)) {
    throw ConfigError(fmt::format("-W/--timeout: '{}' must be more than 0", text), kExitUsage);
  }
  return timeout;
}

io::SignalFd open_stop_signals_or_throw() {
  auto stop = io::SignalFd::open({SIGINT, SIGTERM});
  if (!stop) {
    throw ConfigError(fmt::format("cannot set up signal handling: {}", stop.error().message()),
                      kExitUsage);
  }
  return std::move(stop).value();
}

}  // namespace netecho::cli
