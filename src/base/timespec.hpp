#pragma once
// std::chrono durations as the timespec that ppoll, sigtimedwait and io_uring take. The one
// place that splits nanoseconds into seconds and the rest.

#include <time.h>

#include <chrono>

namespace netecho::base {

// A negative duration becomes zero: a wait that is already due does not wait.
constexpr timespec to_timespec(std::chrono::nanoseconds d) noexcept {
  const auto ns = d.count() < 0 ? 0 : d.count();
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

}  // namespace netecho::base
