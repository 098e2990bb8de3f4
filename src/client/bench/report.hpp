#pragma once
// What `netecho bench` prints and writes: the live line, the final report in the spirit of
// wrk's (report_text.cpp), the JSON document (schema in docs/BENCH.md; report_json.cpp) and the
// latency-by-percentile SVG chart (report_svg.cpp).
// Pure functions of a BenchResult (and of the figures of one second), so they can be tested
// without running anything.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "client/bench/bench.hpp"
#include "client/bench/output_file.hpp"
#include "client/histogram.hpp"
#include "client/outcome.hpp"

namespace netecho::client {

// The percentiles every report lists, and their JSON names.
struct ReportPercentile {
  double percentile;
  const char* label;      // "p99.9"
  const char* json_name;  // "p99_9"
};
inline constexpr ReportPercentile kReportPercentiles[] = {
    {50, "p50", "p50"},       {90, "p90", "p90"},          {99, "p99", "p99"},
    {99.9, "p99.9", "p99_9"}, {99.99, "p99.99", "p99_99"},
};

// One line per second on a terminal:
//   "   3 s     41,234 msgs/s    2.64 MB/s p50 25.1 us p99 45.0 us errors 0", at most 80
//   columns for any rate a machine reaches ("   3 s  9,999,999 msgs/s ..."; " warm-up" after).
// second: the latencies of echoes received during that second.
std::string format_live_line(std::uint64_t elapsed_s, double messages_per_s, double mb_per_s,
                             const Histogram& second, std::uint64_t errors, bool warmup);

// The run's parameters on one line: "tcp://127.0.0.1:7, 100 connections, 1 thread, 64 B,
// pipeline 1, closed loop, 10 s". Used by the report and the chart's title.
std::string describe_run(const BenchResult& r);

// The final human report, every line within 80 columns (client/text_wrap.hpp) but for a word
// longer than a line (a long host name).
void print_report(const BenchResult& r, std::FILE* out);

// "netecho bench: MESSAGE\n", wrapped to 80 columns like the report: what bench writes to
// standard error.
std::string bench_message(std::string_view message);

// The JSON document's schema: its version changes whenever a field's meaning does. Version 2
// added the bucket counts (so that documents merge exactly), started_unix_ns and sources.
inline constexpr const char* kBenchSchema = "netecho-bench/2";

// Every figure, the full percentile distribution and the bucket counts, as a JSON document
// (docs/BENCH.md).
std::string report_json(const BenchResult& r);

// A self-contained SVG chart: latency (y, linear) against percentile (x at -log10(1 - p), so
// 90 %, 99 %, 99.9 % ... are evenly spaced, as in HdrHistogram's plots), with axes, tick
// labels and a title holding the run's parameters. The series is one polyline with
// id="latency", one point per entry of Histogram::distribution().
std::string report_svg(const BenchResult& r);

// Where a finished result goes: the human report, and the --json and --plot files (opened
// before the run, so that a bad path fails at once; written whole or not at all).
struct ReportOutputs {
  std::string json_path;  // empty: none; "-": standard output
  std::string plot_path;
  std::string hdr_log_path;
  std::optional<OutputFile> json_file;  // none: no file, or standard output
  std::optional<OutputFile> plot_file;
  std::optional<OutputFile> hdr_log_file;
  std::FILE* report_out = nullptr;  // the human report: out, or err when the JSON takes out
};

// Opens the output files; nothing when one cannot be created (the reason is written to err).
std::optional<ReportOutputs> open_report_outputs(const std::string& json_path,
                                                const std::string& plot_path,
                                                const std::string& hdr_log_path, std::FILE* out,
                                                std::FILE* err);

// Prints the report, writes the files, says on err what went wrong (errors, nothing measured,
// --rate not reached) and returns the outcome: the end of a run of bench and of bench merge.
Outcome write_report(const BenchResult& r, ReportOutputs& outputs, std::FILE* out,
                     std::FILE* err);

// "1,234,567"
std::string group_digits(std::uint64_t n);

// Helpers the three outputs share (report_text.cpp): "25.1 us"; a duration in seconds.
std::string latency_text(std::uint64_t ns);
double as_seconds(std::chrono::nanoseconds d);

}  // namespace netecho::client
