#include "cli/app.hpp"

#include <string>

#include "base/version.hpp"
#include "cli/env.hpp"

namespace netecho::cli {

Commands build_app(CLI::App& app, Args& args) {
  app.name("netecho");
  app.description(
      "netecho: echo server and client tools (RFC 862), for checking network paths, "
      "measuring latency and throughput, and load-testing network stacks.");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("netecho ") + base::kVersion);
  app.footer("Run 'netecho SUBCOMMAND --help' for each subcommand's options.");

  Commands commands;
  commands.serve = register_serve(app, args.serve);
  commands.send = register_send(app, args.send);
  commands.ping = register_ping(app, args.ping);
  commands.bench = register_bench(app, args.bench);
  add_env_names(*commands.serve);
  return commands;
}

}  // namespace netecho::cli
