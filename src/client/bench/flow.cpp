#include "client/bench/flow.hpp"

#include <cmath>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "net/address.hpp"
#include "net/socket.hpp"

namespace netecho::client {

void FlowContext::error(ErrorKind kind, std::uint64_t n, const std::string& detail) {
  stats->error(kind, n);
  if (first_error.empty()) {
    first_error = detail;
  }
}

Flow::Flow(std::uint32_t id, std::uint32_t slot, std::uint64_t quota) noexcept
    : seed_(splitmix64(0x6e6574656368ULL ^ id)), id_(id), slot_(slot), quota_(quota) {}

Flow::~Flow() = default;

std::string Flow::where() const { return fmt::format("connection {}", id_); }

void Flow::start_connect(FlowContext& ctx, BenchClock::time_point now) {
  connect_started_ns_ = to_ns(now);
  ++ctx.connecting;
  state_ = State::connecting;
  try_address(ctx, 0, now);
}

// Tries the resolved addresses from index on, as getaddrinfo ordered them, until one connects or
// is in progress. A refused address moves on to the next one (a host name that resolves to ::1
// and 127.0.0.1 for a server listening on one of them); the connect time includes those tries.
void Flow::try_address(FlowContext& ctx, std::size_t index, BenchClock::time_point now) {
  const auto& addrs = *ctx.addresses;
  const net::Transport proto = transport();
  for (address_index_ = index; address_index_ < addrs.size(); ++address_index_) {
    auto started = net::start_connect(addrs[address_index_], proto);
    if (!started) {
      last_connect_errno_ = started.error().value();
      continue;
    }
    fd_ = std::move(started).value();
    if (proto == net::Transport::udp) {
      // Room for a full pipeline of replies, so that a burst is not dropped by our own socket.
      const std::size_t want = 2 * ctx.options->pipeline * (ctx.options->message_size + 512);
      const int size = static_cast<int>(std::min<std::size_t>(want, 8u << 20));
      if (size > (256 << 10)) {
        ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
      }
      connected(ctx, now);  // a UDP connect only sets the peer: done at once
      return;
    }
    // Small messages must leave at once: Nagle would hold a pipelined message back until the
    // previous one is acknowledged, and the wait would show as server latency.
    (void)net::set_no_delay(fd_.get());
    ctx.backend->connect(fd_.get(), token());
    return;
  }
  --ctx.connecting;
  state_ = State::dead;
  const auto& target = ctx.options->target;
  ctx.error(ErrorKind::connect, 1,
            fmt::format("cannot connect to {}: {}", net::to_string(target),
                        std::strerror(last_connect_errno_)));
}

void Flow::on_connect(FlowContext& ctx, int res, BenchClock::time_point now) {
  if (state_ != State::connecting) {
    return;
  }
  if (res < 0) {
    last_connect_errno_ = -res;
    ctx.backend->forget(fd_.get());
    fd_.reset();
    ++gen_;
    try_address(ctx, address_index_ + 1, now);
    return;
  }
  connected(ctx, now);
}

void Flow::connected(FlowContext& ctx, BenchClock::time_point now) {
  --ctx.connecting;
  ++ctx.connected;
  ++ctx.alive;
  state_ = State::open;
  ctx.connect.record(
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, to_ns(now) - connect_started_ns_)));
  if (ctx.first_address.empty()) {
    ctx.first_address = (*ctx.addresses)[address_index_].to_string();
  }
  on_open(ctx);
}

void Flow::abort_connect(FlowContext& ctx, bool count_as_error) {
  if (state_ != State::connecting) {
    return;
  }
  --ctx.connecting;
  close(ctx);
  state_ = State::dead;
  if (count_as_error) {
    ctx.error(ErrorKind::connect_timeout, 1,
              fmt::format("{}: no connection within {} ms", where(),
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              ctx.options->connect_timeout)
                              .count()));
  }
}

void Flow::begin(FlowContext& ctx, const Pacer& pacer) {
  pacer_ = pacer;
  if (state_ == State::open && quota_ != kUnlimited && quota_ > 0) {
    quota_pending_ = true;
    ++ctx.with_quota_left;
  }
}

std::optional<BenchClock::time_point> Flow::issue(FlowContext& ctx) {
  const std::uint32_t pipeline = ctx.options->pipeline;
  while (state_ == State::open && ctx.issuing && in_flight_ < pipeline &&
         measured_issued_ < quota_) {
    // The clock is read for each send: with a pipeline the sends of one call follow each
    // other, each taking time. Closed loop: a message is due when it is sent.
    const BenchClock::time_point sent_at = BenchClock::now();
    const BenchClock::time_point due = pacer_.paced() ? pacer_.due(issued_) : sent_at;
    if (due > sent_at) {
      return due;
    }
    const std::int64_t due_ns = to_ns(due);
    if (due_ns >= ctx.issue_end_ns) {
      return std::nullopt;
    }
    const bool measured = due_ns >= ctx.measure_start_ns;
    if (measured && ++measured_issued_ == quota_) {
      quota_done(ctx);
    }
    ++issued_;
    ++in_flight_;
    ++ctx.in_flight;
    ++ctx.issued;
    send_message(ctx, Message{due_ns, to_ns(sent_at), 0, measured});
  }
  return std::nullopt;
}

void Flow::quota_done(FlowContext& ctx) noexcept {
  if (quota_pending_) {
    quota_pending_ = false;
    --ctx.with_quota_left;
  }
}

void Flow::complete(FlowContext& ctx, const Message& m, std::int64_t now_ns) noexcept {
  --in_flight_;
  --ctx.in_flight;
  ++ctx.received;
  const auto latency = static_cast<std::uint64_t>(std::max<std::int64_t>(0, now_ns - m.due_ns));
  ctx.stats->messages.add();
  if (ctx.live) {
    ctx.stats->live.record(latency);
  }
  if (m.measured) {
    ctx.latency.record(latency);
    ++ctx.measured;
    ctx.last_measured_ns = now_ns;
  } else {
    ++ctx.warmup;
  }
}

void Flow::release(FlowContext& ctx) noexcept {
  --in_flight_;
  --ctx.in_flight;
}

void Flow::close(FlowContext& ctx) noexcept {
  if (fd_) {
    ctx.backend->forget(fd_.get());
    fd_.reset();
  }
  ++gen_;
}

void Flow::kill(FlowContext& ctx, ErrorKind kind, std::uint64_t n, const std::string& detail) {
  if (state_ != State::open) {
    return;
  }
  ctx.error(kind, n, detail);
  ctx.in_flight -= in_flight_;
  in_flight_ = 0;
  drop_in_flight();
  quota_done(ctx);
  --ctx.alive;
  state_ = State::dead;
  close(ctx);
}

std::uint64_t Flow::unsent(std::int64_t from_ns, std::int64_t to_ns_end) const noexcept {
  if (!pacer_.paced() || state_ != State::open || to_ns_end <= from_ns) {
    return 0;
  }
  // The first k whose due time is at or after t: estimated, then corrected for rounding.
  const auto first_due_at = [this](std::int64_t t) {
    const long double x =
        static_cast<long double>(t - to_ns(pacer_.origin())) / pacer_.period_ns();
    std::uint64_t k = x <= 0 ? 0 : static_cast<std::uint64_t>(std::ceil(x));
    while (k > 0 && to_ns(pacer_.due(k - 1)) >= t) {
      --k;
    }
    while (to_ns(pacer_.due(k)) < t) {
      ++k;
    }
    return k;
  };
  const std::uint64_t end = first_due_at(to_ns_end);
  const std::uint64_t begin = std::max(issued_, first_due_at(from_ns));
  return end > begin ? end - begin : 0;
}

void Flow::finish(FlowContext& ctx, bool abandon_in_flight) {
  if (state_ == State::open && in_flight_ != 0) {
    if (abandon_in_flight) {
      ctx.abandoned += in_flight_;
    } else {
      const bool tcp = transport() == net::Transport::tcp;
      ctx.error(
          tcp ? ErrorKind::timeout : ErrorKind::lost, in_flight_,
          fmt::format("{}: {} message(s) not answered by the end of the run", where(), in_flight_));
    }
    ctx.in_flight -= in_flight_;
    in_flight_ = 0;
    drop_in_flight();
  }
  if (state_ == State::open) {
    --ctx.alive;
  }
  if (state_ == State::connecting) {
    --ctx.connecting;
  }
  state_ = State::dead;
  close(ctx);
}

}  // namespace netecho::client
