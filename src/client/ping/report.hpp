#pragma once
// What `netecho ping` prints: per-probe lines and the summary, as text in ping's shape or as
// JSON (docs/PING.md lists the fields). Pure formatting: strings in, strings out. The text fits
// 80 columns: a longer line is wrapped at spaces (client/text_wrap.hpp), its continuation 4
// columns in; JSON is never wrapped.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "client/probe_stats.hpp"
#include "client/probe_report.hpp"

namespace netecho::client {

struct ProbeEvent {
  ProbeEventType type = ProbeEventType::reply;
  std::optional<std::uint64_t> seq;  // unset when the event belongs to no single probe
  std::size_t bytes = 0;             // bytes of the reply as received (reply kinds, bad replies)
  std::string from;                  // the address probed, "127.0.0.1:7" / "[::1]:7"
  std::chrono::nanoseconds at{};     // since the start of the run
  std::optional<std::chrono::nanoseconds> rtt;      // reply, duplicate, late
  std::optional<std::chrono::nanoseconds> connect;  // --connect: time to connect
  bool reordered = false;                           // reply: a later probe was answered first
  std::string message;                              // error: what went wrong
};

// The run's settings, for the header line and the summary.
struct PingRunInfo {
  std::string target;   // "tcp://localhost:12345" (the transport always spelled out)
  std::string address;  // the resolved address probed, "127.0.0.1:12345"
  bool tcp = true;
  std::size_t size = 0;
  std::chrono::nanoseconds interval{};
  std::chrono::nanoseconds timeout{};
  bool connect_per_probe = false;
  bool reverse = false;
};

// "PING tcp://localhost:12345 (127.0.0.1:12345): 64 data bytes", wrapped.
std::string header_line(const PingRunInfo& info);
// One line per event, without the newline, and never wrapped (the JSON's first_error quotes it):
//   64 bytes from 127.0.0.1:12345: seq=3 time=0.041 ms
//   no reply from 127.0.0.1:12345: seq=4 timeout after 1000 ms
std::string event_line(const ProbeEvent& e, const PingRunInfo& info);
// The event as the text output prints it: event_line, wrapped; without the last newline.
std::string event_text(const ProbeEvent& e, const PingRunInfo& info);
// One JSON object on one line, without the newline.
std::string event_json(const ProbeEvent& e);

// The summary block, each line ending in a newline, wrapped.
std::string summary_text(const PingRunInfo& info, const PingStats& stats,
                         std::chrono::nanoseconds elapsed);
// The summary as one JSON object. type_field adds "type":"summary" (for --json-lines). indent
// < 0 gives one line.
std::string summary_json(const PingRunInfo& info, const PingStats& stats,
                         std::chrono::nanoseconds elapsed, bool interrupted, bool type_field,
                         int indent);

}  // namespace netecho::client
