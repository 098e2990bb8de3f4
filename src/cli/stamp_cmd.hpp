#pragma once
// `netecho stamp`: the options as given on the command line, and the command.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "cli/common.hpp"

namespace netecho::cli {

struct StampArgs {
  std::string target;
  std::optional<std::uint64_t> count;
  std::string interval = "1s";
  std::optional<std::string> size;  // unset: the base packet alone
  std::string timeout = "1s";
  std::optional<std::uint16_t> ssid;
  std::optional<std::string> auth_key;
  std::string timestamp = "ntp";
  bool quiet = false;
  FamilyFlags family;
  bool json = false;
  bool json_lines = false;
  std::string backend = "auto";
};

CLI::App* register_stamp(CLI::App& app, StampArgs& args);
int run_stamp(const StampArgs& args);

}  // namespace netecho::cli
