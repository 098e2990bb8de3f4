// The io_uring ring and its provided-buffer rings: the ring is torn down when its owner says
// (io/uring/ring.hpp), and a buffer ring that outlives it only unmaps its memory, never
// unregistering through a descriptor that now belongs to another ring.

#include <gtest/gtest.h>

#include <cerrno>
#include <optional>
#include <string>

#include "io/probe.hpp"
#include "io/uring/buf_ring.hpp"
#include "io/uring/ring.hpp"

namespace netecho::io {
namespace {

// Why io_uring cannot run here (the probe's reason, as the contract tests skip with), or
// nothing when it can. GTEST_SKIP returns only from the function it is in, so each test skips
// itself on this answer.
std::optional<std::string> uring_unusable() {
  for (const auto& s : probe_backends()) {
    if (s.kind == BackendKind::io_uring && !s.usable) {
      return "io_uring cannot run here: " + s.detail;
    }
  }
  return std::nullopt;
}

TEST(UringRing, ABufferRingThatOutlivesItsRingLeavesTheNextRingAlone) {
  if (const auto why = uring_unusable()) {
    GTEST_SKIP() << *why;
  }
  constexpr std::uint16_t kGroup = 3;
  auto first = Ring::create(8, 16, false);
  ASSERT_TRUE(first) << first.error().message();
  std::optional<Ring> ring(std::move(first).value());
  auto orphan = BufRing::create(*ring, kGroup, 8, 4096);
  ASSERT_TRUE(orphan) << orphan.error().message();
  ring.reset();  // torn down first, as UringBackend's members are

  // A new ring, most likely on the descriptor number the first one had, with the same group.
  auto second = Ring::create(8, 16, false);
  ASSERT_TRUE(second) << second.error().message();
  auto bufs = BufRing::create(*second, kGroup, 8, 4096);
  ASSERT_TRUE(bufs) << bufs.error().message();

  { BufRing gone = std::move(orphan).value(); }  // destroyed: must only unmap

  // The second ring's registration is intact: the group is still taken.
  auto again = BufRing::create(*second, kGroup, 8, 4096);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().value(), EEXIST) << again.error().message();
}

TEST(UringRing, ABufferRingDestroyedFirstGivesItsGroupBack) {
  if (const auto why = uring_unusable()) {
    GTEST_SKIP() << *why;
  }
  auto ring = Ring::create(8, 16, false);
  ASSERT_TRUE(ring) << ring.error().message();
  {
    auto bufs = BufRing::create(*ring, 5, 8, 4096);
    ASSERT_TRUE(bufs) << bufs.error().message();
  }
  auto again = BufRing::create(*ring, 5, 8, 4096);
  EXPECT_TRUE(again) << again.error().message();
}

}  // namespace
}  // namespace netecho::io
