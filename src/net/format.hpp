#pragma once
// Hosts and targets as people write them: an IPv6 literal goes in brackets before a port
// ("[::1]:7", "udp://[::1]:7"), as in URLs (RFC 3986). The one place that decides it.

#include <string>
#include <string_view>

#include <fmt/format.h>

#include "net/address.hpp"

namespace netecho::net {

// "::1" -> "[::1]"; a name or an IPv4 literal as it is.
inline std::string format_host(std::string_view host) {
  return host.find(':') != std::string_view::npos ? fmt::format("[{}]", host) : std::string(host);
}

// "tcp://127.0.0.1:7", "udp://[::1]:7"
inline std::string format_target(const Target& t) {
  return fmt::format("{}://{}:{}", to_string(t.transport), format_host(t.endpoint.host),
                     t.endpoint.port);
}

}  // namespace netecho::net
