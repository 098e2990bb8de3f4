#include "client/bench/stats.hpp"

namespace netecho::client {

void LiveHistogram::snapshot(std::vector<std::uint64_t>& out) const {
  out.resize(Histogram::kBucketCount);
  for (std::size_t i = 0; i < Histogram::kBucketCount; ++i) {
    out[i] = counts_[i].get();
  }
}

}  // namespace netecho::client
