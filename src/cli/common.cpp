#include "cli/common.hpp"

#include <fmt/format.h>

#include "base/duration.hpp"
#include "net/error.hpp"

namespace netecho::cli {

net::Endpoint parse_endpoint_or_throw(std::string_view text, std::string_view flag) {
  auto parsed = net::parse_endpoint(text);
  if (auto* err = std::get_if<std::string>(&parsed)) {
    throw net::ConfigError(fmt::format("{}: {}", flag, *err), net::kExitUsage);
  }
  return std::get<net::Endpoint>(std::move(parsed));
}

net::Target parse_target_or_throw(std::string_view text, std::string_view what) {
  auto parsed = net::parse_target(text);
  if (auto* err = std::get_if<std::string>(&parsed)) {
    throw net::ConfigError(fmt::format("{}: {}", what, *err), net::kExitUsage);
  }
  return std::get<net::Target>(std::move(parsed));
}

std::chrono::nanoseconds parse_duration_or_throw(std::string_view text, std::string_view flag) {
  auto parsed = base::parse_duration(text);
  if (auto* err = std::get_if<std::string>(&parsed)) {
    throw net::ConfigError(fmt::format("{}: {}", flag, *err), net::kExitUsage);
  }
  return std::get<std::chrono::nanoseconds>(parsed);
}

std::vector<net::SockAddr> resolve_target_or_throw(const net::Target& target, net::Family family,
                                                   int exit_code) {
  auto resolved = net::resolve(target.endpoint, target.transport, /*passive=*/false, family);
  if (auto* message = std::get_if<std::string>(&resolved)) {
    throw net::ConfigError(std::move(*message), exit_code);
  }
  auto addresses = std::get<std::vector<net::SockAddr>>(std::move(resolved));
  if (addresses.empty()) {
    throw net::ConfigError(fmt::format("cannot resolve host '{}': no address", target.endpoint.host),
                           exit_code);
  }
  return addresses;
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
    throw net::ConfigError(
        "--expect reverse applies to UDP targets only (netecho serve reverses datagrams)",
        net::kExitUsage);
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

io::BackendKind parse_backend_or_throw(std::string_view name) {
  if (const auto kind = io::parse_backend(name)) {
    return *kind;
  }
  throw net::ConfigError(fmt::format("--backend: unknown backend '{}'", name), net::kExitUsage);
}

}  // namespace netecho::cli
