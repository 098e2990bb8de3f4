// The bench payload pattern: deterministic, position-dependent, and every corruption found.

#include "client/bench/pattern.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <set>
#include <vector>

namespace netecho::client {
namespace {

std::vector<std::byte> generate(const Pattern& p, std::uint64_t offset, std::size_t n) {
  std::vector<std::byte> out(n);
  p.fill(offset, out);
  return out;
}

TEST(BenchPattern, FillAgreesWithAtForEveryAlignment) {
  const Pattern p(42);
  for (std::uint64_t offset = 0; offset < 19; ++offset) {
    for (std::size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 64, 100}) {
      const auto bytes = generate(p, offset, n);
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(bytes[i], p.at(offset + i)) << "offset " << offset << " n " << n << " i " << i;
      }
    }
  }
}

TEST(BenchPattern, PiecesMatchTheWhole) {
  const Pattern p(7);
  const auto whole = generate(p, 0, 10'000);
  std::vector<std::byte> pieces;
  std::uint64_t offset = 0;
  for (std::size_t step : {1, 3, 13, 64, 1460, 5, 4093}) {
    const auto part = generate(p, offset, step);
    pieces.insert(pieces.end(), part.begin(), part.end());
    offset += step;
  }
  ASSERT_LE(pieces.size(), whole.size());
  EXPECT_TRUE(std::equal(pieces.begin(), pieces.end(), whole.begin()));
}

TEST(BenchPattern, IntactDataHasNoMismatch) {
  const Pattern p(1);
  for (std::uint64_t offset : {0ULL, 3ULL, 8ULL, 1'000'003ULL}) {
    const auto bytes = generate(p, offset, 333);
    EXPECT_EQ(p.find_mismatch(offset, bytes), bytes.size());
  }
  EXPECT_EQ(p.find_mismatch(5, {}), 0u);
}

TEST(BenchPattern, EveryFlippedByteIsFoundWhereItIs) {
  const Pattern p(99);
  const std::uint64_t offset = 5;  // unaligned head, whole words, tail
  const auto good = generate(p, offset, 70);
  for (std::size_t i = 0; i < good.size(); ++i) {
    auto bad = good;
    bad[i] ^= std::byte{0x01};
    ASSERT_EQ(p.find_mismatch(offset, bad), i);
  }
}

TEST(BenchPattern, ShiftedOrOtherFlowsDataIsCaught) {
  const Pattern p(3);
  const auto bytes = generate(p, 64, 64);
  // The same bytes one message later, or from another flow, must not pass.
  EXPECT_LT(p.find_mismatch(128, bytes), bytes.size());
  EXPECT_LT(Pattern(4).find_mismatch(64, bytes), bytes.size());
  EXPECT_LT(p.find_mismatch(65, bytes), bytes.size());
}

TEST(BenchPattern, WordsDoNotRepeat) {
  // 64 KiB of stream: every 8-byte word distinct, so a repeated or dropped run is detected.
  const Pattern p(11);
  const auto bytes = generate(p, 0, 65536);
  std::set<std::uint64_t> words;
  for (std::size_t i = 0; i < bytes.size(); i += 8) {
    std::uint64_t w = 0;
    for (std::size_t k = 0; k < 8; ++k) {
      w |= std::uint64_t{std::to_integer<unsigned>(bytes[i + k])} << (8 * k);
    }
    words.insert(w);
  }
  EXPECT_EQ(words.size(), bytes.size() / 8);
}

}  // namespace
}  // namespace netecho::client
