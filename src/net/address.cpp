#include "net/address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace netecho::net {
namespace {

std::string quote(std::string_view s) { return fmt::format("'{}'", s); }

Parsed<std::uint16_t> parse_port(std::string_view text, std::string_view whole) {
  if (text.empty()) {
    return fmt::format("missing port in {} (expected HOST:PORT)", quote(whole));
  }
  if (text.size() > 5 || !std::all_of(text.begin(), text.end(),
                                      [](char c) { return c >= '0' && c <= '9'; })) {
    return fmt::format("invalid port {} in {} (expected a number 0-65535)", quote(text),
                       quote(whole));
  }
  unsigned value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value > 65535) {
    return fmt::format("port {} out of range in {} (expected 0-65535)", text, quote(whole));
  }
  return static_cast<std::uint16_t>(value);
}

bool looks_numeric_v4(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.';
  });
}

// A character of a host name or of an interface name (an IPv6 zone).
bool is_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

}  // namespace

std::string_view to_string(Transport t) noexcept { return t == Transport::tcp ? "tcp" : "udp"; }

std::string to_string(const Endpoint& e) {
  const bool v6 = e.host.find(':') != std::string::npos;
  return v6 ? fmt::format("[{}]:{}", e.host, e.port) : fmt::format("{}:{}", e.host, e.port);
}

std::string to_string(const Target& t) {
  return fmt::format("{}://{}", to_string(t.transport), to_string(t.endpoint));
}

Parsed<Endpoint> parse_endpoint(std::string_view text) {
  if (text.empty()) {
    return std::string("empty address (expected HOST:PORT)");
  }
  Endpoint ep;
  std::string_view port_text;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return fmt::format("missing ']' in {} (expected [IPV6]:PORT)", quote(text));
    }
    ep.host = std::string(text.substr(1, close - 1));
    const auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return fmt::format("missing port in {} (expected [IPV6]:PORT)", quote(text));
    }
    port_text = rest.substr(1);
    // A link-local address needs its zone, the interface: "fe80::1%eth0" (RFC 4007 section
    // 11; getaddrinfo turns it into sin6_scope_id). The name is an interface name or an index.
    const auto percent = ep.host.find('%');
    const std::string address = ep.host.substr(0, percent);
    in6_addr probe{};
    if (address.empty() || inet_pton(AF_INET6, address.c_str(), &probe) != 1) {
      return fmt::format("invalid IPv6 address {} in {}", quote(address), quote(text));
    }
    if (percent != std::string::npos) {
      const std::string_view zone = std::string_view(ep.host).substr(percent + 1);
      const bool valid_zone = !zone.empty() && zone.size() < IF_NAMESIZE &&
                              std::all_of(zone.begin(), zone.end(), is_name_char);
      if (!valid_zone) {
        return fmt::format("invalid zone {} in {} (expected [IPV6%INTERFACE]:PORT)",
                           quote(zone), quote(text));
      }
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return fmt::format("missing port in {} (expected HOST:PORT)", quote(text));
    }
    if (text.find(':') != colon) {
      return fmt::format("IPv6 address in {} must be in brackets (expected [IPV6]:PORT)",
                         quote(text));
    }
    ep.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (ep.host.empty()) {
      return fmt::format("missing host in {} (expected HOST:PORT)", quote(text));
    }
    in_addr probe{};
    if (looks_numeric_v4(ep.host) && inet_pton(AF_INET, ep.host.c_str(), &probe) != 1) {
      return fmt::format("invalid IPv4 address {} in {}", quote(ep.host), quote(text));
    }
    const bool valid_name = std::all_of(ep.host.begin(), ep.host.end(), is_name_char);
    if (!valid_name) {
      return fmt::format("invalid host name {} in {}", quote(ep.host), quote(text));
    }
  }
  auto port = parse_port(port_text, text);
  if (!port) {
    return port.error();
  }
  ep.port = *port;
  return ep;
}

Parsed<Target> parse_target(std::string_view text, Transport default_transport) {
  Target target{default_transport, {}};
  std::string_view rest = text;
  if (const auto sep = text.find("://"); sep != std::string_view::npos) {
    const auto scheme = text.substr(0, sep);
    if (scheme == "tcp") {
      target.transport = Transport::tcp;
    } else if (scheme == "udp") {
      target.transport = Transport::udp;
    } else {
      return fmt::format("unknown scheme {} in {} (expected tcp:// or udp://)", quote(scheme),
                         quote(text));
    }
    rest = text.substr(sep + 3);
  }
  auto ep = parse_endpoint(rest);
  if (!ep) {
    return ep.error();
  }
  target.endpoint = std::move(ep).value();
  return target;
}

SockAddr::SockAddr(const sockaddr* sa, socklen_t len) noexcept
    : len_(std::min<socklen_t>(len, sizeof(storage_))) {
  std::memcpy(&storage_, sa, len_);
}

std::uint16_t SockAddr::port() const noexcept {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

void SockAddr::set_port(std::uint16_t port) noexcept {
  if (family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  } else if (family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
  }
}

bool SockAddr::is_wildcard() const noexcept {
  if (family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr == htonl(INADDR_ANY);
  }
  if (family() == AF_INET6) {
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr);
  }
  return false;
}

std::string SockAddr::host() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
              sizeof(buf));
  } else if (family() == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
    if (sin6->sin6_scope_id != 0) {
      // The zone as it was written: the interface's name, or its index if it has none now.
      char name[IF_NAMESIZE] = {};
      return if_indextoname(sin6->sin6_scope_id, name) != nullptr
                 ? fmt::format("{}%{}", buf, name)
                 : fmt::format("{}%{}", buf, sin6->sin6_scope_id);
    }
  }
  return buf;
}

std::string SockAddr::to_string() const {
  if (family() == AF_INET6) {
    return fmt::format("[{}]:{}", host(), port());
  }
  return fmt::format("{}:{}", host(), port());
}

bool SockAddr::operator==(const SockAddr& other) const noexcept {
  return len_ == other.len_ && std::memcmp(&storage_, &other.storage_, len_) == 0;
}

Parsed<std::vector<SockAddr>> resolve(const Endpoint& endpoint, Transport transport, bool passive,
                                      Family family) {
  // A literal of the other family would only get the resolver's "Address family for hostname
  // not supported": say what is wrong instead.
  if (family != Family::any) {
    unsigned char bytes[sizeof(in6_addr)];
    const bool v4 = ::inet_pton(AF_INET, endpoint.host.c_str(), bytes) == 1;
    const bool v6 = ::inet_pton(AF_INET6, endpoint.host.c_str(), bytes) == 1;
    if ((family == Family::v6 && v4) || (family == Family::v4 && v6)) {
      const int wanted = family == Family::v6 ? 6 : 4;
      return fmt::format("'{}' is not an IPv{} address (-{} allows IPv{} only)", endpoint.host,
                         wanted, wanted, wanted);
    }
  }
  addrinfo hints{};
  hints.ai_family = family == Family::v4 ? AF_INET : family == Family::v6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = transport == Transport::tcp ? SOCK_STREAM : SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* list = nullptr;
  const auto port = std::to_string(endpoint.port);
  const int rc = getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    return fmt::format("cannot resolve host '{}': {}", endpoint.host,
                       rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc));
  }
  std::vector<SockAddr> out;
  for (auto* ai = list; ai != nullptr; ai = ai->ai_next) {
    SockAddr addr(ai->ai_addr, ai->ai_addrlen);
    if (std::find(out.begin(), out.end(), addr) == out.end()) {
      out.push_back(addr);
    }
  }
  freeaddrinfo(list);
  if (out.empty()) {
    return fmt::format("cannot resolve host '{}': no address", endpoint.host);
  }
  return out;
}

}  // namespace netecho::net
