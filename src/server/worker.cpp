#include "server/worker.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

#include "base/log.hpp"
#include "net/socket.hpp"

namespace netecho::server {

Worker::Worker(unsigned id, std::unique_ptr<io::Backend> backend, WorkerSockets sockets,
               WorkerShared shared)
    : id_(id),
      loop_(std::move(backend)),
      sockets_(std::move(sockets)),
      scratch_(service::kMaxDatagram + 64),
      tcp_counters_(sockets_.tcp.size()),
      udp_counters_(sockets_.udp.size()),
      shared_(std::move(shared)),
      idle_(shared_.idle_timeout) {}

void Worker::stop() noexcept {
  stopping_.store(true, std::memory_order_release);
  loop_.backend().wake();
}

void Worker::drain() noexcept {
  drain_requested_.store(true, std::memory_order_release);
  loop_.backend().wake();
}

void Worker::run() {
  try {
    serve();
  } catch (...) {
    close_all();  // a failed worker releases its ports too, before the failure is reported
    throw;
  }
  close_all();
}

void Worker::serve() {
  auto& backend = loop_.backend();
  for (std::size_t i = 0; i < sockets_.tcp.size(); ++i) {
    backend.accept(sockets_.tcp[i].fd.get(), WorkerTokens::listener(i));
  }
  for (std::size_t i = 0; i < sockets_.udp.size(); ++i) {
    backend.recv_from(sockets_.udp[i].fd(), WorkerTokens::udp(i));
  }
  if (idle_.enabled()) {
    sweep_idle();
  }
  if (beat_every_.count() > 0) {
    beat();
  }
  if (test_stall_length_.count() > 0) {
    loop_.add_timer(io::Clock::now() + test_stall_after_,
                    [length = test_stall_length_] { std::this_thread::sleep_for(length); });
  }
  while (!stopping_.load(std::memory_order_acquire)) {
    loop_.run_once(*this);
    if (drain_requested_.load(std::memory_order_acquire)) {
      if (!draining_) {
        begin_drain();
      }
      close_quiet_sessions();
      if (open_ == 0) {
        break;
      }
    }
  }
}

void Worker::close_all() {
  close_listeners();
  for (std::uint32_t slot = 0; slot < conns_.size(); ++slot) {
    if (conns_[slot].awaiting.valid()) {
      drop_awaiting(slot, std::nullopt);  // no byte of it was echo yet: nothing is lost
      continue;
    }
    TcpSession& s = conns_[slot].session;
    if (!s.is_open()) {
      continue;
    }
    // The drain was cut short (its timeout, a second signal). A connection still in its quiet
    // period owes nothing and has nothing unread: its close is the FIN the quiet period would
    // have ended with. The others lose echo.
    if (draining_ && (s.pending() != 0 || net::unread_bytes(s.fd()) != 0)) {
      tcp_counters_[conns_[slot].listener].add(Stat::tcp_drain_cut);
      finish(slot, TcpSession::Status::done, CloseReason::drain_cut);
    } else {
      finish(slot, TcpSession::Status::done,
             draining_ ? CloseReason::drained : CloseReason::stopped);
    }
  }
  // Only when the backend holds no socket any more are the ports free for a restart.
  loop_.backend().quiesce();
}

void Worker::close_listeners() {
  auto& backend = loop_.backend();
  for (auto& l : sockets_.tcp) {
    if (l.fd.valid()) {
      backend.forget(l.fd.get());
      if (!l.passed) {
        // Refuse from now on, even while an accept may still be on its way out of the kernel.
        // The supervisor's socket stays listening: what queues there is the next start's.
        net::stop_listening(l.fd.get());
      }
      l.fd.reset();
    }
  }
  for (auto& ep : sockets_.udp) {
    ep.close(backend);
  }
}

void Worker::sweep_idle() {
  // Runs once per period for the life of the worker (see idle.hpp).
  idle_.advance();
  for (std::uint32_t slot = 0; slot < conns_.size(); ++slot) {
    if (conns_[slot].session.is_open() && idle_.expired(slot)) {
      tcp_counters_[conns_[slot].listener].add(Stat::tcp_idle_closed);
      shared_.log.note(Guard::tcp_idle_closed);
      finish(slot, TcpSession::Status::done, CloseReason::idle);
    }
  }
  loop_.add_timer(io::Clock::now() + idle_.period(), [this] { sweep_idle(); });
}

void Worker::beat() {
  // Runs once per period for the life of the loop: a stamp proves the loop came back from its
  // handlers and its wait since the last one (heartbeat.hpp).
  const auto now = io::Clock::now();
  heartbeat_.beat(now);
  loop_.add_timer(now + beat_every_, [this] { beat(); });
}

void Worker::begin_drain() {
  // Listeners first: from here on the kernel refuses new connections and datagrams to them.
  draining_ = true;
  quiet_until_.resize(conns_.size());  // no session is opened from here on
  close_listeners();
  listeners_closed_.store(true, std::memory_order_release);
  for (std::uint32_t slot = 0; slot < conns_.size(); ++slot) {
    if (conns_[slot].session.is_open()) {
      drain_check_.push_back(slot);
    }
  }
  if (shared_.notify) {
    shared_.notify();
  }
}

void Worker::close_quiet_sessions() {
  // Runs after each loop turn while draining, over the sessions that had a completion in it (a
  // session's state changes only then), so every completion of the turn has been handled. A
  // session that owes nothing and has no unread input starts (or restarts) its quiet period;
  // drain_tick() closes it when that ends with nothing new, with a plain FIN, never a reset.
  const auto now = io::Clock::now();
  bool any_quiet = false;
  for (const std::uint32_t slot : drain_check_) {
    TcpSession& s = conns_[slot].session;
    if (s.is_open() && s.pending() == 0 && net::unread_bytes(s.fd()) == 0) {
      quiet_until_[slot] = now + kDrainQuiet + 2 * net::smoothed_rtt(s.fd());
      any_quiet = true;
    } else {
      quiet_until_[slot] = {};
    }
  }
  drain_check_.clear();
  if (any_quiet && !drain_tick_armed_) {
    drain_tick_armed_ = true;
    loop_.add_timer(now + kDrainTick, [this] { drain_tick(); });
  }
}

void Worker::drain_tick() {
  drain_tick_armed_ = false;
  const auto now = io::Clock::now();
  bool waiting = false;
  for (std::uint32_t slot = 0; slot < quiet_until_.size(); ++slot) {
    if (quiet_until_[slot] == io::Clock::time_point{} || !conns_[slot].session.is_open()) {
      continue;
    }
    TcpSession& s = conns_[slot].session;
    if (s.pending() != 0 || net::unread_bytes(s.fd()) != 0) {
      quiet_until_[slot] = {};  // input came: its completion puts it back in drain_check_
    } else if (now >= quiet_until_[slot]) {
      quiet_until_[slot] = {};
      finish(slot, TcpSession::Status::done, CloseReason::drained);
    } else {
      waiting = true;
    }
  }
  if (waiting) {
    drain_tick_armed_ = true;
    loop_.add_timer(now + kDrainTick, [this] { drain_tick(); });
  }
}

void Worker::finish(std::uint32_t slot, TcpSession::Status status, CloseReason why) {
  if (status == TcpSession::Status::open) {
    return;
  }
  Connection& conn = conns_[slot];
  Counters& counters = tcp_counters_[conn.listener];
  if (status == TcpSession::Status::failed) {
    counters.add(Stat::tcp_resets);
  }
  if (base::enabled(base::Level::debug)) {
    log_close(slot, status, why);
  }
  // Released before the socket is closed: a client that saw the close may connect again at
  // once, to another worker, and must find its place free.
  shared_.limits.release(conn.source);
  --open_;
  conn.session.close(loop_.backend());
  conns_.release(slot);
  counters.add(Stat::tcp_closed);
}

void Worker::log_open(std::uint32_t slot, const net::SockAddr& peer) {
  if (slot >= traces_.size()) {
    traces_.resize(slot + 1);
  }
  traces_[slot] = {peer, io::Clock::now()};
  base::log_event(base::Level::debug, "connection opened",
                  {{"listener", sockets_.tcp[conns_[slot].listener].name},
                   {"peer", peer.to_string()},
                   {"worker", id_}});
}

void Worker::log_close(std::uint32_t slot, TcpSession::Status status, CloseReason why) {
  const Connection& conn = conns_[slot];
  const TcpSession& s = conn.session;
  // A connection opened before the level was debug has no trace: its peer and age are unknown.
  const Trace trace = slot < traces_.size() ? traces_[slot] : Trace{};
  std::string_view reason;
  std::string error;
  switch (why) {
    case CloseReason::ended:
      if (status == TcpSession::Status::failed) {
        reason = s.error() == ECONNRESET ? "reset" : "error";
        error = std::system_category().message(s.error());
      } else {
        reason = s.peer_finished() ? "peer_closed" : "once_answered";
      }
      break;
    case CloseReason::idle:
      reason = "idle_timeout";
      break;
    case CloseReason::drained:
      reason = "drained";
      break;
    case CloseReason::drain_cut:
      reason = "drain_cut";
      break;
    case CloseReason::stopped:
      reason = "server_stopped";
      break;
  }
  const double duration_ms =
      trace.opened == io::Clock::time_point{}
          ? 0.0
          : std::chrono::duration<double, std::milli>(io::Clock::now() - trace.opened).count();
  const std::string peer = trace.peer.size() != 0 ? trace.peer.to_string() : std::string();
  const std::initializer_list<base::LogField> fields = {
      {"listener", sockets_.tcp[conn.listener].name},
      {"peer", peer},
      {"worker", id_},
      {"bytes_in", s.bytes_in()},
      {"bytes_out", s.bytes_out()},
      {"duration_ms", duration_ms},
      {"reason", reason},
  };
  if (error.empty()) {
    base::log_event(base::Level::debug, "connection closed", fields);
  } else {
    std::vector<base::LogField> with_error(fields);
    with_error.emplace_back("error", error);
    base::log_event(base::Level::debug, "connection closed", with_error);
  }
}

void Worker::refuse(int fd, std::size_t listener, Guard why, const net::SockAddr* client) {
  if (shared_.log.detail_due(why)) {
    auto peer = client ? net::Result<net::SockAddr>(*client) : net::peer_address(fd);
    base::log_event(base::Level::debug, "connection refused",
                    {{"listener", sockets_.tcp[listener].name},
                     {"peer", peer ? peer->to_string() : std::string()},
                     {"worker", id_},
                     {"reason", to_string(why)}});
  }
  // Refused at once, before a byte is read: a reset, so no echo and no TIME_WAIT kept here.
  net::close_with_reset(fd);
  tcp_counters_[listener].add(counter_of(why));
  shared_.log.note(why);
}

void Worker::on_accept(std::size_t listener, int res) {
  if (draining_) {
    // The listeners were forgotten when the drain began, so no accept should complete; one
    // that did anyway is refused, not served: a draining worker opens no session.
    if (res >= 0) {
      net::close_with_reset(res);
    }
    return;
  }
  if (res < 0) {
    // Out of descriptors or memory. The backend has stopped accepting on this listener; pause
    // briefly instead of spinning, and keep serving the connections we have.
    // The guard log writes at most one line per interval for all of these (guard_log.hpp).
    tcp_counters_[listener].add(Stat::accept_errors);
    shared_.log.note_accept_error(-res);
    accept_paused_ = true;
    loop_.add_timer(io::Clock::now() + kAcceptPause, [this, listener] {
      accept_paused_ = false;
      const net::Fd& fd = sockets_.tcp[listener].fd;
      if (fd.valid()) {  // not closed by a drain meanwhile
        loop_.backend().accept(fd.get(), WorkerTokens::listener(listener));
      }
    });
    return;
  }
  if (sockets_.tcp[listener].proxy) {
    await_header(listener, res);  // admitted once the header says who the client is
    return;
  }
  SourceKey source;
  net::SockAddr peer_addr;  // only when needed: for the per-IP limit, or the debug log
  const bool verbose = base::enabled(base::Level::debug);
  if (shared_.limits.tracks_sources() || verbose) {
    auto peer = net::peer_address(res);
    if (!peer) {
      ::close(res);  // reset before it was accepted (ENOTCONN): nothing to serve or count
      return;
    }
    peer_addr = *peer;
    if (shared_.limits.tracks_sources()) {
      source = SourceKey::from(peer_addr);
    }
  }
  switch (shared_.limits.admit(source)) {
    case Admission::admitted:
      break;
    case Admission::over_max_conns:
      refuse(res, listener, Guard::tcp_refused_max);
      return;
    case Admission::over_per_ip:
      refuse(res, listener, Guard::tcp_refused_per_ip);
      return;
  }
  const io::Token token = conns_.acquire();
  tcp_counters_[listener].add(Stat::tcp_accepted);
  Connection& conn = conns_[token.slot];
  conn.source = source;
  conn.listener = static_cast<std::uint32_t>(listener);
  ++open_;
  if (idle_.enabled()) {
    idle_.touch(token.slot);
  }
  if (verbose) {
    log_open(token.slot, peer_addr);
  }
  conn.session.open(loop_.backend(), res, token);
}

void Worker::on_completion(const io::Completion& c) {
  auto& backend = loop_.backend();
  switch (c.op) {
    case io::Op::accept:
      on_accept(c.token.slot, c.res);
      break;
    case io::Op::recv_from:
      sockets_.udp[WorkerTokens::udp_index(c.token)].on_datagram(
          backend, c, scratch_, udp_counters_[WorkerTokens::udp_index(c.token)]);
      break;
    case io::Op::recv:
      // A completion for a connection already closed is stale: find() drops it.
      if (Connection* conn = conns_.find(c.token)) {
        note_progress(c.token.slot);
        finish(c.token.slot,
               conn->session.on_recv(backend, c, sockets_.tcp[conn->listener].service,
                                                  tcp_counters_[conn->listener]));
      }
      break;
    case io::Op::send:
      if (Connection* conn = conns_.find(c.token)) {
        note_progress(c.token.slot);
        finish(c.token.slot, conn->session.on_send(backend, c, tcp_counters_[conn->listener]));
      }
      break;
    case io::Op::ready:
      // Only connections awaiting their PROXY header are watched.
      if (Connection* conn = conns_.find(c.token); conn && conn->awaiting.valid()) {
        on_header_ready(c.token);
      }
      break;
    case io::Op::connect:
      break;  // the server makes no outgoing connections
  }
}

// ---------------------------------------------------------------- PROXY listeners

namespace {

Guard guard_of(proxy::Reason r) noexcept {
  switch (r) {
    case proxy::Reason::oversized:
      return Guard::tcp_proxy_oversized;
    case proxy::Reason::unsupported:
      return Guard::tcp_proxy_unsupported;
    case proxy::Reason::malformed:
      break;
  }
  return Guard::tcp_proxy_malformed;
}

}  // namespace

void Worker::await_header(std::size_t listener, int fd) {
  auto peer = net::peer_address(fd);
  if (!peer) {
    ::close(fd);  // reset before it was accepted (ENOTCONN): nothing to serve or count
    return;
  }
  // Never "trust everyone": a header is believed only from the balancers named.
  if (shared_.proxy_from == nullptr || !proxy::any_contains(*shared_.proxy_from, *peer)) {
    refuse(fd, listener, Guard::tcp_proxy_refused);
    return;
  }
  // Within --max-conns from the start, so that connections waiting for their header cannot
  // hold descriptors past it; the per-IP count waits for the client the header names.
  if (shared_.limits.admit_unknown() != Admission::admitted) {
    refuse(fd, listener, Guard::tcp_refused_max);
    return;
  }
  const io::Token token = conns_.acquire();
  Connection& conn = conns_[token.slot];
  conn.listener = static_cast<std::uint32_t>(listener);
  conn.awaiting.reset(fd);
  conn.proxy = *peer;
  ++open_;  // a drain waits for it too: its header may come with the client's first bytes
  loop_.backend().watch(fd, token, POLLIN);
  loop_.add_timer(io::Clock::now() + shared_.proxy_timeout, [this, token] {
    if (Connection* c = conns_.find(token); c && c->awaiting.valid()) {
      drop_awaiting(token.slot, Guard::tcp_proxy_timeout);
    }
  });
}

void Worker::on_header_ready(io::Token token) {
  Connection& conn = conns_[token.slot];
  const int fd = conn.awaiting.get();
  // What is buffered, after the part of the header already consumed: peeked, so that bytes
  // past the header stay in the socket. Room for the longest header, so that a wait for
  // more is never a wait for room.
  std::array<std::byte, proxy::kV2Fixed + proxy::kMaxV2> buf;
  const std::size_t had = conn.header.size();
  std::memcpy(buf.data(), conn.header.data(), had);
  const ssize_t n = ::recv(fd, buf.data() + had, buf.size() - had, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    loop_.backend().watch(fd, token, POLLIN);
    return;
  }
  if (n <= 0) {
    // The connection ended (or failed) before its header did.
    drop_awaiting(token.slot, Guard::tcp_proxy_malformed);
    return;
  }
  const std::size_t have = had + static_cast<std::size_t>(n);
  const proxy::Parsed p = proxy::parse({buf.data(), have});
  switch (p.status) {
    case proxy::Parsed::Status::need_more:
      // Every byte so far belongs to the header: consume them, so the next readiness means
      // new bytes (a level-triggered wait on bytes already seen would spin).
      conn.header.append(reinterpret_cast<const char*>(buf.data()) + had,
                         static_cast<std::size_t>(n));
      (void)::recv(fd, buf.data(), static_cast<std::size_t>(n), 0);
      loop_.backend().watch(fd, token, POLLIN);
      return;
    case proxy::Parsed::Status::error:
      if (shared_.log.detail_due(guard_of(proxy::reason_of(p.error)))) {
        base::log_event(base::Level::debug, "proxy header refused",
                        {{"listener", sockets_.tcp[conn.listener].name},
                         {"peer", conn.proxy.to_string()},
                         {"worker", id_},
                         {"error", proxy::to_string(p.error)}});
      }
      drop_awaiting(token.slot, guard_of(proxy::reason_of(p.error)));
      return;
    case proxy::Parsed::Status::done:
      (void)::recv(fd, buf.data(), p.header.length - had, 0);  // the rest of the header
      start_session(token, p.header);
      return;
  }
}

void Worker::start_session(io::Token token, const proxy::Header& header) {
  Connection& conn = conns_[token.slot];
  const std::size_t listener = conn.listener;
  const int fd = conn.awaiting.release();
  conn.header = std::string();
  // LOCAL (a health check) and UNKNOWN carry no client: the proxy's own connection.
  const net::SockAddr client = header.has_addresses ? header.source : conn.proxy;
  const SourceKey source =
      shared_.limits.tracks_sources() ? SourceKey::from(client) : SourceKey{};
  if (shared_.limits.admit_known(source) != Admission::admitted) {
    shared_.limits.release_unknown();
    --open_;
    conns_.release(token.slot);
    refuse(fd, listener, Guard::tcp_refused_per_ip, &client);
    return;
  }
  conn.source = source;
  tcp_counters_[listener].add(Stat::tcp_accepted);
  if (idle_.enabled()) {
    idle_.touch(token.slot);
  }
  if (base::enabled(base::Level::debug)) {
    log_open(token.slot, client);
  }
  if (draining_) {
    // Opened after the drain began: drained like the others.
    if (quiet_until_.size() <= token.slot) {
      quiet_until_.resize(token.slot + 1);
    }
    drain_check_.push_back(token.slot);
  }
  conn.session.open(loop_.backend(), fd, token);
}

void Worker::drop_awaiting(std::uint32_t slot, std::optional<Guard> why) {
  Connection& conn = conns_[slot];
  // Counted first: a client that saw the close and then asks /metrics finds it counted.
  if (why) {
    tcp_counters_[conn.listener].add(counter_of(*why));
    shared_.log.note(*why);
  }
  loop_.backend().forget(conn.awaiting.get());
  net::close_with_reset(conn.awaiting.release());
  shared_.limits.release_unknown();
  --open_;
  conns_.release(slot);
}

}  // namespace netecho::server
