#include "client/probe_frame.hpp"

namespace netecho::client {
namespace {

template <typename T>
void put_be(std::span<std::byte> out, std::size_t at, T value) noexcept {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out[at + i] = static_cast<std::byte>((value >> (8 * (sizeof(T) - 1 - i))) & 0xff);
  }
}

template <typename T>
T get_be(std::span<const std::byte> in, std::size_t at) noexcept {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value = static_cast<T>((value << 8) | std::to_integer<T>(in[at + i]));
  }
  return value;
}

}  // namespace

std::string_view describe(ProbeErrorKind kind) noexcept {
  switch (kind) {
    case ProbeErrorKind::too_short:
      return "frame shorter than the 24-byte probe header";
    case ProbeErrorKind::bad_magic:
      return "not a probe frame (bad magic)";
    case ProbeErrorKind::bad_fill:
      return "payload differs from what was sent";
  }
  return "unknown probe error";
}

std::string_view wrong_direction_hint(bool expected_reverse) noexcept {
  return expected_reverse ? "reply is not reversed: the server echoes (drop --expect reverse)"
                          : "reply is reversed: the server is in reverse mode (use --expect reverse)";
}

void encode_probe_header(const ProbeHeader& h, std::span<std::byte> frame) noexcept {
  put_be<std::uint32_t>(frame, 0, kProbeMagic);
  put_be<std::uint32_t>(frame, 4, h.session);
  put_be<std::uint64_t>(frame, 8, h.seq);
  put_be<std::uint64_t>(frame, 16, h.send_ns);
}

void encode_probe(const ProbeHeader& h, std::span<std::byte> frame) noexcept {
  encode_probe_header(h, frame);
  for (std::size_t i = kProbeHeaderSize; i < frame.size(); ++i) {
    frame[i] = probe_fill_byte(h, i);
  }
}

std::variant<ProbeHeader, ProbeError> decode_probe_header(
    std::span<const std::byte> frame) noexcept {
  if (frame.size() < kProbeHeaderSize) {
    return ProbeError{ProbeErrorKind::too_short, frame.size()};
  }
  if (get_be<std::uint32_t>(frame, 0) != kProbeMagic) {
    return ProbeError{ProbeErrorKind::bad_magic, 0};
  }
  return ProbeHeader{get_be<std::uint32_t>(frame, 4), get_be<std::uint64_t>(frame, 8),
                     get_be<std::uint64_t>(frame, 16)};
}

std::optional<std::size_t> find_bad_fill(const ProbeHeader& h,
                                         std::span<const std::byte> frame) noexcept {
  for (std::size_t i = kProbeHeaderSize; i < frame.size(); ++i) {
    if (frame[i] != probe_fill_byte(h, i)) {
      return i;
    }
  }
  return std::nullopt;
}

std::variant<ProbeHeader, ProbeError> decode_probe(std::span<const std::byte> frame) noexcept {
  auto decoded = decode_probe_header(frame);
  if (const auto* h = std::get_if<ProbeHeader>(&decoded)) {
    if (const auto bad = find_bad_fill(*h, frame)) {
      return ProbeError{ProbeErrorKind::bad_fill, *bad};
    }
  }
  return decoded;
}

}  // namespace netecho::client
