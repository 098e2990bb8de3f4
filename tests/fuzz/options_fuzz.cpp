// libFuzzer target: the option parser. The input is split at NUL bytes into an argv, which is
// parsed by CLI11 through the real register_* functions of every subcommand, as main() does;
// `serve` options are then turned into a server configuration (make_serve_config), the full
// path from argv to a config that touches no socket. Nothing may exit, abort or throw anything
// but the two documented errors: CLI::Error (usage) and cli::ConfigError (a bad value).

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/bench_cmd.hpp"
#include "cli/errors.hpp"
#include "cli/ping_cmd.hpp"
#include "cli/send_cmd.hpp"
#include "cli/serve_cmd.hpp"
#include "net/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace netecho;
  constexpr std::size_t kMaxArgs = 32;
  std::vector<std::string> args{"netecho"};
  std::string current;
  for (std::size_t i = 0; i < size && args.size() < kMaxArgs; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  if (!current.empty() && args.size() < kMaxArgs) {
    args.push_back(current);
  }
  std::vector<const char*> argv;
  for (const auto& a : args) {
    argv.push_back(a.c_str());
  }

  // One app for the whole run, as main() builds it: CLI11 clears the previous parse at the
  // start of each parse(), and the argument structs, which the options write into, are reset to
  // their defaults here. Building the app anew for each input would spend most of the time in
  // CLI11's set-up instead of its parser.
  struct Cli {
    CLI::App app{"netecho", "netecho"};
    cli::ServeArgs serve_args;
    cli::SendArgs send_args;
    cli::PingArgs ping_args;
    cli::BenchArgs bench_args;
    CLI::App* serve = nullptr;
    Cli() {
      app.require_subcommand(1);
      app.set_version_flag("--version", "netecho");
      serve = cli::register_serve(app, serve_args);
      cli::register_send(app, send_args);
      cli::register_ping(app, ping_args);
      cli::register_bench(app, bench_args);
    }
  };
  static Cli* const cli_state = new Cli();  // never destroyed: libFuzzer may exit at any time
  Cli& c = *cli_state;
  c.serve_args = {};
  c.send_args = {};
  c.ping_args = {};
  c.bench_args = {};
  CLI::App& app = c.app;
  cli::ServeArgs& serve_args = c.serve_args;
  CLI::App* serve = c.serve;
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::Error&) {
    return 0;
  }
  if (serve->parsed()) {
    try {
      cli::make_serve_config(serve_args);
    } catch (const cli::ConfigError&) {
      return 0;
    }
  }
  return 0;
}
