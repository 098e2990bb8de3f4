#include "client/histogram.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace netecho::client {

namespace {

namespace hd = histogram_detail;

// Layout sanity checks; see the comment block in histogram.hpp.
static_assert(hd::bucket_index(0) == 0);
static_assert(hd::bucket_index(255) == 255);
static_assert(hd::bucket_index(256) == 256);
static_assert(hd::bucket_index(511) == 383);
static_assert(hd::bucket_index(512) == 384);
static_assert(hd::bucket_lowest(384) == 512 && hd::bucket_highest(383) == 511);
static_assert(Histogram::kBucketCount == 3808);
static_assert(hd::bucket_lowest(Histogram::kBucketCount - 1) <= Histogram::kHighestTrackableNs &&
              Histogram::kHighestTrackableNs <= hd::bucket_highest(Histogram::kBucketCount - 1));

}  // namespace

Histogram::Histogram() : counts_(kBucketCount, 0) {}

void Histogram::merge(const Histogram& other) noexcept {
  if (other.count_ == 0) return;
  if (count_ == 0) {
    shift_ = other.shift_;
    sum_ = other.sum_;
    sum_sq_ = other.sum_sq_;
  } else {
    // Re-express other's sums relative to our shift:
    //   sum (x - a) = sum (x - b) + n (b - a)
    //   sum (x - a)^2 = sum (x - b)^2 + 2 (b - a) sum (x - b) + n (b - a)^2
    const long double delta = other.shift_ - shift_;
    const auto n = static_cast<long double>(other.count_);
    sum_sq_ += other.sum_sq_ + 2 * delta * other.sum_ + n * delta * delta;
    sum_ += other.sum_ + n * delta;
  }
  for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  saturated_ += other.saturated_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

Histogram Histogram::rebuild(
    const std::vector<std::pair<std::uint64_t, std::uint64_t>>& buckets, const Summary& summary) {
  Histogram h;
  std::uint64_t total = 0;
  for (const auto& [lowest, count] : buckets) {
    const std::size_t index = bucket_index(lowest);
    if (lowest > kHighestTrackableNs || bucket_lowest(index) != lowest) {
      throw std::invalid_argument("bucket " + std::to_string(lowest) +
                                  " ns: no bucket starts there");
    }
    h.counts_[index] += count;
    total += count;
  }
  if (total != summary.count) {
    throw std::invalid_argument("the buckets hold " + std::to_string(total) +
                                " samples, the count says " + std::to_string(summary.count));
  }
  if (total == 0) return h;
  if (summary.min > summary.max || h.counts_[bucket_index(summary.min)] == 0 ||
      h.counts_[bucket_index(summary.max)] == 0 || summary.saturated > total ||
      !(summary.stddev >= 0)) {
    throw std::invalid_argument("min, max, saturated or stddev disagree with the buckets");
  }
  h.count_ = total;
  h.saturated_ = summary.saturated;
  h.min_ = summary.min;
  h.max_ = summary.max;
  // Shifted by the mean, the running sums are 0 and n * variance (see shift_).
  const auto n = static_cast<long double>(total);
  h.shift_ = static_cast<long double>(summary.mean);
  h.sum_ = 0;
  h.sum_sq_ = n * static_cast<long double>(summary.stddev) * static_cast<long double>(summary.stddev);
  return h;
}

Histogram::Summary Histogram::summary() const noexcept {
  return {count(), saturated(), min(), max(), mean(), stddev()};
}

void Histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), std::uint64_t{0});
  count_ = 0;
  saturated_ = 0;
  min_ = std::numeric_limits<std::uint64_t>::max();
  max_ = 0;
  shift_ = 0;
  sum_ = 0;
  sum_sq_ = 0;
}

double Histogram::mean() const noexcept {
  if (count_ == 0) return 0.0;
  return static_cast<double>(shift_ + sum_ / static_cast<long double>(count_));
}

double Histogram::stddev() const noexcept {
  if (count_ == 0) return 0.0;
  const auto n = static_cast<long double>(count_);
  // Population variance from the shifted running sums; rounding can make
  // it slightly negative when all samples are (nearly) equal.
  const long double variance = (sum_sq_ - sum_ * sum_ / n) / n;
  return variance > 0 ? static_cast<double>(std::sqrt(variance)) : 0.0;
}

std::uint64_t Histogram::rank_for_percentile(double p, std::uint64_t count) noexcept {
  if (!(p > 0.0) || count == 0) return 0;  // Also catches NaN.
  if (p >= 100.0) return count;
  const long double exact = static_cast<long double>(p) / 100.0L * static_cast<long double>(count);
  const long double nearest = std::round(exact);
  const long double tolerance = 1e-12L * std::max(1.0L, exact);
  const long double snapped = std::fabs(exact - nearest) <= tolerance ? nearest : std::ceil(exact);
  if (snapped <= 0.0L) return 0;
  const auto rank = static_cast<std::uint64_t>(snapped);
  return std::min(rank, count);
}

std::uint64_t Histogram::value_at(std::size_t index, std::uint64_t rank) const noexcept {
  if (rank <= 1) return min_;
  if (rank >= count_) return max_;
  // Saturated samples are the largest ones, so they occupy the top ranks.
  const std::uint64_t value =
      rank > count_ - saturated_ ? kHighestTrackableNs : hd::bucket_midpoint(index);
  return std::clamp(value, min_, max_);
}

std::uint64_t Histogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  const std::uint64_t rank = std::max<std::uint64_t>(1, rank_for_percentile(p, count_));
  if (rank == 1) return min_;
  if (rank >= count_) return max_;
  std::uint64_t cumulative = 0;
  for (std::size_t i = bucket_index(min_); i < kBucketCount; ++i) {
    cumulative += counts_[i];
    if (cumulative >= rank) return value_at(i, rank);
  }
  return max_;  // Unreachable while counts_ and count_ are consistent.
}

std::vector<Histogram::DistributionPoint> Histogram::distribution() const {
  std::vector<DistributionPoint> points;
  if (count_ == 0) return points;

  std::size_t index = 0;  // Next bucket to add to `cumulative`.
  std::uint64_t cumulative = 0;
  bool exhausted = false;
  for (int level = 0; !exhausted; ++level) {
    // The remaining distance to 100 % at this level is 100 / 2^level.
    const double remaining = std::ldexp(100.0, -level);
    const double step = remaining / (2.0 * kTicksPerHalfDistance);
    for (int tick = 0; tick < kTicksPerHalfDistance; ++tick) {
      const double p = 100.0 - remaining + step * tick;
      if (p > kMaxDistributionPercentile) {
        exhausted = true;
        break;
      }
      const std::uint64_t rank = std::max<std::uint64_t>(1, rank_for_percentile(p, count_));
      while (cumulative < rank && index < kBucketCount) {
        cumulative += counts_[index++];
      }
      points.push_back({p, value_at(index - 1, rank), cumulative});
      if (cumulative >= count_) {
        exhausted = true;
        break;
      }
    }
  }
  points.push_back({100.0, max_, count_});
  return points;
}

}  // namespace netecho::client
