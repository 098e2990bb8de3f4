#include "base/duration.hpp"

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace netecho::base {

Parsed<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  const std::string s(text);
  if (s.empty()) {
    return std::string("empty duration (expected e.g. 10s, 250ms, 1.5)");
  }
  char* end = nullptr;
  const double value = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(value) || value < 0 || s[0] == '-' || s[0] == '+' ||
      s[0] == ' ') {
    return fmt::format("invalid duration '{}' (expected e.g. 10s, 250ms, 1.5)", text);
  }
  const std::string_view unit(end);
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1e9;
  } else if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "us") {
    scale = 1e3;
  } else if (unit == "ns") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60e9;
  } else if (unit == "h") {
    scale = 3600e9;
  } else {
    return fmt::format("invalid duration '{}': unknown unit '{}' (use ns, us, ms, s, m or h)",
                       text, unit);
  }
  const double ns = value * scale;
  if (ns > 1e18) {
    return fmt::format("duration '{}' is too long", text);
  }
  return std::chrono::nanoseconds(static_cast<long long>(std::llround(ns)));
}

std::string format_duration(std::chrono::nanoseconds d) {
  const double ns = static_cast<double>(d.count());
  if (ns >= 1e9) {
    return fmt::format("{:.3g} s", ns / 1e9);
  }
  if (ns >= 1e6) {
    return fmt::format("{:.3g} ms", ns / 1e6);
  }
  if (ns >= 1e3) {
    return fmt::format("{:.3g} us", ns / 1e3);
  }
  return fmt::format("{} ns", d.count());
}

std::string format_utc(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace netecho::base
