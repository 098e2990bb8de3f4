#pragma once
// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2): what a load
// balancer writes first on each connection it forwards, to say which client it forwards.
//
// A pure parser, no I/O: it is handed every byte buffered so far on a connection (they arrive
// in pieces) and says whether that is not yet enough, a whole header (its length and what it
// says), or not a valid header (why). It lives in server/ beside the limits it feeds (the
// client address it yields is what --max-conns-per-ip, the logs and the counters use), not in
// service/, which decides what a byte gets back and knows no addresses.
//
// Strict, as the spec asks of a receiver: the header is required, never guessed; a prefix that
// cannot become a header is an error as soon as it is seen, not after a timeout.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "net/address.hpp"

namespace netecho::server::proxy {

// Version 1 is one text line of at most 107 bytes, CRLF included.
inline constexpr std::size_t kMaxV1 = 107;
// Version 2: a 16-byte fixed part, then its length in bytes (addresses and TLVs). The spec
// allows up to 65535; balancers send a few dozen (HAProxy's TLVs: ALPN, authority, unique ID,
// SSL). Past this bound the header is refused as oversized instead of buffered.
inline constexpr std::size_t kV2Fixed = 16;
inline constexpr std::size_t kMaxV2 = 1024;

// What was wrong. Each belongs to one of the counted reasons (Stat::proxy_*: reason_of()).
enum class Error : std::uint8_t {
  not_proxy,         // neither signature: a client that sent no header
  v1_too_long,       // no CRLF within kMaxV1 bytes
  v1_malformed,      // a line that is not "PROXY TCP4|TCP6 SRC DST SPORT DPORT" nor UNKNOWN
  v2_too_long,       // a length past kMaxV2
  v2_bad_version,    // a version other than 2
  v2_bad_command,    // a command other than LOCAL or PROXY
  v2_unsupported,    // AF_UNIX, or a datagram transport: not what a TCP listener forwards
  v2_bad_addresses,  // shorter than the address block its family needs
  v2_bad_tlv,        // a TLV running past the header's end
};
std::string_view to_string(Error e) noexcept;

// The reasons a header is refused, as counted.
enum class Reason : std::uint8_t { malformed, oversized, unsupported };
Reason reason_of(Error e) noexcept;

struct Header {
  // How many bytes the header takes: what follows is the client's data.
  std::size_t length = 0;
  // LOCAL (v2: the proxy's own connection, a health check) and UNKNOWN (v1 UNKNOWN, v2 PROXY
  // over AF_UNSPEC) carry no client: the connection is served as the proxy's own.
  bool has_addresses = false;
  net::SockAddr source;       // the client, as the proxy saw it
  net::SockAddr destination;  // the address the client connected to
};

struct Parsed {
  enum class Status : std::uint8_t { need_more, done, error };
  Status status = Status::need_more;
  Header header;                   // when done
  Error error = Error::not_proxy;  // when error
};

// Parses the start of a connection's input (everything received so far, from its first byte).
// need_more: a valid beginning of a header; feed it again with more bytes.
Parsed parse(std::span<const std::byte> input);

// --proxy-from: a network whose connections may (and, on a PROXY listener, must) start with a
// header. Kept in IPv6 form, IPv4 as ::ffff:a.b.c.d with its prefix counted from bit 96, so
// that an IPv4 client arriving v4-mapped on a dual-stack socket matches its IPv4 network.
struct Network {
  std::array<std::uint8_t, 16> bytes{};
  unsigned prefix = 0;  // leading bits that must match, of 128
  bool contains(const net::SockAddr& addr) const noexcept;
  std::string to_string() const;  // "198.18.0.0/15", "2001:db8::/32"
};

// "198.18.0.0/15,2001:db8::/32,127.0.0.1" (a bare address: that host alone). Bits set past
// the prefix are refused ("10.0.0.1/8" is more likely a typo than a network).
net::Parsed<std::vector<Network>> parse_networks(std::string_view text);
bool any_contains(const std::vector<Network>& networks, const net::SockAddr& addr) noexcept;

}  // namespace netecho::server::proxy
