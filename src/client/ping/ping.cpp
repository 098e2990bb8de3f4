#include "client/ping/ping.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <time.h>

#include <algorithm>
#include <random>
#include <vector>

#include "base/duration.hpp"
#include "client/ping/session.hpp"
#include "net/error.hpp"
#include "net/address.hpp"
#include "net/socket.hpp"

namespace netecho::client {
namespace ping_detail {
Pinger::Pinger(const PingOptions& o, const net::SockAddr& peer, std::FILE* out, std::FILE* err)
    : o_(o), peer_(peer), out_(out), err_(err), tracker_(o.timeout), frame_(o.size) {
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

int Pinger::run() {
  if (o_.target.transport == net::Transport::udp) {
    auto sock = net::start_connect(peer_, net::Transport::udp);
    if (!sock) {
      fmt::print(err_, "netecho ping: cannot open a UDP socket to {}: {}\n", info_.address,
                 sock.error().message());
      return net::kExitUsage;  // ping's "other error"
    }
    udp_ = std::move(sock).value();
    // ICMP errors then come with the datagram that caused them, so each names its probe. Without
    // it they still arrive, on receive, naming none.
    errqueue_ = !net::enable_error_queue(udp_.get(), peer_.family());
  }
  if (o_.output == PingOutput::text) {
    fmt::print(out_, "{}\n", header_line(info_));
    std::fflush(out_);
  }
  start_ = Clock::now();
  const auto run_end = o_.deadline ? start_ + *o_.deadline : Clock::time_point::max();
  for (;;) {
    const auto now = Clock::now();
    if (now >= run_end) {
      break;
    }
    while (more_to_send() && now >= due(sent_)) {
      start_probe(now);
    }
    while (const auto seq = tracker_.pop_expired(now)) {
      on_timeout(*seq);
    }
    expire_connects(now);
    std::erase_if(conns_, [](const auto& c) { return c->dead; });
    if (finished()) {
      break;
    }
    if (!wait(now)) {
      break;
    }
  }
  const auto elapsed = Clock::now() - start_;
  switch (o_.output) {
    case PingOutput::text:
      fmt::print(out_, "\n{}", summary_text(info_, stats_, elapsed));
      break;
    case PingOutput::json:
      fmt::print(out_, "{}\n", summary_json(info_, stats_, elapsed, interrupted_, false, 2));
      break;
    case PingOutput::json_lines:
      fmt::print(out_, "{}\n", summary_json(info_, stats_, elapsed, interrupted_, true, -1));
      break;
  }
  std::fflush(out_);
  if (o_.count && o_.deadline) {
    return stats_.received >= *o_.count ? 0 : net::kExitFailure;
  }
  return stats_.received > 0 ? 0 : net::kExitFailure;
}

std::optional<Clock::time_point> Pinger::next_wake() const {
  std::optional<Clock::time_point> wake;
  const auto consider = [&wake](Clock::time_point t) {
    if (!wake || t < *wake) {
      wake = t;
    }
  };
  if (more_to_send()) {
    consider(due(sent_));
  }
  if (const auto t = tracker_.next_deadline()) {
    consider(*t);
  }
  for (const auto& c : conns_) {
    if (!c->connected) {
      consider(c->connect_started + o_.timeout);
    }
  }
  if (o_.deadline) {
    consider(start_ + *o_.deadline);
  }
  return wake;
}

// Waits for the sockets, the stop descriptor or the next timer, and serves what is ready.
bool Pinger::wait(Clock::time_point now) {
  std::vector<pollfd> fds;
  fds.reserve(2 + conns_.size());
  if (o_.stop_fd >= 0) {
    fds.push_back({o_.stop_fd, POLLIN, 0});
  }
  const std::size_t first_socket = fds.size();
  if (udp_) {
    fds.push_back({udp_.get(), POLLIN, 0});
  }
  for (const auto& c : conns_) {
    short events = POLLIN;
    if (!c->connected || c->out_done < c->out.size()) {
      events = static_cast<short>(c->connected ? POLLIN | POLLOUT : POLLOUT);
    }
    fds.push_back({c->fd.get(), events, 0});
  }
  timespec ts{};
  timespec* tsp = nullptr;
  if (const auto wake = next_wake()) {
    ts = base::to_timespec(*wake - now);
    tsp = &ts;
  }
  const int rc = ::ppoll(fds.data(), fds.size(), tsp, nullptr);
  if (rc < 0) {
    return true;  // EINTR (or a transient failure): the next turn recomputes everything
  }
  if (o_.stop_fd >= 0 && fds[0].revents != 0) {
    interrupted_ = true;
    return false;
  }
  const auto ready = Clock::now();
  std::size_t i = first_socket;
  if (udp_) {
    const short rev = fds[i++].revents;
    if ((rev & POLLERR) != 0 && errqueue_) {
      udp_errors();
    }
    if (rev != 0) {
      udp_receive();
    }
  }
  // conns_ does not change size while the events are served (dead ones go next turn).
  for (std::size_t k = 0; k < conns_.size(); ++k, ++i) {
    Conn& c = *conns_[k];
    const short rev = fds[i].revents;
    if (rev == 0 || c.dead) {
      continue;
    }
    if (!c.connected) {
      if (const auto ec = net::finish_connect(c.fd.get())) {
        lose(c, fmt::format("connect failed: {}", ec.message()));
        continue;
      }
      on_connected(c, ready);
      continue;
    }
    if ((rev & POLLOUT) != 0) {
      flush(c);
    }
    if ((rev & (POLLIN | POLLERR | POLLHUP)) != 0 && !c.dead) {
      tcp_receive(c);
    }
  }
  return true;
}

void Pinger::start_probe(Clock::time_point now) {
  const std::uint64_t seq = ++sent_;
  ++stats_.transmitted;
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
      if (o_.quiet) {
        return;
      }
      fmt::print(out_, "{}\n", event_line(e, info_));
      break;
    case PingOutput::json_lines:
      fmt::print(out_, "{}\n", event_json(e));
      break;
    case PingOutput::json:
      return;
  }
  std::fflush(out_);
}

}  // namespace ping_detail

int run_ping(const PingOptions& options, std::FILE* out, std::FILE* err) {
  ping_detail::Pinger pinger(options, options.peer, out, err);
  return pinger.run();
}

}  // namespace netecho::client
