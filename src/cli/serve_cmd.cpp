#include "cli/serve_cmd.hpp"

#include <fmt/format.h>

#include "cli/common.hpp"
#include "cli/errors.hpp"
#include "net/error.hpp"
#include "server/server.hpp"
#include "service/datagram.hpp"
#include "stamp/hmac.hpp"

namespace netecho::cli {

CLI::App* register_serve(CLI::App& app, ServeArgs& args) {
  auto* cmd = app.add_subcommand("serve", "Run the echo server (TCP echo, UDP echo and reverse)");
  cmd->footer(
      "With no listener options: TCP echo on 0.0.0.0:12345 and UDP reverse on "
      "127.0.0.1:34254,\nthe addresses of the original programs. Giving any listener replaces "
      "both defaults.\n\nAddresses: HOST:PORT, [IPV6]:PORT, a host name; port 0 picks a free "
      "port.\nOn start, one line per listener is printed on stdout:\n"
      "  listening proto=tcp host=127.0.0.1 port=41234 mode=echo\n"
      "then 'ready backend=... threads=N'. Logs go to stderr: one line per event, as text\n"
      "(time, level, 'netecho: message', then key=value fields) or JSON (--log-format);\n"
      "under systemd, when stderr is the journal (JOURNAL_STREAM), text lines carry no time:\n"
      "the journal stamps them. docs/OPERATIONS.md lists the events.\n"
      "SIGINT or SIGTERM: close the listeners, finish the echo in flight, exit 0 (exit 1 when\n"
      "--drain-timeout had to cut connections); a second signal stops at once. SIGHUP is\n"
      "logged and ignored. Exit 2: bad usage; 1: run-time failure. docs/SECURITY.md describes\n"
      "every guard below and its default.\n\n"
      "Socket activation (systemd, systemd-socket-activate): sockets passed with LISTEN_FDS\n"
      "are served by every worker instead of the defaults: a stream socket as TCP echo, a\n"
      "datagram socket as UDP echo; the name (LISTEN_FDNAMES) 'echo', 'reverse' (UDP) or\n"
      "'once' (TCP) chooses the mode. --tcp/--udp/--udp-reverse listeners are bound besides\n"
      "them. Under a supervisor, NOTIFY_SOCKET gets READY=1, STATUS=, STOPPING=1 and, with\n"
      "WATCHDOG_USEC, WATCHDOG=1. docs/OPERATIONS.md has the systemd units.");
  cmd->add_option("--tcp", args.tcp, "TCP echo listener (repeatable)")->type_name("HOST:PORT");
  cmd->add_option("--udp", args.udp, "UDP echo listener, RFC 862 (repeatable)")
      ->type_name("HOST:PORT");
  cmd->add_option("--udp-reverse", args.udp_reverse,
                  "UDP listener that answers each datagram reversed (repeatable)")
      ->type_name("HOST:PORT");
  cmd->add_option("--tcp-proxy", args.tcp_proxy,
                  "TCP echo listener behind a load balancer: each connection must start with a "
                  "PROXY protocol header (v1 or v2), and is served as the client it names "
                  "(repeatable; needs --proxy-from)")
      ->type_name("HOST:PORT");
  cmd->add_option("--proxy-from", args.proxy_from,
                  "the balancers allowed to connect to the --tcp-proxy listeners; others are "
                  "reset at once")
      ->type_name("CIDR,...");
  cmd->add_option("--proxy-timeout", args.proxy_timeout,
                  "close a --tcp-proxy connection whose header has not come within this long")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_option("--stamp", args.stamp,
                  "STAMP reflector, RFC 8762 (repeatable; its port is 862): answers test "
                  "packets with receive and transmit timestamps; every UDP guard applies")
      ->type_name("HOST:PORT");
  // One reflector behaviour per server, as a router configures its reflector: a stateful and a
  // stateless listener side by side would tell senders nothing the modes do not.
  cmd->add_option("--stamp-mode", args.stamp_mode,
                  "STAMP: stateless (the reply's sequence number is the sender's) or stateful "
                  "(the reflector counts each session itself, so loss is known per direction)")
      ->type_name("stateless|stateful")
      ->check(CLI::IsMember({"stateless", "stateful"}))
      ->capture_default_str();
  cmd->add_option("--stamp-timestamp", args.stamp_timestamp,
                  "STAMP: the reflector's timestamp format, NTP (RFC 5905) or PTPv2 truncated "
                  "(RFC 8186)")
      ->type_name("ntp|ptp")
      ->check(CLI::IsMember({"ntp", "ptp"}))
      ->capture_default_str();
  cmd->add_option("--stamp-auth-key", args.stamp_auth_key,
                  "STAMP: authenticated mode only, HMAC-SHA-256 with the key in this file (its "
                  "bytes, but a trailing newline); a packet with a wrong HMAC is dropped and "
                  "counted")
      ->type_name("FILE");
  cmd->add_flag("--once", args.once,
                "TCP: the original behaviour: one read of up to 4096 bytes, echo it, close");
  cmd->add_option("--udp-max", args.udp_max,
                  "UDP: cut each datagram to N bytes before answering (the original server "
                  "used 10); 0 = whole datagrams")
      ->type_name("N")
      ->check(whole_range(0, service::kMaxDatagram, "bytes"));
  cmd->add_option("--threads", args.threads,
                  "worker threads, each with its own event loop (default: one per CPU)")
      ->type_name("N")
      ->check(whole_range(1, 1024, "threads"));
  add_backend_option(*cmd, args.backend);
  cmd->add_flag("--list-backends", args.list_backends,
                "print each backend and whether it works here (and why not), then exit; one "
                "line each: backend=NAME usable=yes|no detail=TEXT");
  // Hidden tuning of io_uring's receive buffer ring: tests shrink it to make it run dry,
  // benchmarks try other sizes.
  cmd->add_option("--uring-buffers", args.uring_buffers)
      ->group("")
      ->check(CLI::IsMember({1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u, 256u, 512u, 1024u, 2048u,
                            4096u, 8192u, 16384u, 32768u}));
  cmd->add_option("--uring-buffer-size", args.uring_buffer_size)
      ->group("")
      ->check(whole_range(512, std::uint32_t{1} << 20, "bytes"));
  // Hidden, and for tests only: "AFTER,LENGTH" makes worker 0 block its loop thread for LENGTH,
  // AFTER its start, as a stuck handler would, so that a test can watch the watchdog's pings
  // stop (tests/integration/systemd_test.cpp). Never useful in production.
  cmd->add_option("--test-stall-worker", args.test_stall_worker)->group("");
  cmd->add_option("--max-conns", args.max_conns,
                  "TCP connections open at once, over all threads; more are reset at once, "
                  "unechoed (default: from the open-file limit)")
      ->type_name("N")
      ->check(whole_range(0, std::uint64_t{1} << 40, "connections"));
  cmd->add_option("--max-conns-per-ip", args.max_conns_per_ip,
                  "TCP connections open at once from one IPv4 address or IPv6 /64 (default: "
                  "0, no limit)")
      ->type_name("N")
      ->check(whole_range(0, std::uint64_t{1} << 40, "connections"));
  cmd->add_option("--idle-timeout", args.idle_timeout,
                  "close a TCP connection that moved no byte either way for this long; 0: never")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_option("--drain-timeout", args.drain_timeout,
                  "on SIGTERM/SIGINT, wait this long for the echo in flight, then cut the rest")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_option("--udp-deny-ports", args.udp_deny_ports,
                  "never answer datagrams from these source ports (ranges, or none); port 0 "
                  "never gets an answer")
      ->type_name("LIST")
      ->capture_default_str();
  cmd->add_option("--udp-rate", args.udp_rate,
                  "UDP replies per second to one source address (IPv6: /64), or none")
      ->type_name("N/s")
      ->capture_default_str();
  cmd->add_option("--udp-burst", args.udp_burst,
                  "UDP replies a quiet source may get at once (default: the --udp-rate count)")
      ->type_name("N")
      ->check(whole_range(0, 1'000'000'000, "replies"));
  cmd->add_option("--udp-buffer", args.udp_buffer,
                  "largest datagram answered; a larger one is dropped and counted, never "
                  "answered short")
      ->type_name("BYTES")
      ->check(whole_range(1, 65536, "bytes"))
      ->capture_default_str();
  cmd->add_option("--metrics", args.metrics,
                  "serve Prometheus metrics (GET /metrics), /healthz and /readyz over HTTP on "
                  "this address, off the echo path")
      ->type_name("HOST:PORT");
  cmd->add_option("--xdp", args.xdp,
                  "answer the UDP listeners' datagrams in this interface's driver with an XDP "
                  "program first, same guards (root; docs/XDP.md); sockets serve the rest")
      ->type_name("IFACE");
  cmd->add_option("--log-format", args.log_format,
                  "stderr log: text lines (time, level, message, key=value fields) or one JSON "
                  "object per line")
      ->type_name("text|json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--log-level", args.log_level,
                  "the least severe events logged: error, warn, info or debug (each connection "
                  "and guard event)")
      ->type_name("error|warn|info|debug")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
      ->capture_default_str();
  cmd->add_flag("-v,--verbose", args.verbose,
                "--log-level debug, and wins over it: log each TCP connection's open and "
                "close (peer, bytes, duration, why) and guard events (at most one line per "
                "kind per 10 s)");
  cmd->add_option("--user", args.user,
                  "once the listeners are bound, drop to this user (needs root; groups, gid, "
                  "uid, then checked)")
      ->type_name("NAME");
  return cmd;
}

server::ServerConfig make_serve_config(const ServeArgs& args) {
  server::ServerConfig config;
  const auto add = [&config](const std::vector<std::string>& list, net::Transport transport,
                             service::DatagramMode mode, std::string_view flag) {
    for (const auto& text : list) {
      config.listeners.push_back({transport, parse_endpoint_or_throw(text, flag), mode});
    }
  };
  add(args.tcp, net::Transport::tcp, service::DatagramMode::echo, "--tcp");
  add(args.udp, net::Transport::udp, service::DatagramMode::echo, "--udp");
  add(args.udp_reverse, net::Transport::udp, service::DatagramMode::reverse, "--udp-reverse");
  for (const auto& text : args.tcp_proxy) {
    server::ListenerSpec spec{net::Transport::tcp, parse_endpoint_or_throw(text, "--tcp-proxy")};
    spec.proxy = true;
    config.listeners.push_back(spec);
  }
  // A header is believed only from the balancers named: without them, a PROXY listener would
  // let any client claim any address.
  if (!args.tcp_proxy.empty() && args.proxy_from.empty()) {
    throw cli::ConfigError("--tcp-proxy: needs --proxy-from, the balancers allowed to send the "
                           "PROXY header",
                           cli::kExitUsage);
  }
  if (!args.proxy_from.empty()) {
    auto networks = server::proxy::parse_networks(args.proxy_from);
    if (!networks) {
      throw cli::ConfigError(fmt::format("--proxy-from: {}", networks.error()), cli::kExitUsage);
    }
    config.proxy_from = *networks;
  }
  config.proxy_timeout = parse_duration_or_throw(args.proxy_timeout, "--proxy-timeout");
  if (config.proxy_timeout.count() == 0) {
    throw cli::ConfigError("--proxy-timeout: must be longer than 0", cli::kExitUsage);
  }
  add(args.stamp, net::Transport::udp, service::DatagramMode::stamp, "--stamp");
  config.stamp.mode = args.stamp_mode == "stateful" ? service::StampMode::stateful
                                                    : service::StampMode::stateless;
  config.stamp.format =
      args.stamp_timestamp == "ptp" ? stamp::TimestampFormat::ptp : stamp::TimestampFormat::ntp;
  if (!args.stamp_auth_key.empty()) {
    auto key = stamp::read_key_file(args.stamp_auth_key);
    if (!key) {
      throw cli::ConfigError(fmt::format("--stamp-auth-key: {}", key.error()), cli::kExitUsage);
    }
    config.stamp.key = std::move(key).value();
  }
  config.stream_mode = args.once ? service::StreamMode::once : service::StreamMode::echo;
  config.udp_max = args.udp_max;
  config.threads = args.threads;
  config.backend_options.uring_buffers = args.uring_buffers;
  config.backend_options.uring_buffer_size = args.uring_buffer_size;
  config.max_conns = args.max_conns;
  config.max_conns_per_ip = args.max_conns_per_ip;
  config.idle_timeout = parse_duration_or_throw(args.idle_timeout, "--idle-timeout");
  config.drain_timeout = parse_duration_or_throw(args.drain_timeout, "--drain-timeout");
  auto ports = server::parse_port_set(args.udp_deny_ports);
  if (!ports) {
    throw cli::ConfigError(fmt::format("--udp-deny-ports: {}", ports.error()), cli::kExitUsage);
  }
  config.udp_guard.deny_ports = *ports;
  auto rate = server::parse_rate(args.udp_rate);
  if (!rate) {
    throw cli::ConfigError(fmt::format("--udp-rate: {}", rate.error()), cli::kExitUsage);
  }
  config.udp_guard.rate = *rate;
  // The guard takes 0 for "no limit"; written as a number, 0 reads as "answer nothing".
  if (config.udp_guard.rate == 0 && args.udp_rate != "none" && args.udp_rate != "off") {
    throw cli::ConfigError(
        fmt::format("--udp-rate: '{}' would answer nothing; at least 1/s, or none for no limit",
                    args.udp_rate),
        cli::kExitUsage);
  }
  config.udp_guard.burst = args.udp_burst;
  config.udp_guard.buffer = args.udp_buffer;
  if (!args.metrics.empty()) {
    config.metrics = parse_endpoint_or_throw(args.metrics, "--metrics");
  }
  config.xdp = args.xdp;
  if (!args.test_stall_worker.empty()) {
    const std::string_view text = args.test_stall_worker;
    const auto comma = text.find(',');
    if (comma == std::string_view::npos) {
      throw cli::ConfigError("--test-stall-worker: expected AFTER,LENGTH", cli::kExitUsage);
    }
    config.test_stall = server::ServerConfig::TestStall{
        parse_duration_or_throw(text.substr(0, comma), "--test-stall-worker"),
        parse_duration_or_throw(text.substr(comma + 1), "--test-stall-worker")};
  }
  return config;
}

base::LogConfig make_log_config(const ServeArgs& args) {
  base::LogConfig log;
  // The option checks have refused anything else already; these throws are a second line.
  const auto format = base::parse_log_format(args.log_format);
  if (!format) {
    throw cli::ConfigError(fmt::format("--log-format: unknown format '{}'", args.log_format),
                           cli::kExitUsage);
  }
  const auto level = base::parse_level(args.log_level);
  if (!level) {
    throw cli::ConfigError(fmt::format("--log-level: unknown level '{}'", args.log_level),
                           cli::kExitUsage);
  }
  log.format = *format;
  log.level = args.verbose ? base::Level::debug : *level;
  // The journal stamps each line itself (systemd.exec(5), JOURNAL_STREAM).
  log.timestamps = !base::stderr_is_journal();
  return log;
}

int run_serve(const ServeArgs& args) {
  if (args.list_backends) {
    for (const auto& b : io::probe_backends()) {
      fmt::print("backend={} usable={} detail={}\n", io::to_string(b.kind),
                 b.usable ? "yes" : "no", b.detail);
    }
    return 0;
  }
  server::ServerConfig config = make_serve_config(args);
  // From here on, while this is the only thread, every line on stderr is a log event.
  base::configure_log(make_log_config(args));
  if (!args.user.empty()) {
    config.user = server::lookup_user(args.user);  // before anything is bound
  }
  server::Server::block_signals();
  auto passed = server::take_passed_sockets(config.stream_mode);
  config.backend = choose_backend_or_throw(args.backend);
  server::Server server(config, std::move(passed));
  return server.run(stdout) ? 0 : cli::kExitFailure;
}

}  // namespace netecho::cli
