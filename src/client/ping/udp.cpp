// netecho ping over UDP: one connected socket; replies matched to probes by sequence number;
// ICMP errors read from the error queue, each naming the probe whose datagram it quotes.

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "client/ping/session.hpp"
#include "net/socket.hpp"

namespace netecho::client::ping_detail {
namespace {

// The errors an ICMP message turns into on a connected UDP socket. They belong to an earlier
// datagram, not to the call that happens to return them.
bool is_icmp_error(int e) {
  return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN;
}

std::string icmp_text(int e) {
  return e == ECONNREFUSED ? std::string("port unreachable (connection refused)") : error_text(e);
}

}  // namespace

void Pinger::udp_send(std::uint64_t seq, Clock::time_point now) {
  encode_probe({session_, seq, to_ns(now)}, frame_);
  tracker_.on_sent(seq, now);
  net::Datagram to;
  to.peer = peer_;
  io::Backend& backend = loop_.backend();
  long n = backend.send_to(udp_.get(), frame_, to);
  if (n < 0 && is_icmp_error(static_cast<int>(-n))) {
    // The pending error of an earlier datagram failed this send and is now cleared (the error
    // queue still reports it with its own probe): this datagram has not been sent yet.
    n = backend.send_to(udp_.get(), frame_, to);
  }
  if (n < 0) {
    tracker_.fail(seq);
    ++stats_.errors;
    ProbeEvent e;
    e.type = ProbeEventType::error;
    e.seq = seq;
    e.message = fmt::format("send failed: {}", is_icmp_error(static_cast<int>(-n))
                                                   ? icmp_text(static_cast<int>(-n))
                                                   : error_text(static_cast<int>(-n)));
    emit(std::move(e));
  }
}

// Reports the queued ICMP errors, each for the probe whose datagram it quotes.
void Pinger::udp_errors() {
  for (int i = 0; i < kReadsPerTurn; ++i) {
    const auto queued = net::receive_queued_error(udp_.get(), rbuf_);
    if (!queued) {
      return;  // EAGAIN: the queue is empty
    }
    ++stats_.errors;
    ProbeEvent e;
    e.type = ProbeEventType::error;
    e.message = icmp_text(queued->error.value());
    // The quoted datagram is one we sent, so never reversed; its fill may be cut short.
    const auto decoded = decode_probe_header(std::span(rbuf_.data(), queued->size));
    if (const auto* h = std::get_if<ProbeHeader>(&decoded);
        h != nullptr && h->session == session_) {
      e.seq = h->seq;
      tracker_.fail(h->seq);
    }
    emit(std::move(e));
  }
}

void Pinger::udp_receive(const io::Completion& c) {
  if (c.res == -EAGAIN) {
    return;
  }
  if (c.res < 0 && errqueue_ && is_icmp_error(-c.res)) {
    return;  // the same error waits in the error queue, with its datagram: reported there
  }
  if (c.res < 0) {
    // Without the error queue, ICMP errors for earlier datagrams surface here, naming no probe.
    ++stats_.errors;
    ProbeEvent e;
    e.type = ProbeEventType::error;
    e.message = is_icmp_error(-c.res) ? icmp_text(-c.res)
                                      : fmt::format("receive failed: {}", error_text(-c.res));
    emit(std::move(e));
    return;
  }
  // The backend's buffer is read-only and lent for this call: udp_datagram() works on a copy.
  const std::size_t n = std::min(c.data.size(), rbuf_.size());
  std::copy_n(c.data.begin(), n, rbuf_.begin());
  udp_datagram(std::span(rbuf_.data(), n), c.datagram != nullptr && c.datagram->truncated,
               Clock::now());
}

void Pinger::udp_datagram(std::span<std::byte> data, bool truncated, Clock::time_point now) {
  if (o_.reverse) {
    std::reverse(data.begin(), data.end());
  }
  ProbeEvent e;
  e.bytes = data.size();
  auto [h, problem] = check_frame(data);
  if (!problem && (truncated || data.size() != o_.size)) {
    problem = fmt::format("reply is {}{} bytes, {} were sent", truncated ? "over " : "",
                          data.size(), o_.size);
  }
  if (!problem) {
    const auto sent = tracker_.sent_at(h.seq);
    if (sent && to_ns(*sent) != h.send_ns) {
      problem = "reply carries a send time this probe did not have";
    }
  }
  if (problem) {
    e.type = ProbeEventType::error;
    // A wrong answer to a probe of this run ends that probe: it gets this line and no timeout
    // line later. A reply that names no probe of ours (another run's) ends nothing.
    if (h.session == session_ && h.seq != 0) {
      e.seq = h.seq;
      tracker_.fail(h.seq);
    }
    e.message = std::move(*problem);
    ++stats_.errors;
    emit(std::move(e));
    return;
  }
  e.seq = h.seq;
  const auto m = tracker_.on_reply(h.seq);
  reply(std::move(e), m, now - m.sent);
}

}  // namespace netecho::client::ping_detail
