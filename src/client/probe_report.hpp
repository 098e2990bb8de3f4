#pragma once
// What the probing tools (`netecho ping`, `netecho stamp`) print alike, so that both say the same
// figure the same way: the kinds of probe event, ping's time format, the counters of the summary,
// its min/avg/max/mdev and percentiles lines, and their JSON.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "client/histogram.hpp"
#include "client/json_document.hpp"
#include "client/probe_stats.hpp"

namespace netecho::client {

enum class ProbeEventType : std::uint8_t {
  reply,      // answered within the timeout
  duplicate,  // a further reply to an answered probe
  late,       // a reply after the probe's timeout (or after its connection failed)
  timeout,    // no reply within the timeout
  error,      // a bad reply, a refused/reset/stalled connection, a failed send
};
// "reply", "duplicate", ...: the JSON's "type".
std::string_view to_string(ProbeEventType t) noexcept;

// What every probe event has, whichever tool reports it.
struct EventBasics {
  ProbeEventType type = ProbeEventType::reply;
  std::optional<std::uint64_t> seq;
  std::size_t bytes = 0;
  std::string_view from;
  std::chrono::nanoseconds at{};  // since the start of the run
  bool reordered = false;         // reply: a later probe was answered first
  std::string_view message;       // error: what went wrong
};

// One line, not wrapped. A reply, duplicate or late reply: "BYTES bytes from FROM: seq=N "
// then figures (the tool's "time=0.041 ms ...") then " (DUP!)", " (late: after the T ms
// timeout)" or " (out of order)". Otherwise "no reply from FROM: seq=N timeout after T ms" or
// "error from FROM: seq=N MESSAGE".
std::string event_line(const EventBasics& e, std::string_view figures,
                       std::chrono::nanoseconds timeout);
// The event as JSON: type, from, at_ms, seq and (but for a timeout) bytes, then what add
// writes (the tool's figures), then reordered (replies) and message (errors).
template <typename AddFigures>
JsonDocument event_json(const EventBasics& e, AddFigures add) {
  JsonDocument j{{"type", to_string(e.type)}, {"from", e.from}, {"at_ms", to_ms(e.at)}};
  j["seq"] = e.seq ? JsonDocument(*e.seq) : JsonDocument(nullptr);
  if (e.type != ProbeEventType::timeout) {
    j["bytes"] = e.bytes;
  }
  add(j);
  if (e.type == ProbeEventType::reply) {
    j["reordered"] = e.reordered;
  }
  if (!e.message.empty()) {
    j["message"] = e.message;
  }
  return j;
}

// Writes text to out and flushes it: 0, or the errno of the failure (EPIPE: the reader left,
// as in `netecho ping ... | head -2`).
int write_flushed(std::FILE* out, std::string_view text);

// A text line too long for 80 columns continues this many columns in, under its own text.
inline constexpr std::size_t kContinuationIndent = 4;

// ping's time format: 3 decimals below 1 ms, 2 below 10, 1 below 100, none above.
std::string format_rtt(std::chrono::nanoseconds d);
// Milliseconds with 3 decimals, as in the summary ("0.041").
std::string format_ms3(double ns);
// "1000", "200", "0.5": a timeout as the user would write it in milliseconds.
std::string plain_ms(std::chrono::nanoseconds d);

// "LABEL min/avg/max/mdev = a/b/c/d ms" and "LABEL p50/p90/p99 = ... ms", each ending in a
// newline, appended to out; nothing when the histogram is empty.
void append_delay_lines(std::string& out, std::string_view label, const Histogram& h);
// "10 probes transmitted, 9 received, +1 duplicates, +2 errors, 1 out of order, " (each extra
// counter only when it is not zero, as ping(8) does), then "10% loss, time 9001 ms". noun:
// "probes", "packets".
std::string counts_text(const PingStats& stats, std::string_view noun,
                        std::chrono::nanoseconds elapsed);
// The counters as JSON keys, in this order: transmitted, received, duplicates, late, reordered,
// errors.
void add_count_fields(JsonDocument& j, const PingStats& stats);

// {"min", "avg", "max", "mdev", "p50", "p90", "p99"} in milliseconds; null when empty.
JsonDocument delay_json(const Histogram& h);

}  // namespace netecho::client
