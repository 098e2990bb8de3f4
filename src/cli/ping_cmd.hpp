#pragma once
// `netecho ping`: the options as given on the command line, and the command.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "cli/common.hpp"

namespace netecho::cli {

struct PingArgs {
  std::string target;
  std::optional<std::uint64_t> count;
  std::string interval = "1s";
  std::string size = "64";  // bytes; binary multiples as bench's -s ("1KiB")
  std::string timeout = "1s";
  std::optional<std::string> deadline;
  bool quiet = false;
  FamilyFlags family;
  bool connect = false;
  std::string expect = "echo";
  bool json = false;
  bool json_lines = false;
  std::string backend = "auto";
};

CLI::App* register_ping(CLI::App& app, PingArgs& args);
int run_ping(const PingArgs& args);

}  // namespace netecho::cli
