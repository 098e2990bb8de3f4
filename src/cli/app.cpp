#include "cli/app.hpp"

#include <string>

#include <fmt/format.h>

#include "base/version.hpp"
#include "io/probe.hpp"
#include "cli/env.hpp"
#include "cli/help_format.hpp"

namespace netecho::cli {
namespace {

std::string version_report() {
  std::string out = fmt::format("netecho {}\n", base::kVersion);
  for (const auto& b : io::probe_backends()) {
    out += fmt::format("backend {}: {}: {}\n", io::to_string(b.kind),
                       b.usable ? "usable" : "not usable", b.detail);
  }
#if defined(__clang__)
  out += fmt::format("built with clang {}, C++{}", __clang_version__, __cplusplus / 100 % 100);
#else
  out += fmt::format("built with g++ {}, C++{}", __VERSION__, __cplusplus / 100 % 100);
#endif
  return out;
}

}  // namespace

Commands build_app(CLI::App& app, Args& args) {
  app.name("netecho");
  app.formatter(make_help_formatter());
  app.description(
      "netecho: echo server and client tools (RFC 862), for checking network paths, "
      "measuring latency and throughput, and load-testing network stacks.");
  app.require_subcommand(1);
  // -V: the version line alone, for scripts; --version: what a bug report needs besides.
  app.set_version_flag("-V", std::string("netecho ") + base::kVersion,
                       "print the version line and exit");
  app.add_flag_callback(
      "--version", [] { throw CLI::CallForVersion(version_report(), 0); },
      "print the version, the event engines that work here and how netecho was built, then "
      "exit");
  app.footer("Run 'netecho SUBCOMMAND --help' for each subcommand's options.");

  Commands commands;
  commands.serve = register_serve(app, args.serve);
  commands.send = register_send(app, args.send);
  commands.ping = register_ping(app, args.ping);
  commands.stamp = register_stamp(app, args.stamp);
  commands.bench = register_bench(app, args.bench);
  add_env_names(*commands.serve);
  return commands;
}

}  // namespace netecho::cli
