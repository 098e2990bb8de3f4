#include "client/send/send.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "net/error.hpp"
#include "net/format.hpp"
#include "net/socket.hpp"

namespace netecho::client {
namespace {

using Clock = std::chrono::steady_clock;

// What an exchange ended with: the reply bytes read, and why it failed, if it did.
struct Exchange {
  Bytes got;
  std::string failure;    // empty: the whole reply arrived
  bool received = false;  // UDP: a reply datagram (possibly empty) arrived
};

// A connected socket and the address it reached, or why none could be reached.
struct Connection {
  net::Fd fd;
  net::SockAddr address;
  std::string failure;  // set when fd is not
};

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<long long>(left.count() + 1, 0, 1 << 30));
}

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

// Connects to the first address that answers.
Connection connect_any(const SendOptions& o, Clock::time_point deadline) {
  std::error_code last;
  for (const auto& addr : o.addresses) {
    auto fd = net::connect_blocking(addr, o.target.transport, remaining_ms(deadline));
    if (fd) {
      return {std::move(fd).value(), addr, {}};
    }
    last = fd.error();
  }
  return {{},
          {},
          fmt::format("cannot connect to {}: {}", net::format_target(o.target),
                      last.value() == ETIMEDOUT ? "timed out" : last.message())};
}

// TCP: writes the payload and reads the reply at the same time (a server that applies
// backpressure stops reading until we read), until the reply is complete, the server closes,
// or the deadline passes.
Exchange exchange_stream(int fd, const SendOptions& o, const Bytes* want,
                         Clock::time_point deadline) {
  Exchange x;
  Bytes& got = x.got;
  std::size_t sent = 0;
  const std::size_t need = o.payload.size();
  std::vector<std::byte> buf(65536);
  while (got.size() < need) {
    pollfd p{fd, static_cast<short>(POLLIN | (sent < need ? POLLOUT : 0)), 0};
    const int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (rc <= 0 || Clock::now() >= deadline) {
      x.failure =
          fmt::format("timed out waiting for the reply: got {} of {} bytes", got.size(), need);
      return x;
    }
    if ((p.revents & POLLOUT) != 0 && sent < need) {
      const ssize_t n =
          ::send(fd, o.payload.data() + sent, need - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        x.failure = fmt::format("send failed after {} bytes: {}", sent, std::strerror(errno));
        return x;
      }
      sent += n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n =
          ::recv(fd, buf.data(), std::min(buf.size(), need - got.size()), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        continue;
      }
      if (n < 0) {
        x.failure = fmt::format("connection failed after {} of {} reply bytes: {}", got.size(),
                                need, std::strerror(errno));
        return x;
      }
      if (n == 0) {
        x.failure =
            fmt::format("short reply: the server closed after {} of {} bytes", got.size(), need);
        return x;
      }
      const std::size_t from = got.size();
      got.insert(got.end(), buf.begin(), buf.begin() + n);
      if (want != nullptr) {
        if (auto diff = compare(got, *want, from)) {
          x.failure = *diff;
          return x;
        }
      }
    }
  }
  return x;
}

// UDP: one datagram out, the first datagram back.
Exchange exchange_datagram(int fd, const SendOptions& o, Clock::time_point deadline) {
  Exchange x;
  const ssize_t n = ::send(fd, o.payload.data(), o.payload.size(), MSG_NOSIGNAL);
  if (n < 0) {
    x.failure = fmt::format("send failed: {}", std::strerror(errno));
    return x;
  }
  Bytes buf(65536);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (rc <= 0) {
      x.failure = "timed out waiting for the reply datagram";
      return x;
    }
    const ssize_t r = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    if (r < 0) {
      x.failure = errno == ECONNREFUSED ? "no reply: connection refused (port unreachable)"
                                        : fmt::format("receive failed: {}", std::strerror(errno));
      return x;
    }
    buf.resize(static_cast<std::size_t>(r));
    x.got = std::move(buf);
    x.received = true;
    return x;
  }
}

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

}  // namespace

int run_send(const SendOptions& o, std::FILE* out, std::FILE* err) {
  const bool tcp = o.target.transport == net::Transport::tcp;
  const Expect expect = o.expect.value_or(tcp ? Expect::echo : Expect::any);
  const Bytes want = expected_reply(o.payload, expect);
  const auto deadline = Clock::now() + o.timeout;
  Connection c = connect_any(o, deadline);
  if (!c.fd) {
    fmt::print(err, "netecho send: {}\n", c.failure);
    return net::kExitFailure;
  }
  Exchange x;
  if (tcp) {
    x = exchange_stream(c.fd.get(), o, expect == Expect::any ? nullptr : &want, deadline);
  } else {
    x = exchange_datagram(c.fd.get(), o, deadline);
    if (x.failure.empty() && expect != Expect::any) {
      if (x.got.size() != want.size()) {
        x.failure = fmt::format("reply is {} bytes, expected {}", x.got.size(), want.size());
      } else if (auto diff = compare(x.got, want, 0)) {
        x.failure = *diff;
      }
    }
  }
  if (tcp ? x.got.size() == o.payload.size() : x.received) {
    print_reply(x.got, o.output, out);
  }
  if (!x.failure.empty()) {
    fmt::print(err, "netecho send: {}: {}\n", c.address.to_string(), x.failure);
    return net::kExitFailure;
  }
  return 0;
}

}  // namespace netecho::client
