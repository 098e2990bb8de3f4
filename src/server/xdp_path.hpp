#pragma once
// The XDP fast path in front of the UDP listeners (serve --xdp IFACE): io::xdp::FastPath
// configured from the same flags as the socket path's guards, and its counters read into the
// server's counter table.
//
// One interface for every UDP listener, not a per-listener form: an interface holds one XDP
// program, so listeners on one interface would share it anyway, and the program tells them
// apart by address and port. The socket listeners stay up behind it: what the program passes
// is answered there.

#include <memory>
#include <string>
#include <vector>

#include "io/xdp/fast_path.hpp"
#include "server/counters.hpp"
#include "server/listeners.hpp"
#include "server/udp_guard.hpp"

namespace netecho::server {

class XdpPath {
 public:
  // Loads and attaches the program to ifname for the UDP listeners among bound (in their
  // order: the i-th UDP listener is the program's listener i, as Server::ListenerInfo::index
  // counts them) and logs one line: the interface and the mode (native or generic), or why it
  // cannot run (then null: the socket path serves alone).
  static std::unique_ptr<XdpPath> start(const std::string& ifname,
                                        const std::vector<BoundListener>& bound,
                                        const UdpGuardConfig& guard, std::size_t udp_max);

  // Adds the program's figures for UDP listener index to t: what it answered, refused (by
  // reason) and passed. A datagram it passed is counted by the socket path when it arrives.
  void add_to(CounterTotals& t, std::size_t index) const;

 private:
  explicit XdpPath(std::unique_ptr<io::xdp::FastPath> path) : path_(std::move(path)) {}
  std::unique_ptr<io::xdp::FastPath> path_;
};

}  // namespace netecho::server
