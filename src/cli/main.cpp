// netecho: one binary, one subcommand per tool. main only registers, parses and dispatches;
// each subcommand returns its exit code, and only here are errors turned into one line on
// stderr and a conventional exit status (0 ok, 1 run-time failure, 2 usage).

#include <cstdio>
#include <exception>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "base/log.hpp"
#include "base/system.hpp"
#include "cli/app.hpp"
#include "cli/env.hpp"
#include "cli/errors.hpp"
#include "net/error.hpp"
#include "server/start_error.hpp"

int main(int argc, char** argv) {
  using namespace netecho;
  // A peer that goes away must not kill any of the tools: every write reports EPIPE instead.
  // Decided once, here, for the whole process.
  base::ignore_sigpipe();
  CLI::App app;
  cli::Args args;
  const cli::Commands commands = cli::build_app(app, args);
  auto* serve = commands.serve;
  auto* send = commands.send;
  auto* ping = commands.ping;
  auto* stamp = commands.stamp;
  auto* bench = commands.bench;
  // Errors about serve's options name the environment variable when the value came from it.
  const auto env_named = [&](std::string message) {
    return serve->parsed() ? cli::name_env_source(*serve, std::move(message), argc, argv)
                           : message;
  };

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
    const auto parsed = app.get_subcommands();
    if (argc >= 2 && parsed.empty()) {
      // CLI11 would only say that a subcommand is required: name the word it did not know.
      fmt::print(stderr, "netecho: unknown {} '{}' (see 'netecho --help')\n",
                 argv[1][0] == '-' ? "option" : "subcommand", argv[1]);
      return cli::kExitUsage;
    }
    // The help that lists the options in question: the subcommand's own.
    const std::string help =
        parsed.empty() ? "netecho --help" : fmt::format("netecho {} --help", parsed[0]->get_name());
    fmt::print(stderr, "netecho: {} (see '{}')\n", env_named(e.what()), help);
    return cli::kExitUsage;
  }

  try {
    if (serve->parsed()) {
      return cli::run_serve(args.serve);
    }
    if (send->parsed()) {
      return cli::run_send(args.send);
    }
    if (ping->parsed()) {
      return cli::run_ping(args.ping);
    }
    if (stamp->parsed()) {
      return cli::run_stamp(args.stamp);
    }
    if (bench->parsed()) {
      return cli::run_bench(args.bench);
    }
  } catch (const cli::ConfigError& e) {
    // Through the log, so that serve's failures come in its --log-format; before the log is
    // configured (bad options, the client tools) it writes a plain "netecho: ..." line.
    base::log_event(base::Level::error, env_named(e.what()));
    return e.exit_code();
  } catch (const server::StartError& e) {
    base::log_event(base::Level::error, env_named(e.what()));  // "--user ...": maybe its variable
    return cli::kExitFailure;
  } catch (const std::exception& e) {
    base::log_event(base::Level::error, e.what());
    return cli::kExitFailure;
  }
  return cli::kExitUsage;
}
