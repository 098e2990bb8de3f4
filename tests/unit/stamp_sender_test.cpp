// netecho stamp's bookkeeping: the delays of the four timestamps, the reflector's kind and the
// loss by direction, RFC 3550's jitter.

#include <gtest/gtest.h>

#include "client/probe_stats.hpp"
#include "client/stamp/stats.hpp"

namespace netecho::client {
namespace {

using std::chrono::nanoseconds;

TEST(StampDelays, RoundTripLeavesTheReflectorOut) {
  const StampTimes t{1000, 1300, 1700, 2100};
  const auto d = delays_of(t, false);
  EXPECT_EQ(d.reflector, nanoseconds(400));
  EXPECT_EQ(d.round_trip, nanoseconds(700));
  EXPECT_FALSE(d.far_end);
  EXPECT_FALSE(d.near_end);
  const auto s = delays_of(t, true);
  EXPECT_EQ(s.far_end, nanoseconds(300));
  EXPECT_EQ(s.near_end, nanoseconds(400));
}

TEST(DirectionLoss, OurSequenceNumbersMeanStateless) {
  DirectionLoss d;
  EXPECT_EQ(d.kind(), ReflectorKind::unknown);
  d.on_reply(0, 0);
  d.on_reply(2, 2);
  EXPECT_EQ(d.kind(), ReflectorKind::stateless);
  EXPECT_FALSE(d.forward_lost());
  EXPECT_FALSE(d.backward_lost(2));
}

TEST(DirectionLoss, GapsInTheReflectorsCountAreLossOnTheWayThere) {
  // Sent 0..9. Packet 2 lost on the way there, the reply to 5 on the way back; 8 and 9 after
  // the last reply (7), either way.
  DirectionLoss d;
  const std::uint32_t reflector[] = {0, 1, 0, 2, 3, 0, 5, 6};
  std::uint64_t received = 0;
  for (std::uint32_t s = 0; s < 8; ++s) {
    if (s == 2 || s == 5) {
      continue;
    }
    d.on_reply(s, reflector[s]);
    ++received;
  }
  EXPECT_EQ(d.kind(), ReflectorKind::stateful);
  EXPECT_EQ(d.forward_lost(), 1u);
  EXPECT_EQ(d.backward_lost(received), 1u);
  EXPECT_EQ(d.unknown_lost(10), 2u);
}

TEST(Jitter, Rfc3550Estimate) {
  Jitter j;
  j.add(nanoseconds(1000));
  EXPECT_FALSE(j.value());
  j.add(nanoseconds(2600));  // |D| = 1600: J = 1600 / 16
  EXPECT_EQ(j.value(), nanoseconds(100));
  j.add(nanoseconds(1000));  // |D| = 1600: J += (1600 - 100) / 16
  EXPECT_EQ(j.value(), nanoseconds(193));
}

}  // namespace
}  // namespace netecho::client
