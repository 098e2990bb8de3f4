#include "cli/serve_cmd.hpp"

#include <fmt/format.h>

#include "cli/common.hpp"
#include "net/error.hpp"
#include "server/server.hpp"

namespace netecho::cli {

CLI::App* register_serve(CLI::App& app, ServeArgs& args) {
  auto* cmd = app.add_subcommand("serve", "Run the echo server (TCP echo, UDP echo and reverse)");
  cmd->footer(
      "With no listener options: TCP echo on 0.0.0.0:12345 and UDP reverse on "
      "127.0.0.1:34254,\nthe addresses of the original programs. Giving any listener replaces "
      "both defaults.\n\nAddresses: HOST:PORT, [IPV6]:PORT, a host name; port 0 picks a free "
      "port.\nOn start, one line per listener is printed on stdout:\n"
      "  listening proto=tcp host=127.0.0.1 port=41234 mode=echo\n"
      "then 'ready backend=... threads=N'. Logs go to stderr.\n"
      "SIGINT or SIGTERM stops the server (exit 0). Exit 2: bad usage; 1: run-time failure.");
  cmd->add_option("--tcp", args.tcp, "TCP echo listener (repeatable)")->type_name("HOST:PORT");
  cmd->add_option("--udp", args.udp, "UDP echo listener, RFC 862 (repeatable)")
      ->type_name("HOST:PORT");
  cmd->add_option("--udp-reverse", args.udp_reverse,
                  "UDP listener that answers each datagram reversed (repeatable)")
      ->type_name("HOST:PORT");
  cmd->add_flag("--once", args.once,
                "TCP: the original behaviour: one read of up to 4096 bytes, echo it, close");
  cmd->add_option("--udp-max", args.udp_max,
                  "UDP: cut each datagram to N bytes before answering (the original server "
                  "used 10); 0 = whole datagrams")
      ->type_name("N")
      ->check(CLI::Range(std::size_t{0}, std::size_t{65507}));
  cmd->add_option("--threads", args.threads,
                  "worker threads, each with its own event loop (default: one per CPU)")
      ->type_name("N")
      ->check(CLI::Range(1u, 1024u));
  return cmd;
}

int run_serve(const ServeArgs& args) {
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
  if (config.listeners.empty()) {
    config.listeners = server::default_listeners();
  }
  config.stream_mode = args.once ? service::StreamMode::once : service::StreamMode::echo;
  config.udp_max = args.udp_max;
  config.threads = args.threads;

  server::Server::block_signals();
  server::Server server(config);
  return server.run(stdout);
}

}  // namespace netecho::cli
