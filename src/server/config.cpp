#include "server/config.hpp"

namespace netecho::server {

std::vector<ListenerSpec> default_listeners() {
  return {
      {net::Transport::tcp, {"0.0.0.0", 12345}, service::DatagramMode::echo},
      {net::Transport::udp, {"127.0.0.1", 34254}, service::DatagramMode::reverse},
  };
}

}  // namespace netecho::server
