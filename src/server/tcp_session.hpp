#pragma once
// One TCP connection's echo state machine, written once for every backend.
//
// Life cycle: open() arms a multishot recv. Each chunk read is answered at once with
// try_send(); whatever the socket does not take is copied into a per-connection buffer, the
// session stops reading (backpressure) and an asynchronous send drains the buffer; when it is
// empty the buffer is freed and reading resumes. So an idle connection holds no buffer, and one
// that never reads holds at most one read's worth (64 KiB), however much it sends.
//
// End of input (the client's FIN) or a --once reply stops reading for good: the session sends
// what it still owes, then closes (FIN, and no unread input is left behind, so no RST). An error
// on recv or send (reset, EPIPE) closes the connection and touches nothing else.

#include <cstdint>
#include <memory>

#include "io/backend.hpp"
#include "net/fd.hpp"
#include "server/counters.hpp"
#include "service/stream.hpp"

namespace netecho::server {

class TcpSession {
 public:
  enum class Status : std::uint8_t { open, done, failed };

  void open(io::Backend& backend, int fd, io::Token token);
  Status on_recv(io::Backend& backend, const io::Completion& c,
                 const service::StreamService& service, Counters& counters);
  Status on_send(io::Backend& backend, const io::Completion& c, Counters& counters);
  // Drops every operation and closes the socket.
  void close(io::Backend& backend) noexcept;

  bool is_open() const noexcept { return fd_.valid(); }
  io::Token token() const noexcept { return token_; }
  std::size_t pending() const noexcept { return len_ - off_; }

 private:
  Status queue(io::Backend& backend, std::span<const std::byte> bytes, Counters& counters);
  void append(std::span<const std::byte> bytes);

  net::Fd fd_;
  io::Token token_;
  std::unique_ptr<std::byte[]> buf_;  // bytes owed to the client; only while there are some
  std::uint32_t cap_ = 0;
  std::uint32_t off_ = 0;             // first byte not yet sent
  std::uint32_t len_ = 0;             // end of the owed bytes
  bool reading_done_ = false;         // FIN seen or --once answered: read nothing more
  bool sending_ = false;              // an asynchronous send is in flight
};

}  // namespace netecho::server
