#include "client/probe_report.hpp"

#include <fmt/format.h>

#include <cerrno>

#include "client/probe_stats.hpp"

namespace netecho::client {

std::string_view to_string(ProbeEventType t) noexcept {
  switch (t) {
    case ProbeEventType::reply:
      return "reply";
    case ProbeEventType::duplicate:
      return "duplicate";
    case ProbeEventType::late:
      return "late";
    case ProbeEventType::timeout:
      return "timeout";
    case ProbeEventType::error:
      return "error";
  }
  return "error";
}

std::string event_line(const EventBasics& e, std::string_view figures,
                       std::chrono::nanoseconds timeout) {
  const std::string seq = e.seq ? fmt::format("seq={} ", *e.seq) : std::string();
  switch (e.type) {
    case ProbeEventType::reply:
    case ProbeEventType::duplicate:
    case ProbeEventType::late: {
      std::string line = fmt::format("{} bytes from {}: {}{}", e.bytes, e.from, seq, figures);
      if (e.type == ProbeEventType::duplicate) {
        line += " (DUP!)";
      } else if (e.type == ProbeEventType::late) {
        line += fmt::format(" (late: after the {} ms timeout)", plain_ms(timeout));
      } else if (e.reordered) {
        line += " (out of order)";
      }
      return line;
    }
    case ProbeEventType::timeout:
      return fmt::format("no reply from {}: {}timeout after {} ms", e.from, seq,
                         plain_ms(timeout));
    case ProbeEventType::error:
      break;
  }
  return fmt::format("error from {}: {}{}", e.from, seq, e.message);
}

int write_flushed(std::FILE* out, std::string_view text) {
  errno = 0;
  if (std::fwrite(text.data(), 1, text.size(), out) != text.size() || std::fflush(out) != 0) {
    return errno != 0 ? errno : EIO;
  }
  return 0;
}

std::string format_rtt(std::chrono::nanoseconds d) {
  const double ms = to_ms(d);
  if (ms < 1) {
    return fmt::format("{:.3f}", ms);
  }
  if (ms < 10) {
    return fmt::format("{:.2f}", ms);
  }
  if (ms < 100) {
    return fmt::format("{:.1f}", ms);
  }
  return fmt::format("{:.0f}", ms);
}

std::string format_ms3(double ns) { return fmt::format("{:.3f}", ns / 1e6); }

std::string plain_ms(std::chrono::nanoseconds d) { return fmt::format("{:g}", to_ms(d)); }

void append_delay_lines(std::string& out, std::string_view label, const Histogram& h) {
  const auto s = summarize(h);
  if (!s) {
    return;
  }
  out += fmt::format("{} min/avg/max/mdev = {}/{}/{}/{} ms\n", label, format_ms3(s->min),
                     format_ms3(s->avg), format_ms3(s->max), format_ms3(s->mdev));
  out += fmt::format("{} p50/p90/p99 = {}/{}/{} ms\n", label, format_ms3(s->p50),
                     format_ms3(s->p90), format_ms3(s->p99));
}

std::string counts_text(const PingStats& stats, std::string_view noun,
                        std::chrono::nanoseconds elapsed) {
  std::string out =
      fmt::format("{} {} transmitted, {} received", stats.transmitted, noun, stats.received);
  // Like ping, the extra counters appear only when they are not zero.
  if (stats.duplicates != 0) {
    out += fmt::format(", +{} duplicates", stats.duplicates);
  }
  if (stats.late != 0) {
    out += fmt::format(", +{} late", stats.late);
  }
  if (stats.errors != 0) {
    out += fmt::format(", +{} errors", stats.errors);
  }
  if (stats.reordered != 0) {
    out += fmt::format(", {} out of order", stats.reordered);
  }
  if (stats.reconnects != 0) {
    out += fmt::format(", {} reconnect{}", stats.reconnects, stats.reconnects == 1 ? "" : "s");
  }
  out += fmt::format(", {:g}% loss, time {:.0f} ms", stats.loss_percent(), to_ms(elapsed));
  return out;
}

void add_count_fields(JsonDocument& j, const PingStats& stats) {
  j["transmitted"] = stats.transmitted;
  j["received"] = stats.received;
  j["duplicates"] = stats.duplicates;
  j["late"] = stats.late;
  j["reordered"] = stats.reordered;
  j["errors"] = stats.errors;
}

JsonDocument delay_json(const Histogram& h) {
  const auto s = summarize(h);
  if (!s) {
    return nullptr;
  }
  return JsonDocument{{"min", s->min / 1e6},   {"avg", s->avg / 1e6}, {"max", s->max / 1e6},
                      {"mdev", s->mdev / 1e6}, {"p50", s->p50 / 1e6}, {"p90", s->p90 / 1e6},
                      {"p99", s->p99 / 1e6}};
}

}  // namespace netecho::client
