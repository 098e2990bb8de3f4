// TcpFlow: see bench/flow.hpp.

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "client/bench/flow.hpp"

namespace netecho::client {

TcpFlow::TcpFlow(std::uint32_t id, std::uint32_t slot, std::uint64_t quota, std::uint32_t pipeline)
    : Flow(id, slot, quota), pattern_(seed_), ring_(pipeline) {}

void TcpFlow::on_open(FlowContext& ctx) { ctx.backend->recv(fd_.get(), token()); }

void TcpFlow::send_message(FlowContext& ctx, const Message& m) {
  std::size_t tail = head_ + count_;
  if (tail >= ring_.size()) {
    tail -= ring_.size();
  }
  ring_[tail] = m;
  ++count_;
  owed_ += ctx.options->message_size;
  write(ctx);
}

void TcpFlow::drop_in_flight() noexcept { head_ = count_ = 0; }

// Writes owed bytes straight from the generator while the socket takes them; keeps the first
// refused remainder for an asynchronous send, after which writing resumes.
void TcpFlow::write(FlowContext& ctx) {
  while (!sending_ && written_ < owed_ && state() == State::open) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(ctx.scratch.size(), owed_ - written_));
    const std::span<std::byte> chunk(ctx.scratch.data(), n);
    pattern_.fill(written_, chunk);
    const long sent = ctx.backend->try_send(fd_.get(), chunk);
    if (sent < 0) {
      kill(ctx, ErrorKind::reset, in_flight(),
           fmt::format("{}: send failed: {}", where(), std::strerror(static_cast<int>(-sent))));
      return;
    }
    const auto took = static_cast<std::size_t>(sent);
    written_ += took;
    ctx.stats->bytes_sent.add(took);
    if (took < n) {
      if (!pending_) {
        pending_ = std::make_unique_for_overwrite<std::byte[]>(ctx.scratch.size());
      }
      pending_len_ = n - took;
      pending_off_ = 0;
      std::memcpy(pending_.get(), chunk.data() + took, pending_len_);
      sending_ = true;
      ctx.backend->send(fd_.get(), token(), {pending_.get(), pending_len_});
      return;
    }
  }
}

void TcpFlow::on_send(FlowContext& ctx, int res) {
  sending_ = false;
  if (res < 0) {
    kill(ctx, ErrorKind::reset, in_flight(),
         fmt::format("{}: send failed: {}", where(), std::strerror(-res)));
    return;
  }
  const auto took = static_cast<std::size_t>(res);
  written_ += took;
  ctx.stats->bytes_sent.add(took);
  pending_off_ += took;
  if (pending_off_ < pending_len_) {
    sending_ = true;
    ctx.backend->send(fd_.get(), token(),
                      {pending_.get() + pending_off_, pending_len_ - pending_off_});
    return;
  }
  pending_off_ = pending_len_ = 0;
  write(ctx);
}

void TcpFlow::on_recv(FlowContext& ctx, const io::Completion& c, std::int64_t now_ns) {
  if (state() != State::open) {
    return;
  }
  if (c.res < 0) {
    kill(ctx, ErrorKind::reset, std::max<std::uint64_t>(1, in_flight()),
         fmt::format("{}: receive failed: {}", where(), std::strerror(-c.res)));
    return;
  }
  if (c.res == 0) {
    kill(ctx, ErrorKind::closed, std::max<std::uint64_t>(1, in_flight()),
         fmt::format("{}: the server closed the connection after {} of {} bytes", where(),
                     received_, written_));
    return;
  }
  const std::span<const std::byte> data = c.data;
  ctx.stats->bytes_received.add(data.size());
  // A send still in flight may have delivered part of its bytes already (io_uring completes a
  // send only once all of it is in the socket), and the server may have echoed them: the bound
  // is what was handed to the kernel, not what it has confirmed.
  const std::uint64_t handed = written_ + (sending_ ? pending_len_ - pending_off_ : 0);
  if (received_ + data.size() > handed) {
    kill(ctx, ErrorKind::mismatch, 1,
         fmt::format("{}: received {} bytes but sent only {}", where(), received_ + data.size(),
                     handed));
    return;
  }
  const std::size_t bad = pattern_.find_mismatch(received_, data);
  if (bad != data.size()) {
    const std::uint64_t offset = received_ + bad;
    kill(ctx, ErrorKind::mismatch, 1,
         fmt::format("{}: byte {} of the stream (message {}, byte {}) differs: expected 0x{:02x}, "
                     "got 0x{:02x}",
                     where(), offset, offset / ctx.options->message_size,
                     offset % ctx.options->message_size,
                     std::to_integer<unsigned>(pattern_.at(offset)),
                     std::to_integer<unsigned>(data[bad])));
    return;
  }
  received_ += data.size();
  const std::uint64_t size = ctx.options->message_size;
  while (count_ != 0 && received_ >= (completed_ + 1) * size) {
    const Message m = ring_[head_];
    head_ = head_ + 1 == ring_.size() ? 0 : head_ + 1;
    --count_;
    ++completed_;
    complete(ctx, m, now_ns);
  }
}

void TcpFlow::check_timeouts(FlowContext& ctx, std::int64_t now_ns) {
  if (state() != State::open || count_ == 0) {
    return;
  }
  const std::int64_t limit = ctx.options->timeout.count();
  if (now_ns - ring_[head_].issued_ns > limit) {
    kill(ctx, ErrorKind::timeout, in_flight(),
         fmt::format("{}: no echo within {} ms ({} of {} bytes back)", where(), limit / 1'000'000,
                     received_, written_));
  }
}

}  // namespace netecho::client
