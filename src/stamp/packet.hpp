#pragma once
// STAMP test packets (RFC 8762, with RFC 8972's SSID and TLVs): their layouts, timestamps and
// Error Estimate. Pure: bytes in, fields out, and back; no I/O. Shared by the reflector
// (service/stamp.hpp) and a sender.
//
// Layouts, by byte offset (RFC 8762 §4.2-4.3; RFC 8972 §3 puts the SSID where RFC 8762 had MBZ):
//
//   unauthenticated (44 bytes, then TLVs)    authenticated (112 bytes, then TLVs)
//   field                    sender reflector  sender reflector
//   sequence number             0      0          0      0
//   timestamp                   4      4         16     16
//   error estimate             12     12         24     24
//   SSID                       14     14         26     26
//   receive timestamp           -     16          -     32
//   session-sender sequence     -     24          -     48
//   session-sender timestamp    -     28          -     64
//   session-sender error est.   -     36          -     72
//   session-sender TTL          -     40          -     80
//   HMAC (16 bytes)             -      -         96     96
//
// Every other byte of the base is MBZ: written as zero, ignored on receipt (RFC 8762 §4).
// An unauthenticated STAMP packet is also a TWAMP-Test packet (RFC 5357 §4.1.2, 4.2.1) whose
// SSID bytes are MBZ, so a TWAMP-Light sender reads the reflector's reply as its own.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace netecho::stamp {

inline constexpr std::uint16_t kPort = 862;  // RFC 8762 §4.1
inline constexpr std::size_t kHmacSize = 16;  // HMAC-SHA-256 truncated to 128 bits

enum class Auth : std::uint8_t { none, authenticated };

// The size of a test packet without TLVs, sender's and reflector's alike (RFC 8762 §4.6: so
// that a reply is as large as its request).
constexpr std::size_t base_size(Auth a) noexcept { return a == Auth::none ? 44 : 112; }
// Where the HMAC lies, and what it covers: every byte before it.
inline constexpr std::size_t kHmacOffset = 96;

// NTP: seconds since 1900 and a binary fraction (RFC 5905); PTP: the PTPv2 truncated format,
// seconds since 1970 and nanoseconds (RFC 8186). Both are 32 + 32 bits, big-endian.
enum class TimestampFormat : std::uint8_t { ntp, ptp };
std::string_view to_string(TimestampFormat f) noexcept;

// Unix time in nanoseconds (CLOCK_REALTIME) to the wire's 64 bits, and back. NTP seconds wrap
// in 2036 (era 1); decoding assumes the era that puts the time nearest 1970-2105.
std::uint64_t encode_timestamp(std::int64_t unix_ns, TimestampFormat f) noexcept;
std::int64_t decode_timestamp(std::uint64_t wire, TimestampFormat f) noexcept;

// RFC 4656 §4.1.2: S (the clock is synchronized to UTC by an external source), Z (RFC 8186:
// the timestamps are PTP), and the error, Multiplier × 2^(Scale − 32) seconds.
struct ErrorEstimate {
  bool synchronized = false;
  TimestampFormat format = TimestampFormat::ntp;
  std::uint8_t scale = 0;       // 6 bits
  std::uint8_t multiplier = 1;  // never 0 (RFC 4656: 0 is invalid)

  std::uint16_t encode() const noexcept;
  static ErrorEstimate decode(std::uint16_t wire) noexcept;
  // The smallest Scale whose Multiplier can say error, rounding up: the estimate never claims
  // more precision than error.
  static ErrorEstimate from_error(std::chrono::nanoseconds error, bool synchronized,
                                  TimestampFormat f) noexcept;
  std::chrono::nanoseconds error() const noexcept;
};

// The fields both packets begin with.
struct SenderPacket {
  std::uint32_t seq = 0;
  std::uint64_t timestamp = 0;  // as on the wire: its format is error_estimate.format
  ErrorEstimate error_estimate;
  std::uint16_t ssid = 0;
};

// A reflector's timestamp is T3.
struct ReflectorPacket : SenderPacket {
  std::uint64_t receive_timestamp = 0;  // T2
  std::uint32_t sender_seq = 0;
  std::uint64_t sender_timestamp = 0;   // T1, as the sender wrote it
  std::uint16_t sender_error_estimate = 0;
  std::uint8_t sender_ttl = 0;
};

// Reads the base of a packet; nullopt when it is shorter than base_size(a). The HMAC is not
// checked here (hmac.hpp).
std::optional<SenderPacket> read_sender(std::span<const std::byte> in, Auth a) noexcept;
std::optional<ReflectorPacket> read_reflector(std::span<const std::byte> in, Auth a) noexcept;

// Writes the base of a packet into out[0, base_size(a)), MBZ and HMAC bytes as zero; out must
// hold base_size(a) bytes. Bytes after the base are left as they are.
void write_sender(const SenderPacket& p, Auth a, std::span<std::byte> out) noexcept;
void write_reflector(const ReflectorPacket& p, Auth a, std::span<std::byte> out) noexcept;
// Rewrites only the reflector's own timestamp (T3): the last field written before a reply
// leaves, so that T3 is taken as late as the reply allows.
void write_reflector_timestamp(std::uint64_t timestamp, Auth a, std::span<std::byte> out) noexcept;

// RFC 8972 §4: the TLVs after the base. Flags U (the reflector does not know the type), M
// (malformed: its length runs past the packet) and I (integrity failed), in the flags byte's
// most significant bits as RFC 8972's figure numbers them (bit 0 first).
inline constexpr std::uint8_t kTlvUnrecognized = 0x80;
inline constexpr std::uint8_t kTlvMalformed = 0x40;
inline constexpr std::uint8_t kTlvIntegrity = 0x20;
inline constexpr std::size_t kTlvHeader = 4;

// The types netecho knows (IANA's STAMP TLV Types registry, RFC 8972 §7).
enum class TlvType : std::uint8_t {
  extra_padding = 1,
  location = 2,
  timestamp_information = 3,
  class_of_service = 4,
  direct_measurement = 5,
  access_report = 6,
  follow_up_telemetry = 7,
  hmac = 8,
};

struct Tlv {
  std::uint8_t flags = 0;
  std::uint8_t type = 0;
  std::size_t offset = 0;  // of its header, from the start of the TLV area
  std::span<const std::byte> value;
};

// Walks a TLV area one TLV at a time, never past its end. An area that is only zero bytes is
// RFC 8762's plain padding (or a TWAMP sender's), not TLVs: the walk ends there.
class TlvReader {
 public:
  explicit TlvReader(std::span<const std::byte> area) noexcept : area_(area) {}
  // The next TLV; nullopt at the end, or at a TLV whose header or value runs past the area
  // (malformed(): its offset).
  std::optional<Tlv> next() noexcept;
  std::optional<std::size_t> malformed() const noexcept { return malformed_; }

 private:
  std::span<const std::byte> area_;
  std::size_t at_ = 0;
  std::optional<std::size_t> malformed_;
};

// RFC 8972 §4.8: the HMAC TLV protects the TLVs before it. It must follow every other TLV but
// Extra Padding, and hold kHmacSize bytes; a packet that breaks either fails its check.
enum class HmacTlvState : std::uint8_t {
  no_tlvs,    // nothing to protect
  missing,    // TLVs, none of them an HMAC TLV
  invalid,    // an HMAC TLV of another length, twice, or followed by a TLV other than Extra
              // Padding or by a malformed one
  in_place,   // one HMAC TLV where the RFC puts it
};
struct HmacTlvPlace {
  HmacTlvState state = HmacTlvState::no_tlvs;
  std::size_t offset = 0;  // of the first HMAC TLV's header, from the start of the TLV area
};
HmacTlvPlace find_hmac_tlv(std::span<const std::byte> area) noexcept;

// Big-endian access, for the packet and its tests.
std::uint16_t load16(std::span<const std::byte> in, std::size_t at) noexcept;
std::uint32_t load32(std::span<const std::byte> in, std::size_t at) noexcept;
std::uint64_t load64(std::span<const std::byte> in, std::size_t at) noexcept;
void store16(std::span<std::byte> out, std::size_t at, std::uint16_t v) noexcept;
void store32(std::span<std::byte> out, std::size_t at, std::uint32_t v) noexcept;
void store64(std::span<std::byte> out, std::size_t at, std::uint64_t v) noexcept;

}  // namespace netecho::stamp
