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

}  // namespace netecho::cli
