#include "client/ping/report.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/duration.hpp"
#include "client/json_document.hpp"
#include "client/text_wrap.hpp"

namespace netecho::client {
namespace {

using Json = JsonDocument;

// A text line too long for 80 columns continues 4 columns in, under its own text.
constexpr std::size_t kContinuationIndent = 4;

std::string_view type_name(ProbeEventType t) {
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

// "1000", "200", "0.5": a timeout as the user would write it in milliseconds.
std::string plain_ms(std::chrono::nanoseconds d) { return fmt::format("{:g}", to_ms(d)); }

Json rtt_json(const Histogram& h) {
  const auto s = summarize(h);
  if (!s) {
    return nullptr;
  }
  return Json{{"min", s->min / 1e6},   {"avg", s->avg / 1e6}, {"max", s->max / 1e6},
              {"mdev", s->mdev / 1e6}, {"p50", s->p50 / 1e6}, {"p90", s->p90 / 1e6},
              {"p99", s->p99 / 1e6}};
}

void append_rtt_lines(std::string& out, std::string_view label, const Histogram& h) {
  const auto s = summarize(h);
  if (!s) {
    return;
  }
  out += fmt::format("{} min/avg/max/mdev = {}/{}/{}/{} ms\n", label, format_ms3(s->min),
                     format_ms3(s->avg), format_ms3(s->max), format_ms3(s->mdev));
  out += fmt::format("{} p50/p90/p99 = {}/{}/{} ms\n", label, format_ms3(s->p50),
                     format_ms3(s->p90), format_ms3(s->p99));
}

}  // namespace

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

std::string header_line(const PingRunInfo& info) {
  return wrap_text(
      fmt::format("PING {} ({}): {} data bytes{}", info.target, info.address, info.size,
                  info.connect_per_probe ? ", a new connection per probe" : ""),
      kContinuationIndent);
}

std::string event_line(const ProbeEvent& e, const PingRunInfo& info) {
  const std::string seq = e.seq ? fmt::format("seq={} ", *e.seq) : std::string();
  switch (e.type) {
    case ProbeEventType::reply:
    case ProbeEventType::duplicate:
    case ProbeEventType::late: {
      std::string line = fmt::format("{} bytes from {}: {}", e.bytes, e.from, seq);
      if (e.connect) {
        line += fmt::format("connect={} ms ", format_rtt(*e.connect));
      }
      line += fmt::format("time={} ms", format_rtt(e.rtt.value_or(std::chrono::nanoseconds{})));
      if (e.type == ProbeEventType::duplicate) {
        line += " (DUP!)";
      } else if (e.type == ProbeEventType::late) {
        line += fmt::format(" (late: after the {} ms timeout)", plain_ms(info.timeout));
      } else if (e.reordered) {
        line += " (out of order)";
      }
      return line;
    }
    case ProbeEventType::timeout:
      return fmt::format("no reply from {}: {}timeout after {} ms", e.from, seq,
                         plain_ms(info.timeout));
    case ProbeEventType::error:
      break;
  }
  return fmt::format("error from {}: {}{}", e.from, seq, e.message);
}

std::string event_text(const ProbeEvent& e, const PingRunInfo& info) {
  return wrap_text(event_line(e, info), kContinuationIndent);
}

std::string event_json(const ProbeEvent& e) {
  Json j{{"type", type_name(e.type)}, {"from", e.from}, {"at_ms", to_ms(e.at)}};
  j["seq"] = e.seq ? Json(*e.seq) : Json(nullptr);
  if (e.type != ProbeEventType::timeout) {
    j["bytes"] = e.bytes;
  }
  if (e.rtt) {
    j["rtt_ms"] = to_ms(*e.rtt);
  }
  if (e.connect) {
    j["connect_ms"] = to_ms(*e.connect);
  }
  if (e.type == ProbeEventType::reply) {
    j["reordered"] = e.reordered;
  }
  if (!e.message.empty()) {
    j["message"] = e.message;
  }
  return j.dump();
}

std::string summary_text(const PingRunInfo& info, const PingStats& stats,
                         std::chrono::nanoseconds elapsed) {
  std::string out = fmt::format("--- {} ping statistics ---\n", info.target);
  out += fmt::format("{} probes transmitted, {} received", stats.transmitted, stats.received);
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
  out += fmt::format(", {:g}% loss, time {:.0f} ms\n", stats.loss_percent(), to_ms(elapsed));
  append_rtt_lines(out, "rtt", stats.rtt);
  if (info.connect_per_probe) {
    append_rtt_lines(out, "connect", stats.connect);
  }
  return wrap_text(out, kContinuationIndent);
}

std::string summary_json(const PingRunInfo& info, const PingStats& stats,
                         std::chrono::nanoseconds elapsed, bool interrupted, bool type_field,
                         int indent) {
  Json j;
  if (type_field) {
    j["type"] = "summary";
  }
  j.update(json_document(
      "netecho-ping/1",
      base::format_utc(std::chrono::system_clock::now() -
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed))));
  j["target"] = info.target;
  j["transport"] = info.tcp ? "tcp" : "udp";
  j["address"] = info.address;
  j["size"] = info.size;
  j["interval_ms"] = to_ms(info.interval);
  j["timeout_ms"] = to_ms(info.timeout);
  j["connect_per_probe"] = info.connect_per_probe;
  j["expect"] = info.reverse ? "reverse" : "echo";
  j["transmitted"] = stats.transmitted;
  j["received"] = stats.received;
  j["duplicates"] = stats.duplicates;
  j["late"] = stats.late;
  j["reordered"] = stats.reordered;
  j["errors"] = stats.errors;
  j["connects"] = stats.connects;
  j["reconnects"] = stats.reconnects;
  j["first_error"] = stats.first_error.empty() ? Json(nullptr) : Json(stats.first_error);
  j["loss_percent"] = stats.loss_percent();
  j["time_ms"] = to_ms(elapsed);
  j["interrupted"] = interrupted;
  j["rtt_ms"] = rtt_json(stats.rtt);
  j["connect_ms"] = info.connect_per_probe ? rtt_json(stats.connect) : Json(nullptr);
  return j.dump(indent);
}

}  // namespace netecho::client
