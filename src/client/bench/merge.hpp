#pragma once
// `netecho bench merge`: the JSON documents of several runs (several hosts, several processes
// against one server) read back and added up into one BenchResult, which bench's own report
// code then prints, writes as JSON and draws. The histograms merge bucket by bucket from the
// counts every document holds (schema netecho-bench/2), so percentiles of the merge are those
// of one histogram that recorded every run; counts add up; rates are over the union of the
// measured windows; each run's errors stay in BenchResult::sources under its file name.

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "client/bench/bench.hpp"
#include "client/outcome.hpp"

namespace netecho::client {

// Reads one bench JSON document back. `name` (its file name) names it in the error and becomes
// its source. Refused, with one line naming the file: text that is not JSON, a document that is
// not bench's, another schema version, a figure missing or of the wrong type.
base::Parsed<BenchResult> read_bench_document(std::string_view text, const std::string& name);

// Adds the runs up. Refused when they differ in what makes the sum meaningless: the transport,
// the message size, or the loop (closed or open: latency counts from the send in one and from
// the intended send in the other). The parameters are the first run's, but connections,
// threads, the rate and the message quota are summed and the duration is the longest.
base::Parsed<BenchResult> merge_bench_results(const std::vector<BenchResult>& runs);

struct BenchMergeOptions {
  std::vector<std::string> inputs;  // the documents' file names ("-": standard input)
  std::string json_path;            // as bench's --json and --plot
  std::string plot_path;
};

// Reads, merges, prints the report to out and writes the files asked for. ok when every run
// was free of errors and measured something, as for a run of bench; failed otherwise, or when
// a document cannot be read or merged (one line on err naming it).
Outcome run_bench_merge(const BenchMergeOptions& options, std::FILE* out, std::FILE* err);

}  // namespace netecho::client
