#pragma once
// `netecho stamp`: a STAMP session-sender (RFC 8762, with RFC 8972's SSID and Extra Padding),
// in ping's shape. Test packets go out on ping's fixed schedule (packet k at start + k *
// interval), each with its send time T1; each reply brings the reflector's receive and send
// times T2 and T3, and the kernel's receive time of the reply is T4. One line per reply or
// timeout, and the summary at the end or on the stop signal.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "client/outcome.hpp"
#include "io/probe.hpp"
#include "net/address.hpp"
#include "stamp/hmac.hpp"
#include "stamp/packet.hpp"

namespace netecho::client {

enum class StampOutput : std::uint8_t { text, json, json_lines };

// What fills a packet past its base when --size asks for more (RFC 8762 §4.6: the reply is as
// large, so the padding sets both directions' size).
enum class StampPadding : std::uint8_t {
  none,   // the packet is the base alone
  zeros,  // RFC 8762's plain padding: what a TWAMP-Light or RFC 8762-only reflector expects
  tlv,    // RFC 8972's Extra Padding TLV, with --ssid: the area after the base holds TLVs there
};

struct StampOptions {
  net::Endpoint endpoint{"127.0.0.1", stamp::kPort};  // as given, for the header line
  net::SockAddr peer;                                 // resolved by the caller
  std::optional<std::uint64_t> count;                 // unset: until stopped
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  std::chrono::nanoseconds timeout = std::chrono::seconds(1);  // per packet
  std::size_t size = 0;  // the whole packet; 0: the base alone
  std::optional<std::uint16_t> ssid;
  std::optional<stamp::HmacKey> key;  // set: the authenticated format
  stamp::TimestampFormat format = stamp::TimestampFormat::ntp;
  bool quiet = false;
  StampOutput output = StampOutput::text;
  io::BackendChoice backend;
  int stop_fd = -1;  // as PingOptions::stop_fd
};

stamp::Auth auth_of(const StampOptions& o) noexcept;
// With TLV padding in the authenticated format, RFC 8972 §4.8's HMAC TLV comes first (it may
// be followed by Extra Padding only), over the Sequence Number; Extra Padding fills the rest.
inline constexpr std::size_t kHmacTlvSize = stamp::kTlvHeader + stamp::kHmacSize;
// Whether `extra` bytes after the base can be laid out as TLV padding: none, or an Extra Padding
// TLV's header at least (unauthenticated); none, the HMAC TLV alone, or the HMAC TLV and an
// Extra Padding TLV (authenticated).
bool tlv_padding_fits(stamp::Auth a, std::size_t extra) noexcept;
// The padding a packet of o.size bytes gets (and so its whole layout).
StampPadding padding_of(const StampOptions& o) noexcept;
// The size of a packet: o.size, or the base when it is 0.
std::size_t packet_size(const StampOptions& o) noexcept;

// Sends to options.peer. Writes reply lines and the summary (or JSON) to out, diagnostics to
// err. The outcome is ping's (client/probe_stats.hpp: probe_outcome).
Outcome run_stamp(const StampOptions& options, std::FILE* out, std::FILE* err);

}  // namespace netecho::client
