// netecho: one binary, one subcommand per tool. main only registers, parses and dispatches;
// each subcommand returns its exit code, and only here are errors turned into one line on
// stderr and a conventional exit status (0 ok, 1 run-time failure, 2 usage).

#include <csignal>
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "base/system.hpp"
#include "cli/bench_cmd.hpp"
#include "cli/ping_cmd.hpp"
#include "cli/send_cmd.hpp"
#include "cli/serve_cmd.hpp"
#include "net/error.hpp"

int main(int argc, char** argv) {
  using namespace netecho;
  // A peer that goes away must not kill any of the tools: every write reports EPIPE instead.
  // Decided once, here, for the whole process.
  base::ignore_sigpipe();
  CLI::App app("netecho: echo server and client tools (RFC 862), for checking network paths, "
               "measuring latency and throughput, and load-testing network stacks.",
               "netecho");
  app.require_subcommand(1);
  app.set_version_flag("--version", "netecho 0.1.0");
  app.footer("Run 'netecho SUBCOMMAND --help' for each subcommand's options.");

  cli::ServeArgs serve_args;
  cli::SendArgs send_args;
  auto* serve = cli::register_serve(app, serve_args);
  auto* send = cli::register_send(app, send_args);
  cli::PingArgs ping_args;
  auto* ping = cli::register_ping(app, ping_args);
  cli::BenchArgs bench_args;
  auto* bench = cli::register_bench(app, bench_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (argc < 2) {
      std::fputs(app.help().c_str(), stderr);
    }
    if (argc >= 2 && argv[1][0] != '-' && app.get_subcommands().empty()) {
      // CLI11 would only say that a subcommand is required: name the word it did not know.
      fmt::print(stderr, "netecho: unknown subcommand '{}' (see 'netecho --help')\n", argv[1]);
      return net::kExitUsage;
    }
    fmt::print(stderr, "netecho: {} (see 'netecho --help')\n", e.what());
    return net::kExitUsage;
  }

  try {
    if (serve->parsed()) {
      return cli::run_serve(serve_args);
    }
    if (send->parsed()) {
      return cli::run_send(send_args);
    }
    if (ping->parsed()) {
      return cli::run_ping(ping_args);
    }
    if (bench->parsed()) {
      return cli::run_bench(bench_args);
    }
  } catch (const net::ConfigError& e) {
    fmt::print(stderr, "netecho: {}\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    fmt::print(stderr, "netecho: {}\n", e.what());
    return net::kExitFailure;
  }
  return net::kExitUsage;
}
