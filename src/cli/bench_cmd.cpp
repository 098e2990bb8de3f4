#include "cli/bench_cmd.hpp"

#include <fmt/format.h>

#include "cli/common.hpp"
#include "cli/errors.hpp"
#include "client/bench/bench.hpp"
#include "client/bench/merge.hpp"
#include "io/probe.hpp"
#include "net/error.hpp"

namespace netecho::cli {

CLI::App* register_bench(CLI::App& app, BenchArgs& args) {
  auto* cmd = app.add_subcommand(
      "bench", "Load-test an echo server: throughput and latency percentiles, every byte checked");
  cmd->footer(
      "Closed loop by default: each connection keeps --pipeline messages in flight and sends\n"
      "the next as soon as an echo returns; latency counts from the send. With --rate the run\n"
      "is open loop: messages leave on a fixed schedule spread evenly over the connections,\n"
      "and latency counts from the intended send time, so a stalled server shows in the tail\n"
      "(no coordinated omission).\n"
      "Every echoed byte is checked (TCP: the exact stream sent; UDP: sequence number, send\n"
      "time and payload; loss, duplicates and reordering are counted).\n"
      "On a terminal a line per second shows progress. Ctrl-C ends the run early and still\n"
      "prints the report. Exit 0: no errors; 1: errors (mismatch, reset, timeout, loss, ...),\n"
      "nothing measured, or the server could not be reached (an unknown host too); 2: bad\n"
      "usage. JSON schema: docs/BENCH.md.\n"
      "-c is the connection count, as in wrk and neper, on purpose (ping's -c counts probes,\n"
      "as ping(8)'s does; ping also exits 2 for an unknown host, where bench exits 1).");
  add_target_option(*cmd, args.target,
                    "the echo server: tcp://HOST:PORT, udp://HOST:PORT or HOST:PORT (TCP)")
      ->capture_default_str();
  add_family_flags(*cmd, args.family);
  cmd->add_option("-c,--connections", args.connections,
                  "connections (UDP: sockets), spread over the threads (-c as in wrk; in "
                  "ping, -c is the probe count)")
      ->type_name("N")
      ->check(whole_range(1, 1'000'000, "connections"))
      ->capture_default_str();
  auto* duration = cmd->add_option("-d,--duration", args.duration,
                                   "how long to measure, after the warm-up (default 10s)")
                       ->type_name("DURATION");
  auto* count = cmd->add_option("-n,--messages", args.messages,
                                "measure this many messages in all instead of a duration")
                    ->type_name("N")
                    ->check(whole_range(1, std::uint64_t{1} << 50, "messages"));
  duration->excludes(count);
  cmd->add_option("-s,--size", args.size,
                  fmt::format("message size (e.g. 64, 16KiB; UDP: {} to {})",
                              client::min_message_size(net::Transport::udp),
                              client::max_message_size(net::Transport::udp)))
      ->type_name("SIZE")
      ->capture_default_str();
  cmd->add_option("-p,--pipeline", args.pipeline, "messages in flight per connection")
      ->type_name("N")
      ->check(whole_range(1, 65536, "messages"))
      ->capture_default_str();
  cmd->add_option("-t,--threads", args.threads,
                  "threads, each with its own event loop (default: one per CPU, at most one "
                  "per connection)")
      ->type_name("N")
      ->check(whole_range(1, 1024, "threads"));
  cmd->add_option("--rate", args.rate, "open loop: total messages per second over all connections")
      ->type_name("R")
      ->check(more_than_zero("messages/s"));
  cmd->add_option("--warmup", args.warmup, "run this long first without measuring")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_option("--connect-timeout", args.connect_timeout,
                  "give up on a connection not established within this time")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_option("--timeout", args.timeout,
                  "a message not answered within this time is an error (TCP timeout, UDP loss)")
      ->type_name("DURATION")
      ->capture_default_str();
  add_expect_option(*cmd, args.expect);
  add_backend_option(*cmd, args.backend);
  cmd->add_option("--json", args.json,
                  "write every figure and the percentile distribution as JSON ('-': stdout, "
                  "and the report goes to stderr)")
      ->type_name("FILE");
  cmd->add_option("--plot", args.plot, "write the latency-by-percentile chart as SVG")
      ->type_name("FILE.svg");
  cmd->add_option("--hdr-log", args.hdr_log,
                  "write the measured latencies as an HdrHistogram interval log (nanoseconds)")
      ->type_name("FILE");

  auto* merge = cmd->add_subcommand(
      "merge", "Merge the --json documents of several runs (hosts, processes) into one result");
  merge->footer(
      "The latency histograms merge bucket by bucket (the percentiles are those of one run\n"
      "that recorded everything), counts add up, rates are over the union of the runs'\n"
      "measured windows, and each run's errors are kept under its file name. Runs of another\n"
      "transport, message size or loop (open, closed) are refused. Exit 0: merged, and no\n"
      "run had errors; 1: a run had errors, or a document cannot be read or merged.");
  merge->add_option("FILE", args.merge_inputs, "bench --json documents ('-': standard input)")
      ->required()
      ->type_name("FILE");
  merge->add_option("--json", args.merge_json, "write the merged result as JSON ('-': stdout)")
      ->type_name("FILE");
  merge->add_option("--plot", args.merge_plot, "write the merged latency-by-percentile chart")
      ->type_name("FILE.svg");
  return cmd;
}

namespace {

// The chart is SVG only: a .png name would get SVG bytes under a PNG name.
const std::string& plot_path_or_throw(const std::string& path) {
  if (!path.empty() && !path.ends_with(".svg")) {
    throw cli::ConfigError(
        fmt::format("--plot: '{}': the chart is written as SVG only, so the name must end in .svg "
                    "(rsvg-convert makes a PNG of it)",
                    path),
        cli::kExitUsage);
  }
  return path;
}

int run_bench_merge(const BenchArgs& args) {
  client::BenchMergeOptions o;
  o.inputs = args.merge_inputs;
  o.json_path = args.merge_json;
  o.plot_path = plot_path_or_throw(args.merge_plot);
  return exit_code(client::run_bench_merge(o, stdout, stderr));
}

}  // namespace

int run_bench(const BenchArgs& args) {
  if (!args.merge_inputs.empty()) {
    return run_bench_merge(args);
  }
  client::BenchOptions o;
  o.target = parse_target_or_throw(args.target, "target");
  o.connections = args.connections;
  if (args.messages) {
    o.messages = *args.messages;
  } else if (args.duration) {
    o.duration = parse_duration_or_throw(*args.duration, "--duration");
    if (o.duration.count() == 0) {
      throw cli::ConfigError("--duration: must be longer than 0", cli::kExitUsage);
    }
  }
  o.message_size = parse_size_or_throw(args.size, "--size");
  const auto lo = client::min_message_size(o.target.transport);
  const auto hi = client::max_message_size(o.target.transport);
  if (o.message_size < lo || o.message_size > hi) {
    throw cli::ConfigError(
        fmt::format("--size: {} bytes is out of range for {} ({} to {} bytes{})", o.message_size,
                    net::to_string(o.target.transport), lo, hi,
                    o.target.transport == net::Transport::udp
                        ? ": each datagram carries a 24-byte sequence and time header"
                        : ""),
        cli::kExitUsage);
  }
  o.reverse = expect_reverse_or_throw(args.expect, o.target.transport);
  o.pipeline = args.pipeline;
  o.threads = args.threads;
  o.rate = args.rate.value_or(0);
  if (o.rate > 0 && static_cast<double>(o.connections) / o.rate > 1e9) {
    // The schedule is kept in nanoseconds: a period beyond ~30 years would not fit.
    throw cli::ConfigError(
        fmt::format("--rate: {} messages/s over {} connections is less than one message per "
                    "connection in 30 years",
                    o.rate, o.connections),
        cli::kExitUsage);
  }
  o.warmup = parse_duration_or_throw(args.warmup, "--warmup");
  o.connect_timeout = parse_duration_or_throw(args.connect_timeout, "--connect-timeout");
  o.timeout = parse_duration_or_throw(args.timeout, "--timeout");
  if (o.connect_timeout.count() == 0 || o.timeout.count() == 0) {
    throw cli::ConfigError(fmt::format("{}: must be longer than 0",
                                       o.timeout.count() == 0 ? "--timeout" : "--connect-timeout"),
                           cli::kExitUsage);
  }
  o.backend = choose_backend_or_throw(args.backend);
  o.addresses = resolve_target_or_throw(o.target, args.family.family(), cli::kExitFailure);
  o.json_path = args.json;
  o.plot_path = plot_path_or_throw(args.plot);
  o.hdr_log_path = args.hdr_log;
  return exit_code(client::run_bench(o, stdout, stderr));
}

}  // namespace netecho::cli
