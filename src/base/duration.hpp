#pragma once
// Durations as people type them: "10s", "250ms", "1.5", "2m", "100us". A bare number is seconds.

#include <chrono>
#include <string>
#include <string_view>
#include <variant>

namespace netecho::base {

// The duration, or a message naming the bad input. Negative values are rejected.
std::variant<std::chrono::nanoseconds, std::string> parse_duration(std::string_view text);

// "1.5 s", "250 ms", "40 us" for reports.
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace netecho::base
