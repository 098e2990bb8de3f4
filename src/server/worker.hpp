#pragma once
// Worker: one thread, one event loop, its own SO_REUSEPORT socket for every listener, its own
// sessions, buffers and counters. Nothing on the data path is shared with other workers.

#include <atomic>
#include <memory>
#include <vector>

#include "io/loop.hpp"
#include "net/fd.hpp"
#include "server/counters.hpp"
#include "server/tcp_session.hpp"
#include "server/udp_endpoint.hpp"
#include "service/stream.hpp"

namespace netecho::server {

struct WorkerSockets {
  std::vector<net::Fd> tcp;            // listening sockets
  std::vector<UdpEndpoint> udp;
};

class Worker final : private io::Handler {
 public:
  Worker(unsigned id, std::unique_ptr<io::Backend> backend, WorkerSockets sockets,
         service::StreamService stream);

  // The thread body: serves until stop() is called, then closes every socket it owns.
  void run();
  // Thread-safe: asks run() to return soon.
  void stop() noexcept;

  const Counters& counters() const noexcept { return counters_; }

 private:
  static constexpr std::uint32_t kUdpSlotBase = 1u << 30;  // tokens of UDP endpoints
  static constexpr auto kAcceptPause = std::chrono::milliseconds(100);

  void on_completion(const io::Completion& c) override;
  void on_accept(std::size_t listener, int res);
  void finish(std::uint32_t slot, TcpSession::Status status);
  TcpSession* session(io::Token t);

  unsigned id_;
  io::Loop loop_;
  WorkerSockets sockets_;
  service::StreamService stream_;
  std::vector<TcpSession> sessions_;
  std::vector<std::uint32_t> gens_;        // per slot, bumped when the slot is freed
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::byte> scratch_;         // one datagram reply
  Counters counters_;
  std::atomic<bool> stopping_{false};
  bool accept_paused_ = false;
};

}  // namespace netecho::server
