// The human side of bench's report: the live line, the run's description and the final
// report in the spirit of wrk's. The JSON document is in report_json.cpp, the chart in
// report_svg.cpp.

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "client/bench/report.hpp"
#include "client/text_wrap.hpp"
#include "net/address.hpp"

namespace netecho::client {
namespace {

std::string plural(std::uint64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", group_digits(n), n == 1 ? one : many);
}

std::string size_text(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) {
    return fmt::format("{} MiB", bytes >> 20);
  }
  if (bytes >= 1024 && bytes % 1024 == 0) {
    return fmt::format("{} KiB", bytes >> 10);
  }
  return fmt::format("{} B", bytes);
}

// "none", or "3: mismatch 1, timeout 2".
std::string error_list(const std::uint64_t (&counts)[kErrorKinds]) {
  std::uint64_t total = 0;
  std::string kinds;
  for (std::size_t k = 0; k < kErrorKinds; ++k) {
    if (counts[k] != 0) {
      kinds += fmt::format("{}{} {}", kinds.empty() ? " " : ", ",
                           error_name(static_cast<ErrorKind>(k)), group_digits(counts[k]));
      total += counts[k];
    }
  }
  return total == 0 ? "none" : group_digits(total) + ":" + kinds;
}

}  // namespace

std::string latency_text(std::uint64_t ns) {
  return base::format_duration(std::chrono::nanoseconds(static_cast<std::int64_t>(ns)));
}

double as_seconds(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e9; }

std::string group_digits(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  const std::size_t first = digits.size() % 3 == 0 ? 3 : digits.size() % 3;
  out.append(digits, 0, first);
  for (std::size_t i = first; i < digits.size(); i += 3) {
    out += ',';
    out.append(digits, i, 3);
  }
  return out;
}

std::string format_live_line(std::uint64_t elapsed_s, double messages_per_s, double mb_per_s,
                             const Histogram& second, std::uint64_t errors, bool warmup) {
  // At most 80 columns up to 99 errors in the warm-up, and up to 99,999 after it: 10,000,000
  // msgs/s, 9,999 MB/s and latencies of 7 characters ("25.1 us") fit their fields.
  return fmt::format("{:>4} s {:>10} msgs/s {:>7.2f} MB/s p50 {:>7} p99 {:>7} errors {}{}",
                     elapsed_s, group_digits(static_cast<std::uint64_t>(std::llround(messages_per_s))),
                     mb_per_s, second.count() ? latency_text(second.percentile(50)) : "-",
                     second.count() ? latency_text(second.percentile(99)) : "-", group_digits(errors),
                     warmup ? " warm-up" : "");
}

std::string describe_run(const BenchResult& r) {
  const BenchOptions& o = r.options;
  std::string s =
      fmt::format("{}, {}, {}, {}, pipeline {}, ", net::to_string(o.target),
                  plural(o.connections, "connection", "connections"),
                  plural(r.threads, "thread", "threads"), size_text(o.message_size), o.pipeline);
  if (o.rate > 0) {
    s += fmt::format("open loop at {} msgs/s",
                     group_digits(static_cast<std::uint64_t>(std::llround(o.rate))));
  } else {
    s += "closed loop";
  }
  if (o.messages != 0) {
    s += fmt::format(", {}", plural(o.messages, "message", "messages"));
  } else {
    s += fmt::format(", {}", base::format_duration(o.duration));
  }
  if (o.warmup.count() > 0) {
    s += fmt::format(" after {} warm-up", base::format_duration(o.warmup));
  }
  return s;
}

std::uint64_t BenchResult::error_total() const noexcept {
  std::uint64_t total = 0;
  for (const auto e : errors) {
    total += e;
  }
  return total;
}

double BenchResult::messages_per_second() const noexcept {
  const double s = as_seconds(elapsed);
  return s > 0 ? static_cast<double>(messages) / s : 0.0;
}

double BenchResult::megabytes_per_second() const noexcept {
  return messages_per_second() * static_cast<double>(options.message_size) / 1e6;
}

std::string BenchResult::measured_nothing() const {
  if (messages != 0) {
    return {};
  }
  if (warmup_only) {
    return "interrupted during the warm-up";
  }
  return interrupted ? "interrupted before any message came back intact"
                     : "no message came back intact";
}

std::string BenchResult::hint() const {
  // UDP losses after many replies came back intact: the answers stopped at some rate, not at
  // once. netecho serve (like inetd's guards) limits the replies to one source address, 1,000
  // a second by default, and a benchmark from one address runs into that.
  if (options.target.transport == net::Transport::udp &&
      errors[static_cast<std::size_t>(ErrorKind::lost)] != 0 && messages_received >= 100) {
    return "datagrams went unanswered after many were answered: the server may be "
           "rate-limiting this source (netecho serve --udp-rate none lifts its limit)";
  }
  return {};
}

double BenchResult::cpu_per_message_us() const noexcept {
  return messages_received != 0
             ? (cpu_user_s + cpu_system_s) * 1e6 / static_cast<double>(messages_received)
             : 0.0;
}

namespace {

// The report's layout: each entry is a label in a 10-column field after a 2-space margin, its
// text from column 12; a text too long for 80 columns continues under itself. The first line
// (the run's description) and bench's messages on standard error continue 4 columns in.
constexpr std::size_t kLabelIndent = 12;
constexpr std::size_t kHeaderIndent = 4;

// A line of the report, wrapped, with its newline.
std::string report_line(std::string_view text) { return wrap_text(text, kLabelIndent) + "\n"; }

// "  Wire      sent ...", wrapped.
std::string entry(std::string_view label, std::string_view text) {
  return report_line(fmt::format("  {:<{}}{}", label, kLabelIndent - 2, text));
}

}  // namespace

std::string bench_message(std::string_view message) {
  return wrap_text(fmt::format("netecho bench: {}", message), kHeaderIndent) + "\n";
}

void print_report(const BenchResult& r, std::FILE* out) {
  std::string s = wrap_text(fmt::format("netecho bench {} ({}, {})", describe_run(r),
                                        r.address.empty() ? "-" : r.address, r.backend),
                            kHeaderIndent) +
                  "\n";
  if (r.interrupted && r.warmup_only) {
    s += report_line("  Interrupted during the warm-up");
  } else if (r.interrupted) {
    std::string text = fmt::format("  Interrupted: {} measured", base::format_duration(r.elapsed));
    if (r.abandoned != 0) {
      text += fmt::format(", {} still in flight not counted",
                          plural(r.abandoned, "message", "messages"));
    }
    s += report_line(text);
  }
  // The percentiles and the maximum as a table, one column each, 71 columns wide; the mean and
  // the standard deviation under it.
  const Histogram& h = r.latency;
  const auto cell = [&h](std::uint64_t ns) { return h.count() ? latency_text(ns) : "-"; };
  std::string heads;
  std::string cells;
  for (const auto& p : kReportPercentiles) {
    heads += fmt::format(" {:>9}", p.label);
    cells += fmt::format(" {:>9}", cell(h.percentile(p.percentile)));
  }
  s +=
      fmt::format("  Latency  {} {:>9}\n           {} {:>9}\n", heads, "max", cells, cell(h.max()));
  if (h.count() != 0) {
    s += entry("",
               fmt::format("mean {}, stddev {}", latency_text(static_cast<std::uint64_t>(h.mean())),
                           latency_text(static_cast<std::uint64_t>(h.stddev()))));
  }
  const Histogram& c = r.connect;
  std::string connect = fmt::format("{} of {} connected", group_digits(r.connected),
                                    group_digits(r.options.connections));
  if (r.options.target.transport == net::Transport::udp) {
    connect += " (UDP: no handshake)";
  } else if (c.count() != 0) {
    connect += fmt::format(": p50 {}, p99 {}, max {}", latency_text(c.percentile(50)),
                           latency_text(c.percentile(99)), latency_text(c.max()));
  }
  s += entry("Connect", connect);
  if (const std::string why = r.measured_nothing(); !why.empty()) {
    s += entry("Measured", fmt::format("nothing: {}", why));
  } else {
    s += report_line(
        fmt::format("  {} in {}: {} msgs/s, {:.2f} MB/s", plural(r.messages, "message", "messages"),
                    base::format_duration(r.elapsed),
                    group_digits(static_cast<std::uint64_t>(std::llround(r.messages_per_second()))),
                    r.megabytes_per_second()));
  }
  std::string wire =
      fmt::format("sent {} ({} B), received {} ({} B)",
                  plural(r.messages_sent, "message", "messages"), group_digits(r.bytes_sent),
                  group_digits(r.messages_received), group_digits(r.bytes_received));
  if (r.warmup_messages != 0) {
    wire += fmt::format(", {} in warm-up", group_digits(r.warmup_messages));
  }
  if (!r.interrupted && r.abandoned != 0) {
    wire += fmt::format(", {} sent at the very end still in flight, not counted",
                        group_digits(r.abandoned));
  }
  s += entry("Wire", wire);
  if (r.unsent != 0) {
    s += entry("Behind", fmt::format("{} fell due but were never sent: the rate was not reached, "
                                     "and the latencies above leave out these, the latest of all",
                                     plural(r.unsent, "message", "messages")));
  }
  s += entry("CPU", fmt::format("{:.2f} s user, {:.2f} s system: {:.2f} us per message",
                                r.cpu_user_s, r.cpu_system_s, r.cpu_per_message_us()));
  if (r.backend == "io_uring") {
    // An exhaustion delays one connection's receive by a loop turn (the data waits in the
    // socket until the re-arm). It means something for the figures above only when it is
    // frequent enough to reach the tail: at least one per hundred messages can move p99.
    const bool tail =
        r.buffer_exhaustions != 0 && r.buffer_exhaustions * 100 >= r.messages_received;
    s += entry(
        "io_uring",
        fmt::format("receive buffers ran out {}{}", plural(r.buffer_exhaustions, "time", "times"),
                    tail ? ": warning, often enough to delay the latency tail" : ""));
  }
  if (r.options.target.transport == net::Transport::udp) {
    s += entry("UDP", fmt::format("{} reordered, {} late", group_digits(r.reordered),
                                  group_digits(r.late)));
  }
  const std::uint64_t errors = r.error_total();
  if (errors == 0) {
    s += entry("Errors", "none");
  } else {
    s += entry("Errors", error_list(r.errors));
    s += entry("First", r.first_error);
    if (const std::string hint = r.hint(); !hint.empty()) {
      s += entry("Hint", hint);
    }
  }
  // A merge (bench merge) keeps each run's errors under its file name.
  for (const BenchSource& source : r.sources) {
    s += entry("Source", fmt::format("{}: errors {}", source.name, error_list(source.errors)));
    if (!source.first_error.empty()) {
      s += entry("", fmt::format("first: {}", source.first_error));
    }
  }
  std::fputs(s.c_str(), out);
  std::fflush(out);
}

}  // namespace netecho::client
