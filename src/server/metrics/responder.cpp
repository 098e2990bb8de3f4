#include "server/metrics/responder.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace netecho::server::metrics {
namespace {

constexpr io::Token kListenerToken{Responder::kListenerSlot, 0};

Response plain(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

Response answer(const Request& request, const Sources& sources) {
  const bool known =
      request.path == "/metrics" || request.path == "/healthz" || request.path == "/readyz";
  if (!known) {
    return plain(404, "not found: try /metrics, /healthz or /readyz\n");
  }
  if (request.method != "GET" && request.method != "HEAD") {
    Response r = plain(405, "method not allowed\n");
    r.allow = "GET, HEAD";
    return r;
  }
  if (request.path == "/metrics") {
    Response r = plain(200, render(sources.snapshot()));
    r.content_type = kContentType;
    return r;
  }
  const std::string why = request.path == "/healthz" ? sources.stalled() : sources.unready();
  if (why.empty()) {
    return plain(200, "ok\n");
  }
  return plain(503, why + "\n");
}

Responder::Responder(net::Fd listener, Sources sources)
    : listener_(std::move(listener)), sources_(std::move(sources)) {}

void Responder::start(io::Loop& loop) {
  loop_ = &loop;
  loop.backend().accept(listener_.get(), kListenerToken);
}

void Responder::on_completion(const io::Completion& c) {
  if (c.token.slot == kListenerSlot) {
    if (c.op == io::Op::accept) {
      on_accept(c.res);
    }
    return;
  }
  if (conns_.find(c.token) == nullptr) {
    return;  // for a connection already closed
  }
  if (c.op == io::Op::recv) {
    on_recv(c.token, c);
  } else if (c.op == io::Op::send) {
    on_send(c.token, c.res);
  }
}

void Responder::on_accept(int res) {
  if (res < 0) {
    // Out of descriptors: the backend stopped accepting. The echo path is unaffected either way.
    loop_->add_timer(io::Clock::now() + kAcceptPause,
                     [this] { loop_->backend().accept(listener_.get(), kListenerToken); });
    return;
  }
  if (conns_.live_count() >= kMaxConnections) {
    ::close(res);  // at the cap: closed at once, nothing read
    return;
  }
  const io::Token t = conns_.acquire();
  Connection& conn = conns_[t.slot];
  conn.fd.reset(res);
  conn.timer = loop_->add_timer(io::Clock::now() + kConnectionTimeout,
                                [this, t] { on_timeout(t); });
  loop_->backend().recv(res, t);
}

void Responder::on_recv(io::Token t, const io::Completion& c) {
  Connection& conn = conns_[t.slot];
  if (c.res <= 0 || conn.responding) {
    if (c.res <= 0) {
      close(t);  // gone (or half-closed) before a whole request: nothing to answer
    }
    return;
  }
  // Never more than one byte past the cap is kept: enough to tell "too large".
  const std::size_t room = kMaxRequestHead + 1 - std::min(conn.in.size(), kMaxRequestHead + 1);
  conn.in.append(reinterpret_cast<const char*>(c.data.data()), std::min(c.data.size(), room));
  const Parsed p = parse_request(conn.in);
  switch (p.status) {
    case ParseStatus::incomplete:
      return;
    case ParseStatus::malformed:
      respond(t, plain(400, "bad request\n"), false);
      return;
    case ParseStatus::too_large:
      respond(t, plain(431, "request head over 8 KiB\n"), false);
      return;
    case ParseStatus::complete:
      respond(t, answer(p.request, sources_), p.request.method == "HEAD");
      return;
  }
}

void Responder::respond(io::Token t, const Response& r, bool head_only) {
  Connection& conn = conns_[t.slot];
  conn.responding = true;
  loop_->backend().stop_read(conn.fd.get());
  conn.out = serialize(r, head_only);
  conn.in = std::string();  // its views are no longer needed
  send_rest(t);
}

void Responder::send_rest(io::Token t) {
  Connection& conn = conns_[t.slot];
  const auto rest = std::as_bytes(std::span(conn.out)).subspan(conn.sent);
  const long n = loop_->backend().try_send(conn.fd.get(), rest);
  if (n < 0) {
    close(t);
    return;
  }
  conn.sent += static_cast<std::size_t>(n);
  if (conn.sent == conn.out.size()) {
    ::shutdown(conn.fd.get(), SHUT_WR);  // the response's end: FIN, then close
    close(t);
    return;
  }
  // The rest when the socket takes it; out is not touched until then.
  loop_->backend().send(conn.fd.get(), t, std::as_bytes(std::span(conn.out)).subspan(conn.sent));
}

void Responder::on_send(io::Token t, int res) {
  if (res < 0) {
    close(t);
    return;
  }
  conns_[t.slot].sent += static_cast<std::size_t>(res);
  send_rest(t);
}

void Responder::on_timeout(io::Token t) {
  Connection* conn = conns_.find(t);
  if (conn == nullptr) {
    return;
  }
  conn->timer = 0;
  if (conn->responding) {
    close(t);  // a client that does not read its response: let it go
    return;
  }
  // One attempt to say why; whatever does not fit in the socket now is dropped with it.
  const std::string out = serialize(plain(408, "request timeout\n"), false);
  loop_->backend().try_send(conn->fd.get(), std::as_bytes(std::span(out)));
  close(t);
}

void Responder::close(io::Token t) {
  Connection& conn = conns_[t.slot];
  if (conn.timer != 0) {
    loop_->cancel_timer(conn.timer);
  }
  loop_->backend().forget(conn.fd.get());
  conn = Connection{};
  conns_.release(t.slot);
}

}  // namespace netecho::server::metrics
