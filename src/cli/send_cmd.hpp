#pragma once
// `netecho send`: the options as given on the command line, and the command.

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/common.hpp"

namespace netecho::cli {

struct SendArgs {
  std::string target = "tcp://127.0.0.1:12345";
  FamilyFlags family;  // -4, -6
  std::optional<std::string> bytes;
  std::optional<std::string> text;
  std::optional<std::string> hex;
  bool from_stdin = false;
  std::string timeout = "5s";
  std::string output = "list";
  std::string expect;  // empty: by transport
  std::string backend = "auto";
  bool json = false;
};

CLI::App* register_send(CLI::App& app, SendArgs& args);
int run_send(const SendArgs& args);

}  // namespace netecho::cli
