#include "client/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace netecho::client {
namespace {

constexpr std::uint64_t kSecond = 1'000'000'000ULL;

// Percentiles to check, in parts per million (so that the reference rank can
// be computed with exact integer arithmetic, independently of the
// floating-point rank computation inside Histogram).
std::vector<std::uint64_t> percentiles_ppm() {
  std::vector<std::uint64_t> ppm;
  // Every 0.1 % from 0 to 100 %.
  for (std::uint64_t p = 0; p <= 100'000'000; p += 100'000) ppm.push_back(p);
  // The usual tail percentiles.
  for (std::uint64_t p : {99'500'000ULL, 99'900'000ULL, 99'950'000ULL, 99'990'000ULL, 99'999'000ULL,
                          99'999'900ULL, 99'999'990ULL, 99'999'999ULL, 1ULL, 10ULL}) {
    ppm.push_back(p);
  }
  return ppm;
}

// Exact nearest-rank percentile of `sorted`: the sample of rank
// ceil(p / 100 * n), with rank 0 treated as rank 1.
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, std::uint64_t ppm) {
  const std::uint64_t n = sorted.size();
  constexpr std::uint64_t kScale = 100'000'000;  // 100 % in ppm.
  std::uint64_t rank = (ppm * n + kScale - 1) / kScale;
  rank = std::clamp<std::uint64_t>(rank, 1, n);
  return sorted[rank - 1];
}

double relative_error(std::uint64_t reported, std::uint64_t exact) {
  if (reported == exact) return 0.0;
  const double diff = std::fabs(static_cast<double>(reported) - static_cast<double>(exact));
  return diff / static_cast<double>(std::max<std::uint64_t>(exact, 1));
}

// Records `values` into a histogram and checks count, min, max, mean,
// stddev and every percentile in percentiles_ppm() against the exact values.
// Returns the largest relative percentile error observed.
double check_against_exact(const std::string& name, std::vector<std::uint64_t> values) {
  Histogram h;
  for (std::uint64_t v : values) h.record(v);
  std::sort(values.begin(), values.end());

  EXPECT_EQ(h.count(), values.size()) << name;
  EXPECT_EQ(h.min(), values.front()) << name;
  EXPECT_EQ(h.max(), values.back()) << name;
  EXPECT_EQ(h.percentile(0.0), values.front()) << name;
  EXPECT_EQ(h.percentile(100.0), values.back()) << name;

  long double sum = 0;
  for (std::uint64_t v : values) sum += static_cast<long double>(v);
  const long double mean = sum / static_cast<long double>(values.size());
  long double sq = 0;
  for (std::uint64_t v : values) {
    const long double d = static_cast<long double>(v) - mean;
    sq += d * d;
  }
  const auto stddev = static_cast<double>(std::sqrt(sq / static_cast<long double>(values.size())));
  EXPECT_NEAR(h.mean(), static_cast<double>(mean), 1e-9 * static_cast<double>(mean) + 1e-9) << name;
  EXPECT_NEAR(h.stddev(), stddev, 1e-6 * stddev + 1e-6) << name;

  double worst = 0.0;
  for (std::uint64_t ppm : percentiles_ppm()) {
    const double p = static_cast<double>(ppm) / 1e6;
    const std::uint64_t exact = exact_percentile(values, ppm);
    const std::uint64_t reported = h.percentile(p);
    const double err = relative_error(reported, exact);
    worst = std::max(worst, err);
    EXPECT_LE(err, Histogram::kMaxRelativeError)
        << name << " p=" << p << " exact=" << exact << " reported=" << reported;
  }
  std::printf("[ metric   ] %-28s n=%zu max relative error = %.5f%%\n", name.c_str(), values.size(),
              worst * 100.0);
  return worst;
}

TEST(HistogramLayoutTest, IndicesAreDenseMonotoneAndInvertible) {
  EXPECT_EQ(Histogram::kBucketCount, 3808U);
  for (std::size_t i = 0; i < Histogram::kBucketCount; ++i) {
    const std::uint64_t lo = Histogram::bucket_lowest(i);
    const std::uint64_t hi = Histogram::bucket_highest(i);
    ASSERT_LE(lo, hi);
    ASSERT_EQ(Histogram::bucket_index(lo), i);
    ASSERT_EQ(Histogram::bucket_index(hi), i);
    if (i + 1 < Histogram::kBucketCount) {
      ASSERT_EQ(Histogram::bucket_lowest(i + 1), hi + 1);
    }
    // Relative width bound: the bucket midpoint is within 1/256 of any
    // member value.
    if (lo > 0) {
      const std::uint64_t mid = lo + (hi - lo + 1) / 2;
      ASSERT_LE(relative_error(mid, lo), Histogram::kMaxRelativeError);
      ASSERT_LE(relative_error(mid, hi), Histogram::kMaxRelativeError);
    }
  }
  EXPECT_EQ(Histogram::bucket_index(Histogram::kHighestTrackableNs), Histogram::kBucketCount - 1);
  EXPECT_EQ(Histogram::bucket_index(~std::uint64_t{0}), Histogram::kBucketCount - 1);
  // Small values are exact.
  for (std::uint64_t v = 0; v < 256; ++v) {
    EXPECT_EQ(Histogram::bucket_lowest(Histogram::bucket_index(v)), v);
    EXPECT_EQ(Histogram::bucket_highest(Histogram::bucket_index(v)), v);
  }
}

TEST(HistogramTest, EmptyHistogram) {
  Histogram h;
  EXPECT_EQ(h.count(), 0U);
  EXPECT_EQ(h.saturated(), 0U);
  EXPECT_EQ(h.min(), 0U);
  EXPECT_EQ(h.max(), 0U);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stddev(), 0.0);
  EXPECT_EQ(h.percentile(0.0), 0U);
  EXPECT_EQ(h.percentile(50.0), 0U);
  EXPECT_EQ(h.percentile(100.0), 0U);
  EXPECT_TRUE(h.distribution().empty());
  int buckets = 0;
  h.for_each_bucket([&](const Histogram::Bucket&) { ++buckets; });
  EXPECT_EQ(buckets, 0);
}

TEST(HistogramTest, RankForPercentile) {
  EXPECT_EQ(Histogram::rank_for_percentile(0.0, 1000), 0U);
  EXPECT_EQ(Histogram::rank_for_percentile(-5.0, 1000), 0U);
  EXPECT_EQ(Histogram::rank_for_percentile(std::nan(""), 1000), 0U);
  EXPECT_EQ(Histogram::rank_for_percentile(0.01, 1000), 1U);
  EXPECT_EQ(Histogram::rank_for_percentile(50.0, 3), 2U);
  EXPECT_EQ(Histogram::rank_for_percentile(50.0, 4), 2U);
  EXPECT_EQ(Histogram::rank_for_percentile(99.9, 1000), 999U);
  EXPECT_EQ(Histogram::rank_for_percentile(99.99, 10000), 9999U);
  EXPECT_EQ(Histogram::rank_for_percentile(99.999, 100000), 99999U);
  EXPECT_EQ(Histogram::rank_for_percentile(99.9, 1001), 1000U);
  EXPECT_EQ(Histogram::rank_for_percentile(100.0, 1000), 1000U);
  EXPECT_EQ(Histogram::rank_for_percentile(250.0, 1000), 1000U);
}

TEST(HistogramTest, SingleValue) {
  Histogram h;
  h.record(123'456'789);
  EXPECT_EQ(h.count(), 1U);
  for (double p : {0.0, 1.0, 50.0, 99.0, 100.0}) {
    EXPECT_EQ(h.percentile(p), 123'456'789U) << p;
  }
  EXPECT_DOUBLE_EQ(h.mean(), 123'456'789.0);
  EXPECT_EQ(h.stddev(), 0.0);
}

TEST(HistogramTest, UniformDistribution) {
  std::mt19937_64 rng(0x5EED0001);
  std::uniform_int_distribution<std::uint64_t> dist(1'000, 10'000'000);
  std::vector<std::uint64_t> values(500'000);
  for (auto& v : values) v = dist(rng);
  check_against_exact("uniform 1us..10ms", std::move(values));
}

TEST(HistogramTest, LogUniformOverWholeRange) {
  // Spans 1 ns .. 60 s, touching every power of two in the layout.
  std::mt19937_64 rng(0x5EED0002);
  std::uniform_real_distribution<double> dist(
      0.0, std::log(static_cast<double>(Histogram::kHighestTrackableNs)));
  std::vector<std::uint64_t> values(500'000);
  for (auto& v : values) v = static_cast<std::uint64_t>(std::exp(dist(rng)));
  check_against_exact("log-uniform 1ns..60s", std::move(values));
}

TEST(HistogramTest, ExponentialDistribution) {
  std::mt19937_64 rng(0x5EED0003);
  std::exponential_distribution<double> dist(1.0 / 250'000.0);  // Mean 250us.
  std::vector<std::uint64_t> values(500'000);
  for (auto& v : values) v = static_cast<std::uint64_t>(dist(rng)) + 200;
  check_against_exact("exponential mean 250us", std::move(values));
}

TEST(HistogramTest, BimodalDistribution) {
  std::mt19937_64 rng(0x5EED0004);
  std::normal_distribution<double> fast(50'000.0, 5'000.0);       // 50us.
  std::normal_distribution<double> slow(5'000'000.0, 500'000.0);  // 5ms.
  std::bernoulli_distribution pick_slow(0.1);
  std::vector<std::uint64_t> values(500'000);
  for (auto& v : values) {
    const double x = pick_slow(rng) ? slow(rng) : fast(rng);
    v = static_cast<std::uint64_t>(std::max(x, 1.0));
  }
  check_against_exact("bimodal 50us/5ms", std::move(values));
}

TEST(HistogramTest, ValuesOnBucketBoundaries) {
  // Every bucket's lowest and highest value, plus powers of two and their
  // neighbours, shuffled.
  std::vector<std::uint64_t> values;
  for (std::size_t i = 0; i < Histogram::kBucketCount; ++i) {
    values.push_back(Histogram::bucket_lowest(i));
    values.push_back(std::min(Histogram::bucket_highest(i), Histogram::kHighestTrackableNs));
  }
  for (unsigned b = 1; b < 36; ++b) {
    const std::uint64_t p2 = std::uint64_t{1} << b;
    values.insert(values.end(), {p2 - 1, p2, p2 + 1});
  }
  std::mt19937_64 rng(0x5EED0005);
  std::shuffle(values.begin(), values.end(), rng);
  check_against_exact("bucket boundaries", std::move(values));
}

TEST(HistogramTest, AllEqualValues) {
  for (std::uint64_t v :
       {std::uint64_t{0}, std::uint64_t{77}, std::uint64_t{1'000'003}, 59 * kSecond}) {
    std::vector<std::uint64_t> values(100'000, v);
    const double err = check_against_exact("all equal " + std::to_string(v), values);
    EXPECT_EQ(err, 0.0);  // Clamping to [min, max] makes these exact.
  }
}

TEST(HistogramTest, OneHugeOutlier) {
  std::mt19937_64 rng(0x5EED0006);
  std::uniform_int_distribution<std::uint64_t> dist(900'000, 1'100'000);
  std::vector<std::uint64_t> values(200'000);
  for (auto& v : values) v = dist(rng);
  values[12'345] = 59 * kSecond + 123'456'789;
  check_against_exact("1ms + one 59s outlier", values);
  Histogram h;
  for (std::uint64_t v : values) h.record(v);
  EXPECT_EQ(h.percentile(100.0), 59 * kSecond + 123'456'789);
  EXPECT_LE(h.percentile(99.9995), 1'100'000U * 257 / 256);
  EXPECT_EQ(h.saturated(), 0U);
}

TEST(HistogramTest, ValuesBelow100ns) {
  std::mt19937_64 rng(0x5EED0007);
  std::uniform_int_distribution<std::uint64_t> dist(0, 99);
  std::vector<std::uint64_t> values(200'000);
  for (auto& v : values) v = dist(rng);
  const double err = check_against_exact("below 100ns", values);
  EXPECT_EQ(err, 0.0);  // Small values are recorded exactly.
}

TEST(HistogramTest, ValuesAbove60sSaturate) {
  std::mt19937_64 rng(0x5EED0008);
  std::uniform_int_distribution<std::uint64_t> normal(10'000, 20'000);
  std::uniform_int_distribution<std::uint64_t> huge(61 * kSecond, 3600 * kSecond);
  Histogram h;
  std::vector<std::uint64_t> values;
  constexpr std::uint64_t kNormal = 99'000;
  constexpr std::uint64_t kHuge = 1'000;
  for (std::uint64_t i = 0; i < kNormal; ++i) values.push_back(normal(rng));
  for (std::uint64_t i = 0; i < kHuge; ++i) values.push_back(huge(rng));
  values.push_back(Histogram::kHighestTrackableNs);      // Not saturated.
  values.push_back(Histogram::kHighestTrackableNs + 1);  // Saturated.
  std::shuffle(values.begin(), values.end(), rng);
  for (std::uint64_t v : values) h.record(v);
  std::sort(values.begin(), values.end());

  EXPECT_EQ(h.count(), values.size());
  EXPECT_EQ(h.saturated(), kHuge + 1);
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.percentile(100.0), values.back());
  // Saturated samples live in the top bucket.
  std::uint64_t top_count = 0;
  h.for_each_bucket([&](const Histogram::Bucket& b) {
    if (b.highest_ns >= Histogram::kHighestTrackableNs) top_count = b.count;
  });
  EXPECT_EQ(top_count, kHuge + 2);
  // Percentiles below the saturated tail are accurate; ranks landing on
  // saturated samples report the 60 s clamp value as a lower bound.
  double worst = 0.0;
  for (std::uint64_t ppm : percentiles_ppm()) {
    const double p = static_cast<double>(ppm) / 1e6;
    const std::uint64_t rank = std::clamp<std::uint64_t>(
        (ppm * values.size() + 99'999'999) / 100'000'000, 1, values.size());
    const std::uint64_t exact = values[rank - 1];
    const std::uint64_t reported = h.percentile(p);
    if (rank == values.size()) {
      EXPECT_EQ(reported, exact);
    } else if (exact > Histogram::kHighestTrackableNs) {
      EXPECT_EQ(reported, Histogram::kHighestTrackableNs) << p;
    } else {
      const double err = relative_error(reported, exact);
      worst = std::max(worst, err);
      EXPECT_LE(err, Histogram::kMaxRelativeError) << p;
    }
  }
  std::printf(
      "[ metric   ] %-28s n=%zu max relative error = %.5f%%"
      " (non-saturated ranks)\n",
      "above 60s (1% saturated)", values.size(), worst * 100.0);
}

TEST(HistogramTest, RecordNEqualsRepeatedRecord) {
  Histogram a;
  Histogram b;
  std::mt19937_64 rng(0x5EED0009);
  std::uniform_int_distribution<std::uint64_t> value(0, 70 * kSecond);
  std::uniform_int_distribution<std::uint64_t> times(0, 20);
  for (int i = 0; i < 5'000; ++i) {
    const std::uint64_t v = value(rng);
    const std::uint64_t n = times(rng);
    a.record_n(v, n);
    for (std::uint64_t k = 0; k < n; ++k) b.record(v);
  }
  EXPECT_EQ(a.count(), b.count());
  EXPECT_EQ(a.saturated(), b.saturated());
  EXPECT_EQ(a.min(), b.min());
  EXPECT_EQ(a.max(), b.max());
  EXPECT_NEAR(a.mean(), b.mean(), 1e-9 * b.mean());
  EXPECT_NEAR(a.stddev(), b.stddev(), 1e-6 * b.stddev());
  for (std::uint64_t ppm : percentiles_ppm()) {
    const double p = static_cast<double>(ppm) / 1e6;
    EXPECT_EQ(a.percentile(p), b.percentile(p)) << p;
  }

  Histogram c;
  c.record_n(42, 0);  // A zero count must not touch min/max.
  EXPECT_EQ(c.count(), 0U);
  EXPECT_EQ(c.min(), 0U);
  EXPECT_EQ(c.max(), 0U);
  c.record_n(5'000, 1'000'000'000'000ULL);
  EXPECT_EQ(c.count(), 1'000'000'000'000ULL);
  EXPECT_EQ(c.percentile(50.0), 5'000U);
  EXPECT_DOUBLE_EQ(c.mean(), 5'000.0);
  EXPECT_EQ(c.stddev(), 0.0);
}

TEST(HistogramTest, MergeEqualsRecordingIntoOne) {
  std::mt19937_64 rng(0x5EED000A);
  std::exponential_distribution<double> dist(1.0 / 1'000'000.0);
  Histogram left;
  Histogram right;
  Histogram all;
  for (int i = 0; i < 300'000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng));
    (i % 3 == 0 ? left : right).record(v);
    all.record(v);
  }
  right.record(70 * kSecond);
  all.record(70 * kSecond);

  Histogram merged;
  merged.merge(left);
  merged.merge(right);
  merged.merge(Histogram{});  // Merging an empty histogram is a no-op.

  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.saturated(), all.saturated());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_NEAR(merged.mean(), all.mean(), 1e-9 * all.mean());
  EXPECT_NEAR(merged.stddev(), all.stddev(), 1e-6 * all.stddev());
  for (std::uint64_t ppm : percentiles_ppm()) {
    const double p = static_cast<double>(ppm) / 1e6;
    EXPECT_EQ(merged.percentile(p), all.percentile(p)) << p;
  }
  std::vector<Histogram::Bucket> merged_buckets;
  std::vector<Histogram::Bucket> all_buckets;
  merged.for_each_bucket([&](const Histogram::Bucket& b) { merged_buckets.push_back(b); });
  all.for_each_bucket([&](const Histogram::Bucket& b) { all_buckets.push_back(b); });
  ASSERT_EQ(merged_buckets.size(), all_buckets.size());
  for (std::size_t i = 0; i < all_buckets.size(); ++i) {
    EXPECT_EQ(merged_buckets[i].lowest_ns, all_buckets[i].lowest_ns);
    EXPECT_EQ(merged_buckets[i].count, all_buckets[i].count);
  }

  // Merging into an empty histogram reproduces the source.
  Histogram copy;
  copy.merge(all);
  EXPECT_EQ(copy.min(), all.min());
  EXPECT_EQ(copy.percentile(99.0), all.percentile(99.0));
}

TEST(HistogramTest, ResetClearsEverything) {
  Histogram h;
  h.record(10);
  h.record(100 * kSecond);
  h.reset();
  EXPECT_EQ(h.count(), 0U);
  EXPECT_EQ(h.saturated(), 0U);
  EXPECT_EQ(h.min(), 0U);
  EXPECT_EQ(h.max(), 0U);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.percentile(50.0), 0U);
  h.record(1'000);
  EXPECT_EQ(h.min(), 1'000U);
  EXPECT_EQ(h.max(), 1'000U);
  EXPECT_EQ(h.percentile(50.0), 1'000U);
}

TEST(HistogramTest, ForEachBucketCoversAllSamples) {
  Histogram h;
  std::mt19937_64 rng(0x5EED000B);
  std::uniform_int_distribution<std::uint64_t> dist(0, 2 * kSecond);
  for (int i = 0; i < 100'000; ++i) h.record(dist(rng));
  std::uint64_t total = 0;
  std::uint64_t previous_high = 0;
  bool first = true;
  h.for_each_bucket([&](const Histogram::Bucket& b) {
    EXPECT_GT(b.count, 0U);
    EXPECT_LE(b.lowest_ns, b.highest_ns);
    if (!first) {
      EXPECT_GT(b.lowest_ns, previous_high);
    }
    first = false;
    previous_high = b.highest_ns;
    total += b.count;
  });
  EXPECT_EQ(total, h.count());
}

TEST(HistogramTest, DistributionIsMonotoneAndDensifies) {
  Histogram h;
  std::mt19937_64 rng(0x5EED000C);
  std::exponential_distribution<double> dist(1.0 / 100'000.0);
  for (int i = 0; i < 1'000'000; ++i) {
    h.record(static_cast<std::uint64_t>(dist(rng)));
  }
  const auto points = h.distribution();
  ASSERT_GE(points.size(), 10U);
  EXPECT_EQ(points.front().percentile, 0.0);
  EXPECT_EQ(points.front().value_ns, h.min());
  EXPECT_EQ(points.back().percentile, 100.0);
  EXPECT_EQ(points.back().value_ns, h.max());
  EXPECT_EQ(points.back().cumulative_count, h.count());
  // The first ticks are 0, 10, 20, 30, 40, 50, 55, ...
  EXPECT_DOUBLE_EQ(points[1].percentile, 10.0);
  EXPECT_DOUBLE_EQ(points[5].percentile, 50.0);
  EXPECT_DOUBLE_EQ(points[6].percentile, 55.0);
  EXPECT_DOUBLE_EQ(points[10].percentile, 75.0);
  EXPECT_DOUBLE_EQ(points[11].percentile, 77.5);
  for (std::size_t i = 1; i < points.size(); ++i) {
    EXPECT_GT(points[i].percentile, points[i - 1].percentile);
    EXPECT_GE(points[i].value_ns, points[i - 1].value_ns);
    EXPECT_GE(points[i].cumulative_count, points[i - 1].cumulative_count);
    if (i + 1 < points.size()) {
      EXPECT_LE(points[i].percentile, Histogram::kMaxDistributionPercentile);
    }
  }
  // Spacing shrinks towards 100 %.
  for (std::size_t i = 2; i + 1 < points.size(); ++i) {
    EXPECT_LE(points[i].percentile - points[i - 1].percentile,
              points[i - 1].percentile - points[i - 2].percentile + 1e-9);
  }
  // Each point agrees with percentile() and its cumulative count covers
  // the point's rank.
  for (const auto& point : points) {
    EXPECT_EQ(point.value_ns, h.percentile(point.percentile)) << point.percentile;
    EXPECT_GE(point.cumulative_count, Histogram::rank_for_percentile(point.percentile, h.count()));
  }
}

TEST(HistogramTest, DistributionStopsWhenCountExhausted) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 10; ++v) h.record(v * 1'000);
  const auto points = h.distribution();
  ASSERT_FALSE(points.empty());
  // With 10 samples rank 10 is first reached at the 91.25 % tick (the 19th),
  // far before 99.9999 %; then only the final 100 % point follows.
  ASSERT_EQ(points.size(), 20U);
  EXPECT_DOUBLE_EQ(points[18].percentile, 91.25);
  EXPECT_EQ(points.back().percentile, 100.0);
  EXPECT_EQ(points.back().value_ns, 10'000U);
  EXPECT_EQ(points[points.size() - 2].cumulative_count, 10U);
}

}  // namespace
}  // namespace netecho::client
