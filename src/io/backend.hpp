#pragma once
// The event engine's one small interface. It is cut at the operation and shaped by
// completions (as in Asio's io_uring service and Seastar's reactor_backend): the owner asks for
// an operation on a socket and later receives a Completion for it. The epoll backend adapts
// readiness into completions by doing the system call itself when the socket is ready.
//
// Ownership and identity: every operation carries a Token (slot, generation) chosen by the
// owner. The owner drops any completion whose generation no longer matches its slot, so a
// completion that arrives after a socket was closed and its descriptor reused is harmless.
//
// Threading: a Backend belongs to one thread. Only wake() may be called from another.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "net/socket.hpp"

namespace netecho::io {

enum class Op : std::uint8_t {
  accept,     // res: a new non-blocking descriptor, or -errno
  recv,       // res: bytes in data, 0 at end of stream, or -errno
  send,       // res: bytes written from the caller's buffer (may be short), or -errno
  recv_from,  // res: datagram size, data and datagram set, or -errno
  connect,    // res: 0 when connected, or -errno
  ready,      // res: the poll(2) events the descriptor reports (revents), or -errno
};

struct Token {
  std::uint32_t slot = 0;
  std::uint32_t gen = 0;
};

struct Completion {
  Op op;
  Token token;
  std::int32_t res;
  // recv and recv_from: the received bytes. They live in the backend's buffer and are valid only
  // until the handler returns; whatever must outlive the call is copied by the owner.
  std::span<const std::byte> data;
  const net::Datagram* datagram = nullptr;  // recv_from only
};

// What a backend counts about its own work, for the owner's metrics and reports.
struct BackendStats {
  // io_uring: multishot receives ended because their provided-buffer ring was empty (ENOBUFS).
  // The data waits in the socket, and the receive is armed again at the next turn: a delay of
  // one loop turn for that socket, not a loss.
  std::uint64_t buffer_exhaustions = 0;
  // io_uring: multishot reads the kernel ended (a buffer exhaustion, a move to the large
  // buffers, a kernel limit) and the backend armed again.
  std::uint64_t rearms = 0;
};

// A net call's answer in the completions' convention: the byte count, or -errno.
inline long to_res(const net::Result<std::size_t>& r) noexcept {
  return r ? static_cast<long>(*r) : -r.error().value();
}

class Handler {
 public:
  virtual void on_completion(const Completion& c) = 0;

 protected:
  ~Handler() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const noexcept = 0;

  // Multishot operations: once armed, each completes again and again until cancelled with
  // stop_read() or forget(). accept stops by itself after an error such as EMFILE, and recv at the
  // end of the stream or on an error: the owner decides what follows. After stop_read(), a backend
  // may still deliver what the kernel had already completed before it saw the stop (io_uring
  // cancels asynchronously): that is ordinary input, to be handled, never dropped. After
  // forget(), nothing more is delivered.
  virtual void accept(int fd, Token t) = 0;
  virtual void recv(int fd, Token t) = 0;
  virtual void recv_from(int fd, Token t) = 0;
  // Stops the multishot read armed on fd, whichever it is (accept, recv or recv_from).
  virtual void stop_read(int fd) = 0;

  // Completes once the non-blocking connect() already started on fd succeeds or fails.
  virtual void connect(int fd, Token t) = 0;

  // Completes once, when fd reports one of events (POLLIN, POLLERR; POLLERR and POLLHUP are
  // always reported), with what it reports; the owner does the reading and asks again. For
  // what has no operation of its own: a signalfd turning readable, or a UDP socket's error
  // queue (IP_RECVERR), whose entries the owner reads with net::receive_queued_error. One
  // watch per fd at a time, beside its read and write operations; forget() drops it.
  virtual void watch(int fd, Token t, short events) = 0;

  // Writes without waiting, now: returns bytes written (possibly fewer than asked, or 0 when
  // the socket is full) or -errno. The fast path for a reply that fits. A backend whose sends
  // are batched with its loop turn (io_uring) writes nothing here and returns 0: the owner then
  // keeps the bytes and uses send() (or send_lent()), as it does for a full socket.
  virtual long try_send(int fd, std::span<const std::byte> data) noexcept = 0;

  // Writes data when the socket can take it and completes once with the bytes written (which
  // may be fewer than asked). data must stay valid until the completion. One send per fd at a
  // time.
  virtual void send(int fd, Token t, std::span<const std::byte> data) = 0;

  // Like send(), for bytes that lie in the buffer of the recv completion c being handled (a
  // view into c.data), without copying them: the backend keeps that buffer until the send
  // completes, and the send completes only once every byte is written, or with an error.
  // Returns false, having done nothing, when the backend cannot lend the buffer (it has no
  // such buffers, or too many are lent already, so that clients that do not read cannot take
  // them all); the owner then copies the bytes and calls send(). Call it only from the handler
  // of c. One send per fd at a time, counting this one.
  virtual bool send_lent(int /*fd*/, Token /*t*/, const Completion& /*c*/,
                         std::span<const std::byte> /*data*/) {
    return false;
  }

  // Replies to a datagram now; -errno (e.g. -EAGAIN when the socket buffer is full).
  virtual long send_to(int fd, std::span<const std::byte> data,
                       const net::Datagram& to) noexcept = 0;

  // Drops every operation on fd before the owner closes it; no completion for fd follows.
  // A listening socket is not shut down: an accept may take connections until the kernel
  // sees the cancel (io_uring: at the next poll), and the backend closes those. An owner that
  // wants connections refused from now on shuts the socket down (net::stop_listening); one
  // whose socket is shared with a supervisor leaves it listening for the next process.
  virtual void forget(int fd) = 0;

  // Waits at most timeout (negative: forever) for completions and delivers each to handler.
  // Returns the number delivered.
  virtual int poll(Handler& handler, std::chrono::nanoseconds timeout) = 0;

  // Thread-safe: the counts so far (zero for a backend without such events: epoll).
  virtual BackendStats stats() const noexcept { return {}; }

  // Makes a poll() in progress (or the next one) return. Thread-safe and async-signal-safe.
  virtual void wake() noexcept = 0;

  // Called by the owner's thread at the end, after it has forgotten and closed every
  // descriptor: returns once the backend holds no reference to any socket, so that every port
  // the owner bound is free for the next process the moment this one exits. Delivers nothing;
  // the backend takes no new operation afterwards.
  virtual void quiesce() noexcept = 0;
};

}  // namespace netecho::io
