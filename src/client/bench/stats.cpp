#include "client/bench/stats.hpp"

namespace netecho::client {

const char* error_name(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::connect:
      return "connect";
    case ErrorKind::connect_timeout:
      return "connect_timeout";
    case ErrorKind::mismatch:
      return "mismatch";
    case ErrorKind::reset:
      return "reset";
    case ErrorKind::closed:
      return "closed";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::lost:
      return "lost";
    case ErrorKind::duplicate:
      return "duplicate";
    case ErrorKind::refused:
      return "refused";
  }
  return "?";
}

void LiveHistogram::snapshot(std::vector<std::uint64_t>& out) const {
  out.resize(Histogram::kBucketCount);
  for (std::size_t i = 0; i < Histogram::kBucketCount; ++i) {
    out[i] = counts_[i].get();
  }
}

}  // namespace netecho::client
