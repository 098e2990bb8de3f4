#pragma once
// Probe frames: the bytes a client tool sends to an echo server when it needs to recognise
// each reply (netecho ping, and netecho bench for latency). Pure functions, no I/O.
//
// Layout (all integers big-endian), kProbeHeaderSize = 24 bytes of header, then fill:
//
//   offset  size  field
//        0     4  magic    kProbeMagic, "NEPF"
//        4     4  session  chosen per run (or per connection), so a reply to another run is
//                          told apart from a reply to this one
//        8     8  seq      the probe's sequence number
//       16     8  send_ns  when the probe was sent, nanoseconds of the sender's monotonic
//                          clock; only the sender can interpret it
//       24     *  fill     probe_fill_byte(header, offset) for every remaining offset
//
// The fill depends on session and seq, so every frame of a run differs from its neighbours:
// a stale, shifted or spliced TCP stream, or a reply cut short, fails the check instead of
// passing as a good echo. A frame is exactly as long as the sender chose (at least the header);
// the length itself is not stored, so the receiver must know how many bytes to expect.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

namespace netecho::client {

inline constexpr std::size_t kProbeHeaderSize = 24;
inline constexpr std::uint32_t kProbeMagic = 0x4e455046;  // "NEPF"

struct ProbeHeader {
  std::uint32_t session = 0;
  std::uint64_t seq = 0;
  std::uint64_t send_ns = 0;
  bool operator==(const ProbeHeader&) const = default;
};

enum class ProbeErrorKind : std::uint8_t {
  too_short,  // fewer than kProbeHeaderSize bytes
  bad_magic,  // the first four bytes are not kProbeMagic
  bad_fill,   // a fill byte differs from probe_fill_byte(); offset says where
};

struct ProbeError {
  ProbeErrorKind kind;
  std::size_t offset = 0;  // bad_fill: the first differing byte
  bool operator==(const ProbeError&) const = default;
};

// A short phrase for each kind, for messages ("not a probe frame (bad magic)").
std::string_view describe(ProbeErrorKind kind) noexcept;

// What to tell a user whose server answers in the other direction: "reply is reversed: the
// server is in reverse mode (use --expect reverse)", or the converse when expected_reverse.
// Shared by ping and bench, which both take --expect echo|reverse for UDP.
std::string_view wrong_direction_hint(bool expected_reverse) noexcept;

// The fill byte at offset (>= kProbeHeaderSize) of the frame with this header.
constexpr std::byte probe_fill_byte(const ProbeHeader& h, std::size_t offset) noexcept {
  const std::uint64_t mix = h.seq ^ (std::uint64_t{h.session} << 32) ^ 0x5a5a5a5a5a5a5a5aULL;
  return static_cast<std::byte>(((mix >> ((offset % 8) * 8)) + offset) & 0xff);
}

// Writes the header into frame[0, 24). Precondition: frame.size() >= kProbeHeaderSize.
void encode_probe_header(const ProbeHeader& h, std::span<std::byte> frame) noexcept;

// Writes the header and the fill: the whole frame. Precondition as above.
void encode_probe(const ProbeHeader& h, std::span<std::byte> frame) noexcept;

// Reads the header: too_short or bad_magic on failure. Does not look at the fill.
std::variant<ProbeHeader, ProbeError> decode_probe_header(
    std::span<const std::byte> frame) noexcept;

// The offset of the first fill byte that differs from what h implies, if any.
std::optional<std::size_t> find_bad_fill(const ProbeHeader& h,
                                         std::span<const std::byte> frame) noexcept;

// decode_probe_header plus find_bad_fill: the header of a frame that is intact end to end.
std::variant<ProbeHeader, ProbeError> decode_probe(std::span<const std::byte> frame) noexcept;

}  // namespace netecho::client
