#pragma once
// What `netecho serve` was asked to do, as plain data filled by the command layer.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "io/probe.hpp"
#include "net/address.hpp"
#include "server/privileges.hpp"
#include "server/proxy_header.hpp"
#include "server/udp_guard.hpp"
#include "service/datagram.hpp"
#include "service/stamp.hpp"
#include "service/stream.hpp"

namespace netecho::server {

struct ListenerSpec {
  net::Transport transport = net::Transport::tcp;
  net::Endpoint endpoint;
  service::DatagramMode datagram_mode = service::DatagramMode::echo;  // UDP only
  service::StreamMode stream_mode = service::StreamMode::echo;        // TCP only
  // TCP only (--tcp-proxy): every connection must start with a PROXY protocol header, from one
  // of ServerConfig::proxy_from, and is then served as the client the header names.
  bool proxy = false;
};

struct ServerConfig {
  // Bound by the server itself, besides any sockets a supervisor passed (activation.hpp).
  std::vector<ListenerSpec> listeners;
  // --once: the mode of every TCP listener above, and of passed stream sockets whose name
  // chooses none.
  service::StreamMode stream_mode = service::StreamMode::echo;
  std::size_t udp_max = 0;  // 0: whole datagrams
  unsigned threads = 0;     // 0: one per CPU this process may run on
  io::BackendChoice backend;  // chosen by the command layer
  io::BackendOptions backend_options;
  // Guards (docs/SECURITY.md). Zero turns a limit off unless said otherwise.
  std::size_t max_conns = 0;         // 0: derived from the open-file limit (limits.hpp)
  std::size_t max_conns_per_ip = 0;  // per IPv4 address or IPv6 /64
  std::chrono::nanoseconds idle_timeout = std::chrono::minutes(5);
  std::chrono::nanoseconds drain_timeout = std::chrono::seconds(5);
  UdpGuardConfig udp_guard;
  // Every --stamp listener's reflector: one mode, timestamp format and key for the server, as
  // a router configures its reflector (docs/STAMP.md).
  service::StampConfig stamp;
  std::optional<RunAs> user;  // --user: drop to it once bound
  // PROXY listeners: the balancers allowed to connect (never empty when there is one: the
  // command layer refuses that), and how long a connection may take to send its header.
  std::vector<proxy::Network> proxy_from;
  std::chrono::nanoseconds proxy_timeout = std::chrono::seconds(3);
  std::optional<net::Endpoint> metrics;  // --metrics: the HTTP listener of server/metrics/
  std::string xdp;  // --xdp: the interface whose XDP program answers the UDP listeners first
  // Tests only (the hidden --test-stall-worker): worker 0 blocks its loop thread for
  // `length`, `after` its start, as a handler stuck in a blocking call would.
  struct TestStall {
    std::chrono::nanoseconds after{0};
    std::chrono::nanoseconds length{0};
  };
  std::optional<TestStall> test_stall;
};

// The listeners of a bare `netecho serve`: the original programs' addresses.
std::vector<ListenerSpec> default_listeners();

}  // namespace netecho::server
