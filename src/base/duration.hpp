#pragma once
// Durations as people type them: "10s", "250ms", "1.5", "2m", "100us". A bare number is seconds.

#include <chrono>
#include <ctime>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace netecho::base {

// The duration, or a message naming the bad input. Negative values are rejected.
Parsed<std::chrono::nanoseconds> parse_duration(std::string_view text);

// "1.5 s", "250 ms", "40 us" for reports.
std::string format_duration(std::chrono::nanoseconds d);

// A wall-clock instant as the JSON documents give it: UTC, ISO 8601, to the second
// ("2026-11-26T11:53:31Z").
std::string format_utc(std::chrono::system_clock::time_point t);

// d as the system calls take it: timespec, or another struct with tv_sec and tv_nsec
// (io_uring's __kernel_timespec). A negative duration becomes zero: a wait already due.
template <typename Timespec = timespec>
constexpr Timespec to_timespec(std::chrono::nanoseconds d) noexcept {
  const auto ns = d.count() < 0 ? 0 : d.count();
  Timespec ts{};
  ts.tv_sec = static_cast<decltype(ts.tv_sec)>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<decltype(ts.tv_nsec)>(ns % 1'000'000'000);
  return ts;
}

}  // namespace netecho::base
