// bench's latency-by-percentile chart, a self-contained SVG document.

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "client/bench/report.hpp"

namespace netecho::client {
namespace {

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

std::string report_svg(const BenchResult& r) {
  const Histogram& h = r.latency;
  const std::string title = "netecho bench " + describe_run(r);
  // The chart widens for a long title rather than clip it: 9 px a character is about what a
  // bold 15 px sans-serif face takes, with room to spare.
  const double width = std::max(1000.0, 60 + 9.0 * static_cast<double>(title.size()));
  constexpr double kHeight = 580;
  constexpr double kLeft = 90, kRight = 40, kTop = 90, kBottom = 70;
  const double plot_w = width - kLeft - kRight;
  constexpr double kPlotH = kHeight - kTop - kBottom;
  const auto points = h.distribution();

  // x: -log10(1 - p); the last point (100 %, the maximum) is drawn one decade past the last
  // finite percentile, where the plot's axis ends. The marked percentiles count too, so that
  // none sits beyond the last tick.
  double x_last = 0;
  for (const auto& p : points) {
    if (p.percentile < 100) {
      x_last = std::max(x_last, -std::log10(1 - p.percentile / 100));
    }
  }
  if (h.count() != 0) {
    for (const auto& p : kReportPercentiles) {
      x_last = std::max(x_last, -std::log10(1 - p.percentile / 100));
    }
  }
  const int decades = std::max(1, static_cast<int>(std::floor(x_last + 1e-9)) + 1);
  const auto x_of = [&](double percentile) {
    const double x =
        percentile >= 100 ? decades : std::min<double>(decades, -std::log10(1 - percentile / 100));
    return kLeft + plot_w * x / decades;
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
      width, kHeight);
  s += fmt::format(
      "<text id=\"title\" x=\"{}\" y=\"26\" text-anchor=\"middle\" font-size=\"15\" "
      "font-weight=\"bold\">{}</text>\n",
      width / 2, xml_escape(title));
  const std::string figures =
      h.count() == 0
          ? fmt::format("no data: nothing was measured; {} errors", group_digits(r.error_total()))
          : fmt::format(
                "{} messages, {} msgs/s, p50 {}, p99 {}, p99.9 {}, max {}; {} errors",
                group_digits(r.messages),
                group_digits(static_cast<std::uint64_t>(std::llround(r.messages_per_second()))),
                latency_text(h.percentile(50)), latency_text(h.percentile(99)),
                latency_text(h.percentile(99.9)), latency_text(h.max()),
                group_digits(r.error_total()));
  s += fmt::format(
      "<text id=\"subtitle\" x=\"{}\" y=\"48\" text-anchor=\"middle\" fill=\"#444\">{}</text>\n",
      width / 2, figures);
  s += fmt::format(
      "<text id=\"run\" x=\"{}\" y=\"66\" text-anchor=\"middle\" fill=\"#444\">{} on {}, "
      "started {}</text>\n",
      width / 2, xml_escape(r.address.empty() ? "-" : r.address), xml_escape(r.backend),
      xml_escape(r.started_at));

  // Grid and tick labels.
  s += "<g id=\"x-axis\" stroke=\"#ddd\">\n";
  for (int d = 0; d <= decades; ++d) {
    const double x = kLeft + plot_w * d / decades;
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
        kLeft, y, kLeft + plot_w, kLeft - 8, y + 4, v / unit_ns);
  }
  s += "</g>\n";
  s += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#222\"/>\n", kLeft,
      kTop, plot_w, kPlotH);
  s += fmt::format(
      "<text id=\"x-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">Percentile (log scale of "
      "1 / (1 - p); the last point is the maximum)</text>\n",
      kLeft + plot_w / 2, kHeight - 18);
  s += fmt::format(
      "<text id=\"y-label\" transform=\"translate(24 {}) rotate(-90)\" "
      "text-anchor=\"middle\">Latency ({})</text>\n",
      kTop + kPlotH / 2, unit);

  if (h.count() == 0) {
    // No curve of zeros for a run that measured nothing.
    s += fmt::format(
        "<text id=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"20\" "
        "fill=\"#888\">no data</text>\n",
        kLeft + plot_w / 2, kTop + kPlotH / 2);
  }
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
    const double x = x_of(p.percentile);
    const double y = y_of(static_cast<double>(v));
    // The label is text on the page, not only a tooltip, so a print or a PNG keeps it; it
    // sits above and left of its dot, where the rising curve leaves room.
    s += fmt::format(
        "<circle cx=\"{0:.1f}\" cy=\"{1:.1f}\" r=\"3.5\"><title>{2} {3}</title></circle>"
        "<text class=\"marker-label\" x=\"{4:.1f}\" y=\"{5:.1f}\" text-anchor=\"end\" "
        "font-size=\"11\" fill=\"#1f6fb4\">{2} {3}</text>\n",
        x, y, p.label, latency_text(v), x - 6, y - 6);
  }
  s += "</g>\n</svg>\n";
  return s;
}

}  // namespace netecho::client
