// Log-linear latency histogram over integer nanoseconds.
//
// Bucket layout
// -------------
// The histogram is log-linear, in the spirit of HdrHistogram: every power of
// two is split into kSubBucketHalfCount (128) equally wide sub-buckets.
//
//   * Values 0 .. 255 each get their own bucket (width 1), so they are
//     recorded exactly. This covers everything below the nominal 100 ns floor,
//     which therefore needs no special treatment.
//   * A value v >= 256 has bit width b = std::bit_width(v) >= 9. Let
//     shift = b - 8. Its bucket covers [top << shift, ((top + 1) << shift) - 1]
//     where top = v >> shift lies in [128, 255]; the bucket width is 2^shift.
//   * Both cases are captured by a single branch-free formula:
//       shift = std::bit_width(v | 255) - 8          (0 for v < 256)
//       index = (shift << 7) + (v >> shift)
//     Indices 0..255 are the exact buckets, and each further power of two
//     occupies the next 128 indices, so the index space is dense.
//   * The highest trackable value is kHighestTrackableNs (60 s). Larger
//     values are clamped to it for bucketing (they land in the top bucket)
//     and are additionally counted by saturated(). min(), max(), mean() and
//     stddev() always use the true, unclamped values.
//   * bucket_index(60 s) = 28 * 128 + 223 = 3807, so there are kBucketCount =
//     3808 buckets, i.e. 30464 bytes of uint64_t counters.
//
// Error bound
// -----------
// A percentile is answered by locating the bucket holding the sample of the
// requested nearest rank and reporting that bucket's midpoint,
// lowest + width / 2, clamped to [min(), max()].
//   * Buckets of width 1 (all values below 256) are exact.
//   * For a bucket with shift s >= 1, the lowest value is at least 128 * 2^s
//     and every value v in it satisfies |midpoint - v| <= 2^(s-1). Hence
//       |reported - v| / v <= 2^(s-1) / (128 * 2^s) = 1/256 ~= 0.39 %.
//   * Clamping to [min(), max()] can only move the report closer to the true
//     sample, because every sample lies inside that interval.
//   * The ranks 1 and count() are reported exactly (min() and max()).
// So any reported percentile is within 0.39 % of the exact nearest-rank
// sample, comfortably inside the 1 % requirement, except for ranks that land
// on saturated samples (> 60 s), which report kHighestTrackableNs (clamped to
// [min(), max()]) as a lower bound.
//
// Complexity
// ----------
//   * record() / record_n(): O(1), no loops, no allocation, noexcept.
//   * merge(), reset(), percentile(), for_each_bucket(): O(kBucketCount).
//   * distribution(): O(kBucketCount + number of points), one pass.
//   * Memory: kBucketCount * 8 bytes, allocated once by the constructor.
//
// mean() and stddev() come from running sums of the exact (unclamped) values
// and their squares, taken relative to the first recorded value so that a
// large mean with a small spread does not cancel catastrophically.
//
// The class is not thread-safe; use one histogram per thread and merge().
// It is copyable and movable; a moved-from histogram may only be destroyed
// or assigned to.

#ifndef NETECHO_CLIENT_HISTOGRAM_HPP_
#define NETECHO_CLIENT_HISTOGRAM_HPP_

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace netecho::client {

namespace histogram_detail {

// Number of sub-buckets per power of two is 2^kSubBucketBits.
inline constexpr unsigned kSubBucketBits = 7;
// Values below kLinearLimit (256) are recorded exactly.
inline constexpr unsigned kLinearBits = kSubBucketBits + 1;
inline constexpr std::uint64_t kLinearMask = (std::uint64_t{1} << kLinearBits) - 1;

// Returns the bucket index of `value`. The caller must pass a value that is
// at most the highest trackable value; the function itself is total.
constexpr std::size_t bucket_index(std::uint64_t value) noexcept {
  const auto shift = static_cast<unsigned>(std::bit_width(value | kLinearMask)) - kLinearBits;
  return (static_cast<std::size_t>(shift) << kSubBucketBits) +
         static_cast<std::size_t>(value >> shift);
}

// Returns the shift (log2 of the width) of the bucket at `index`.
constexpr unsigned bucket_shift(std::size_t index) noexcept {
  const std::size_t group = index >> kSubBucketBits;
  return group == 0 ? 0U : static_cast<unsigned>(group - 1);
}

// Returns the smallest value that maps to the bucket at `index`.
constexpr std::uint64_t bucket_lowest(std::size_t index) noexcept {
  const unsigned shift = bucket_shift(index);
  const std::size_t top = index - (static_cast<std::size_t>(shift) << kSubBucketBits);
  return static_cast<std::uint64_t>(top) << shift;
}

// Returns the largest value that maps to the bucket at `index`.
constexpr std::uint64_t bucket_highest(std::size_t index) noexcept {
  return bucket_lowest(index) + ((std::uint64_t{1} << bucket_shift(index)) - 1);
}

// Returns the value reported for samples in the bucket at `index`: the
// bucket midpoint, which halves the worst-case error of either end.
constexpr std::uint64_t bucket_midpoint(std::size_t index) noexcept {
  return bucket_lowest(index) + ((std::uint64_t{1} << bucket_shift(index)) >> 1);
}

}  // namespace histogram_detail

class Histogram {
 public:
  // Values above this (60 s) are clamped into the top bucket and counted by
  // saturated().
  static constexpr std::uint64_t kHighestTrackableNs = 60'000'000'000ULL;
  // Sub-buckets per power of two; determines the relative error bound.
  static constexpr std::size_t kSubBucketHalfCount = std::size_t{1}
                                                     << histogram_detail::kSubBucketBits;
  // Total number of buckets (3808).
  static constexpr std::size_t kBucketCount =
      histogram_detail::bucket_index(kHighestTrackableNs) + 1;
  // Guaranteed bound on |reported - exact| / exact for any percentile whose
  // rank does not fall on a saturated sample (1/256, see the file comment).
  static constexpr double kMaxRelativeError = 1.0 / 256.0;
  // The last percentile tick emitted by distribution() before the final
  // 100 % point.
  static constexpr double kMaxDistributionPercentile = 99.9999;
  // Ticks emitted per halving of the distance to 100 % in distribution().
  static constexpr int kTicksPerHalfDistance = 5;

  // One bucket as reported by for_each_bucket(). `lowest_ns` and
  // `highest_ns` are the inclusive value range mapped to the bucket; the top
  // bucket additionally holds the saturated samples.
  struct Bucket {
    std::uint64_t lowest_ns;
    std::uint64_t highest_ns;
    std::uint64_t count;
  };

  // One point of a percentile distribution plot: `value_ns` is
  // percentile(percentile) and `cumulative_count` is the number of samples
  // recorded in the buckets up to and including the one holding that value.
  struct DistributionPoint {
    double percentile;
    std::uint64_t value_ns;
    std::uint64_t cumulative_count;
  };

  // Creates an empty histogram. Allocates kBucketCount counters once; this
  // is the only allocation the histogram performs (copies aside).
  Histogram();

  // Records one sample of `ns` nanoseconds. Constant time, never allocates,
  // never throws.
  void record(std::uint64_t ns) noexcept { record_n(ns, 1); }

  // Records `count` samples of `ns` nanoseconds, exactly as if record(ns)
  // had been called `count` times. A zero count is a no-op.
  void record_n(std::uint64_t ns, std::uint64_t count) noexcept {
    if (count == 0) return;
    if (count_ == 0) shift_ = static_cast<long double>(ns);
    const std::uint64_t clamped = std::min(ns, kHighestTrackableNs);
    counts_[histogram_detail::bucket_index(clamped)] += count;
    saturated_ += ns > kHighestTrackableNs ? count : 0;
    count_ += count;
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
    const long double offset = static_cast<long double>(ns) - shift_;
    const auto weight = static_cast<long double>(count);
    sum_ += offset * weight;
    sum_sq_ += offset * offset * weight;
  }

  // The exact figures kept beside the bucket counts: what, with for_each_bucket(), a document
  // must hold to rebuild the histogram (bench's JSON, docs/BENCH.md).
  struct Summary {
    std::uint64_t count;
    std::uint64_t saturated;
    std::uint64_t min;
    std::uint64_t max;
    double mean;
    double stddev;
  };

  // Rebuilds a histogram from its non-empty buckets, given as {lowest_ns, count} in any order,
  // and its summary: the inverse of for_each_bucket() and the accessors, so that histograms
  // written by separate processes merge bucket by bucket, exactly as if one had recorded
  // everything (mean and stddev up to floating-point rounding). Throws std::invalid_argument,
  // naming the offending figure, when a lowest_ns starts no bucket or the parts disagree.
  static Histogram rebuild(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& buckets,
                           const Summary& summary);
  Summary summary() const noexcept;

  // Adds all samples of `other` to this histogram. The result is the same
  // as if every sample of both had been recorded into one histogram (up to
  // floating-point rounding of the running sums behind mean()/stddev()).
  void merge(const Histogram& other) noexcept;

  // Removes all samples.
  void reset() noexcept;

  // Returns the number of recorded samples.
  std::uint64_t count() const noexcept { return count_; }

  // Returns the number of samples that exceeded kHighestTrackableNs.
  std::uint64_t saturated() const noexcept { return saturated_; }

  // Returns the exact smallest recorded value, or 0 if empty.
  std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }

  // Returns the exact largest recorded value, or 0 if empty.
  std::uint64_t max() const noexcept { return max_; }

  // Returns the arithmetic mean of the exact recorded values, or 0 if empty.
  double mean() const noexcept;

  // Returns the population standard deviation of the exact recorded values
  // (divides by count()), or 0 if empty.
  double stddev() const noexcept;

  // Returns the value at percentile `p` (clamped to [0, 100]; NaN is treated
  // as 0) using the nearest-rank definition: the sample of rank
  // rank_for_percentile(p, count()) in ascending order. Ranks 0 and 1 report
  // min() and rank count() reports max() exactly; other ranks report the
  // midpoint of the bucket holding that sample, clamped to [min(), max()].
  // Returns 0 if the histogram is empty.
  std::uint64_t percentile(double p) const noexcept;

  // Returns ceil(p / 100 * count) clamped to [0, count], where a product
  // that is within 1e-12 (relative) of an integer is first snapped to it so
  // that decimal percentiles such as 99.9 are not pushed to the next rank by
  // binary floating-point rounding.
  static std::uint64_t rank_for_percentile(double p, std::uint64_t count) noexcept;

  // Calls fn(const Bucket&) for every non-empty bucket in ascending value
  // order.
  template <typename Fn>
  void for_each_bucket(Fn&& fn) const {
    for (std::size_t i = 0; i < kBucketCount; ++i) {
      if (counts_[i] == 0) continue;
      const Bucket bucket{histogram_detail::bucket_lowest(i), histogram_detail::bucket_highest(i),
                          counts_[i]};
      fn(bucket);
    }
  }

  // Returns points for an HdrHistogram-style percentile plot. Ticks start at
  // 0 % and get denser towards 100 %: the remaining distance to 100 % is
  // halved repeatedly and each half is covered by kTicksPerHalfDistance
  // evenly spaced ticks (0, 10, ..., 40, 50, 55, ..., 70, 75, 77.5, ...).
  // Ticks stop after kMaxDistributionPercentile or as soon as a tick's
  // cumulative count reaches count(); a final {100, max(), count()} point is
  // always appended. Percentiles and values are non-decreasing. Returns an
  // empty vector if the histogram is empty.
  std::vector<DistributionPoint> distribution() const;

  // Layout helpers, exposed for tests and exporters.
  static constexpr std::size_t bucket_index(std::uint64_t ns) noexcept {
    return histogram_detail::bucket_index(std::min(ns, kHighestTrackableNs));
  }
  static constexpr std::uint64_t bucket_lowest(std::size_t index) noexcept {
    return histogram_detail::bucket_lowest(index);
  }
  static constexpr std::uint64_t bucket_highest(std::size_t index) noexcept {
    return histogram_detail::bucket_highest(index);
  }

 private:
  // Returns the reported value for the sample of `rank` (1-based), which the
  // caller has located in the bucket at `index`.
  std::uint64_t value_at(std::size_t index, std::uint64_t rank) const noexcept;

  // counts_[i] is the number of samples in bucket i; size kBucketCount.
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t saturated_ = 0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max_ = 0;
  // Running sums of (value - shift_) and of its square over the exact,
  // unclamped values, where shift_ is the first value recorded since the
  // last reset. Shifting by a sample (the "shifted data" algorithm) avoids
  // the catastrophic cancellation that plain sums of squares suffer when the
  // mean is large relative to the spread (e.g. 100k samples of exactly
  // 59 s). long double has a 64-bit mantissa on x86-64.
  long double shift_ = 0;
  long double sum_ = 0;
  long double sum_sq_ = 0;
};

}  // namespace netecho::client

#endif  // NETECHO_CLIENT_HISTOGRAM_HPP_
