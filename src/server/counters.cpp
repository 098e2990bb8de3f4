#include "server/counters.hpp"

#include <fmt/format.h>

namespace netecho::server {

void CounterTotals::add(const Counters& c) noexcept {
  constexpr auto r = std::memory_order_relaxed;
  tcp_accepted += c.tcp_accepted.load(r);
  tcp_closed += c.tcp_closed.load(r);
  tcp_bytes_in += c.tcp_bytes_in.load(r);
  tcp_bytes_out += c.tcp_bytes_out.load(r);
  tcp_resets += c.tcp_resets.load(r);
  accept_errors += c.accept_errors.load(r);
  udp_in += c.udp_in.load(r);
  udp_out += c.udp_out.load(r);
  udp_bytes_in += c.udp_bytes_in.load(r);
  udp_bytes_out += c.udp_bytes_out.load(r);
  udp_dropped += c.udp_dropped.load(r);
  tcp_refused_max += c.tcp_refused_max.load(r);
  tcp_refused_per_ip += c.tcp_refused_per_ip.load(r);
  tcp_idle_closed += c.tcp_idle_closed.load(r);
  tcp_drain_cut += c.tcp_drain_cut.load(r);
  udp_truncated += c.udp_truncated.load(r);
  udp_denied_port += c.udp_denied_port.load(r);
  udp_denied_self += c.udp_denied_self.load(r);
  udp_denied_address += c.udp_denied_address.load(r);
  udp_rate_limited += c.udp_rate_limited.load(r);
}

std::string CounterTotals::to_string() const {
  return fmt::format(
      "tcp_accepted={} tcp_closed={} tcp_bytes_in={} tcp_bytes_out={} tcp_resets={} "
      "accept_errors={} udp_in={} udp_out={} udp_bytes_in={} udp_bytes_out={} udp_dropped={} "
      "tcp_refused_max={} tcp_refused_per_ip={} tcp_idle_closed={} tcp_drain_cut={} "
      "udp_truncated={} udp_denied_port={} udp_denied_self={} udp_denied_address={} "
      "udp_rate_limited={}",
      tcp_accepted, tcp_closed, tcp_bytes_in, tcp_bytes_out, tcp_resets, accept_errors, udp_in,
      udp_out, udp_bytes_in, udp_bytes_out, udp_dropped, tcp_refused_max, tcp_refused_per_ip,
      tcp_idle_closed, tcp_drain_cut, udp_truncated, udp_denied_port, udp_denied_self,
      udp_denied_address, udp_rate_limited);
}

}  // namespace netecho::server
