#include "client/bench/pattern.hpp"

#include <bit>
#include <cstring>

namespace netecho::client {
namespace {

// The word as it lies in the stream: least significant byte first.
std::uint64_t to_stream_order(std::uint64_t w) noexcept {
  if constexpr (std::endian::native == std::endian::big) {
    w = __builtin_bswap64(w);
  }
  return w;
}

}  // namespace

std::byte Pattern::at(std::uint64_t offset) const noexcept {
  return static_cast<std::byte>((word(offset >> 3) >> (8 * (offset & 7))) & 0xff);
}

void Pattern::fill(std::uint64_t offset, std::span<std::byte> out) const noexcept {
  std::size_t i = 0;
  const std::size_t n = out.size();
  // Head: up to the next word boundary.
  for (; i < n && ((offset + i) & 7) != 0; ++i) {
    out[i] = at(offset + i);
  }
  // Whole words.
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t w = to_stream_order(word((offset + i) >> 3));
    std::memcpy(out.data() + i, &w, 8);
  }
  for (; i < n; ++i) {
    out[i] = at(offset + i);
  }
}

std::size_t Pattern::find_mismatch(std::uint64_t offset,
                                   std::span<const std::byte> data) const noexcept {
  std::size_t i = 0;
  const std::size_t n = data.size();
  for (; i < n && ((offset + i) & 7) != 0; ++i) {
    if (data[i] != at(offset + i)) {
      return i;
    }
  }
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t want = to_stream_order(word((offset + i) >> 3));
    std::uint64_t got;
    std::memcpy(&got, data.data() + i, 8);
    if (got != want) {
      break;  // the byte loop below finds which one
    }
  }
  for (; i < n; ++i) {
    if (data[i] != at(offset + i)) {
      return i;
    }
  }
  return n;
}

}  // namespace netecho::client
