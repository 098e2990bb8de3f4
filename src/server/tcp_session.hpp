#pragma once
// One TCP connection's echo state machine, written once for every backend.
//
// Life cycle: open() arms a multishot recv. Each chunk read is answered at once: with
// try_send() when nothing is owed (epoll writes it there and then, usually whole), and whatever
// is not written at once is owed and sent with the backend's asynchronous send(), one send at a
// time. Replies made while a send is in flight queue behind it in a second buffer (the kernel
// may still be reading the first) and leave together with the next send. The io_uring backend
// writes nothing in try_send(), so there every reply takes that asynchronous path, batched with
// the loop turn's other submissions; and it can lend the receive buffer itself to the send
// (send_lent()), so that a reply is not even copied when nothing is queued before it.
//
// Backpressure: once kHighWater bytes are owed the session stops reading, and it reads again
// when less than kResumeBelow is owed. So a connection owes at most kHighWater plus one read
// (and, with io_uring, the few reads the kernel had delivered before it saw the stop: input
// received after stop_read() is echoed like any other, never dropped), however much it sends
// without reading. Buffers exist only while bytes are owed: an idle connection holds none.
//
// End of input (the client's FIN) or a --once reply stops reading for good: the session sends
// what it still owes, then closes (FIN, and no unread input is left behind, so no RST). An error
// on recv or send (reset, EPIPE) closes the connection and touches nothing else.

#include <cstdint>
#include <memory>
#include <span>

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
  int fd() const noexcept { return fd_.get(); }
  io::Token token() const noexcept { return token_; }
  // Bytes owed to the client: read and not yet known to be sent.
  std::size_t pending() const noexcept { return lent_ + out_.size() + next_.size(); }
  // For the close event (serve -v): the bytes this connection read and wrote, whether the
  // client ended its input (FIN), and the errno that failed it (0: none).
  std::uint64_t bytes_in() const noexcept { return bytes_in_; }
  std::uint64_t bytes_out() const noexcept { return bytes_out_; }
  bool peer_finished() const noexcept { return peer_finished_; }
  int error() const noexcept { return error_; }

  static constexpr std::size_t kHighWater = 64 * 1024;
  static constexpr std::size_t kResumeBelow = 32 * 1024;

 private:
  // A byte buffer allocated only while it holds something.
  class Owed {
   public:
    std::size_t size() const noexcept { return len_ - off_; }
    bool empty() const noexcept { return len_ == off_; }
    std::span<const std::byte> view() const noexcept { return {data_.get() + off_, size()}; }
    // May move the bytes: never while a send reads them.
    void append(std::span<const std::byte> bytes);
    void consume(std::size_t n) noexcept { off_ += static_cast<std::uint32_t>(n); }
    void reset() noexcept;

   private:
    std::unique_ptr<std::byte[]> data_;
    std::uint32_t cap_ = 0;
    std::uint32_t off_ = 0;  // first byte not yet sent
    std::uint32_t len_ = 0;  // end of the owed bytes
  };

  Status queue(io::Backend& backend, const io::Completion& from, std::span<const std::byte> bytes,
               Counters& counters);
  Status fail(long res) noexcept {
    error_ = static_cast<std::int32_t>(-res);
    return Status::failed;
  }
  void pause_reading(io::Backend& backend);

  net::Fd fd_;
  io::Token token_;
  Owed out_;                   // what the send in flight (or the next) writes, from its start
  Owed next_;                  // replies made while out_ is being sent
  std::uint32_t lent_ = 0;     // bytes of the send in flight from a lent receive buffer
  std::int32_t error_ = 0;     // the errno that failed the connection
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  bool reading_ = false;       // the recv is armed (not paused by backpressure)
  bool reading_done_ = false;  // FIN seen or --once answered: read nothing more
  bool sending_ = false;       // an asynchronous send of out_ is in flight
  bool peer_finished_ = false;  // the client's FIN was read
};

}  // namespace netecho::server
