#pragma once
// The bytes a bench flow sends, as a pure function of (seed, offset), so that every echoed byte
// can be checked without keeping a copy of what was sent.
//
// Byte o of a flow's stream is byte (o mod 8) of splitmix64(seed + floor(o / 8) * golden), in
// little-endian order. The words never repeat within a flow (splitmix64 is a bijection of its
// argument), so a lost, repeated, reordered or shifted run of bytes is caught at its first byte,
// not only when the lengths disagree. TCP uses the stream offset; UDP uses a per-datagram
// offset (sequence number times message size), which ties each payload to its sequence number.

#include <cstddef>
#include <cstdint>
#include <span>

namespace netecho::client {

// The splitmix64 finaliser: a fast, well-mixed bijection on 64-bit words.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Pattern {
 public:
  explicit Pattern(std::uint64_t seed) noexcept : seed_(seed) {}

  // The byte at stream offset `offset`.
  std::byte at(std::uint64_t offset) const noexcept;

  // Fills out with the bytes at offsets [offset, offset + out.size()).
  void fill(std::uint64_t offset, std::span<std::byte> out) const noexcept;

  // Compares data with the bytes at [offset, offset + data.size()). Returns the index in data
  // of the first byte that differs, or data.size() when all match.
  std::size_t find_mismatch(std::uint64_t offset, std::span<const std::byte> data) const noexcept;

  std::uint64_t seed() const noexcept { return seed_; }

 private:
  std::uint64_t word(std::uint64_t index) const noexcept {
    return splitmix64(seed_ + index * 0x9e3779b97f4a7c15ULL);
  }

  std::uint64_t seed_;
};

}  // namespace netecho::client
