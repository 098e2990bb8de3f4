#pragma once
// What a STAMP test packet gets back (RFC 8762 §4.3, RFC 8972): the session-reflector's reply.
// Pure: the request, when and how it arrived, and a clock in; the reply's bytes out. The
// socket, the kernel's timestamps and the guards are the server's (server/udp_endpoint.hpp).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "stamp/hmac.hpp"
#include "stamp/packet.hpp"

namespace netecho::service {

// Stateless: the reply's sequence number is the request's. Stateful: each session (a sender's
// address and port, and its SSID) gets the reflector's own count, so the sender can tell the
// loss on the way there from the loss on the way back (RFC 8762 §4.3).
enum class StampMode : std::uint8_t { stateless, stateful };

struct StampConfig {
  StampMode mode = StampMode::stateless;
  stamp::TimestampFormat format = stamp::TimestampFormat::ntp;
  std::optional<stamp::HmacKey> key;  // set: authenticated mode, and only that
};

// How the request arrived.
struct StampArrival {
  std::int64_t receive_ns = 0;     // T2: CLOCK_REALTIME, ns since the Unix epoch
  int ttl = -1;                    // the IP header's TTL or hop limit; -1: unknown (sent as 0)
  stamp::ErrorEstimate estimate;   // this host's clock now (stamp/clock.hpp)
  std::span<const std::byte> peer; // the sender's address (its sockaddr bytes): the session
};

enum class StampVerdict : std::uint8_t {
  reply,      // size bytes of reply written
  malformed,  // shorter than the base packet: dropped
  bad_hmac,   // authenticated mode, the HMAC does not match: dropped
};

struct StampReply {
  StampVerdict verdict = StampVerdict::malformed;
  std::size_t size = 0;
};

class StampReflector {
 public:
  // Sessions a stateful reflector remembers at most; past it, those silent for
  // kSessionIdle are forgotten, and when none is, all are (each restarts its count at 0).
  static constexpr std::size_t kMaxSessions = 65536;
  static constexpr std::int64_t kSessionIdleNs = 60'000'000'000;

  explicit StampReflector(StampConfig config) : config_(std::move(config)) {}

  stamp::Auth auth() const noexcept {
    return config_.key ? stamp::Auth::authenticated : stamp::Auth::none;
  }

  // Writes the reply to in into out (which must hold in.size() bytes: a reply is exactly as
  // large as its request, RFC 8762 §4.6). now() is called once, last before the HMAC: it is
  // T3. Unauthenticated, a request of kTwampLightMinimum bytes or more is answered: shorter
  // than the base packet, it is a TWAMP-Light sender's (RFC 5357, symmetric size as RFC 6038
  // asks), and its reply is the base reply cut after the Session-Sender TTL.
  static constexpr std::size_t kTwampLightMinimum = 41;
  StampReply reflect(std::span<const std::byte> in, const StampArrival& arrival,
                     std::span<std::byte> out, std::int64_t (*now)() noexcept);

  std::size_t sessions() const noexcept { return sessions_.size(); }

 private:
  std::uint32_t next_seq(const StampArrival& arrival, std::uint16_t ssid);

  struct Session {
    std::uint32_t next = 0;
    std::int64_t last_ns = 0;
  };
  StampConfig config_;
  std::unordered_map<std::string, Session> sessions_;  // key: peer bytes, then the SSID
  std::string key_scratch_;
};

// Reflects the TLVs of area into out (as large as area), as RFC 8972 §4 asks of a reflector
// that knows only Extra Padding, and the HMAC TLV when hmac_known (authenticated mode): a known
// TLV is copied, an unknown one copied with its U flag set, and a malformed one (and everything
// after it) copied with its M flag set where its header fits. Bytes after the last TLV
// (padding) are copied as they are.
void reflect_tlvs(std::span<const std::byte> area, std::span<std::byte> out,
                  bool hmac_known = false) noexcept;

// RFC 8972 §4.8 in authenticated mode, on a reply whose TLVs reflect_tlvs has written: checks
// the request's HMAC TLV and writes the reply's own, over the reply's Sequence Number and TLVs.
// When the check fails (a wrong HMAC, an HMAC TLV out of place or twice), the reply's HMAC TLV
// gets the I flag (integrity failed), still signed, so the sender can trust the flag; when the
// request has TLVs but no HMAC TLV, every TLV gets the I flag (there is no HMAC TLV to carry
// it, and a reply is as large as its request). Returns whether the TLVs passed.
bool reflect_hmac_tlv(const stamp::HmacKey& key, std::span<const std::byte> in,
                      std::span<std::byte> out) noexcept;

}  // namespace netecho::service
