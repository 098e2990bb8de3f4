#pragma once
// What `netecho stamp` prints: one line per packet and the summary, as text in ping's shape or
// as JSON (docs/STAMP.md lists the fields); the shared pieces are ping's (client/probe_report.hpp).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "client/probe_report.hpp"
#include "client/stamp/stamp.hpp"
#include "client/stamp/stats.hpp"

namespace netecho::client {

struct StampEvent {
  ProbeEventType type = ProbeEventType::reply;
  std::optional<std::uint64_t> seq;  // unset when the event belongs to no packet of ours
  std::size_t bytes = 0;
  std::string from;
  std::chrono::nanoseconds at{};  // since the start of the run
  std::optional<StampDelays> delays;            // reply, duplicate, late
  std::optional<std::uint32_t> reflector_seq;   // the reply's own sequence number
  std::optional<int> ttl;                       // the TTL our packet reached the reflector with
  bool reordered = false;
  std::string message;  // error
};

struct StampRunInfo {
  std::string target;   // "127.0.0.1:862", as given
  std::string address;  // resolved
  std::size_t size = 0;
  StampPadding padding = StampPadding::none;
  bool authenticated = false;
  std::optional<std::uint16_t> ssid;
  stamp::TimestampFormat format = stamp::TimestampFormat::ntp;
  std::chrono::nanoseconds interval{};
  std::chrono::nanoseconds timeout{};
};

StampRunInfo run_info(const StampOptions& o);

// "STAMP 127.0.0.1:862 (127.0.0.1:862): 44 bytes, NTP timestamps", wrapped (", authenticated",
// ", SSID 7", ", zero padding", ", Extra Padding TLV" or, authenticated, ", HMAC TLV" and
// " and Extra Padding TLV" after the size, as they apply).
std::string stamp_header_line(const StampRunInfo& info);
// One line, not wrapped:
//   44 bytes from 127.0.0.1:862: seq=0 time=0.052 ms reflector=0.011 ms ttl=64
//   no reply from 127.0.0.1:862: seq=1 timeout after 1000 ms
std::string stamp_event_line(const StampEvent& e, const StampRunInfo& info);
std::string stamp_event_json(const StampEvent& e);

std::string stamp_summary_text(const StampRunInfo& info, const StampStats& stats,
                               std::chrono::nanoseconds elapsed);
std::string stamp_summary_json(const StampRunInfo& info, const StampStats& stats,
                               std::chrono::nanoseconds elapsed, bool interrupted,
                               bool type_field, int indent);

}  // namespace netecho::client
