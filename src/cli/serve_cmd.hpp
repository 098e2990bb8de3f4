#pragma once
// `netecho serve`: the options as given on the command line, and the command.

#include <cstddef>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace netecho::cli {

struct ServeArgs {
  std::vector<std::string> tcp;
  std::vector<std::string> udp;
  std::vector<std::string> udp_reverse;
  bool once = false;
  std::size_t udp_max = 0;
  unsigned threads = 0;
};

CLI::App* register_serve(CLI::App& app, ServeArgs& args);
// Returns the exit code; throws net::ConfigError for bad input or a failed start.
int run_serve(const ServeArgs& args);

}  // namespace netecho::cli
