#include "client/bench/report.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/duration.hpp"

namespace netecho::client {
namespace {

std::string latency(std::uint64_t ns) {
  return base::format_duration(std::chrono::nanoseconds(static_cast<std::int64_t>(ns)));
}

double seconds(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e9; }

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

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// "99.99%" for a percentile, without trailing zeros.
std::string percent_label(double p) {
  std::string s = fmt::format("{:.6f}", p);
  while (s.back() == '0') {
    s.pop_back();
  }
  if (s.back() == '.') {
    s.pop_back();
  }
  return s + "%";
}

}  // namespace

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
  return fmt::format(
      "{:>5} s {:>12} msgs/s {:>9.2f} MB/s   p50 {:>8}   p99 {:>8}   errors {}{}", elapsed_s,
      group_digits(static_cast<std::uint64_t>(std::llround(messages_per_s))), mb_per_s,
      second.count() ? latency(second.percentile(50)) : "-",
      second.count() ? latency(second.percentile(99)) : "-", errors, warmup ? "   (warm-up)" : "");
}

std::string describe_run(const BenchResult& r) {
  const BenchOptions& o = r.options;
  const bool v6 = o.target.endpoint.host.find(':') != std::string::npos;
  std::string s =
      fmt::format("{}://{}{}{}:{}, {}, {}, {}, pipeline {}, ", net::to_string(o.target.transport),
                  v6 ? "[" : "", o.target.endpoint.host, v6 ? "]" : "", o.target.endpoint.port,
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
  const double s = seconds(elapsed);
  return s > 0 ? static_cast<double>(messages) / s : 0.0;
}

double BenchResult::megabytes_per_second() const noexcept {
  return messages_per_second() * static_cast<double>(options.message_size) / 1e6;
}

double BenchResult::cpu_per_message_us() const noexcept {
  return messages_received != 0
             ? (cpu_user_s + cpu_system_s) * 1e6 / static_cast<double>(messages_received)
             : 0.0;
}

void print_report(const BenchResult& r, std::FILE* out) {
  std::string s = fmt::format("netecho bench {} ({}, {})\n", describe_run(r),
                              r.address.empty() ? "-" : r.address, r.backend);
  if (r.interrupted) {
    s += fmt::format("  Interrupted: {} measured", base::format_duration(r.elapsed));
    if (r.abandoned != 0) {
      s += fmt::format(", {} still in flight not counted",
                       plural(r.abandoned, "message", "messages"));
    }
    s += "\n";
  }
  s += "  Latency  ";
  for (const auto& p : kReportPercentiles) {
    s += fmt::format(" {:>9}", p.label);
  }
  s += fmt::format(" {:>9} {:>9} {:>9}\n           ", "max", "mean", "stddev");
  const Histogram& h = r.latency;
  for (const auto& p : kReportPercentiles) {
    s += fmt::format(" {:>9}", h.count() ? latency(h.percentile(p.percentile)) : "-");
  }
  s += fmt::format(" {:>9} {:>9} {:>9}\n", h.count() ? latency(h.max()) : "-",
                   h.count() ? latency(static_cast<std::uint64_t>(h.mean())) : "-",
                   h.count() ? latency(static_cast<std::uint64_t>(h.stddev())) : "-");
  const Histogram& c = r.connect;
  s += fmt::format("  Connect   {} of {} connected", group_digits(r.connected),
                   group_digits(r.options.connections));
  if (r.options.target.transport == net::Transport::udp) {
    s += " (UDP: no handshake)";
  } else if (c.count() != 0) {
    s += fmt::format(": p50 {}, p99 {}, max {}", latency(c.percentile(50)),
                     latency(c.percentile(99)), latency(c.max()));
  }
  s += "\n";
  s += fmt::format("  {} in {}: {} msgs/s, {:.2f} MB/s\n",
                   plural(r.messages, "message", "messages"), base::format_duration(r.elapsed),
                   group_digits(static_cast<std::uint64_t>(std::llround(r.messages_per_second()))),
                   r.megabytes_per_second());
  s += fmt::format("  Wire      sent {} ({} B), received {} ({} B)",
                   plural(r.messages_sent, "message", "messages"), group_digits(r.bytes_sent),
                   group_digits(r.messages_received), group_digits(r.bytes_received));
  if (r.warmup_messages != 0) {
    s += fmt::format(", {} in warm-up", group_digits(r.warmup_messages));
  }
  if (!r.interrupted && r.abandoned != 0) {
    s += fmt::format(", {} sent at the very end still in flight, not counted",
                     group_digits(r.abandoned));
  }
  s += "\n";
  if (r.unsent != 0) {
    s += fmt::format(
        "  Behind    {} fell due but were never sent: the rate was not reached, and the\n"
        "            latencies above leave out these, the latest of all\n",
        plural(r.unsent, "message", "messages"));
  }
  s += fmt::format("  CPU       {:.2f} s user, {:.2f} s system: {:.2f} us per message\n",
                   r.cpu_user_s, r.cpu_system_s, r.cpu_per_message_us());
  if (r.options.target.transport == net::Transport::udp) {
    s += fmt::format("  UDP       {} reordered, {} late\n", group_digits(r.reordered),
                     group_digits(r.late));
  }
  const std::uint64_t errors = r.error_total();
  if (errors == 0) {
    s += "  Errors    none\n";
  } else {
    s += fmt::format("  Errors    {}:", group_digits(errors));
    const char* sep = " ";
    for (std::size_t k = 0; k < kErrorKinds; ++k) {
      if (r.errors[k] != 0) {
        s += fmt::format("{}{} {}", sep, error_name(static_cast<ErrorKind>(k)),
                         group_digits(r.errors[k]));
        sep = ", ";
      }
    }
    s += fmt::format("\n  First     {}\n", r.first_error);
  }
  std::fputs(s.c_str(), out);
  std::fflush(out);
}

std::string report_json(const BenchResult& r) {
  using json = nlohmann::ordered_json;  // keys in the documented order
  const BenchOptions& o = r.options;
  const bool v6 = o.target.endpoint.host.find(':') != std::string::npos;
  json parameters = {
      {"target", fmt::format("{}://{}{}{}:{}", net::to_string(o.target.transport), v6 ? "[" : "",
                             o.target.endpoint.host, v6 ? "]" : "", o.target.endpoint.port)},
      {"transport", std::string(net::to_string(o.target.transport))},
      {"address", r.address.empty() ? json(nullptr) : json(r.address)},
      {"backend", r.backend},
      {"connections", o.connections},
      {"threads", r.threads},
      {"message_size", o.message_size},
      {"pipeline", o.pipeline},
      {"mode", o.rate > 0 ? "open" : "closed"},
      {"rate", o.rate > 0 ? json(o.rate) : json(nullptr)},
      {"duration_s", o.messages == 0 ? json(seconds(o.duration)) : json(nullptr)},
      {"messages", o.messages != 0 ? json(o.messages) : json(nullptr)},
      {"warmup_s", seconds(o.warmup)},
      {"connect_timeout_s", seconds(o.connect_timeout)},
      {"timeout_s", seconds(o.timeout)},
  };
  const Histogram& h = r.latency;
  json lat = {{"count", h.count()},   {"min", h.min()}, {"mean", h.mean()},
              {"stddev", h.stddev()}, {"max", h.max()}, {"saturated", h.saturated()}};
  for (const auto& p : kReportPercentiles) {
    lat[p.json_name] = h.percentile(p.percentile);
  }
  json distribution = json::array();
  for (const auto& point : h.distribution()) {
    distribution.push_back({{"percentile", point.percentile},
                            {"latency_ns", point.value_ns},
                            {"count", point.cumulative_count}});
  }
  const Histogram& c = r.connect;
  json connect = {{"count", c.count()},      {"min", c.min()},          {"mean", c.mean()},
                  {"p50", c.percentile(50)}, {"p90", c.percentile(90)}, {"p99", c.percentile(99)},
                  {"max", c.max()}};
  json errors = {{"total", r.error_total()}};
  for (std::size_t k = 0; k < kErrorKinds; ++k) {
    errors[error_name(static_cast<ErrorKind>(k))] = r.errors[k];
  }
  json doc = {
      {"schema", "netecho-bench/1"},
      {"started_at", r.started_at},
      {"parameters", parameters},
      {"run",
       {{"elapsed_s", seconds(r.elapsed)},
        {"interrupted", r.interrupted},
        {"connected", r.connected}}},
      {"throughput",
       {{"messages", r.messages},
        {"messages_per_s", r.messages_per_second()},
        {"bytes", r.messages * o.message_size},
        {"megabytes_per_s", r.megabytes_per_second()}}},
      {"latency_ns", lat},
      {"latency_distribution", distribution},
      {"connect_ns", connect},
      {"errors", errors},
      {"first_error", r.first_error.empty() ? json(nullptr) : json(r.first_error)},
      {"udp", {{"reordered", r.reordered}, {"late", r.late}}},
      {"wire",
       {{"messages_sent", r.messages_sent},
        {"messages_received", r.messages_received},
        {"bytes_sent", r.bytes_sent},
        {"bytes_received", r.bytes_received},
        {"warmup_messages", r.warmup_messages},
        {"abandoned", r.abandoned},
        {"unsent", r.unsent}}},
      {"cpu",
       {{"user_s", r.cpu_user_s},
        {"system_s", r.cpu_system_s},
        {"per_message_us", r.cpu_per_message_us()}}},
  };
  return doc.dump(2) + "\n";
}

std::string report_svg(const BenchResult& r) {
  constexpr double kWidth = 1000, kHeight = 580;
  constexpr double kLeft = 90, kRight = 40, kTop = 90, kBottom = 70;
  constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;
  const auto points = r.latency.distribution();

  // x: -log10(1 - p); the last point (100 %, the maximum) is drawn one decade past the last
  // finite percentile, where the plot's axis ends.
  double x_last = 0;
  for (const auto& p : points) {
    if (p.percentile < 100) {
      x_last = std::max(x_last, -std::log10(1 - p.percentile / 100));
    }
  }
  const int decades = std::max(1, static_cast<int>(std::floor(x_last + 1e-9)) + 1);
  const auto x_of = [&](double percentile) {
    const double x =
        percentile >= 100 ? decades : std::min<double>(decades, -std::log10(1 - percentile / 100));
    return kLeft + kPlotW * x / decades;
  };

  // y: linear from 0 to a round value at or above the maximum, in a unit that suits it.
  const double max_ns = std::max<double>(1, static_cast<double>(r.latency.max()));
  const double step_raw = max_ns / 6;
  const double magnitude = std::pow(10, std::floor(std::log10(step_raw)));
  double step = magnitude;
  for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * magnitude >= step_raw) {
      step = m * magnitude;
      break;
    }
  }
  const double y_top = step * std::ceil(max_ns / step);
  const auto y_of = [&](double ns) { return kTop + kPlotH * (1 - ns / y_top); };
  const char* unit = "ns";
  double unit_ns = 1;
  if (y_top >= 1e9) {
    unit = "s", unit_ns = 1e9;
  } else if (y_top >= 1e6) {
    unit = "ms", unit_ns = 1e6;
  } else if (y_top >= 1e3) {
    unit = "us", unit_ns = 1e3;
  }

  std::string s;
  s += fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"13\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      kWidth, kHeight);
  const Histogram& h = r.latency;
  s += fmt::format(
      "<text id=\"title\" x=\"{}\" y=\"26\" text-anchor=\"middle\" font-size=\"15\" "
      "font-weight=\"bold\">netecho bench {}</text>\n",
      kWidth / 2, xml_escape(describe_run(r)));
  s += fmt::format(
      "<text id=\"subtitle\" x=\"{}\" y=\"48\" text-anchor=\"middle\" fill=\"#444\">{} "
      "messages, {} msgs/s, p50 {}, p99 {}, p99.9 {}, max {}; {} errors</text>\n",
      kWidth / 2, group_digits(r.messages),
      group_digits(static_cast<std::uint64_t>(std::llround(r.messages_per_second()))),
      latency(h.percentile(50)), latency(h.percentile(99)), latency(h.percentile(99.9)),
      latency(h.max()), group_digits(r.error_total()));
  s += fmt::format(
      "<text id=\"run\" x=\"{}\" y=\"66\" text-anchor=\"middle\" fill=\"#444\">{} on {}, "
      "started {}</text>\n",
      kWidth / 2, xml_escape(r.address.empty() ? "-" : r.address), xml_escape(r.backend),
      xml_escape(r.started_at));

  // Grid and tick labels.
  s += "<g id=\"x-axis\" stroke=\"#ddd\">\n";
  for (int d = 0; d <= decades; ++d) {
    const double x = kLeft + kPlotW * d / decades;
    const double percentile = 100 * (1 - std::pow(10.0, -d));
    s += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\" stroke=\"none\" "
        "fill=\"#222\">{4}</text>\n",
        x, kTop, kTop + kPlotH, kTop + kPlotH + 20, percent_label(percentile));
  }
  s += "</g>\n<g id=\"y-axis\" stroke=\"#ddd\">\n";
  for (double v = 0; v <= y_top + step / 2; v += step) {
    const double y = y_of(v);
    s += fmt::format(
        "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\" stroke=\"none\" "
        "fill=\"#222\">{5:g}</text>\n",
        kLeft, y, kLeft + kPlotW, kLeft - 8, y + 4, v / unit_ns);
  }
  s += "</g>\n";
  s += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#222\"/>\n", kLeft,
      kTop, kPlotW, kPlotH);
  s += fmt::format(
      "<text id=\"x-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">Percentile (log scale of "
      "1 / (1 - p); the last point is the maximum)</text>\n",
      kLeft + kPlotW / 2, kHeight - 18);
  s += fmt::format(
      "<text id=\"y-label\" transform=\"translate(24 {}) rotate(-90)\" "
      "text-anchor=\"middle\">Latency ({})</text>\n",
      kTop + kPlotH / 2, unit);

  // The series.
  s += "<polyline id=\"latency\" class=\"series\" fill=\"none\" stroke=\"#1f6fb4\" "
       "stroke-width=\"2\" points=\"";
  for (std::size_t i = 0; i < points.size(); ++i) {
    s += fmt::format("{}{:.1f},{:.1f}", i == 0 ? "" : " ", x_of(points[i].percentile),
                     y_of(static_cast<double>(points[i].value_ns)));
  }
  s += "\"/>\n<g id=\"markers\" fill=\"#1f6fb4\">\n";
  for (const auto& p : kReportPercentiles) {
    if (h.count() == 0) {
      break;
    }
    const auto v = h.percentile(p.percentile);
    s +=
        fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\"><title>{} {}</title></circle>\n",
                    x_of(p.percentile), y_of(static_cast<double>(v)), p.label, latency(v));
  }
  s += "</g>\n</svg>\n";
  return s;
}

}  // namespace netecho::client
