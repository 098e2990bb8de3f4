#pragma once
// Logging to stderr, one line per call ("netecho: ..."). stdout is kept for machine-readable
// output. Each line is written with a single fwrite, so lines from several threads never mix.

#include <cstdio>
#include <string_view>

#include <fmt/format.h>

namespace netecho::base {

void write_log_line(std::string_view line) noexcept;

template <typename... Args>
void log(fmt::format_string<Args...> format, Args&&... args) {
  write_log_line(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace netecho::base
