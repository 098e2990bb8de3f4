#include "cli/common.hpp"

#include <fmt/format.h>

#include "base/duration.hpp"
#include "net/error.hpp"

namespace netecho::cli {

net::Endpoint parse_endpoint_or_throw(std::string_view text, std::string_view flag) {
  auto parsed = net::parse_endpoint(text);
  if (!parsed) {
    throw net::ConfigError(fmt::format("{}: {}", flag, parsed.error()), net::kExitUsage);
  }
  return std::move(parsed).value();
}

net::Target parse_target_or_throw(std::string_view text, std::string_view what) {
  auto parsed = net::parse_target(text);
  if (!parsed) {
    throw net::ConfigError(fmt::format("{}: {}", what, parsed.error()), net::kExitUsage);
  }
  return std::move(parsed).value();
}

std::chrono::nanoseconds parse_duration_or_throw(std::string_view text, std::string_view flag) {
  auto parsed = base::parse_duration(text);
  if (!parsed) {
    throw net::ConfigError(fmt::format("{}: {}", flag, parsed.error()), net::kExitUsage);
  }
  return *parsed;
}

std::vector<net::SockAddr> resolve_target_or_throw(const net::Target& target, net::Family family,
                                                   int exit_code) {
  auto resolved = net::resolve(target.endpoint, target.transport, /*passive=*/false, family);
  if (!resolved) {
    throw net::ConfigError(resolved.error(), exit_code);
  }
  return std::move(resolved).value();
}

int exit_code(client::Outcome outcome) noexcept {
  switch (outcome) {
    case client::Outcome::ok:
      return 0;
    case client::Outcome::failed:
      return net::kExitFailure;
    case client::Outcome::error:
      return net::kExitUsage;
  }
  return net::kExitFailure;
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
    throw net::ConfigError(fmt::format("--backend: unknown backend '{}'", name), net::kExitUsage);
  }
  auto choice = io::choose_backend(*kind);
  if (!choice) {
    throw net::ConfigError(choice.error(), net::kExitFailure);
  }
  return std::move(choice).value();
}

}  // namespace netecho::cli
