#include "client/send/send.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "client/json_document.hpp"
#include "io/loop.hpp"
#include "io/probe.hpp"
#include "net/address.hpp"
#include "net/error.hpp"
#include "net/socket.hpp"

namespace netecho::client {
namespace {

using Clock = std::chrono::steady_clock;

// What an exchange ended with: the reply bytes read, and why it failed, if it did.
struct Exchange {
  Bytes got;
  std::string failure;    // empty: the whole reply arrived
  bool received = false;  // UDP: a reply datagram (possibly empty) arrived
  std::size_t sent = 0;   // payload bytes that went out
  std::chrono::nanoseconds rtt{};  // from the first byte out to the end (connected runs only)
};

Bytes expected_reply(const Bytes& payload, Expect expect) {
  Bytes e = payload;
  if (expect == Expect::reverse) {
    std::reverse(e.begin(), e.end());
  }
  return e;
}

// The first byte where got differs from want, if any, as a message.
std::optional<std::string> compare(const Bytes& got, const Bytes& want, std::size_t from) {
  const std::size_t n = std::min(got.size(), want.size());
  for (std::size_t i = from; i < n; ++i) {
    if (got[i] != want[i]) {
      return fmt::format("reply differs at byte {}: expected 0x{:02x}, got 0x{:02x}", i,
                         std::to_integer<unsigned>(want[i]), std::to_integer<unsigned>(got[i]));
    }
  }
  return std::nullopt;
}

// One exchange on an io::Loop, so that it runs on either backend: connect to the first address
// that answers, write the payload while reading the reply (a server that applies backpressure
// stops reading until we read), until the reply is complete, something fails, or the deadline
// passes. TCP reads exactly as many bytes as were sent; UDP sends one datagram and takes the
// first one back.
class Exchanger final : private io::Handler {
 public:
  Exchanger(const SendOptions& o, const Bytes* want, Clock::time_point deadline)
      : o_(o),
        want_(want),
        deadline_(deadline),
        tcp_(o.target.transport == net::Transport::tcp),
        loop_(io::make_backend(o.backend.kind)) {}

  Exchanger(const Exchanger&) = delete;
  Exchanger& operator=(const Exchanger&) = delete;

  // The exchange, and the address it reached (none when no address answered).
  std::pair<Exchange, std::optional<net::SockAddr>> run() {
    try_address(0);
    while (!done_) {
      const auto now = Clock::now();
      if (now >= deadline_) {
        time_out();
        break;
      }
      loop_.run_once(*this, deadline_ - now);
    }
    if (fd_) {
      loop_.backend().forget(fd_.get());
      fd_.reset();
    }
    loop_.backend().quiesce();
    x_.sent = sent_;
    return {std::move(x_), connected_ ? std::optional(o_.addresses[address_]) : std::nullopt};
  }

 private:
  io::Token token() const noexcept { return {0, gen_}; }

  void finish(std::string failure = {}) {
    x_.failure = std::move(failure);
    if (connected_) {
      x_.rtt = Clock::now() - first_out_;
    }
    done_ = true;
  }

  // Starts a connect to addresses[index], or to the next that can start one.
  void try_address(std::size_t index) {
    for (address_ = index; address_ < o_.addresses.size(); ++address_) {
      auto fd = net::start_connect(o_.addresses[address_], o_.target.transport);
      if (!fd) {
        last_ = fd.error();
        continue;
      }
      fd_ = std::move(fd).value();
      ++gen_;
      if (tcp_) {
        loop_.backend().connect(fd_.get(), token());
      } else {
        on_connected();  // a UDP connect only sets the peer
      }
      return;
    }
    cannot_connect();
  }

  void cannot_connect() {
    finish(fmt::format("cannot connect to {}: {}", net::to_string(o_.target),
                       last_.value() == ETIMEDOUT ? "timed out" : last_.message()));
  }

  void on_connected() {
    connected_ = true;
    first_out_ = Clock::now();
    if (tcp_) {
      if (o_.payload.empty()) {
        finish();
        return;
      }
      loop_.backend().recv(fd_.get(), token());
      write();
    } else {
      loop_.backend().recv_from(fd_.get(), token());
      sending_ = true;
      loop_.backend().send(fd_.get(), token(), o_.payload);
    }
  }

  void time_out() {
    if (!connected_) {
      last_ = std::make_error_code(std::errc::timed_out);
      cannot_connect();
    } else if (tcp_) {
      finish(fmt::format("timed out waiting for the reply: got {} of {} bytes", x_.got.size(),
                         o_.payload.size()));
    } else {
      finish("timed out waiting for the reply datagram");
    }
  }

  // TCP: writes what the socket takes now, and hands the rest to an asynchronous send.
  void write() {
    const std::span<const std::byte> rest = std::span(o_.payload).subspan(sent_);
    if (sending_ || rest.empty()) {
      return;
    }
    const long n = loop_.backend().try_send(fd_.get(), rest);
    if (n < 0) {
      send_failed(static_cast<int>(-n));
      return;
    }
    sent_ += static_cast<std::size_t>(n);
    if (sent_ < o_.payload.size()) {
      sending_ = true;
      loop_.backend().send(fd_.get(), token(), std::span(o_.payload).subspan(sent_));
    }
  }

  void send_failed(int error) {
    finish(tcp_ ? fmt::format("send failed after {} bytes: {}", sent_, std::strerror(error))
                : fmt::format("send failed: {}", std::strerror(error)));
  }

  void on_completion(const io::Completion& c) override {
    if (done_ || c.token.gen != gen_) {
      return;
    }
    switch (c.op) {
      case io::Op::connect:
        if (c.res < 0) {
          last_ = std::error_code(-c.res, std::system_category());
          loop_.backend().forget(fd_.get());
          fd_.reset();
          try_address(address_ + 1);
        } else {
          on_connected();
        }
        break;
      case io::Op::send:
        sending_ = false;
        if (c.res < 0) {
          send_failed(-c.res);
        } else if (tcp_) {
          sent_ += static_cast<std::size_t>(c.res);
          write();
        } else {
          sent_ = static_cast<std::size_t>(c.res);
        }
        break;
      case io::Op::recv:
        on_stream(c);
        break;
      case io::Op::recv_from:
        if (c.res < 0) {
          finish(c.res == -ECONNREFUSED
                     ? std::string("no reply: connection refused (port unreachable)")
                     : fmt::format("receive failed: {}", std::strerror(-c.res)));
        } else {
          x_.got.assign(c.data.begin(), c.data.end());
          x_.received = true;
          sent_ = o_.payload.size();  // answered, so it went out (its send may complete later)
          finish();
        }
        break;
      case io::Op::accept:
      case io::Op::ready:
        break;
    }
  }

  void on_stream(const io::Completion& c) {
    const std::size_t need = o_.payload.size();
    Bytes& got = x_.got;
    if (c.res < 0) {
      finish(fmt::format("connection failed after {} of {} reply bytes: {}", got.size(), need,
                         std::strerror(-c.res)));
      return;
    }
    if (c.res == 0) {
      finish(fmt::format("short reply: the server closed after {} of {} bytes", got.size(), need));
      return;
    }
    const std::size_t from = got.size();
    const std::size_t take = std::min(c.data.size(), need - from);
    got.insert(got.end(), c.data.begin(), c.data.begin() + static_cast<std::ptrdiff_t>(take));
    if (want_ != nullptr) {
      if (auto diff = compare(got, *want_, from)) {
        finish(std::move(*diff));
        return;
      }
    }
    if (got.size() == need) {
      finish();
    }
  }

  const SendOptions& o_;
  const Bytes* want_;  // null: any reply of the right length
  Clock::time_point deadline_;
  bool tcp_;
  io::Loop loop_;
  net::Fd fd_;
  std::uint32_t gen_ = 0;
  std::size_t address_ = 0;
  std::error_code last_;  // why the last address did not connect
  bool connected_ = false;
  Clock::time_point first_out_;  // when the payload started out
  bool sending_ = false;
  std::size_t sent_ = 0;
  bool done_ = false;
  Exchange x_;
};

void print_reply(const Bytes& got, OutputFormat format, std::FILE* out) {
  switch (format) {
    case OutputFormat::list:
      fmt::print(out, "Received {}\n", format_list(got));
      break;
    case OutputFormat::hex:
      fmt::print(out, "{}\n", format_hex(got));
      break;
    case OutputFormat::raw:
      std::fwrite(got.data(), 1, got.size(), out);
      break;
  }
  std::fflush(out);
}

std::string_view expect_name(Expect e) {
  switch (e) {
    case Expect::echo:
      return "echo";
    case Expect::reverse:
      return "reverse";
    case Expect::any:
      break;
  }
  return "any";
}

// The result as one JSON document (docs/CLI.md), with ping's and bench's conventions.
std::string result_json(const SendOptions& o, Expect expect, const Exchange& x,
                        const std::optional<net::SockAddr>& address, bool complete,
                        const std::string& error, std::string started_at) {
  JsonDocument j = json_document("netecho-send/1", std::move(started_at));
  j["target"] = net::to_string(o.target);
  j["transport"] = std::string(net::to_string(o.target.transport));
  j["address"] = address ? JsonDocument(address->to_string()) : JsonDocument(nullptr);
  j["expect"] = expect_name(expect);
  j["timeout_ms"] = to_ms(o.timeout);
  j["bytes_sent"] = x.sent;
  j["bytes_received"] = x.got.size();
  j["matched"] = error.empty();
  j["rtt_ms"] = complete ? JsonDocument(to_ms(x.rtt)) : JsonDocument(nullptr);
  j["first_error"] = error.empty() ? JsonDocument(nullptr) : JsonDocument(error);
  return j.dump(2) + "\n";
}

}  // namespace

Outcome run_send(const SendOptions& o, std::FILE* out, std::FILE* err) {
  const bool tcp = o.target.transport == net::Transport::tcp;
  const Expect expect = o.expect.value_or(tcp ? Expect::echo : Expect::any);
  const Bytes want = expected_reply(o.payload, expect);
  const std::string started_at = base::format_utc(std::chrono::system_clock::now());
  const auto deadline = Clock::now() + o.timeout;
  auto [x, address] =
      Exchanger(o, !tcp || expect == Expect::any ? nullptr : &want, deadline).run();
  if (address && !tcp && x.failure.empty() && expect != Expect::any) {
    if (x.got.size() != want.size()) {
      x.failure = fmt::format("reply is {} bytes, expected {}", x.got.size(), want.size());
    } else if (auto diff = compare(x.got, want, 0)) {
      x.failure = *diff;
    }
  }
  // The whole reply came back (whatever its bytes): it is shown, and its round trip known.
  const bool complete = address && (tcp ? x.got.size() == o.payload.size() : x.received);
  // What failed, named after the address reached, if any.
  const std::string error = x.failure.empty() || !address
                                ? x.failure
                                : fmt::format("{}: {}", address->to_string(), x.failure);
  if (o.json) {
    const std::string doc = result_json(o, expect, x, address, complete, error, started_at);
    std::fputs(doc.c_str(), out);
    std::fflush(out);
  } else if (complete) {
    print_reply(x.got, o.output, out);
  }
  if (!error.empty()) {
    fmt::print(err, "netecho send: {}\n", error);
    return Outcome::failed;
  }
  return Outcome::ok;
}

}  // namespace netecho::client
