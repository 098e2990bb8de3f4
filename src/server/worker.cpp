#include "server/worker.hpp"

#include "base/log.hpp"

namespace netecho::server {

Worker::Worker(unsigned id, std::unique_ptr<io::Backend> backend, WorkerSockets sockets,
               service::StreamService stream)
    : id_(id),
      loop_(std::move(backend)),
      sockets_(std::move(sockets)),
      stream_(stream),
      scratch_(service::kMaxDatagram + 64) {}

void Worker::stop() noexcept {
  stopping_.store(true, std::memory_order_release);
  loop_.backend().wake();
}

void Worker::run() {
  auto& backend = loop_.backend();
  for (std::size_t i = 0; i < sockets_.tcp.size(); ++i) {
    backend.accept(sockets_.tcp[i].get(), {static_cast<std::uint32_t>(i), 0});
  }
  for (std::size_t i = 0; i < sockets_.udp.size(); ++i) {
    backend.recv_from(sockets_.udp[i].fd(), {kUdpSlotBase + static_cast<std::uint32_t>(i), 0});
  }
  while (!stopping_.load(std::memory_order_acquire)) {
    loop_.run_once(*this);
  }
  for (auto& fd : sockets_.tcp) {
    backend.forget(fd.get());
    fd.reset();
  }
  for (auto& ep : sockets_.udp) {
    ep.close(backend);
  }
  for (std::uint32_t slot = 0; slot < sessions_.size(); ++slot) {
    if (sessions_[slot].is_open()) {
      finish(slot, TcpSession::Status::done);
    }
  }
}

TcpSession* Worker::session(io::Token t) {
  if (t.slot >= sessions_.size() || gens_[t.slot] != t.gen || !sessions_[t.slot].is_open()) {
    return nullptr;  // a completion for a connection already closed: stale, drop it
  }
  return &sessions_[t.slot];
}

void Worker::finish(std::uint32_t slot, TcpSession::Status status) {
  if (status == TcpSession::Status::open) {
    return;
  }
  if (status == TcpSession::Status::failed) {
    counters_.add(counters_.tcp_resets);
  }
  sessions_[slot].close(loop_.backend());
  ++gens_[slot];
  free_slots_.push_back(slot);
  counters_.add(counters_.tcp_closed);
}

void Worker::on_accept(std::size_t listener, int res) {
  if (res < 0) {
    // Out of descriptors or memory. The backend has stopped accepting on this listener; pause
    // briefly instead of spinning, and keep serving the connections we have.
    counters_.add(counters_.accept_errors);
    if (!accept_paused_) {
      base::log("worker {}: accept failed: {}; pausing accepts for {} ms", id_,
                std::error_code(-res, std::system_category()).message(), kAcceptPause.count());
    }
    accept_paused_ = true;
    const int fd = sockets_.tcp[listener].get();
    loop_.add_timer(io::Clock::now() + kAcceptPause, [this, fd, listener] {
      accept_paused_ = false;
      loop_.backend().accept(fd, {static_cast<std::uint32_t>(listener), 0});
    });
    return;
  }
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(sessions_.size());
    sessions_.emplace_back();
    gens_.push_back(0);
  }
  counters_.add(counters_.tcp_accepted);
  sessions_[slot].open(loop_.backend(), res, {slot, gens_[slot]});
}

void Worker::on_completion(const io::Completion& c) {
  auto& backend = loop_.backend();
  switch (c.op) {
    case io::Op::accept:
      on_accept(c.token.slot, c.res);
      break;
    case io::Op::recv_from:
      sockets_.udp[c.token.slot - kUdpSlotBase].on_datagram(backend, c, scratch_, counters_);
      break;
    case io::Op::recv:
      if (TcpSession* s = session(c.token)) {
        finish(c.token.slot, s->on_recv(backend, c, stream_, counters_));
      }
      break;
    case io::Op::send:
      if (TcpSession* s = session(c.token)) {
        finish(c.token.slot, s->on_send(backend, c, counters_));
      }
      break;
    case io::Op::connect:
      break;  // the server makes no outgoing connections
  }
}

}  // namespace netecho::server
