#include "cli/ping_cmd.hpp"

#include <fmt/format.h>

#include <limits>

#include "cli/common.hpp"
#include "cli/errors.hpp"
#include "client/ping/ping.hpp"
#include "client/probe_frame.hpp"
#include "net/error.hpp"
#include "service/datagram.hpp"

namespace netecho::cli {
namespace {

constexpr std::size_t kMaxUdpSize = service::kMaxDatagram;
constexpr std::size_t kMaxTcpSize = std::size_t{1} << 20;

[[noreturn]] void usage(std::string message) {
  throw cli::ConfigError(std::move(message), cli::kExitUsage);
}

}  // namespace

CLI::App* register_ping(CLI::App& app, PingArgs& args) {
  auto* cmd =
      app.add_subcommand("ping", "Ping a TCP or UDP echo service, the way ping pings a host");
  cmd->footer(
      "Each probe is SIZE bytes: a 24-byte header (sequence number, send time, run id) and a\n"
      "fill pattern; every reply is checked byte for byte. TCP reuses one connection unless\n"
      "--connect is given; UDP detects loss, duplicates, reordering and late replies.\n"
      "Probe k is sent at start + k * INTERVAL. Ctrl-C ends the run and prints the summary.\n"
      "Durations: 0.2, 200ms, 1.5s. Exit 0 when a reply arrived (with -c and -w: when COUNT\n"
      "replies did), 1 when none did, 2 on bad usage or an unknown host. See docs/PING.md.\n"
      "Flags and exit codes are ping(8)'s, on purpose: -c counts probes (bench's -c counts\n"
      "connections, as wrk's does), and an unknown host exits 2 (send and bench exit 1).");
  add_target_option(*cmd, args.target,
                    "what to ping: tcp://HOST:PORT, udp://HOST:PORT or HOST:PORT (TCP)")
      ->required();
  cmd->add_option("-c,--count", args.count,
                  "stop after COUNT probes (ping(8)'s -c; in bench, -c is connections)")
      ->type_name("COUNT")
      ->check(whole_range(1, std::numeric_limits<std::uint64_t>::max(), "probes"));
  cmd->add_option("-i,--interval", args.interval, "time between probes")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_option("-s,--size", args.size,
                  fmt::format("bytes per probe, header included ({} to {} for UDP, to {} for TCP)",
                              client::kProbeHeaderSize, kMaxUdpSize, kMaxTcpSize))
      ->type_name("SIZE")
      ->capture_default_str();
  cmd->add_option("-W,--timeout", args.timeout, "how long to wait for each reply")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_option("-w,--deadline", args.deadline,
                  "end the run after this long, however many probes were sent or answered")
      ->type_name("DURATION");
  cmd->add_flag("-q,--quiet", args.quiet, "print only the first line and the summary");
  add_family_flags(*cmd, args.family);
  cmd->add_flag("--connect", args.connect,
                "TCP: a new connection per probe; reports connect and echo time apart");
  add_expect_option(*cmd, args.expect);
  auto* json = cmd->add_flag("--json", args.json, "print one JSON document at the end");
  auto* lines = cmd->add_flag("--json-lines", args.json_lines,
                              "print one JSON object per probe, then the summary");
  json->excludes(lines);
  add_backend_option(*cmd, args.backend);
  return cmd;
}

int run_ping(const PingArgs& args) {
  client::PingOptions o;
  o.target = parse_target_or_throw(args.target, "target");
  const bool tcp = o.target.transport == net::Transport::tcp;
  o.count = args.count;
  o.interval = parse_interval_or_throw(args.interval);
  o.timeout = parse_probe_timeout_or_throw(args.timeout);
  if (args.deadline) {
    o.deadline = parse_duration_or_throw(*args.deadline, "-w/--deadline");
    if (*o.deadline <= std::chrono::nanoseconds(0)) {
      usage(fmt::format("-w/--deadline: '{}' must be more than 0", *args.deadline));
    }
  }
  const std::size_t max_size = tcp ? kMaxTcpSize : kMaxUdpSize;
  const std::size_t size = parse_size_or_throw(args.size, "-s/--size");
  if (size < client::kProbeHeaderSize || size > max_size) {
    usage(fmt::format("-s/--size: {} is out of range: {} probes take {} to {} bytes", args.size,
                      tcp ? "TCP" : "UDP", client::kProbeHeaderSize, max_size));
  }
  o.size = size;
  o.quiet = args.quiet;
  o.family = args.family.family();
  if (args.connect && !tcp) {
    usage("--connect applies to TCP targets only");
  }
  o.connect_per_probe = args.connect;
  o.reverse = expect_reverse_or_throw(args.expect, o.target.transport);
  // ping's convention: an unknown host is an "other error", exit 2.
  o.peer = resolve_target_or_throw(o.target, o.family, cli::kExitUsage).front();
  o.output = args.json         ? client::PingOutput::json
             : args.json_lines ? client::PingOutput::json_lines
                               : client::PingOutput::text;
  o.backend = choose_backend_or_throw(args.backend);

  // SIGINT and SIGTERM end the run in order: the loop sees the signal descriptor turn readable,
  // prints the summary and returns the exit code by the usual rule.
  const auto stop = open_stop_signals_or_throw();
  o.stop_fd = stop.fd();
  return exit_code(client::run_ping(o, stdout, stderr));
}

}  // namespace netecho::cli
