// netecho ping over TCP: one connection reused for every probe (or one per probe with
// --connect); replies read in order and checked against the oldest outstanding probe; a lost,
// corrupted or stalled connection fails its probes and is reopened by the next probe.

#include <fmt/format.h>

#include <algorithm>

#include "client/ping/session.hpp"
#include "net/socket.hpp"

namespace netecho::client::ping_detail {
namespace {

// Probe bytes still queued in user space (the kernel's send buffer already full) beyond which
// the server is taken to have stopped reading, and the connection is dropped: 1 MiB, or four
// probes when they are larger.
constexpr std::size_t kMaxUnsent = std::size_t{1} << 20;

}  // namespace

void Pinger::tcp_probe(std::uint64_t seq, Clock::time_point now) {
  tracker_.on_sent(seq, now);
  Conn* conn = nullptr;
  if (!o_.connect_per_probe) {
    // The one live connection, if there is one (a lost one lingers, dead, until the turn ends).
    for (const auto& c : conns_) {
      if (!c->dead) {
        conn = c.get();
      }
    }
  }
  if (conn == nullptr) {
    auto c = std::make_unique<Conn>();
    c->id = ++next_conn_id_;
    c->connect_started = now;
    if (o_.connect_per_probe) {
      c->only_seq = seq;
    }
    auto sock = net::start_connect(peer_, net::Transport::tcp);
    if (!sock) {
      c->waiting.push_back(seq);
      lose(*c, fmt::format("connect failed: {}", sock.error().message()));
      return;
    }
    c->fd = std::move(sock).value();
    loop_.backend().connect(c->fd.get(), {kConnSlot, c->id});
    loop_.add_timer(now + o_.timeout, [this, id = c->id] { expire_connect(id); });
    conns_.push_back(std::move(c));
    conn = conns_.back().get();
  }
  if (conn->connected) {
    write_frame(*conn, seq, now);
    flush(*conn);
  } else {
    conn->waiting.push_back(seq);
  }
}

Conn* Pinger::find_conn(std::uint32_t id) {
  for (const auto& c : conns_) {
    if (c->id == id) {
      return c.get();
    }
  }
  return nullptr;
}

void Pinger::on_conn(Conn& c, const io::Completion& comp) {
  switch (comp.op) {
    case io::Op::connect:
      if (comp.res < 0) {
        lose(c, fmt::format("connect failed: {}", error_text(-comp.res)));
      } else {
        on_connected(c, Clock::now());
      }
      return;
    case io::Op::send:
      c.sending = false;
      if (comp.res < 0) {
        lose(c, fmt::format("send failed: {}", error_text(-comp.res)));
        return;
      }
      c.out_done += static_cast<std::size_t>(comp.res);
      flush(c);
      return;
    case io::Op::recv:
      if (comp.res < 0) {
        lose(c, fmt::format("connection lost: {}", error_text(-comp.res)));
      } else if (comp.res == 0) {
        lose(c, "connection closed by the server");
      } else {
        tcp_receive(c, comp.data);
      }
      return;
    case io::Op::accept:
    case io::Op::recv_from:
    case io::Op::ready:
      return;  // never asked for on a connection
  }
}

void Pinger::on_connected(Conn& c, Clock::time_point now) {
  c.connected = true;
  c.connect_time = now - c.connect_started;
  ++stats_.connects;
  if (o_.connect_per_probe) {
    stats_.connect.record(static_cast<std::uint64_t>(c.connect_time->count()));
  } else if (had_connection_) {
    ++stats_.reconnects;
  }
  had_connection_ = true;
  (void)net::set_no_delay(c.fd.get());  // a failure only costs latency
  loop_.backend().recv(c.fd.get(), {kConnSlot, c.id});
  for (const auto seq : c.waiting) {
    // Probes that timed out while the connection was being made are not sent late.
    if (tracker_.is_pending(seq)) {
      write_frame(c, seq, now);
    }
  }
  c.waiting.clear();
  flush(c);
}

void Pinger::write_frame(Conn& c, std::uint64_t seq, Clock::time_point now) {
  const std::uint64_t send_ns = to_ns(now);
  encode_probe({session_, seq, send_ns}, frame_);
  c.next.insert(c.next.end(), frame_.begin(), frame_.end());
  c.written.push_back({seq, now, send_ns});
}

// Hands the frames written so far to the socket: what it takes now (try_send), and the rest to
// one send() at a time. A server that stops reading makes them pile up here: past a limit, the
// connection is taken as stalled and dropped rather than buffered without end.
void Pinger::flush(Conn& c) {
  if (!c.sending) {
    if (c.out_done == c.out.size()) {
      c.out.swap(c.next);
      c.next.clear();
      c.out_done = 0;
    }
    const std::span<const std::byte> rest = std::span(c.out).subspan(c.out_done);
    if (!rest.empty()) {
      const long n = loop_.backend().try_send(c.fd.get(), rest);
      if (n < 0) {
        lose(c, fmt::format("send failed: {}", error_text(static_cast<int>(-n))));
        return;
      }
      c.out_done += static_cast<std::size_t>(n);
      if (c.out_done < c.out.size()) {
        c.sending = true;
        loop_.backend().send(c.fd.get(), {kConnSlot, c.id}, std::span(c.out).subspan(c.out_done));
      } else if (!c.next.empty()) {
        flush(c);  // all taken at once: the frames that waited go next
        return;
      }
    }
  }
  const std::size_t unsent = c.out.size() - c.out_done + c.next.size();
  if (unsent > std::max(kMaxUnsent, 4 * o_.size)) {
    lose(c, fmt::format("connection stalled: the server has not read {} bytes", unsent));
  }
}

void Pinger::tcp_receive(Conn& c, std::span<const std::byte> data) {
  const auto now = Clock::now();
  c.in.insert(c.in.end(), data.begin(), data.end());
  std::size_t used = 0;
  while (c.in.size() - used >= o_.size && !c.dead) {
    tcp_frame(c, std::span(c.in).subspan(used, o_.size), now);
    used += o_.size;
  }
  c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(used));
}

void Pinger::tcp_frame(Conn& c, std::span<const std::byte> frame, Clock::time_point now) {
  auto [h, problem] = check_frame(frame);
  if (!problem) {
    if (c.written.empty()) {
      problem = fmt::format("reply to seq={} that was never sent on this connection", h.seq);
    } else if (h.seq != c.written.front().seq || h.send_ns != c.written.front().send_ns) {
      problem = fmt::format("stream out of step: expected the reply to seq={}, got seq={}",
                            c.written.front().seq, h.seq);
    }
  }
  if (problem) {
    // Whatever follows in the stream cannot be trusted: start over on a new connection.
    lose(c, fmt::format("bad reply ({} bytes): {}", frame.size(), *problem));
    return;
  }
  const auto w = c.written.front();
  c.written.pop_front();
  ProbeEvent e;
  e.seq = h.seq;
  e.bytes = frame.size();
  if (o_.connect_per_probe) {
    e.connect = c.connect_time;
    c.dead = true;  // its one probe is answered
  }
  reply(std::move(e), tracker_.on_reply(h.seq), now - w.at);
}

// Ends a connection. Every probe on it still waiting for a reply fails with why; when there is
// none, one line says what happened. The next probe opens a new connection.
void Pinger::lose(Conn& c, const std::string& why) {
  c.dead = true;
  std::vector<std::uint64_t> seqs(c.waiting.begin(), c.waiting.end());
  for (const auto& w : c.written) {
    seqs.push_back(w.seq);
  }
  bool any = false;
  for (const auto seq : seqs) {
    if (tracker_.fail(seq)) {
      any = true;
      ++stats_.errors;
      ProbeEvent e;
      e.type = ProbeEventType::error;
      e.seq = seq;
      e.message = why;
      emit(std::move(e));
    }
  }
  if (!any) {
    ++stats_.errors;
    ProbeEvent e;
    e.type = ProbeEventType::error;
    e.message = why;
    emit(std::move(e));
  }
}

void Pinger::expire_connect(std::uint32_t id) {
  Conn* c = find_conn(id);
  if (done_ || c == nullptr || c->dead || c->connected) {
    return;
  }
  lose(*c, fmt::format("connect timed out after {:g} ms",
                       static_cast<double>(o_.timeout.count()) / 1e6));
}

}  // namespace netecho::client::ping_detail
