// The bench report, JSON document and SVG chart, from a result built by hand.

#include "client/bench/report.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <cstring>
#include <regex>
#include <string>

namespace netecho::client {
namespace {

BenchResult sample_result() {
  BenchResult r;
  r.options.target = {net::Transport::tcp, {"127.0.0.1", 7000}};
  r.options.connections = 4;
  r.options.duration = std::chrono::seconds(2);
  r.options.message_size = 64;
  r.address = "127.0.0.1:7000";
  r.backend = "epoll";
  r.threads = 1;
  r.started_at = "2026-01-02T03:04:05Z";
  r.connected = 4;
  r.elapsed = std::chrono::seconds(2);
  for (std::uint64_t i = 1; i <= 10'000; ++i) {
    r.latency.record(i * 1000);  // 1 us .. 10 ms, uniform
  }
  r.messages = 10'000;
  for (int i = 0; i < 4; ++i) {
    r.connect.record(50'000);
  }
  r.messages_sent = r.messages_received = 10'004;
  r.bytes_sent = r.bytes_received = 10'004 * 64;
  r.cpu_user_s = 0.5;
  r.cpu_system_s = 0.5;
  return r;
}

TEST(BenchReport, GroupsDigits) {
  EXPECT_EQ(group_digits(0), "0");
  EXPECT_EQ(group_digits(999), "999");
  EXPECT_EQ(group_digits(1000), "1,000");
  EXPECT_EQ(group_digits(1234567), "1,234,567");
}

TEST(BenchReport, DerivedFigures) {
  const BenchResult r = sample_result();
  EXPECT_DOUBLE_EQ(r.messages_per_second(), 5000);
  EXPECT_DOUBLE_EQ(r.megabytes_per_second(), 5000 * 64 / 1e6);
  EXPECT_NEAR(r.cpu_per_message_us(), 1e6 / 10'004, 1e-9);
  EXPECT_EQ(r.error_total(), 0u);
}

TEST(BenchReport, TextReportHasTheFigures) {
  BenchResult r = sample_result();
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  ASSERT_NE(f, nullptr);
  print_report(r, f);
  std::fclose(f);
  const std::string text(buf, len);
  std::free(buf);
  for (const char* want :
       {"tcp://127.0.0.1:7000", "4 connections", "1 thread", "64 B", "closed loop", "p50", "p99.99",
        "10,000 messages", "5,000 msgs/s", "Errors    none", "Connect   4 of 4 connected"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

TEST(BenchReport, TextReportNamesErrors) {
  BenchResult r = sample_result();
  r.errors[static_cast<std::size_t>(ErrorKind::mismatch)] = 1;
  r.errors[static_cast<std::size_t>(ErrorKind::timeout)] = 2;
  r.first_error = "connection 0: byte 3 differs";
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  print_report(r, f);
  std::fclose(f);
  const std::string text(buf, len);
  std::free(buf);
  EXPECT_NE(text.find("Errors    3: mismatch 1, timeout 2"), std::string::npos) << text;
  EXPECT_NE(text.find("connection 0: byte 3 differs"), std::string::npos) << text;
}

std::string text_report(const BenchResult& r) {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  print_report(r, f);
  std::fclose(f);
  std::string text(buf, len);
  std::free(buf);
  return text;
}

TEST(BenchReport, IoUringBufferExhaustionsAreOneLineWarnedOnlyWhenTheyReachTheTail) {
  BenchResult r = sample_result();
  EXPECT_EQ(text_report(r).find("io_uring"), std::string::npos);  // epoll: no such figure
  r.backend = "io_uring";
  r.buffer_exhaustions = 99;  // fewer than 1 per 100 of the 10,004 messages
  std::string text = text_report(r);
  EXPECT_NE(text.find("  io_uring  receive buffers ran out 99 times\n"), std::string::npos)
      << text;
  r.buffer_exhaustions = 101;
  text = text_report(r);
  EXPECT_NE(text.find("ran out 101 times: warning"), std::string::npos) << text;
}

TEST(BenchReport, JsonHoldsTheFigures) {
  BenchResult r = sample_result();
  r.options.rate = 5000;
  r.errors[static_cast<std::size_t>(ErrorKind::reset)] = 2;
  const auto doc = nlohmann::json::parse(report_json(r));
  EXPECT_EQ(doc["schema"], "netecho-bench/2");
  EXPECT_EQ(doc["parameters"]["target"], "tcp://127.0.0.1:7000");
  EXPECT_EQ(doc["parameters"]["mode"], "open");
  EXPECT_EQ(doc["parameters"]["rate"], 5000.0);
  EXPECT_TRUE(doc["parameters"]["messages"].is_null());
  EXPECT_EQ(doc["parameters"]["duration_s"], 2.0);
  EXPECT_EQ(doc["throughput"]["messages"], 10'000u);
  EXPECT_EQ(doc["throughput"]["bytes"], 640'000u);
  EXPECT_EQ(doc["latency_ns"]["count"], 10'000u);
  EXPECT_EQ(doc["latency_ns"]["min"], 1000u);
  EXPECT_EQ(doc["latency_ns"]["max"], 10'000'000u);
  EXPECT_EQ(doc["latency_ns"]["p99_9"], r.latency.percentile(99.9));
  EXPECT_EQ(doc["errors"]["total"], 2u);
  EXPECT_EQ(doc["errors"]["reset"], 2u);
  EXPECT_EQ(doc["wire"]["bytes_sent"], 10'004u * 64);
  EXPECT_EQ(doc["connect_ns"]["count"], 4u);
  const auto& dist = doc["latency_distribution"];
  ASSERT_EQ(dist.size(), r.latency.distribution().size());
  EXPECT_EQ(dist.back()["percentile"], 100.0);
  EXPECT_EQ(dist.back()["latency_ns"], 10'000'000u);
  EXPECT_EQ(dist.back()["count"], 10'000u);
}

TEST(BenchReport, SvgHasOnePointPerDistributionEntry) {
  const BenchResult r = sample_result();
  const std::string svg = report_svg(r);
  const std::regex points_re("<polyline id=\"latency\"[^>]* points=\"([^\"]*)\"");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, points_re));
  const std::string points = m[1];
  const auto n = static_cast<std::size_t>(std::count(points.begin(), points.end(), ','));
  EXPECT_EQ(n, r.latency.distribution().size());
  EXPECT_NE(svg.find(">netecho bench tcp://127.0.0.1:7000, 4 connections"), std::string::npos);
  // Percentile ticks are decades of 1 / (1 - p): 0 %, 90 %, 99 %, ...
  for (const char* tick : {">0%<", ">90%<", ">99%<", ">99.9%<"}) {
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  }
}

TEST(BenchReport, SvgEscapesText) {
  BenchResult r = sample_result();
  r.options.target.endpoint.host = "a<b&c";
  const std::string svg = report_svg(r);
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
  EXPECT_NE(svg.find("a&lt;b&amp;c"), std::string::npos);
}

TEST(BenchReport, EmptyRunStillRendersAndSaysNoData) {
  BenchResult r = sample_result();
  r.latency.reset();
  r.messages = 0;
  const auto lat = nlohmann::json::parse(report_json(r))["latency_ns"];
  EXPECT_EQ(lat["count"], 0u);
  for (const char* k : {"min", "mean", "stddev", "max", "p50", "p99", "p99_99"}) {
    EXPECT_TRUE(lat[k].is_null()) << k << ": " << lat[k];
  }
  const std::string svg = report_svg(r);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find(">no data<"), std::string::npos);
  EXPECT_EQ(svg.find("p50 0 ns"), std::string::npos);
  EXPECT_EQ(svg.find("marker-label"), std::string::npos);
}

// The number after attr=" in the first element of svg that has it.
double svg_number(const std::string& svg, const std::string& element_start, const char* attr) {
  const auto at = svg.find(element_start);
  const auto a = svg.find(std::string(attr) + "=\"", at);
  return std::stod(svg.substr(a + std::strlen(attr) + 2));
}

TEST(BenchReport, SvgWidensForALongTitle) {
  BenchResult r = sample_result();
  r.options.target.endpoint.host = std::string(150, 'h');
  const std::string svg = report_svg(r);
  const double width = svg_number(svg, "<svg ", "width");
  const auto title_at = svg.find("id=\"title\"");
  const auto text = svg.substr(svg.find('>', title_at) + 1);
  const double title_chars = static_cast<double>(text.find('<'));
  EXPECT_GE(width, 9 * title_chars) << "a " << title_chars << "-character title in " << width << " px";
  EXPECT_EQ(svg_number(report_svg(sample_result()), "<svg ", "width"), 1000);
}

// Each marked percentile is a dot with a visible label, within the plotted axis: with 10,000
// samples the distribution ends before p99.99, and the axis extends to take its dot.
TEST(BenchReport, SvgMarkersAreLabelledAndInsideTheAxis) {
  const std::string svg = report_svg(sample_result());
  const double plot_left = svg_number(svg, "<rect x=\"", "x");
  const double plot_right = plot_left + svg_number(svg, "<rect x=\"", "width");
  const std::regex dot_re(R"re(<circle cx="([\d.]+)")re");
  int dots = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), dot_re);
       it != std::sregex_iterator(); ++it, ++dots) {
    EXPECT_LT(std::stod((*it)[1]), plot_right - 1) << "a dot pinned to the axis' edge";
  }
  EXPECT_EQ(dots, 5);
  for (const char* label : {">p50 ", ">p99 ", ">p99.99 "}) {
    EXPECT_NE(svg.find(std::string("class=\"marker-label\"")), std::string::npos);
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  }
}

TEST(BenchReport, LiveLine) {
  Histogram second;
  second.record(25'000);
  const std::string line = format_live_line(3, 41234.4, 2.64, second, 0, false);
  EXPECT_NE(line.find("3 s"), std::string::npos) << line;
  EXPECT_NE(line.find("41,234 msgs/s"), std::string::npos) << line;
  EXPECT_NE(line.find("p50 "), std::string::npos) << line;
  EXPECT_NE(line.find("errors 0"), std::string::npos) << line;
  EXPECT_NE(format_live_line(1, 0, 0, Histogram(), 0, true).find("warm-up"), std::string::npos);
}

// The live line fits an 80-column terminal, at rates and latencies no machine exceeds.
TEST(BenchReport, LiveLineFitsEightyColumns) {
  Histogram second;
  second.record(999'000'000);  // "999 ms"
  second.record(59'900'000'000);  // "59.9 s"
  EXPECT_LE(format_live_line(9999, 9'999'999, 9999.99, second, 99, true).size(), 80u);
  EXPECT_LE(format_live_line(9999, 9'999'999, 9999.99, second, 99'999, false).size(), 80u);
}

}  // namespace
}  // namespace netecho::client
