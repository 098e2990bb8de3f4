#include "base/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <nlohmann/json.hpp>

namespace netecho::base {
namespace {

constexpr std::array<std::string_view, 4> kLevelNames{"error", "warn", "info", "debug"};
constexpr std::array<std::string_view, 2> kFormatNames{"text", "json"};

// Written once by configure_log(), before other threads log; read by them afterwards.
LogConfig g_config{Level::info, LogFormat::text, false, false};

bool needs_quotes(std::string_view v) noexcept {
  if (v.empty()) {
    return true;
  }
  for (const char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

// Appends v with control characters escaped (and, inside quotes, '"' and '\\' too).
void append_escaped(std::string& out, std::string_view v, bool quoted) {
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", u);
    } else if (quoted && (c == '"' || c == '\\')) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
}

void append_text_value(std::string& out, const LogField::Value& value) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          const bool quoted = needs_quotes(v);
          if (quoted) {
            out += '"';
          }
          append_escaped(out, v, quoted);
          if (quoted) {
            out += '"';
          }
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else {
          fmt::format_to(std::back_inserter(out), "{}", v);
        }
      },
      value);
}

std::string format_text(const LogConfig& config, std::chrono::system_clock::time_point time,
                        Level level, std::string_view message, LogFields fields) {
  std::string out;
  out.reserve(64 + message.size() + 24 * fields.size());
  if (config.timestamps) {
    out += format_time(time);
    out += ' ';
  }
  if (config.levels) {
    out += to_string(level);
    out += ' ';
  }
  out += "netecho: ";
  append_escaped(out, message, false);
  for (const LogField& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    append_text_value(out, f.value);
  }
  out += '\n';
  return out;
}

std::string format_json(std::chrono::system_clock::time_point time, Level level,
                        std::string_view message, LogFields fields) {
  // Ordered: time, level and message first, then the fields as the event lists them.
  nlohmann::ordered_json j;
  j["time"] = format_time(time);
  j["level"] = to_string(level);
  j["message"] = message;
  for (const LogField& f : fields) {
    std::visit([&j, &f](const auto& v) { j[std::string(f.key)] = v; }, f.value);
  }
  // Invalid UTF-8 (a peer's bytes, say) becomes U+FFFD rather than an exception.
  std::string out = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  out += '\n';
  return out;
}

}  // namespace

std::string_view to_string(Level level) noexcept {
  return kLevelNames[static_cast<std::size_t>(level)];
}

std::string_view to_string(LogFormat format) noexcept {
  return kFormatNames[static_cast<std::size_t>(format)];
}

std::optional<Level> parse_level(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    if (kLevelNames[i] == name) {
      return static_cast<Level>(i);
    }
  }
  return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kFormatNames.size(); ++i) {
    if (kFormatNames[i] == name) {
      return static_cast<LogFormat>(i);
    }
  }
  return std::nullopt;
}

void configure_log(const LogConfig& config) noexcept {
  g_config = config;
  detail::threshold.store(config.level, std::memory_order_relaxed);
}

bool stderr_is_journal() noexcept {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) {
    return false;
  }
  const std::string_view text = stream;
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  const char* end = text.data() + text.size();
  const auto d = std::from_chars(text.data(), text.data() + colon, dev);
  const auto i = std::from_chars(text.data() + colon + 1, end, ino);
  if (d.ec != std::errc{} || d.ptr != text.data() + colon || i.ec != std::errc{} || i.ptr != end) {
    return false;
  }
  struct stat st{};
  if (::fstat(STDERR_FILENO, &st) != 0) {
    return false;
  }
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

std::string format_time(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(time.time_since_epoch());
  auto secs = duration_cast<seconds>(ms);
  auto milli = ms - secs;
  if (milli.count() < 0) {  // before 1970: keep the milliseconds positive
    secs -= seconds(1);
    milli += seconds(1);
  }
  const std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli.count());
}

std::string format_event(const LogConfig& config, std::chrono::system_clock::time_point time,
                         Level level, std::string_view message, LogFields fields) {
  return config.format == LogFormat::json ? format_json(time, level, message, fields)
                                          : format_text(config, time, level, message, fields);
}

namespace detail {

void write_event(Level level, std::string_view message, LogFields fields) noexcept {
  try {
    const std::string line =
        format_event(g_config, std::chrono::system_clock::now(), level, message, fields);
    std::fwrite(line.data(), 1, line.size(), stderr);
  } catch (...) {
    // Out of memory while logging: the event is lost, the server goes on.
  }
}

}  // namespace detail
}  // namespace netecho::base
