#pragma once
// What a UDP datagram gets back. Pure logic, no I/O.

#include <cstddef>
#include <cstdint>
#include <span>

namespace netecho::service {

enum class DatagramMode : std::uint8_t {
  echo,     // RFC 862: the same bytes
  reverse,  // the original UDP server: the bytes in reverse order
  stamp,    // RFC 8762: a STAMP reflector's reply, by service/stamp.hpp (not datagram_reply)
};

inline constexpr std::size_t kMaxDatagram = 65507;  // largest UDP payload over IPv4

// Writes the reply to in into out and returns its length. When limit is non-zero the request is
// first cut to limit bytes (the original server's 10-byte buffer is --udp-max 10). out must hold
// at least min(in.size(), limit) bytes. The reply is never longer than the request.
std::size_t datagram_reply(DatagramMode mode, std::span<const std::byte> in, std::size_t limit,
                           std::span<std::byte> out) noexcept;

}  // namespace netecho::service
