#pragma once
// What `netecho serve` was asked to do, as plain data filled by the command layer.

#include <cstddef>
#include <string>
#include <vector>

#include "io/probe.hpp"
#include "net/address.hpp"
#include "service/datagram.hpp"
#include "service/stream.hpp"

namespace netecho::server {

struct ListenerSpec {
  net::Transport transport = net::Transport::tcp;
  net::Endpoint endpoint;
  service::DatagramMode datagram_mode = service::DatagramMode::echo;  // UDP only
};

struct ServerConfig {
  std::vector<ListenerSpec> listeners;
  service::StreamMode stream_mode = service::StreamMode::echo;
  std::size_t udp_max = 0;  // 0: whole datagrams
  unsigned threads = 0;     // 0: one per CPU this process may run on
  io::BackendKind backend = io::BackendKind::automatic;
};

// The listeners of a bare `netecho serve`: the original programs' addresses.
std::vector<ListenerSpec> default_listeners();

}  // namespace netecho::server
