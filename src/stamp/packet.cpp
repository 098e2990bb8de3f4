#include "stamp/packet.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace netecho::stamp {
namespace {

constexpr std::int64_t kNanos = 1'000'000'000;
// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
constexpr std::int64_t kNtpToUnix = 2'208'988'800;

// Where each field lies, per authentication mode (the table in packet.hpp).
struct Offsets {
  std::size_t timestamp, error_estimate, ssid, receive, sender_seq, sender_timestamp,
      sender_error_estimate, sender_ttl;
};
constexpr Offsets kUnauthenticated{4, 12, 14, 16, 24, 28, 36, 40};
constexpr Offsets kAuthenticated{16, 24, 26, 32, 48, 64, 72, 80};

constexpr const Offsets& offsets(Auth a) noexcept {
  return a == Auth::none ? kUnauthenticated : kAuthenticated;
}

}  // namespace

std::uint16_t load16(std::span<const std::byte> in, std::size_t at) noexcept {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(in[at]) << 8) |
                                    std::to_integer<unsigned>(in[at + 1]));
}
std::uint32_t load32(std::span<const std::byte> in, std::size_t at) noexcept {
  return (std::uint32_t{load16(in, at)} << 16) | load16(in, at + 2);
}
std::uint64_t load64(std::span<const std::byte> in, std::size_t at) noexcept {
  return (std::uint64_t{load32(in, at)} << 32) | load32(in, at + 4);
}
void store16(std::span<std::byte> out, std::size_t at, std::uint16_t v) noexcept {
  out[at] = static_cast<std::byte>(v >> 8);
  out[at + 1] = static_cast<std::byte>(v & 0xff);
}
void store32(std::span<std::byte> out, std::size_t at, std::uint32_t v) noexcept {
  store16(out, at, static_cast<std::uint16_t>(v >> 16));
  store16(out, at + 2, static_cast<std::uint16_t>(v & 0xffff));
}
void store64(std::span<std::byte> out, std::size_t at, std::uint64_t v) noexcept {
  store32(out, at, static_cast<std::uint32_t>(v >> 32));
  store32(out, at + 4, static_cast<std::uint32_t>(v & 0xffffffff));
}

std::string_view to_string(TimestampFormat f) noexcept {
  return f == TimestampFormat::ptp ? "ptp" : "ntp";
}

std::uint64_t encode_timestamp(std::int64_t unix_ns, TimestampFormat f) noexcept {
  const std::int64_t seconds = unix_ns >= 0 ? unix_ns / kNanos : (unix_ns - kNanos + 1) / kNanos;
  const auto nanos = static_cast<std::uint64_t>(unix_ns - seconds * kNanos);  // [0, 1e9)
  if (f == TimestampFormat::ptp) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(seconds)) << 32) | nanos;
  }
  // The fraction rounded to nearest: (nanos << 32) stays below 2^62.
  std::uint64_t fraction = ((nanos << 32) + kNanos / 2) / kNanos;
  std::uint64_t ntp_seconds = static_cast<std::uint32_t>(seconds + kNtpToUnix);
  if (fraction > 0xffffffff) {  // rounded up into the next second
    fraction = 0;
    ntp_seconds = static_cast<std::uint32_t>(ntp_seconds + 1);
  }
  return (ntp_seconds << 32) | fraction;
}

std::int64_t decode_timestamp(std::uint64_t wire, TimestampFormat f) noexcept {
  const std::uint64_t seconds = wire >> 32;
  const std::uint64_t low = wire & 0xffffffff;
  if (f == TimestampFormat::ptp) {
    return static_cast<std::int64_t>(seconds) * kNanos + static_cast<std::int64_t>(low);
  }
  // Era 0 until 2036-02-07; after that, seconds below 1970's value belong to era 1.
  std::int64_t unix_seconds = static_cast<std::int64_t>(seconds) - kNtpToUnix;
  if (unix_seconds < 0) {
    unix_seconds += std::int64_t{1} << 32;
  }
  const auto nanos = static_cast<std::int64_t>((low * kNanos + (std::uint64_t{1} << 31)) >> 32);
  return unix_seconds * kNanos + nanos;
}

std::uint16_t ErrorEstimate::encode() const noexcept {
  return static_cast<std::uint16_t>((synchronized ? 0x8000 : 0) |
                                    (format == TimestampFormat::ptp ? 0x4000 : 0) |
                                    ((scale & 0x3f) << 8) | multiplier);
}

ErrorEstimate ErrorEstimate::decode(std::uint16_t wire) noexcept {
  ErrorEstimate e;
  e.synchronized = (wire & 0x8000) != 0;
  e.format = (wire & 0x4000) != 0 ? TimestampFormat::ptp : TimestampFormat::ntp;
  e.scale = static_cast<std::uint8_t>((wire >> 8) & 0x3f);
  e.multiplier = static_cast<std::uint8_t>(wire & 0xff);
  return e;
}

ErrorEstimate ErrorEstimate::from_error(std::chrono::nanoseconds error, bool synchronized,
                                        TimestampFormat f) noexcept {
  ErrorEstimate e;
  e.synchronized = synchronized;
  e.format = f;
  // The error in units of 2^-32 s, then the smallest scale that brings it under 256.
  const double units = std::ceil(static_cast<double>(std::max<std::int64_t>(error.count(), 0)) *
                                 4.294967296);
  std::uint8_t scale = 0;
  double m = units;
  while (m > 255.0 && scale < 63) {
    ++scale;
    m = std::ceil(units / std::ldexp(1.0, scale));
  }
  e.scale = scale;
  e.multiplier = static_cast<std::uint8_t>(std::clamp(m, 1.0, 255.0));
  return e;
}

std::chrono::nanoseconds ErrorEstimate::error() const noexcept {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(
      std::ldexp(static_cast<double>(multiplier), scale - 32) * 1e9));
}

std::optional<SenderPacket> read_sender(std::span<const std::byte> in, Auth a) noexcept {
  if (in.size() < base_size(a)) {
    return std::nullopt;
  }
  const Offsets& o = offsets(a);
  SenderPacket p;
  p.seq = load32(in, 0);
  p.timestamp = load64(in, o.timestamp);
  p.error_estimate = ErrorEstimate::decode(load16(in, o.error_estimate));
  p.ssid = load16(in, o.ssid);
  return p;
}

std::optional<ReflectorPacket> read_reflector(std::span<const std::byte> in, Auth a) noexcept {
  const auto head = read_sender(in, a);
  if (!head) {
    return std::nullopt;
  }
  const Offsets& o = offsets(a);
  ReflectorPacket p;
  static_cast<SenderPacket&>(p) = *head;
  p.receive_timestamp = load64(in, o.receive);
  p.sender_seq = load32(in, o.sender_seq);
  p.sender_timestamp = load64(in, o.sender_timestamp);
  p.sender_error_estimate = load16(in, o.sender_error_estimate);
  p.sender_ttl = std::to_integer<std::uint8_t>(in[o.sender_ttl]);
  return p;
}

void write_sender(const SenderPacket& p, Auth a, std::span<std::byte> out) noexcept {
  const Offsets& o = offsets(a);
  std::memset(out.data(), 0, base_size(a));
  store32(out, 0, p.seq);
  store64(out, o.timestamp, p.timestamp);
  store16(out, o.error_estimate, p.error_estimate.encode());
  store16(out, o.ssid, p.ssid);
}

void write_reflector(const ReflectorPacket& p, Auth a, std::span<std::byte> out) noexcept {
  const Offsets& o = offsets(a);
  write_sender(p, a, out);
  store64(out, o.receive, p.receive_timestamp);
  store32(out, o.sender_seq, p.sender_seq);
  store64(out, o.sender_timestamp, p.sender_timestamp);
  store16(out, o.sender_error_estimate, p.sender_error_estimate);
  out[o.sender_ttl] = static_cast<std::byte>(p.sender_ttl);
}

void write_reflector_timestamp(std::uint64_t timestamp, Auth a, std::span<std::byte> out) noexcept {
  store64(out, offsets(a).timestamp, timestamp);
}

std::optional<Tlv> TlvReader::next() noexcept {
  if (malformed_ || at_ >= area_.size()) {
    return std::nullopt;
  }
  const auto rest = area_.subspan(at_);
  if (std::all_of(rest.begin(), rest.end(), [](std::byte b) { return b == std::byte{0}; })) {
    at_ = area_.size();
    return std::nullopt;
  }
  if (rest.size() < kTlvHeader || rest.size() - kTlvHeader < load16(rest, 2)) {
    malformed_ = at_;
    return std::nullopt;
  }
  Tlv t;
  t.flags = std::to_integer<std::uint8_t>(rest[0]);
  t.type = std::to_integer<std::uint8_t>(rest[1]);
  t.offset = at_;
  t.value = rest.subspan(kTlvHeader, load16(rest, 2));
  at_ += kTlvHeader + t.value.size();
  return t;
}

HmacTlvPlace find_hmac_tlv(std::span<const std::byte> area) noexcept {
  constexpr auto kHmacType = static_cast<std::uint8_t>(TlvType::hmac);
  constexpr auto kPaddingType = static_cast<std::uint8_t>(TlvType::extra_padding);
  std::optional<std::size_t> hmac;  // the first HMAC TLV's offset
  bool any = false;
  bool invalid = false;
  TlvReader reader(area);
  while (auto tlv = reader.next()) {
    any = true;
    if (tlv->type == kHmacType) {
      invalid = invalid || hmac.has_value() || tlv->value.size() != kHmacSize;
      hmac = hmac.value_or(tlv->offset);
    } else if (hmac && tlv->type != kPaddingType) {
      invalid = true;
    }
  }
  if (hmac) {
    invalid = invalid || reader.malformed().has_value();
    return {invalid ? HmacTlvState::invalid : HmacTlvState::in_place, *hmac};
  }
  return {any || reader.malformed() ? HmacTlvState::missing : HmacTlvState::no_tlvs, 0};
}

}  // namespace netecho::stamp
