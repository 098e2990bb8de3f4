#pragma once
// The metrics listener: GET (or HEAD) /metrics, /healthz and /readyz over HTTP/1.1, served from
// the server's main loop (server/shutdown.hpp), never from a worker: a slow or hostile client
// here costs the echo path nothing. Each connection gets one response, then is closed.
//
// Bounded by construction, every limit a constant below: a connection buffers at most
// kMaxRequestHead bytes of request (http.hpp; longer: 431), lives at most kConnectionTimeout
// (a head not complete by then: 408), and at most kMaxConnections are open (further ones are
// closed at once, unread). So hostile clients cost at most about kMaxConnections x 8 KiB plus
// the responses in flight.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "io/loop.hpp"
#include "io/slot_table.hpp"
#include "net/fd.hpp"
#include "server/metrics/exposition.hpp"
#include "server/metrics/http.hpp"

namespace netecho::server::metrics {

// What the routes report, asked on each request.
struct Sources {
  std::function<Snapshot()> snapshot;
  // Empty while every worker loop turns; else which are stalled ("worker 0 ..."): /healthz 503.
  std::function<std::string()> stalled;
  // Empty while every listener serves and no drain has started; else why not: /readyz 503.
  std::function<std::string()> unready;
};

// The response to a parsed request: 200, 404 (unknown path), 405 (not GET or HEAD, with Allow),
// or 503 from a failing health check.
Response answer(const Request& request, const Sources& sources);

class Responder final : public io::Handler {
 public:
  // A scrape sends one small request; 5 s is Prometheus's default scrape timeout's half, and
  // ample for any honest client on a network that can scrape at all.
  static constexpr auto kConnectionTimeout = std::chrono::seconds(5);
  // Prometheus scrapes with one connection per target at a time; a few people with curl add a
  // handful. 64 leaves room for both and bounds what a flood can hold (64 x 8 KiB).
  static constexpr std::size_t kMaxConnections = 64;
  // Out of descriptors, the backend stops accepting: try again after this, rather than spin.
  static constexpr auto kAcceptPause = std::chrono::milliseconds(100);

  // listener: a bound, listening, non-blocking TCP socket.
  Responder(net::Fd listener, Sources sources);

  // Arms the accept on loop; every completion for the responder must then be passed to
  // on_completion() (tokens: slots below kListenerSlot).
  void start(io::Loop& loop);
  void on_completion(const io::Completion& c) override;

  std::size_t open_connections() const noexcept { return conns_.live_count(); }

  static constexpr std::uint32_t kListenerSlot = 1u << 30;

 private:
  struct Connection {
    net::Fd fd;
    std::string in;       // the request head so far
    std::string out;      // the response, once made
    std::size_t sent = 0;
    std::uint64_t timer = 0;
    bool responding = false;
  };

  void on_accept(int res);
  void on_recv(io::Token t, const io::Completion& c);
  void on_send(io::Token t, int res);
  void on_timeout(io::Token t);
  void respond(io::Token t, const Response& r, bool head_only);
  void send_rest(io::Token t);
  void close(io::Token t);

  net::Fd listener_;
  Sources sources_;
  io::Loop* loop_ = nullptr;
  io::SlotTable<Connection> conns_{kListenerSlot};
};

}  // namespace netecho::server::metrics
