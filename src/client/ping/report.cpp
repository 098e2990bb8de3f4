#include "client/ping/report.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/duration.hpp"
#include "client/json_document.hpp"
#include "client/probe_report.hpp"
#include "client/text_wrap.hpp"

namespace netecho::client {
namespace {

using Json = JsonDocument;

}  // namespace

std::string header_line(const PingRunInfo& info) {
  return wrap_text(
      fmt::format("PING {} ({}): {} data bytes{}", info.target, info.address, info.size,
                  info.connect_per_probe ? ", a new connection per probe" : ""),
      kContinuationIndent);
}

namespace {

EventBasics basics(const ProbeEvent& e) {
  return {e.type, e.seq, e.bytes, e.from, e.at, e.reordered, e.message};
}

}  // namespace

std::string event_line(const ProbeEvent& e, const PingRunInfo& info) {
  std::string figures;
  if (e.connect) {
    figures += fmt::format("connect={} ms ", format_rtt(*e.connect));
  }
  figures += fmt::format("time={} ms", format_rtt(e.rtt.value_or(std::chrono::nanoseconds{})));
  return event_line(basics(e), figures, info.timeout);
}

std::string event_text(const ProbeEvent& e, const PingRunInfo& info) {
  return wrap_text(event_line(e, info), kContinuationIndent);
}

std::string event_json(const ProbeEvent& e) {
  return event_json(basics(e), [&](Json& j) {
           if (e.rtt) {
             j["rtt_ms"] = to_ms(*e.rtt);
           }
           if (e.connect) {
             j["connect_ms"] = to_ms(*e.connect);
           }
         })
      .dump();
}

std::string summary_text(const PingRunInfo& info, const PingStats& stats,
                         std::chrono::nanoseconds elapsed) {
  std::string out = fmt::format("--- {} ping statistics ---\n", info.target);
  out += counts_text(stats, "probes", elapsed) + "\n";
  append_delay_lines(out, "rtt", stats.rtt);
  if (info.connect_per_probe) {
    append_delay_lines(out, "connect", stats.connect);
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
  add_count_fields(j, stats);
  j["connects"] = stats.connects;
  j["reconnects"] = stats.reconnects;
  j["first_error"] = stats.first_error.empty() ? Json(nullptr) : Json(stats.first_error);
  j["loss_percent"] = stats.loss_percent();
  j["time_ms"] = to_ms(elapsed);
  j["interrupted"] = interrupted;
  j["rtt_ms"] = delay_json(stats.rtt);
  j["connect_ms"] = info.connect_per_probe ? delay_json(stats.connect) : Json(nullptr);
  return j.dump(indent);
}

}  // namespace netecho::client
