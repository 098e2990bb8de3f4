#pragma once
// Addresses as the user writes them ("127.0.0.1:7", "[::1]:7", "tcp://host:7") and as the
// kernel takes them (SockAddr). Parsing is pure and strict; resolution is a separate step.

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/error.hpp"

namespace netecho::net {

enum class Transport : std::uint8_t { tcp, udp };

std::string_view to_string(Transport t) noexcept;

// A host and port as written, not yet resolved. host is a name, an IPv4 literal or an IPv6
// literal (stored without brackets).
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

// "host:port", or "[v6]:port" for an IPv6 literal: as parse_endpoint() reads it back.
std::string to_string(const Endpoint& e);

// A target for the client tools: transport plus endpoint ("udp://[::1]:7").
struct Target {
  Transport transport = Transport::tcp;
  Endpoint endpoint;
};

// "tcp://host:port", "udp://[v6]:port".
std::string to_string(const Target& t);

// Whether the 16 bytes of an IPv6 address are an IPv4-mapped one (::ffff:a.b.c.d).
constexpr bool is_v4_mapped(std::span<const std::uint8_t, 16> a) noexcept {
  for (std::size_t i = 0; i < 10; ++i) {
    if (a[i] != 0) {
      return false;
    }
  }
  return a[10] == 0xff && a[11] == 0xff;
}

using base::Parsed;

// "HOST:PORT" or "[V6]:PORT". Port 0..65535, digits only. Rejects empty input, a missing
// port, unbracketed IPv6, dotted numbers that are not a full IPv4 address ("1.2.3").
Parsed<Endpoint> parse_endpoint(std::string_view text);

// "tcp://HOST:PORT", "udp://HOST:PORT", or a plain "HOST:PORT" taken as default_transport.
Parsed<Target> parse_target(std::string_view text, Transport default_transport = Transport::tcp);

// A resolved socket address.
class SockAddr {
 public:
  SockAddr() noexcept = default;
  SockAddr(const sockaddr* sa, socklen_t len) noexcept;

  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return len_; }
  socklen_t* size_ptr() noexcept { return &len_; }
  static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }

  int family() const noexcept { return storage_.ss_family; }
  std::uint16_t port() const noexcept;
  void set_port(std::uint16_t port) noexcept;
  bool is_wildcard() const noexcept;
  // The address alone, without brackets ("::1", "127.0.0.1").
  std::string host() const;
  // "127.0.0.1:7" or "[::1]:7".
  std::string to_string() const;
  bool operator==(const SockAddr& other) const noexcept;

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

enum class Family : std::uint8_t { any, v4, v6 };

// Resolves an endpoint with getaddrinfo. passive selects addresses suited to bind().
// On failure the message names the host and the resolver's reason.
// Never an empty list: no address is a failure too.
Parsed<std::vector<SockAddr>> resolve(const Endpoint& endpoint, Transport transport, bool passive,
                                      Family family = Family::any);

}  // namespace netecho::net
