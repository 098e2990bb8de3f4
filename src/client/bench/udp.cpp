// UdpFlow: see bench/flow.hpp.

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "client/bench/flow.hpp"
#include "client/probe_frame.hpp"

namespace netecho::client {

UdpFlow::UdpFlow(std::uint32_t id, std::uint32_t slot, std::uint64_t quota, std::uint32_t pipeline)
    : Flow(id, slot, quota) {
  outstanding_.reserve(pipeline);
  std::size_t window = 1024;
  while (window < std::size_t{16} * pipeline) {
    window *= 2;
  }
  window_.assign(window, Fate::pending);
}

void UdpFlow::on_open(FlowContext& ctx) { ctx.backend->recv_from(fd_.get(), token()); }

void UdpFlow::frame(FlowContext& ctx, const Message& m, std::span<std::byte> out) const noexcept {
  const ProbeHeader h{static_cast<std::uint32_t>(seed_), m.seq,
                      static_cast<std::uint64_t>(m.due_ns)};
  encode_probe(h, out.first(ctx.options->message_size));
}

void UdpFlow::send_message(FlowContext& ctx, const Message& issued) {
  Message m = issued;
  m.seq = next_seq_++;
  fate(m.seq) = Fate::pending;
  outstanding_.push_back(m);
  unsent_.push_back(m);
  write(ctx);
}

void UdpFlow::drop_in_flight() noexcept {
  outstanding_.clear();
  unsent_.clear();
}

// Writes the queued datagrams in order. A full socket buffer (EAGAIN) parks the next one in
// pending_ for an asynchronous send; the rest wait for its completion.
void UdpFlow::write(FlowContext& ctx) {
  const std::size_t size = ctx.options->message_size;
  std::size_t done = 0;
  for (; !sending_ && done < unsent_.size() && state() == State::open; ++done) {
    const std::span<std::byte> dgram(ctx.scratch.data(), size);
    frame(ctx, unsent_[done], dgram);
    const long sent = ctx.backend->try_send(fd_.get(), dgram);
    if (sent == -ECONNREFUSED) {
      kill(ctx, ErrorKind::refused, 1,
           fmt::format("{}: no reply: connection refused (port unreachable)", where()));
      return;
    }
    if (sent < 0) {
      kill(ctx, ErrorKind::reset, 1,
           fmt::format("{}: send failed: {}", where(), std::strerror(static_cast<int>(-sent))));
      return;
    }
    if (sent == 0) {
      pending_.assign(dgram.begin(), dgram.end());
      sending_ = true;
      ctx.backend->send(fd_.get(), token(), pending_);
      ++done;  // it is on its way
      break;
    }
    ctx.stats->bytes_sent.add(size);
  }
  unsent_.erase(unsent_.begin(), unsent_.begin() + static_cast<std::ptrdiff_t>(done));
}

void UdpFlow::on_send(FlowContext& ctx, int res) {
  sending_ = false;
  if (res < 0) {
    kill(ctx, res == -ECONNREFUSED ? ErrorKind::refused : ErrorKind::reset, 1,
         fmt::format("{}: send failed: {}", where(), std::strerror(-res)));
    return;
  }
  ctx.stats->bytes_sent.add(static_cast<std::uint64_t>(res));
  write(ctx);
}

void UdpFlow::on_recv(FlowContext& ctx, const io::Completion& c, std::int64_t now_ns) {
  if (state() != State::open) {
    return;
  }
  if (c.res < 0) {
    if (c.res == -ECONNREFUSED) {
      kill(ctx, ErrorKind::refused, 1,
           fmt::format("{}: no reply: connection refused (port unreachable)", where()));
    } else {
      kill(ctx, ErrorKind::reset, 1,
           fmt::format("{}: receive failed: {}", where(), std::strerror(-c.res)));
    }
    return;
  }
  ctx.stats->bytes_received.add(c.data.size());
  // The reply as the server meant it: with --expect reverse, turned back first.
  std::span<const std::byte> data = c.data;
  if (ctx.options->reverse) {
    ctx.turned.assign(c.data.rbegin(), c.data.rend());
    data = ctx.turned;
  }
  const std::size_t size = ctx.options->message_size;
  const auto decoded = decode_probe_header(data);
  if (const auto* h = std::get_if<ProbeHeader>(&decoded);
      h == nullptr || h->session != static_cast<std::uint32_t>(seed_)) {
    // Not one of ours as read: perhaps it is when read the other way round.
    std::span<const std::byte> other = c.data;
    if (!ctx.options->reverse) {
      ctx.turned.assign(c.data.rbegin(), c.data.rend());
      other = ctx.turned;
    }
    if (wrong_direction(ctx, other)) {
      return;
    }
  }
  if (const auto* e = std::get_if<ProbeError>(&decoded)) {
    ctx.error(ErrorKind::mismatch, 1,
              fmt::format("{}: reply is not the datagram sent: {}", where(), describe(e->kind)));
    return;
  }
  const auto& h = std::get<ProbeHeader>(decoded);
  if (h.session != static_cast<std::uint32_t>(seed_)) {
    ctx.error(
        ErrorKind::mismatch, 1,
        fmt::format("{}: reply carries session {:#x}, not this connection's", where(), h.session));
    return;
  }
  const auto it = std::find_if(outstanding_.begin(), outstanding_.end(),
                               [&h](const Message& m) { return m.seq == h.seq; });
  if (it == outstanding_.end()) {
    if (h.seq < next_seq_) {
      Fate& f = fate(h.seq);
      if (next_seq_ - h.seq > window_.size()) {
        ++ctx.late;  // too old to tell a late reply from a second one; long counted lost
      } else if (f == Fate::lost) {
        f = Fate::lost_then_answered;
        ++ctx.late;
      } else {
        ctx.error(ErrorKind::duplicate, 1,
                  fmt::format("{}: second reply to datagram {}", where(), h.seq));
      }
    } else {
      ctx.error(ErrorKind::mismatch, 1,
                fmt::format("{}: reply to datagram {}, which was never sent", where(), h.seq));
    }
    return;
  }
  // The reply to an outstanding datagram: from here on it is answered, rightly or wrongly, and
  // a wrong answer counts as one mismatch (not also as a loss later).
  const Message m = *it;
  *it = outstanding_.back();
  outstanding_.pop_back();
  fate(m.seq) = Fate::answered;
  const bool truncated = c.datagram != nullptr && c.datagram->truncated;
  if (data.size() != size || truncated) {
    ctx.error(ErrorKind::mismatch, 1,
              fmt::format("{}: reply to datagram {} is {}{} bytes, not {}", where(), h.seq,
                          truncated ? "more than " : "", data.size(), size));
    release(ctx);
    return;
  }
  if (h.send_ns != static_cast<std::uint64_t>(m.due_ns)) {
    ctx.error(ErrorKind::mismatch, 1,
              fmt::format("{}: reply to datagram {} carries another send time", where(), h.seq));
    release(ctx);
    return;
  }
  if (const auto bad = find_bad_fill(h, data)) {
    ctx.error(ErrorKind::mismatch, 1,
              fmt::format("{}: reply to datagram {} differs at byte {}: expected 0x{:02x}, got "
                          "0x{:02x}",
                          where(), h.seq, *bad, std::to_integer<unsigned>(probe_fill_byte(h, *bad)),
                          std::to_integer<unsigned>(data[*bad])));
    release(ctx);
    return;
  }
  if (any_reply_ && h.seq < highest_seq_) {
    ++ctx.reordered;
  }
  any_reply_ = true;
  highest_seq_ = std::max(highest_seq_, h.seq);
  complete(ctx, m, now_ns);
}

bool UdpFlow::wrong_direction(FlowContext& ctx, std::span<const std::byte> other) {
  const auto decoded = decode_probe_header(other);
  const auto* h = std::get_if<ProbeHeader>(&decoded);
  if (h == nullptr || h->session != static_cast<std::uint32_t>(seed_)) {
    return false;
  }
  const auto it = std::find_if(outstanding_.begin(), outstanding_.end(),
                               [h](const Message& m) { return m.seq == h->seq; });
  if (it == outstanding_.end()) {
    return false;
  }
  const std::uint64_t seq = h->seq;
  *it = outstanding_.back();
  outstanding_.pop_back();
  fate(seq) = Fate::answered;
  ctx.error(ErrorKind::mismatch, 1,
            fmt::format("{}: datagram {}: {}", where(), seq,
                        wrong_direction_hint(ctx.options->reverse)));
  release(ctx);
  return true;
}

void UdpFlow::check_timeouts(FlowContext& ctx, std::int64_t now_ns) {
  if (state() != State::open) {
    return;
  }
  const std::int64_t limit = ctx.options->timeout.count();
  for (std::size_t i = 0; i < outstanding_.size();) {
    const Message& m = outstanding_[i];
    if (now_ns - m.issued_ns <= limit) {
      ++i;
      continue;
    }
    ctx.error(
        ErrorKind::lost, 1,
        fmt::format("{}: no reply to datagram {} within {} ms", where(), m.seq, limit / 1'000'000));
    const std::uint64_t seq = m.seq;
    fate(seq) = Fate::lost;
    std::erase_if(unsent_, [seq](const Message& u) { return u.seq == seq; });
    outstanding_[i] = outstanding_.back();
    outstanding_.pop_back();
    release(ctx);
  }
}

}  // namespace netecho::client
