#include "server/proxy_header.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace netecho::server::proxy {
namespace {

constexpr std::string_view kV1Signature = "PROXY ";
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};

// v2's fixed part: the version and command byte, the family and transport byte, the length.
constexpr std::size_t kVersionCommand = 12;
constexpr std::size_t kFamilyTransport = 13;
constexpr std::size_t kLength = 14;
constexpr unsigned kCommandLocal = 0x0;
constexpr unsigned kCommandProxy = 0x1;
constexpr unsigned kFamilyUnspec = 0x0;
constexpr unsigned kFamilyInet = 0x1;
constexpr unsigned kFamilyInet6 = 0x2;
constexpr unsigned kTransportStream = 0x1;
// The address blocks: source and destination addresses, then source and destination ports.
constexpr std::size_t kInetBlock = 2 * 4 + 2 * 2;
constexpr std::size_t kInet6Block = 2 * 16 + 2 * 2;
constexpr std::size_t kTlvHead = 3;  // type, then a 16-bit length

Parsed failed(Error e) {
  Parsed p;
  p.status = Parsed::Status::error;
  p.error = e;
  return p;
}

Parsed done(Header h) {
  Parsed p;
  p.status = Parsed::Status::done;
  p.header = h;
  return p;
}

// Whether input begins as signature does, as far as input goes.
bool starts_as(std::string_view input, std::string_view signature) {
  const std::size_t n = std::min(input.size(), signature.size());
  return input.substr(0, n) == signature.substr(0, n);
}

std::uint16_t be16(std::string_view s, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(s[at]) << 8) |
                                    static_cast<unsigned char>(s[at + 1]));
}

net::SockAddr inet_addr(int family, const void* addr, std::uint16_t port) {
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, addr, sizeof sin.sin_addr);
    sin.sin_port = htons(port);
    return net::SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  std::memcpy(&sin6.sin6_addr, addr, sizeof sin6.sin6_addr);
  sin6.sin6_port = htons(port);
  return net::SockAddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
}

// A v1 port: decimal, 0 to 65535, no sign and no leading zero.
bool parse_port(std::string_view s, std::uint16_t& port) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) {
    return false;
  }
  unsigned value = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) {
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

// "TCP4 SRC DST SPORT DPORT", or "UNKNOWN" and whatever follows: the line after "PROXY ".
bool parse_v1_fields(std::string_view rest, Header& h) {
  if (rest == "UNKNOWN" || rest.rfind("UNKNOWN ", 0) == 0) {
    h.has_addresses = false;
    return true;
  }
  std::string_view fields[5];
  for (std::size_t i = 0; i < 5; ++i) {
    const std::size_t space = rest.find(' ');
    if ((space == std::string_view::npos) != (i == 4) || space == 0) {
      return false;  // exactly five fields, one space apart
    }
    fields[i] = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
  }
  int family = 0;
  if (fields[0] == "TCP4") {
    family = AF_INET;
  } else if (fields[0] == "TCP6") {
    family = AF_INET6;
  } else {
    return false;
  }
  in6_addr src{}, dst{};  // large enough for either family
  std::uint16_t sport = 0, dport = 0;
  if (::inet_pton(family, std::string(fields[1]).c_str(), &src) != 1 ||
      ::inet_pton(family, std::string(fields[2]).c_str(), &dst) != 1 ||
      !parse_port(fields[3], sport) || !parse_port(fields[4], dport)) {
    return false;
  }
  h.has_addresses = true;
  h.source = inet_addr(family, &src, sport);
  h.destination = inet_addr(family, &dst, dport);
  return true;
}

Parsed parse_v1(std::string_view in) {
  const std::string_view window = in.substr(0, kMaxV1);
  const std::size_t cr = window.find('\r');
  if (cr == std::string_view::npos) {
    // Still a header only while the line can end within the limit. (A stray byte, a bare LF,
    // is caught once the line ends: the fields are checked then.)
    return window.size() >= kMaxV1 ? failed(Error::v1_too_long) : Parsed{};
  }
  if (cr + 1 == window.size()) {
    return window.size() >= kMaxV1 ? failed(Error::v1_too_long) : Parsed{};
  }
  if (window[cr + 1] != '\n') {
    return failed(Error::v1_malformed);
  }
  const std::string_view line = window.substr(0, cr);
  const bool printable =
      std::all_of(line.begin(), line.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
  Header h;
  if (!printable || !parse_v1_fields(line.substr(kV1Signature.size()), h)) {
    return failed(Error::v1_malformed);
  }
  h.length = cr + 2;
  return done(h);
}

Parsed parse_v2(std::string_view in) {
  if (in.size() > kVersionCommand) {
    const auto vc = static_cast<unsigned char>(in[kVersionCommand]);
    if ((vc >> 4) != 2) {
      return failed(Error::v2_bad_version);
    }
    if ((vc & 0xf) != kCommandLocal && (vc & 0xf) != kCommandProxy) {
      return failed(Error::v2_bad_command);
    }
  }
  if (in.size() < kV2Fixed) {
    return {};
  }
  const std::size_t length = be16(in, kLength);
  if (length > kMaxV2) {
    return failed(Error::v2_too_long);
  }
  if (in.size() < kV2Fixed + length) {
    return {};
  }
  Header h;
  h.length = kV2Fixed + length;
  const auto command = static_cast<unsigned char>(in[kVersionCommand]) & 0xfu;
  const auto ft = static_cast<unsigned char>(in[kFamilyTransport]);
  const unsigned family = ft >> 4;
  if (command == kCommandLocal || family == kFamilyUnspec) {
    // LOCAL: whatever the block holds is skipped, as the spec asks; UNSPEC: no address known.
    return done(h);
  }
  if ((family != kFamilyInet && family != kFamilyInet6) || (ft & 0xfu) != kTransportStream) {
    return failed(Error::v2_unsupported);
  }
  const bool v4 = family == kFamilyInet;
  const std::size_t block = v4 ? kInetBlock : kInet6Block;
  if (length < block) {
    return failed(Error::v2_bad_addresses);
  }
  // TLVs after the addresses: skipped, but each must end within the header.
  for (std::size_t at = kV2Fixed + block; at < h.length;) {
    if (h.length - at < kTlvHead || h.length - at - kTlvHead < be16(in, at + 1)) {
      return failed(Error::v2_bad_tlv);
    }
    at += kTlvHead + be16(in, at + 1);
  }
  const std::size_t addr_len = v4 ? 4 : 16;
  const char* a = in.data() + kV2Fixed;
  h.has_addresses = true;
  h.source = inet_addr(v4 ? AF_INET : AF_INET6, a, be16(in, kV2Fixed + 2 * addr_len));
  h.destination =
      inet_addr(v4 ? AF_INET : AF_INET6, a + addr_len, be16(in, kV2Fixed + 2 * addr_len + 2));
  return done(h);
}

}  // namespace

std::string_view to_string(Error e) noexcept {
  switch (e) {
    case Error::not_proxy:
      return "no PROXY protocol signature";
    case Error::v1_too_long:
      return "v1 line without CRLF within 107 bytes";
    case Error::v1_malformed:
      return "malformed v1 line";
    case Error::v2_too_long:
      return "v2 header longer than the limit";
    case Error::v2_bad_version:
      return "v2 version other than 2";
    case Error::v2_bad_command:
      return "v2 command other than LOCAL or PROXY";
    case Error::v2_unsupported:
      return "v2 family or transport other than TCP over IPv4 or IPv6";
    case Error::v2_bad_addresses:
      return "v2 address block shorter than its family needs";
    case Error::v2_bad_tlv:
      return "v2 TLV running past the header";
  }
  return "?";
}

Reason reason_of(Error e) noexcept {
  switch (e) {
    case Error::v1_too_long:
    case Error::v2_too_long:
      return Reason::oversized;
    case Error::v2_bad_version:
    case Error::v2_bad_command:
    case Error::v2_unsupported:
      return Reason::unsupported;
    case Error::not_proxy:
    case Error::v1_malformed:
    case Error::v2_bad_addresses:
    case Error::v2_bad_tlv:
      break;
  }
  return Reason::malformed;
}

Parsed parse(std::span<const std::byte> input) {
  const std::string_view in(reinterpret_cast<const char*>(input.data()), input.size());
  if (starts_as(in, kV2Signature)) {
    return in.size() < kV2Signature.size() ? Parsed{} : parse_v2(in);
  }
  if (starts_as(in, kV1Signature)) {
    return in.size() < kV1Signature.size() ? Parsed{} : parse_v1(in);
  }
  return failed(Error::not_proxy);
}

namespace {

// addr in the Network's form; false for a family other than IPv4 and IPv6.
bool v6_form(const net::SockAddr& addr, std::array<std::uint8_t, 16>& out) noexcept {
  if (addr.family() == AF_INET6) {
    std::memcpy(out.data(), &reinterpret_cast<const sockaddr_in6*>(addr.get())->sin6_addr, 16);
    return true;
  }
  if (addr.family() == AF_INET) {
    out = {};
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &reinterpret_cast<const sockaddr_in*>(addr.get())->sin_addr, 4);
    return true;
  }
  return false;
}

bool prefix_matches(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                    unsigned prefix) noexcept {
  for (unsigned i = 0; i < 16 && prefix > 0; ++i, prefix -= std::min(prefix, 8u)) {
    const unsigned bits = std::min(prefix, 8u);
    const auto mask = static_cast<std::uint8_t>(0xff00u >> bits);
    if ((a[i] & mask) != (b[i] & mask)) {
      return false;
    }
  }
  return true;
}

net::Parsed<Network> parse_network(std::string_view item, std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return fmt::format(
        "invalid network '{}' in '{}': {} (expected e.g. "
        "198.18.0.0/15,2001:db8::/32,127.0.0.1)",
        item, text, why);
  };
  const std::size_t slash = item.find('/');
  const std::string host(item.substr(0, slash));
  Network n;
  unsigned max_prefix = 128;
  unsigned offset = 0;
  in_addr a4{};
  in6_addr a6{};
  if (::inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    n.bytes[10] = n.bytes[11] = 0xff;
    std::memcpy(n.bytes.data() + 12, &a4, 4);
    max_prefix = 32;
    offset = 96;
  } else if (::inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    std::memcpy(n.bytes.data(), &a6, 16);
  } else {
    return bad("not an IPv4 or IPv6 address");
  }
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view digits = item.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return bad("the prefix length is not a number");
    }
    prefix = static_cast<unsigned>(std::stoul(std::string(digits)));
    if (prefix > max_prefix) {
      return bad(fmt::format("the prefix length is over {}", max_prefix));
    }
  }
  n.prefix = offset + prefix;
  Network masked = n;
  for (unsigned bit = n.prefix; bit < 128; ++bit) {
    masked.bytes[bit / 8] =
        static_cast<std::uint8_t>(masked.bytes[bit / 8] & ~(0x80u >> (bit % 8)));
  }
  if (masked.bytes != n.bytes) {
    return bad("address bits are set past the prefix length");
  }
  return n;
}

}  // namespace

bool Network::contains(const net::SockAddr& addr) const noexcept {
  std::array<std::uint8_t, 16> a{};
  return v6_form(addr, a) && prefix_matches(a, bytes, prefix);
}

std::string Network::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  const bool v4 =
      prefix >= 96 &&
      std::all_of(bytes.begin(), bytes.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
      bytes[10] == 0xff && bytes[11] == 0xff;
  ::inet_ntop(v4 ? AF_INET : AF_INET6, bytes.data() + (v4 ? 12 : 0), text, sizeof text);
  return fmt::format("{}/{}", text, v4 ? prefix - 96 : prefix);
}

net::Parsed<std::vector<Network>> parse_networks(std::string_view text) {
  if (text.empty()) {
    return std::string("empty network list (expected e.g. 198.18.0.0/15,127.0.0.1)");
  }
  std::vector<Network> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto n = parse_network(item, text);
    if (!n) {
      return n.error();
    }
    out.push_back(*n);
    if (comma == std::string_view::npos) {
      return out;
    }
    start = comma + 1;
  }
}

bool any_contains(const std::vector<Network>& networks, const net::SockAddr& addr) noexcept {
  return std::any_of(networks.begin(), networks.end(),
                     [&](const Network& n) { return n.contains(addr); });
}

}  // namespace netecho::server::proxy
