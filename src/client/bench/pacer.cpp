#include "client/bench/pacer.hpp"

#include <cmath>

namespace netecho::client {

Pacer Pacer::for_flow(Clock::time_point start, double total_rate, std::uint32_t flow,
                      std::uint32_t flows) noexcept {
  // long double carries a 64-bit mantissa, so k * period stays exact to the nanosecond for any
  // run shorter than centuries.
  const long double spacing_ns = 1e9L / static_cast<long double>(total_rate);
  const long double period_ns = spacing_ns * flows;
  const auto offset = std::chrono::nanoseconds(std::llround(spacing_ns * flow));
  return Pacer(start + offset, period_ns);
}

Pacer::Clock::time_point Pacer::due(std::uint64_t k) const noexcept {
  if (!paced()) {
    return origin_;
  }
  const long double ns = period_ns_ * static_cast<long double>(k);
  return origin_ + std::chrono::nanoseconds(std::llroundl(ns));
}

}  // namespace netecho::client
