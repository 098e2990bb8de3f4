#include "client/ping/ping.hpp"

#include <fmt/format.h>
#include <poll.h>

#include <cerrno>

#include <algorithm>
#include <random>
#include <vector>

#include "client/ping/session.hpp"
#include "net/error.hpp"
#include "net/address.hpp"
#include "net/socket.hpp"

namespace netecho::client {
namespace ping_detail {
Pinger::Pinger(const PingOptions& o, const net::SockAddr& peer, std::FILE* out, std::FILE* err)
    : o_(o),
      peer_(peer),
      out_(out),
      err_(err),
      tracker_(o.timeout),
      frame_(o.size),
      loop_(io::make_backend(o.backend.kind)) {
  std::random_device rd;
  session_ = rd();
  info_.target = net::to_string(o.target);
  info_.address = peer.to_string();
  info_.tcp = o.target.transport == net::Transport::tcp;
  info_.size = o.size;
  info_.interval = o.interval;
  info_.timeout = o.timeout;
  info_.connect_per_probe = o.connect_per_probe;
  info_.reverse = o.reverse;
}

// ------------------------------------------------------------------------- schedule and loop

Outcome Pinger::run() {
  if (o_.target.transport == net::Transport::udp) {
    auto sock = net::start_connect(peer_, net::Transport::udp);
    if (!sock) {
      fmt::print(err_, "netecho ping: cannot open a UDP socket to {}: {}\n", info_.address,
                 sock.error().message());
      return Outcome::error;  // ping's "other error"
    }
    udp_ = std::move(sock).value();
    // ICMP errors then come with the datagram that caused them, so each names its probe. Without
    // it they still arrive, on receive, naming none.
    errqueue_ = !net::enable_error_queue(udp_.get(), peer_.family());
    loop_.backend().recv_from(udp_.get(), {kUdpSlot, 0});
    if (errqueue_) {
      loop_.backend().watch(udp_.get(), {kUdpSlot, 0}, POLLERR);
    }
  }
  if (o_.stop_fd >= 0) {
    loop_.backend().watch(o_.stop_fd, {kStopSlot, 0}, POLLIN);
  }
  if (o_.output == PingOutput::text) {
    write_out(fmt::format("{}\n", header_line(info_)));
  }
  start_ = Clock::now();
  if (o_.deadline) {
    loop_.add_timer(start_ + *o_.deadline, [this] { done_ = true; });
  }
  schedule_probe();
  while (!done_ && !finished()) {
    loop_.run_once(*this);
    close_dead();
  }
  close_all();
  if (output_error_ != 0) {
    if (output_error_ != EPIPE) {
      fmt::print(err_, "netecho ping: cannot write the output: {}\n", error_text(output_error_));
    }
    return Outcome::failed;
  }
  print_summary();
  return probe_outcome(stats_, o_.count, o_.deadline.has_value());
}

void Pinger::print_summary() {
  const auto elapsed = Clock::now() - start_;
  switch (o_.output) {
    case PingOutput::text:
      write_out(fmt::format("\n{}", summary_text(info_, stats_, elapsed)));
      break;
    case PingOutput::json:
      write_out(fmt::format("{}\n", summary_json(info_, stats_, elapsed, interrupted_, false, 2)));
      break;
    case PingOutput::json_lines:
      write_out(fmt::format("{}\n", summary_json(info_, stats_, elapsed, interrupted_, true, -1)));
      break;
  }
}

// Probe k goes out at due(k): one timer for the next probe, set again as each goes out. A turn
// that comes late starts every probe due by then, so the schedule never drifts.
void Pinger::schedule_probe() {
  if (more_to_send()) {
    loop_.add_timer(due(sent_), [this] { on_probe_due(); });
  }
}

void Pinger::on_probe_due() {
  const auto now = Clock::now();
  if (done_ || (o_.deadline && now >= start_ + *o_.deadline)) {
    return;  // the run ends this turn: no probe after the deadline
  }
  while (more_to_send() && now >= due(sent_)) {
    start_probe(now);
  }
  schedule_probe();
}

void Pinger::expire_probes() {
  if (done_) {
    return;
  }
  while (const auto seq = tracker_.pop_expired(Clock::now())) {
    on_timeout(*seq);
  }
}

void Pinger::on_completion(const io::Completion& c) {
  if (done_) {
    return;  // stopped in this turn: what follows is not reported
  }
  switch (c.token.slot) {
    case kStopSlot:
      interrupted_ = true;
      done_ = true;
      return;
    case kUdpSlot:
      if (c.op == io::Op::ready) {
        udp_errors();
        loop_.backend().watch(udp_.get(), {kUdpSlot, 0}, POLLERR);
      } else {
        udp_receive(c);
      }
      return;
    default:
      if (Conn* conn = find_conn(c.token.gen); conn != nullptr && !conn->dead) {
        on_conn(*conn, c);
      }
      return;
  }
}

// Connections lost in this turn are closed at its end, once nothing refers to them.
void Pinger::close_dead() {
  for (const auto& c : conns_) {
    if (c->dead && c->fd) {
      loop_.backend().forget(c->fd.get());
    }
  }
  std::erase_if(conns_, [](const auto& c) { return c->dead; });
}

// The end of the run: every descriptor forgotten before it is closed, and the backend let go
// of them all, so nothing is left in flight.
void Pinger::close_all() {
  for (const auto& c : conns_) {
    if (c->fd) {
      loop_.backend().forget(c->fd.get());
    }
  }
  conns_.clear();
  if (udp_) {
    loop_.backend().forget(udp_.get());
    udp_.reset();
  }
  if (o_.stop_fd >= 0) {
    loop_.backend().forget(o_.stop_fd);
  }
  loop_.backend().quiesce();
}

void Pinger::start_probe(Clock::time_point now) {
  const std::uint64_t seq = ++sent_;
  ++stats_.transmitted;
  loop_.add_timer(now + o_.timeout, [this] { expire_probes(); });
  if (udp_) {
    udp_send(seq, now);
  } else {
    tcp_probe(seq, now);
  }
}

void Pinger::on_timeout(std::uint64_t seq) {
  ProbeEvent e;
  e.type = ProbeEventType::timeout;
  e.seq = seq;
  emit(std::move(e));
  if (o_.connect_per_probe) {
    for (auto& c : conns_) {
      if (c->only_seq == seq) {
        c->dead = true;
      }
    }
  }
}

Pinger::FrameCheck Pinger::check_frame(std::span<const std::byte> data) const {
  FrameCheck check;
  ProbeHeader& header = check.header;
  check.problem = [&]() -> std::optional<std::string> {
    const auto decoded = decode_probe(data);
    if (const auto* h = std::get_if<ProbeHeader>(&decoded)) {
      header = *h;
      if (h->session != session_) {
        return fmt::format("reply belongs to another run (session {:08x}, this run {:08x})",
                           h->session, session_);
      }
      return std::nullopt;
    }
    const auto error = std::get<ProbeError>(decoded);
    const auto header_only = decode_probe_header(data);
    if (const auto* h = std::get_if<ProbeHeader>(&header_only)) {
      header = *h;
    }
    // The commonest mistake: probing a reverse-mode server without --expect reverse, or the
    // other way round. Say so.
    std::vector<std::byte> flipped(data.rbegin(), data.rend());
    const auto flipped_decoded = decode_probe(flipped);
    if (const auto* h = std::get_if<ProbeHeader>(&flipped_decoded)) {
      header = *h;
      return std::string(wrong_direction_hint(o_.reverse));
    }
    if (error.kind == ProbeErrorKind::bad_fill) {
      return fmt::format("{} (first difference at byte {})", describe(error.kind), error.offset);
    }
    return std::string(describe(error.kind));
  }();
  return check;
}

// Counts and prints a reply that matched a probe of this run.
void Pinger::reply(ProbeEvent e, const ReplyMatch& m, nanoseconds rtt) {
  e.rtt = rtt;
  switch (m.status) {
    case ReplyStatus::reply:
      e.type = ProbeEventType::reply;
      e.reordered = m.reordered;
      ++stats_.received;
      stats_.reordered += m.reordered ? 1 : 0;
      stats_.rtt.record(static_cast<std::uint64_t>(std::max(rtt.count(), std::int64_t{0})));
      break;
    case ReplyStatus::duplicate:
      e.type = ProbeEventType::duplicate;
      ++stats_.duplicates;
      break;
    case ReplyStatus::late:
      e.type = ProbeEventType::late;
      ++stats_.late;
      break;
    case ReplyStatus::unexpected:
      e.type = ProbeEventType::error;
      e.rtt.reset();
      e.message = "reply to a probe this run does not remember";
      ++stats_.errors;
      break;
  }
  emit(std::move(e));
}

// ---------------------------------------------------------------------------------- output

void Pinger::emit(ProbeEvent e) {
  e.from = info_.address;
  e.at = Clock::now() - start_;
  if (e.type == ProbeEventType::error && stats_.first_error.empty()) {
    stats_.first_error = event_line(e, info_);
  }
  switch (o_.output) {
    case PingOutput::text:
      if (!o_.quiet) {
        write_out(fmt::format("{}\n", event_text(e, info_)));
      }
      break;
    case PingOutput::json_lines:
      write_out(fmt::format("{}\n", event_json(e)));
      break;
    case PingOutput::json:
      break;
  }
}

void Pinger::write_out(const std::string& text) {
  if (output_error_ != 0) {
    return;
  }
  output_error_ = write_flushed(out_, text);
  done_ = done_ || output_error_ != 0;
}

}  // namespace ping_detail

Outcome run_ping(const PingOptions& options, std::FILE* out, std::FILE* err) {
  ping_detail::Pinger pinger(options, options.peer, out, err);
  return pinger.run();
}

}  // namespace netecho::client
