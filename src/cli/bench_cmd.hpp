#pragma once
// `netecho bench`: the options as given on the command line, and the command.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/common.hpp"

namespace netecho::cli {

struct BenchArgs {
  std::string target = "tcp://127.0.0.1:12345";
  FamilyFlags family;  // -4, -6
  std::uint32_t connections = 10;
  std::optional<std::string> duration;  // default 10s
  std::optional<std::uint64_t> messages;
  std::string size = "64";
  std::uint32_t pipeline = 1;
  std::string expect = "echo";
  unsigned threads = 0;
  std::optional<double> rate;
  std::string warmup = "0s";
  std::string connect_timeout = "5s";
  std::string timeout = "2s";
  std::string json;
  std::string plot;
  std::string hdr_log;
  std::string backend = "auto";
  // bench merge: the documents to merge, and where the merge goes.
  std::vector<std::string> merge_inputs;
  std::string merge_json;
  std::string merge_plot;
};

CLI::App* register_bench(CLI::App& app, BenchArgs& args);
int run_bench(const BenchArgs& args);

}  // namespace netecho::cli
