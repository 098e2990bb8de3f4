#include "server/tcp_session.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace netecho::server {
namespace {

constexpr std::uint32_t kMinBuffer = 1024;  // small enough for malloc's per-thread cache

}  // namespace

void TcpSession::Owed::append(std::span<const std::byte> bytes) {
  // Compact first: off_ bytes at the front are already sent.
  if (off_ != 0) {
    std::memmove(data_.get(), data_.get() + off_, len_ - off_);
    len_ -= off_;
    off_ = 0;
  }
  const auto need = static_cast<std::uint32_t>(len_ + bytes.size());
  if (need > cap_) {
    const std::uint32_t cap = std::max({need, 2 * cap_, kMinBuffer});
    auto grown = std::make_unique_for_overwrite<std::byte[]>(cap);
    if (len_ != 0) {
      std::memcpy(grown.get(), data_.get(), len_);
    }
    data_ = std::move(grown);
    cap_ = cap;
  }
  std::memcpy(data_.get() + len_, bytes.data(), bytes.size());
  len_ = need;
}

void TcpSession::Owed::reset() noexcept {
  data_.reset();
  cap_ = off_ = len_ = 0;
}

void TcpSession::open(io::Backend& backend, int fd, io::Token token) {
  fd_.reset(fd);
  token_ = token;
  out_.reset();
  next_.reset();
  lent_ = 0;
  error_ = 0;
  bytes_in_ = bytes_out_ = 0;
  reading_ = true;
  reading_done_ = sending_ = peer_finished_ = false;
  backend.recv(fd, token);
}

void TcpSession::close(io::Backend& backend) noexcept {
  if (fd_.valid()) {
    backend.forget(fd_.get());
    fd_.reset();
  }
  out_.reset();
  next_.reset();
  lent_ = 0;
  reading_ = sending_ = false;
}

void TcpSession::pause_reading(io::Backend& backend) {
  if (reading_) {
    reading_ = false;
    backend.stop_read(fd_.get());
  }
}

TcpSession::Status TcpSession::queue(io::Backend& backend, const io::Completion& from,
                                     std::span<const std::byte> bytes, Counters& counters) {
  if (bytes.empty()) {
    return Status::open;
  }
  if (sending_) {
    next_.append(bytes);  // out_ is being read by the send in flight: leave it alone
  } else {
    // Nothing is owed (both buffers drain before sending_ turns false), so the reply may go
    // out at once: the socket usually takes it whole, and then nothing is buffered.
    const long n = backend.try_send(fd_.get(), bytes);
    if (n < 0) {
      return fail(n);
    }
    counters.add(Stat::tcp_bytes_out, static_cast<std::uint64_t>(n));
    bytes_out_ += static_cast<std::uint64_t>(n);
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    if (bytes.empty()) {
      return Status::open;
    }
    sending_ = true;
    if (backend.send_lent(fd_.get(), token_, from, bytes)) {
      lent_ = static_cast<std::uint32_t>(bytes.size());  // sent from the receive buffer itself
    } else {
      out_.append(bytes);
      backend.send(fd_.get(), token_, out_.view());
    }
  }
  if (pending() >= kHighWater && !reading_done_) {
    pause_reading(backend);  // the client is slower than it sends
  }
  return Status::open;
}

TcpSession::Status TcpSession::on_recv(io::Backend& backend, const io::Completion& c,
                                       const service::StreamService& service,
                                       Counters& counters) {
  if (c.res < 0) {
    return fail(c.res);
  }
  if (c.res == 0) {
    peer_finished_ = true;
    reading_done_ = true;
    reading_ = false;  // the backend stopped the recv itself
    return sending_ ? Status::open : Status::done;
  }
  if (reading_done_) {
    return sending_ ? Status::open : Status::done;  // --once: input after the one read is dropped
  }
  counters.add(Stat::tcp_bytes_in, c.data.size());
  bytes_in_ += c.data.size();
  const auto reply = service.on_data(c.data);
  if (reply.close_after) {
    reading_done_ = true;
    pause_reading(backend);
  }
  const Status s = queue(backend, c, reply.bytes, counters);
  if (s != Status::open) {
    return s;
  }
  return (reading_done_ && !sending_) ? Status::done : Status::open;
}

TcpSession::Status TcpSession::on_send(io::Backend& backend, const io::Completion& c,
                                       Counters& counters) {
  sending_ = false;
  if (c.res < 0) {
    return fail(c.res);
  }
  counters.add(Stat::tcp_bytes_out, static_cast<std::uint64_t>(c.res));
  bytes_out_ += static_cast<std::uint64_t>(c.res);
  if (lent_ != 0) {
    lent_ = 0;  // a lent send completes whole (or with an error): out_ was not part of it
  } else {
    out_.consume(static_cast<std::size_t>(c.res));
  }
  // No send is in flight now: what queued behind it joins out_, and all leaves in one send.
  if (!next_.empty()) {
    if (out_.empty()) {
      std::swap(out_, next_);
    } else {
      out_.append(next_.view());
    }
    next_.reset();
  }
  if (!out_.empty()) {
    sending_ = true;
    backend.send(fd_.get(), token_, out_.view());
  } else {
    out_.reset();  // everything owed is sent: an idle connection holds no buffer
    if (reading_done_) {
      return Status::done;
    }
  }
  if (!reading_ && !reading_done_ && pending() < kResumeBelow) {
    reading_ = true;
    backend.recv(fd_.get(), token_);
  }
  return Status::open;
}

}  // namespace netecho::server
