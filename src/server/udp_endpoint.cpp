#include "server/udp_endpoint.hpp"

#include "base/log.hpp"
#include "stamp/clock.hpp"

namespace netecho::server {

void UdpEndpoint::on_datagram(io::Backend& backend, const io::Completion& c,
                              std::span<std::byte> scratch, Counters& counters) {
  if (c.res < 0 || c.datagram == nullptr) {
    return;  // e.g. ECONNREFUSED queued by an earlier reply's ICMP: nothing to answer
  }
  counters.add(Stat::udp_in);
  counters.add(Stat::udp_bytes_in, c.data.size());
  // A datagram cut by the receive buffer is never answered short; source port 0 cannot be a
  // real client, nor can an unspecified, broadcast or multicast address (a reply there is a
  // reflection vector). The guard adds the rest (udp_guard.hpp).
  if (guard_ != nullptr) {
    const UdpVerdict verdict = guard_->check(*c.datagram, c.data.size());
    if (verdict != UdpVerdict::answer) {
      const Guard kind = guard_->count(verdict, counters);
      if (guard_->log().detail_due(kind)) {
        // At debug level, and bounded: one such line per kind per interval (guard_log.hpp).
        base::log_event(base::Level::debug, "datagram dropped",
                        {{"listener", name_},
                         {"peer", c.datagram->peer.to_string()},
                         {"bytes", c.data.size()},
                         {"reason", to_string(kind)}});
      }
      return;
    }
  } else if (c.datagram->truncated || c.datagram->peer.port() == 0 ||
             !UdpGuard::is_unicast_exchange(*c.datagram)) {
    counters.add(c.datagram->truncated            ? Stat::udp_truncated
                 : c.datagram->peer.port() == 0 ? Stat::udp_denied_port
                                                : Stat::udp_denied_address);
    counters.add(Stat::udp_dropped);
    return;
  }
  const std::size_t n = stamp_ ? reflect(c, scratch, counters)
                               : service::datagram_reply(mode_, c.data, limit_, scratch);
  if (stamp_ && n == 0) {
    return;  // dropped and counted
  }
  if (n > c.data.size()) {
    // Unreachable: the service never amplifies. Not sent, so counted as a failed send.
    counters.add(Stat::udp_send_failed);
    counters.add(Stat::udp_dropped);
    return;
  }
  // Naming the source costs a control message and a route lookup per reply (about 10 % of the
  // server's CPU per datagram): only a wildcard socket needs it.
  long sent;
  if (wildcard_ || !c.datagram->has_local) {
    sent = backend.send_to(fd_.get(), scratch.first(n), *c.datagram);
  } else {
    net::Datagram to;
    to.peer = c.datagram->peer;
    sent = backend.send_to(fd_.get(), scratch.first(n), to);
  }
  if (sent < 0) {
    counters.add(Stat::udp_send_failed);
    counters.add(Stat::udp_dropped);
    return;
  }
  counters.add(Stat::udp_out);
  counters.add(Stat::udp_bytes_out, static_cast<std::uint64_t>(sent));
}

std::size_t UdpEndpoint::reflect(const io::Completion& c, std::span<std::byte> scratch,
                                 Counters& counters) {
  service::StampArrival arrival;
  // T2: the kernel's receive time; taken here only if the kernel gave none.
  arrival.receive_ns = c.datagram->receive_ns != 0 ? c.datagram->receive_ns : stamp::realtime_ns();
  arrival.ttl = c.datagram->ttl;
  constexpr std::int64_t kClockRefreshNs = 1'000'000'000;
  if (arrival.receive_ns - clock_read_ns_ >= kClockRefreshNs ||
      arrival.receive_ns < clock_read_ns_) {
    clock_ = stamp::local_error_estimate(stamp::TimestampFormat::ntp);
    clock_read_ns_ = arrival.receive_ns;
  }
  arrival.estimate = clock_;
  arrival.peer = {reinterpret_cast<const std::byte*>(c.datagram->peer.get()),
                  c.datagram->peer.size()};
  const service::StampReply reply = stamp_->reflect(c.data, arrival, scratch, stamp::realtime_ns);
  switch (reply.verdict) {
    case service::StampVerdict::reply:
      return reply.size;
    case service::StampVerdict::malformed:
      counters.add(Stat::stamp_malformed);
      break;
    case service::StampVerdict::bad_hmac:
      counters.add(Stat::stamp_bad_hmac);
      break;
  }
  counters.add(Stat::udp_dropped);
  return 0;
}

void UdpEndpoint::close(io::Backend& backend) noexcept {
  if (fd_.valid()) {
    backend.forget(fd_.get());
    fd_.reset();
  }
}

}  // namespace netecho::server
