#pragma once
// The whole command line in one place: the top-level app and every subcommand, as --help, the
// man pages and the shell completions see it (src/cli/docgen.cpp walks the same CLI::App).

#include <CLI/CLI.hpp>

#include "cli/bench_cmd.hpp"
#include "cli/ping_cmd.hpp"
#include "cli/send_cmd.hpp"
#include "cli/serve_cmd.hpp"
#include "cli/stamp_cmd.hpp"

namespace netecho::cli {

struct Args {
  ServeArgs serve;
  SendArgs send;
  PingArgs ping;
  StampArgs stamp;
  BenchArgs bench;
};

struct Commands {
  CLI::App* serve = nullptr;
  CLI::App* send = nullptr;
  CLI::App* ping = nullptr;
  CLI::App* stamp = nullptr;
  CLI::App* bench = nullptr;
};

// Describes `app` (name, description, --version, footer) and registers every subcommand into
// `args`; serve's options also read NETECHO_<OPTION> from the environment (cli/env.hpp).
Commands build_app(CLI::App& app, Args& args);

}  // namespace netecho::cli
