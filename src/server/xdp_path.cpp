#include "server/xdp_path.hpp"

#include <algorithm>
#include <array>

#include "base/log.hpp"

namespace netecho::server {
namespace {

// The program's refusals and the server's counter for each; every refusal also counts as a
// datagram received and dropped, as on the socket path.
struct Refusal {
  netecho_xdp_counter from;
  Stat to;
};
constexpr std::array<Refusal, 4> kRefusals{{
    {NETECHO_XDP_DENIED_PORT, Stat::udp_denied_port},
    {NETECHO_XDP_DENIED_SELF, Stat::udp_denied_self},
    {NETECHO_XDP_DENIED_ADDRESS, Stat::udp_denied_address},
    {NETECHO_XDP_RATE_LIMITED, Stat::udp_rate_limited},
}};

}  // namespace

std::unique_ptr<XdpPath> XdpPath::start(const std::string& ifname,
                                        const std::vector<BoundListener>& bound,
                                        const UdpGuardConfig& guard, std::size_t udp_max) {
  io::xdp::Config config;
  for (const auto& b : bound) {
    if (b.spec.transport == net::Transport::udp) {
      config.listeners.push_back(
          {b.addr, b.spec.datagram_mode == service::DatagramMode::reverse});
      config.own_ports.push_back(b.addr.port());
    }
  }
  config.rate = guard.rate;
  config.burst = guard.burst;
  // --udp-max cuts longer datagrams short: the socket path does that.
  config.max_payload = static_cast<std::uint32_t>(
      udp_max != 0 ? std::min(udp_max, guard.buffer) : guard.buffer);
  for (std::uint32_t p = 0; p < 65536; ++p) {
    config.deny_ports[p] = guard.deny_ports.contains(static_cast<std::uint16_t>(p));
  }
  if (config.listeners.empty()) {
    base::log_event(base::Level::warn, "xdp not used",
                    {{"interface", ifname}, {"reason", "no UDP listener"}});
    return nullptr;
  }
  auto path = io::xdp::FastPath::attach(ifname, config);
  if (!path) {
    base::log_event(base::Level::warn, "xdp not used: serving UDP by socket alone",
                    {{"interface", ifname}, {"reason", path.error()}});
    return nullptr;
  }
  base::log_event(base::Level::info, "xdp attached",
                  {{"interface", ifname},
                   {"mode", std::string(io::xdp::to_string((*path)->mode()))},
                   {"listeners", config.listeners.size()}});
  return std::unique_ptr<XdpPath>(new XdpPath(std::move(path.value())));
}

void XdpPath::add_to(CounterTotals& t, std::size_t index) const {
  const io::xdp::Figures f = path_->read(index);
  const auto add = [&t](Stat s, std::uint64_t n) { t.values[base::index_of(s)] += n; };
  std::uint64_t refused = 0;
  for (const auto& [from, to] : kRefusals) {
    add(to, f[from]);
    refused += f[from];
  }
  add(Stat::udp_dropped, refused);
  add(Stat::udp_in, f[NETECHO_XDP_ANSWERED] + refused);
  add(Stat::udp_out, f[NETECHO_XDP_ANSWERED]);
  add(Stat::udp_bytes_in, f[NETECHO_XDP_BYTES]);
  add(Stat::udp_bytes_out, f[NETECHO_XDP_BYTES]);
  add(Stat::udp_xdp_answered, f[NETECHO_XDP_ANSWERED]);
  add(Stat::udp_xdp_passed, f[NETECHO_XDP_PASSED]);
}

}  // namespace netecho::server
