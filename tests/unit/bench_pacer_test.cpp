// The open-loop schedule: evenly spaced over all flows, exact, and free of drift.

#include "client/bench/pacer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace netecho::client {
namespace {

using std::chrono::nanoseconds;
const Pacer::Clock::time_point kStart{nanoseconds(1'000'000'000)};

TEST(BenchPacer, UnpacedScheduleIsClosedLoop) {
  const Pacer p;
  EXPECT_FALSE(p.paced());
}

TEST(BenchPacer, OneFlowAtOneThousandPerSecond) {
  const Pacer p = Pacer::for_flow(kStart, 1000, 0, 1);
  ASSERT_TRUE(p.paced());
  EXPECT_EQ(p.due(0), kStart);
  EXPECT_EQ(p.due(1) - kStart, nanoseconds(1'000'000));
  EXPECT_EQ(p.due(1000) - kStart, nanoseconds(1'000'000'000));
}

TEST(BenchPacer, FlowsInterleaveIntoOneEvenStream) {
  // 4 flows at 1000/s in all: each flow every 4 ms, the flows 1 ms apart.
  constexpr std::uint32_t kFlows = 4;
  std::vector<Pacer::Clock::time_point> all;
  for (std::uint32_t f = 0; f < kFlows; ++f) {
    const Pacer p = Pacer::for_flow(kStart, 1000, f, kFlows);
    EXPECT_EQ(p.due(1) - p.due(0), nanoseconds(4'000'000));
    for (std::uint64_t k = 0; k < 250; ++k) {
      all.push_back(p.due(k));
    }
  }
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i] - kStart, nanoseconds(static_cast<long long>(i) * 1'000'000)) << i;
  }
}

TEST(BenchPacer, FractionalPeriodsDoNotDrift) {
  // 3 messages per second: a period of 333,333,333.33 ns. Added up, a rounded period would be
  // off by a third of a nanosecond per message; computed from k, message 3e9 is due at 1e9 s.
  const Pacer p = Pacer::for_flow(kStart, 3, 0, 1);
  EXPECT_EQ(p.due(3) - kStart, nanoseconds(1'000'000'000));
  EXPECT_EQ(p.due(3'000'000'000ULL) - kStart, nanoseconds(1'000'000'000LL * 1'000'000'000LL));
  EXPECT_EQ(p.due(1) - kStart, nanoseconds(333'333'333));
  EXPECT_EQ(p.due(2) - kStart, nanoseconds(666'666'667));
}

TEST(BenchPacer, HighRatesKeepTheirSpacing) {
  // 2 million per second over 3 flows: flows 500 ns apart, each every 1.5 us.
  const Pacer p1 = Pacer::for_flow(kStart, 2e6, 1, 3);
  EXPECT_EQ(p1.origin() - kStart, nanoseconds(500));
  EXPECT_EQ(p1.due(2) - p1.due(0), nanoseconds(3000));
}

}  // namespace
}  // namespace netecho::client
