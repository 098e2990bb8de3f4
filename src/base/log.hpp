#pragma once
// The log: events on stderr, one line each. stdout is kept for machine-readable output.
//
// An event is a level, a short human message and fields (key -> string, integer, double or
// bool), e.g.
//   base::log_event(Level::info, "connection closed", {{"peer", peer}, {"bytes_in", n}});
// written, as configure() chose, as text
//   2026-12-06T10:04:00.123Z info netecho: connection closed peer=127.0.0.1:5000 bytes_in=12
// or as one JSON object
//   {"time":"2026-12-06T10:04:00.123Z","level":"info","message":"connection closed",
//    "peer":"127.0.0.1:5000","bytes_in":12}
// base::log(fmt, args...) is an info event whose message is formatted, with no fields; warn(),
// error() and debug() are the same at their levels.
//
// Cost: every entry point checks the level first, so an event below it formats nothing. The
// fields of log_event() are built by the caller before the call, though: on a hot path, test
// enabled(level) before building them. Each line is written with a single fwrite on the
// unbuffered stderr, so lines from several threads never mix.

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include <fmt/format.h>

namespace netecho::base {

// From the most to the least severe: a level shows every event at it or above.
enum class Level : std::uint8_t { error, warn, info, debug };
enum class LogFormat : std::uint8_t { text, json };

std::string_view to_string(Level level) noexcept;
std::string_view to_string(LogFormat format) noexcept;
std::optional<Level> parse_level(std::string_view name) noexcept;
std::optional<LogFormat> parse_log_format(std::string_view name) noexcept;

// One field of an event. Values are viewed, not copied: a field lives only as long as the call
// it is passed to (temporaries in the braces live that long).
struct LogField {
  using Value = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;

  LogField(std::string_view k, std::string_view v) noexcept : key(k), value(v) {}
  LogField(std::string_view k, const char* v) noexcept : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, const std::string& v) noexcept : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, bool v) noexcept : key(k), value(v) {}
  template <std::signed_integral T>
  LogField(std::string_view k, T v) noexcept : key(k), value(static_cast<std::int64_t>(v)) {}
  template <std::unsigned_integral T>
    requires(!std::same_as<T, bool>)
  LogField(std::string_view k, T v) noexcept : key(k), value(static_cast<std::uint64_t>(v)) {}
  LogField(std::string_view k, double v) noexcept : key(k), value(v) {}

  std::string_view key;  // lower_snake_case; never time, level or message (JSON's own keys)
  Value value;
};
using LogFields = std::span<const LogField>;

struct LogConfig {
  Level level = Level::info;
  LogFormat format = LogFormat::text;
  // Text only: start each line with the time (off when the journal stamps lines itself:
  // stderr_is_journal()), then the level. JSON always carries both.
  bool timestamps = true;
  bool levels = true;
};

// Before any other thread logs (serve calls it before it starts one). Until then, and in the
// client tools: info, text, neither time nor level (plain "netecho: ..." lines, as the errors
// of a bad command line are).
void configure_log(const LogConfig& config) noexcept;

// Whether stderr is the systemd journal's stream: JOURNAL_STREAM ("DEVICE:INODE", set by
// systemd for a service whose stderr it connects to the journal) names stderr's descriptor.
bool stderr_is_journal() noexcept;

namespace detail {
inline std::atomic<Level> threshold{Level::info};
void write_event(Level level, std::string_view message, LogFields fields) noexcept;
}  // namespace detail

inline bool enabled(Level level) noexcept {
  return level <= detail::threshold.load(std::memory_order_relaxed);
}

inline void log_event(Level level, std::string_view message,
                      std::initializer_list<LogField> fields = {}) noexcept {
  if (enabled(level)) {
    detail::write_event(level, message, {fields.begin(), fields.size()});
  }
}
// The same, with fields gathered at run time.
inline void log_event(Level level, std::string_view message, LogFields fields) noexcept {
  if (enabled(level)) {
    detail::write_event(level, message, fields);
  }
}

template <typename... Args>
void log_at(Level level, fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(level)) {
    detail::write_event(level, fmt::format(format, std::forward<Args>(args)...), {});
  }
}
template <typename... Args>
void log(fmt::format_string<Args...> format, Args&&... args) {
  log_at(Level::info, format, std::forward<Args>(args)...);
}
template <typename... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  log_at(Level::error, format, std::forward<Args>(args)...);
}
template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  log_at(Level::warn, format, std::forward<Args>(args)...);
}
template <typename... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  log_at(Level::debug, format, std::forward<Args>(args)...);
}

// The line an event is written as, with its '\n': pure, for the tests. In text, a value with a
// space, a quote, '=' or a control character (or an empty one) is quoted, and quotes,
// backslashes and control characters in it are escaped; so are control characters in the
// message, so that an event is always one line.
std::string format_event(const LogConfig& config, std::chrono::system_clock::time_point time,
                         Level level, std::string_view message, LogFields fields);

// RFC 3339 in UTC with milliseconds: "2026-12-06T10:04:00.123Z".
std::string format_time(std::chrono::system_clock::time_point time);

}  // namespace netecho::base
