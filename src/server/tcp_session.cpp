#include "server/tcp_session.hpp"

#include <algorithm>
#include <cstring>

namespace netecho::server {

void TcpSession::open(io::Backend& backend, int fd, io::Token token) {
  fd_.reset(fd);
  token_ = token;
  buf_.reset();
  cap_ = off_ = len_ = 0;
  reading_done_ = sending_ = false;
  backend.recv(fd, token);
}

void TcpSession::close(io::Backend& backend) noexcept {
  if (fd_.valid()) {
    backend.forget(fd_.get());
    fd_.reset();
  }
  buf_.reset();
  cap_ = off_ = len_ = 0;
  sending_ = false;
}

void TcpSession::append(std::span<const std::byte> bytes) {
  // Compact first: off_ bytes at the front are already sent.
  if (off_ != 0) {
    std::memmove(buf_.get(), buf_.get() + off_, len_ - off_);
    len_ -= off_;
    off_ = 0;
  }
  const auto need = static_cast<std::uint32_t>(len_ + bytes.size());
  if (need > cap_) {
    auto grown = std::make_unique_for_overwrite<std::byte[]>(need);
    if (len_ != 0) {
      std::memcpy(grown.get(), buf_.get(), len_);
    }
    buf_ = std::move(grown);
    cap_ = need;
  }
  std::memcpy(buf_.get() + len_, bytes.data(), bytes.size());
  len_ = need;
}

TcpSession::Status TcpSession::queue(io::Backend& backend, std::span<const std::byte> bytes,
                                     Counters& counters) {
  if (bytes.empty()) {
    return Status::open;
  }
  if (!sending_) {
    // Fast path: the socket usually takes the whole reply, and then nothing is buffered.
    const long n = backend.try_send(fd_.get(), bytes);
    if (n < 0) {
      return Status::failed;
    }
    counters.add(counters.tcp_bytes_out, static_cast<std::uint64_t>(n));
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    if (bytes.empty()) {
      return Status::open;
    }
  }
  // The client is slower than it sends: keep the rest and stop reading until it is gone.
  append(bytes);
  if (!sending_) {
    sending_ = true;
    backend.send(fd_.get(), token_, {buf_.get() + off_, len_ - off_});
  }
  if (!reading_done_) {
    backend.stop_recv(fd_.get());
  }
  return Status::open;
}

TcpSession::Status TcpSession::on_recv(io::Backend& backend, const io::Completion& c,
                                       const service::StreamService& service,
                                       Counters& counters) {
  if (c.res < 0) {
    return Status::failed;
  }
  if (c.res == 0) {
    reading_done_ = true;
    return sending_ ? Status::open : Status::done;
  }
  if (reading_done_) {
    return sending_ ? Status::open : Status::done;  // --once: input after the one read is dropped
  }
  counters.add(counters.tcp_bytes_in, c.data.size());
  const auto reply = service.on_data(c.data);
  if (reply.close_after) {
    reading_done_ = true;
    backend.stop_recv(fd_.get());
  }
  const Status s = queue(backend, reply.bytes, counters);
  if (s != Status::open) {
    return s;
  }
  return (reading_done_ && !sending_) ? Status::done : Status::open;
}

TcpSession::Status TcpSession::on_send(io::Backend& backend, const io::Completion& c,
                                       Counters& counters) {
  sending_ = false;
  if (c.res < 0) {
    return Status::failed;
  }
  counters.add(counters.tcp_bytes_out, static_cast<std::uint64_t>(c.res));
  off_ += static_cast<std::uint32_t>(c.res);
  if (off_ < len_) {
    sending_ = true;
    backend.send(fd_.get(), token_, {buf_.get() + off_, len_ - off_});
    return Status::open;
  }
  // Everything owed is sent: free the buffer, so an idle connection costs nothing.
  buf_.reset();
  cap_ = off_ = len_ = 0;
  if (reading_done_) {
    return Status::done;
  }
  backend.recv(fd_.get(), token_);
  return Status::open;
}

}  // namespace netecho::server
