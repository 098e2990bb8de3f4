#pragma once
// `netecho serve`: the options as given on the command line, and the command.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/log.hpp"
#include "server/config.hpp"

namespace netecho::cli {

struct ServeArgs {
  std::vector<std::string> tcp;
  std::vector<std::string> udp;
  std::vector<std::string> udp_reverse;
  std::vector<std::string> tcp_proxy;
  std::string proxy_from;
  std::string proxy_timeout = "3s";
  // STAMP reflectors (docs/STAMP.md).
  std::vector<std::string> stamp;
  std::string stamp_mode = "stateless";
  std::string stamp_timestamp = "ntp";
  std::string stamp_auth_key;  // a file; empty: unauthenticated
  bool once = false;
  std::size_t udp_max = 0;
  unsigned threads = 0;
  std::string backend = "auto";      // --backend auto|epoll|io_uring
  bool list_backends = false;        // --list-backends: print the probe and exit
  std::uint32_t uring_buffers = 0;   // hidden: provided buffers per io_uring worker (tests)
  std::uint32_t uring_buffer_size = 0;  // hidden: bytes in each (benchmarks)
  // Guards (docs/SECURITY.md).
  std::size_t max_conns = 0;
  std::size_t max_conns_per_ip = 0;
  std::string idle_timeout = "5m";
  std::string drain_timeout = "5s";
  std::string udp_deny_ports = "0-1023,2049";
  std::string udp_rate = "1000/s";
  std::uint32_t udp_burst = 0;
  std::size_t udp_buffer = 65536;
  std::string user;
  std::string metrics;  // --metrics HOST:PORT; empty: no metrics listener
  std::string xdp;      // --xdp IFACE; empty: UDP by socket alone
  std::string test_stall_worker;  // hidden, tests only: "AFTER,LENGTH" (config.hpp TestStall)
  // The log (stderr): base/log.hpp.
  std::string log_format = "text";
  std::string log_level = "info";
  bool verbose = false;  // -v: --log-level debug
};

CLI::App* register_serve(CLI::App& app, ServeArgs& args);
// Returns the exit code; throws cli::ConfigError for bad input, server::StartError for a
// failed start.
int run_serve(const ServeArgs& args);

// The configuration the options ask for, without touching a socket or the user database:
// throws cli::ConfigError (exit 2) naming the first bad option. --user is looked up by
// run_serve().
server::ServerConfig make_serve_config(const ServeArgs& args);
// The log's configuration the options ask for (and the environment: the journal); throws
// cli::ConfigError (exit 2) for a bad value.
base::LogConfig make_log_config(const ServeArgs& args);

}  // namespace netecho::cli
