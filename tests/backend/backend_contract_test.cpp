// The backend contract (io/backend.hpp), checked against every backend built in, in process,
// over real loopback TCP sockets: what the server and the client tools rely on, whichever
// backend runs. A backend the probe finds unusable here is skipped with the probe's reason.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/backend.hpp"
#include "io/probe.hpp"
#include "net/fd.hpp"
#include "net/socket.hpp"

namespace netecho::io {

// How gtest prints the parameter (found by argument-dependent lookup, so outside the anonymous
// namespace): by name, not as a byte.
void PrintTo(BackendKind kind, std::ostream* os) { *os << to_string(kind); }

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::byte>;

Bytes random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (auto& b : out) {
    b = static_cast<std::byte>(rng() & 0xff);
  }
  return out;
}

// A listening socket on 127.0.0.1 and an ephemeral port.
struct Listener {
  net::Fd fd;
  sockaddr_in addr{};

  Listener() : fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (!fd || ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd.get(), 64) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error(std::string("listener: ") + std::strerror(errno));
    }
  }
};

// A connected pair: `served` (non-blocking, handed to the backend) and `peer` (blocking, the
// test's side).
struct Pair {
  net::Fd served;
  net::Fd peer;
};

Pair connect_pair(const Listener& l) {
  Pair p;
  p.peer.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!p.peer ||
      ::connect(p.peer.get(), reinterpret_cast<const sockaddr*>(&l.addr), sizeof(l.addr)) != 0) {
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
  }
  for (int i = 0; i < 1000 && !p.served; ++i) {
    p.served.reset(::accept4(l.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  }
  if (!p.served) {
    throw std::runtime_error(std::string("accept: ") + std::strerror(errno));
  }
  return p;
}

class FnHandler final : public Handler {
 public:
  std::function<void(const Completion&)> fn;
  void on_completion(const Completion& c) override { fn(c); }
};

// Polls until done() or the deadline; false on timeout.
template <typename Done>
bool poll_until(Backend& b, Handler& h, Done done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  for (int turn = 0; turn < 1'000'000; ++turn) {
    if (done()) {
      return true;
    }
    if (Clock::now() >= deadline) {
      return false;
    }
    b.poll(h, 20ms);
  }
  return done();
}

void write_all(int fd, const Bytes& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
}

class Contract : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    for (const auto& s : probe_backends()) {
      if (s.kind == GetParam() && !s.usable) {
        GTEST_SKIP() << to_string(s.kind) << " cannot run here: " << s.detail;
      }
    }
  }
  std::unique_ptr<Backend> make(const BackendOptions& options = {}) {
    return make_backend(GetParam(), options);
  }
};

TEST_P(Contract, RecvDeliversEveryByteInOrderThenEndOfStream) {
  auto backend = make();
  Listener l;
  Pair p = connect_pair(l);
  const Bytes data = random_bytes(4 << 20, 1);
  Bytes got;
  bool eof = false;
  FnHandler h;
  h.fn = [&](const Completion& c) {
    ASSERT_EQ(c.op, Op::recv);
    ASSERT_EQ(c.token.slot, 7u);
    ASSERT_GE(c.res, 0);
    ASSERT_EQ(c.data.size(), static_cast<std::size_t>(c.res));
    got.insert(got.end(), c.data.begin(), c.data.end());
    eof = c.res == 0;
  };
  backend->recv(p.served.get(), {7, 1});
  std::thread writer([&] {
    write_all(p.peer.get(), data);
    ::shutdown(p.peer.get(), SHUT_WR);
  });
  EXPECT_TRUE(poll_until(*backend, h, [&] { return eof; }));
  writer.join();
  EXPECT_TRUE(got == data) << got.size() << " of " << data.size() << " bytes";
}

TEST_P(Contract, StoppingAndRestartingRecvLosesAndReordersNothing) {
  auto backend = make({.uring_buffers = 4, .uring_buffer_size = 4096});
  Listener l;
  Pair p = connect_pair(l);
  const Bytes data = random_bytes(2 << 20, 2);
  Bytes got;
  bool eof = false;
  bool stopped = false;
  FnHandler h;
  // Every completion stops the recv; the next turn starts it again. Input the backend had
  // already taken when it was stopped still arrives, and in order.
  h.fn = [&](const Completion& c) {
    ASSERT_EQ(c.op, Op::recv);
    ASSERT_GE(c.res, 0);
    got.insert(got.end(), c.data.begin(), c.data.end());
    eof = c.res == 0;
    if (!eof && !stopped) {
      backend->stop_read(p.served.get());
      stopped = true;
    }
  };
  backend->recv(p.served.get(), {1, 1});
  std::thread writer([&] {
    write_all(p.peer.get(), data);
    ::shutdown(p.peer.get(), SHUT_WR);
  });
  const auto deadline = Clock::now() + 20s;
  for (int turn = 0; turn < 1'000'000 && !eof && Clock::now() < deadline; ++turn) {
    backend->poll(h, 20ms);
    if (stopped) {
      stopped = false;
      backend->recv(p.served.get(), {1, 1});
    }
  }
  writer.join();
  EXPECT_TRUE(eof);
  EXPECT_TRUE(got == data) << got.size() << " of " << data.size() << " bytes";
}

TEST_P(Contract, NoCompletionForAForgottenDescriptorReachesItsSuccessor) {
  // Small buffers, so that the first socket's input arrives as several completions in one
  // batch; its handler forgets and closes the socket at the first, and opens a new one that
  // likely gets the same descriptor number. The rest of the batch must stay with the old one.
  auto backend = make({.uring_buffers = 64, .uring_buffer_size = 4096});
  Listener l;
  Pair first = connect_pair(l);
  Pair second;
  write_all(first.peer.get(), random_bytes(64 << 10, 3));
  int first_completions = 0;
  bool forgotten = false;
  Bytes second_got;
  FnHandler h;
  h.fn = [&](const Completion& c) {
    if (c.token.slot == 1) {
      ASSERT_FALSE(forgotten) << "a completion for the forgotten descriptor arrived";
      ++first_completions;
      backend->forget(first.served.get());
      first.served.reset();
      forgotten = true;
      second = connect_pair(l);
      backend->recv(second.served.get(), {2, 1});
      return;
    }
    ASSERT_EQ(c.token.slot, 2u);
    ASSERT_GT(c.res, 0);
    second_got.insert(second_got.end(), c.data.begin(), c.data.end());
  };
  backend->recv(first.served.get(), {1, 1});
  ASSERT_TRUE(poll_until(*backend, h, [&] { return forgotten; }));
  const Bytes hello = random_bytes(5, 4);
  write_all(second.peer.get(), hello);
  EXPECT_TRUE(poll_until(*backend, h, [&] { return second_got.size() >= hello.size(); }));
  EXPECT_TRUE(second_got == hello) << second_got.size() << " bytes";
  EXPECT_EQ(first_completions, 1);
}

TEST_P(Contract, CancelledReceivesGiveTheirBuffersBack) {
  // Two buffers only: if forgetting a socket with input in flight kept a buffer, the ring
  // would soon be empty and the last socket would never receive anything.
  auto backend = make({.uring_buffers = 2, .uring_buffer_size = 4096});
  Listener l;
  FnHandler h;
  Bytes got;
  h.fn = [&](const Completion& c) {
    if (c.token.slot == 2 && c.res > 0) {
      got.insert(got.end(), c.data.begin(), c.data.end());
    }
  };
  const Bytes chunk = random_bytes(16 << 10, 5);
  for (int i = 0; i < 100; ++i) {
    Pair p = connect_pair(l);
    backend->recv(p.served.get(), {1, static_cast<std::uint32_t>(i)});
    write_all(p.peer.get(), chunk);
    backend->poll(h, 0ms);
    backend->forget(p.served.get());
  }
  Pair last = connect_pair(l);
  backend->recv(last.served.get(), {2, 1});
  const Bytes data = random_bytes(256 << 10, 6);
  std::thread writer([&] { write_all(last.peer.get(), data); });
  EXPECT_TRUE(poll_until(*backend, h, [&] { return got.size() >= data.size(); }));
  writer.join();
  EXPECT_TRUE(got == data) << got.size() << " of " << data.size() << " bytes";
}

TEST_P(Contract, SendCompletesWithTheBytesWritten) {
  auto backend = make();
  Listener l;
  Pair p = connect_pair(l);
  const Bytes data = random_bytes(8 << 20, 7);
  std::size_t off = 0;
  bool failed = false;
  FnHandler h;
  h.fn = [&](const Completion& c) {
    ASSERT_EQ(c.op, Op::send);
    if (c.res <= 0) {
      failed = true;
      return;
    }
    off += static_cast<std::size_t>(c.res);
    if (off < data.size()) {
      backend->send(p.served.get(), {3, 1}, std::span(data).subspan(off));
    }
  };
  // try_send may write some now (epoll) or nothing (io_uring); send() does the rest.
  const long now = backend->try_send(p.served.get(), data);
  ASSERT_GE(now, 0);
  off = static_cast<std::size_t>(now);
  backend->send(p.served.get(), {3, 1}, std::span(data).subspan(off));
  Bytes got;
  std::thread reader([&] {
    std::vector<std::byte> buf(65536);
    while (got.size() < data.size()) {
      const ssize_t n = ::recv(p.peer.get(), buf.data(), buf.size(), 0);
      if (n <= 0) {
        return;
      }
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    }
  });
  EXPECT_TRUE(poll_until(
      *backend, h, [&] { return failed || off == data.size(); }, 20s));
  reader.join();
  EXPECT_FALSE(failed);
  EXPECT_TRUE(got == data) << got.size() << " of " << data.size() << " bytes";
}

// Echoes 2 MiB over a new connection: through send_lent() where the backend lends, through a
// copy and send() where it does not (or cannot: too many lent). A lent send must complete
// whole. Returns how many sends were lent.
int echo_lending(Backend& backend, const Listener& l, std::uint32_t slot) {
  Pair p = connect_pair(l);
  const Bytes data = random_bytes(2 << 20, slot);
  Bytes queued;     // echo not yet handed to a send
  Bytes in_flight;  // the copy a non-lent send is writing
  std::size_t lent_in_flight = 0;
  bool sending = false;
  int lent = 0;
  bool failed = false;
  FnHandler h;
  const auto start_send = [&] {
    in_flight.swap(queued);
    queued.clear();
    sending = true;
    backend.send(p.served.get(), {slot, 1}, in_flight);
  };
  h.fn = [&](const Completion& c) {
    if (c.op == Op::recv) {
      EXPECT_GT(c.res, 0);
      if (!sending && backend.send_lent(p.served.get(), {slot, 1}, c, c.data)) {
        ++lent;
        sending = true;
        lent_in_flight = c.data.size();
        return;
      }
      queued.insert(queued.end(), c.data.begin(), c.data.end());
      if (!sending) {
        start_send();
      }
      return;
    }
    if (c.op != Op::send || c.res < 0) {
      failed = true;
      return;
    }
    if (lent_in_flight != 0) {
      EXPECT_EQ(static_cast<std::size_t>(c.res), lent_in_flight) << "a lent send ended short";
      lent_in_flight = 0;
    } else {
      in_flight.erase(in_flight.begin(), in_flight.begin() + c.res);
      if (!in_flight.empty()) {
        backend.send(p.served.get(), {slot, 1}, in_flight);
        return;
      }
    }
    sending = false;
    if (!queued.empty()) {
      start_send();
    }
  };
  backend.recv(p.served.get(), {slot, 1});
  std::thread writer([&] { write_all(p.peer.get(), data); });
  Bytes got;
  std::thread reader([&] {
    std::vector<std::byte> buf(65536);
    while (got.size() < data.size()) {
      const ssize_t n = ::recv(p.peer.get(), buf.data(), buf.size(), 0);
      if (n <= 0) {
        return;
      }
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    }
  });
  const bool echoed = poll_until(
      backend, h, [&] { return failed || got.size() == data.size(); }, 30s);
  writer.join();
  if (!echoed) {
    ::shutdown(p.peer.get(), SHUT_RDWR);  // ends the reader
  }
  reader.join();
  EXPECT_TRUE(echoed);
  EXPECT_FALSE(failed);
  EXPECT_TRUE(got == data) << got.size() << " of " << data.size() << " bytes";
  backend.forget(p.served.get());
  return lent;
}

// Lends a receive buffer to a send that cannot finish (the path to the client is full), then
// forgets the connection while that send is still in the kernel.
void strand_lent_send(Backend& backend, const Listener& l, std::uint32_t slot, bool lends) {
  Pair p = connect_pair(l);
  // Fixed, small buffers (no autotuning), then filled: no room is left for another byte.
  const int small = 4096;
  ::setsockopt(p.served.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  ::setsockopt(p.peer.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  const Bytes junk(1 << 20);
  std::size_t filled = 0;
  for (int i = 0; i < 100'000; ++i) {
    const ssize_t n = ::send(p.served.get(), junk.data(), junk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) {
      break;
    }
    filled += static_cast<std::size_t>(n);
  }
  ASSERT_GT(filled, 0u);
  bool handled = false;
  FnHandler h;
  h.fn = [&](const Completion& c) {
    if (c.op == Op::recv && c.res > 0 && !handled) {
      handled = true;
      EXPECT_EQ(backend.send_lent(p.served.get(), {slot, 1}, c, c.data), lends);
      backend.stop_read(p.served.get());
    }
  };
  backend.recv(p.served.get(), {slot, 1});
  write_all(p.peer.get(), random_bytes(1000, slot));
  ASSERT_TRUE(poll_until(backend, h, [&] { return handled; }));
  backend.poll(h, 0ms);  // the send reaches the kernel, where it waits for room
  backend.forget(p.served.get());
}

TEST_P(Contract, LentSendsCompleteWholeAndGiveTheirBuffersBack) {
  // 4 buffers, so at most 2 lent at once. Two lent sends stranded by forgotten connections
  // must give their buffers back once cancelled, or nothing could be lent again.
  auto backend = make({.uring_buffers = 4, .uring_buffer_size = 4096});
  Listener l;
  const int lent_before = echo_lending(*backend, l, 1);
  const bool lends = GetParam() == BackendKind::io_uring;
  strand_lent_send(*backend, l, 2, lends);
  strand_lent_send(*backend, l, 3, lends);
  FnHandler h;
  h.fn = [](const Completion&) {};
  backend->poll(h, 0ms);  // the cancellations reach the kernel
  backend->poll(h, 0ms);
  const int lent_after = echo_lending(*backend, l, 4);
  if (GetParam() == BackendKind::io_uring) {
    EXPECT_GT(lent_before, 0) << "io_uring never lent a buffer";
    EXPECT_GT(lent_after, 0) << "the stranded sends kept their buffers";
  } else {
    EXPECT_EQ(lent_before + lent_after, 0);
  }
}

TEST_P(Contract, AcceptIsMultishotAndConnectCompletes) {
  auto backend = make();
  Listener l;
  std::vector<net::Fd> accepted;
  std::vector<net::Fd> clients;
  int connected = 0;
  int refused = 0;
  FnHandler h;
  h.fn = [&](const Completion& c) {
    if (c.op == Op::accept) {
      ASSERT_GE(c.res, 0);
      accepted.emplace_back(c.res);
    } else if (c.op == Op::connect) {
      if (c.res == 0) {
        ++connected;
      } else {
        EXPECT_EQ(c.res, -ECONNREFUSED) << "token " << c.token.slot;
        ++refused;
      }
    }
  };
  backend->accept(l.fd.get(), {0, 0});
  for (std::uint32_t i = 0; i < 5; ++i) {
    net::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&l.addr), sizeof(l.addr));
    ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);
    backend->connect(fd.get(), {10 + i, 0});
    clients.push_back(std::move(fd));
  }
  EXPECT_TRUE(poll_until(*backend, h, [&] { return accepted.size() == 5 && connected == 5; }));
  // A port nobody listens on: the listener's, once it is closed (and shut down, as the
  // server does with a listener of its own, since a request in the kernel may outlive close).
  backend->forget(l.fd.get());
  net::stop_listening(l.fd.get());
  const sockaddr_in closed = l.addr;
  l.fd.reset();
  net::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&closed), sizeof(closed));
  if (rc != 0 && errno == EINPROGRESS) {
    backend->connect(fd.get(), {20, 0});
    EXPECT_TRUE(poll_until(*backend, h, [&] { return refused == 1; }));
  } else {
    EXPECT_EQ(errno, ECONNREFUSED);  // refused at once, as loopback may do
  }
}

TEST_P(Contract, WakeFromAnotherThreadEndsAPollWithoutTimeout) {
  auto backend = make();
  FnHandler h;
  h.fn = [](const Completion&) {};
  backend->poll(h, 0ms);  // a first turn (io_uring enables its ring here)
  // Without a timeout, only wake() can end this poll; a wake that comes first counts too.
  const auto start = Clock::now();
  std::thread waker([&] { backend->wake(); });
  backend->poll(h, std::chrono::nanoseconds(-1));
  waker.join();
  EXPECT_LT(Clock::now() - start, 10s);
}

// A UDP socket bound to 127.0.0.1 and an ephemeral port; blocking unless told otherwise.
net::Fd udp_socket(sockaddr_in& addr, bool nonblocking) {
  net::Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
  addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (!fd || ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error(std::string("udp socket: ") + std::strerror(errno));
  }
  return fd;
}

TEST_P(Contract, RecvFromDeliversEachDatagramWithItsSourceAndSendToAnswersIt) {
  auto backend = make();
  sockaddr_in served_addr{};
  sockaddr_in peer_addr{};
  net::Fd served = udp_socket(served_addr, true);
  net::Fd peer = udp_socket(peer_addr, false);
  const timeval tv{10, 0};
  ::setsockopt(peer.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  constexpr int kDatagrams = 20;
  std::vector<Bytes> got;
  FnHandler h;
  h.fn = [&](const Completion& c) {
    ASSERT_EQ(c.op, Op::recv_from);
    ASSERT_EQ(c.token.slot, 3u);
    ASSERT_GE(c.res, 0);
    ASSERT_NE(c.datagram, nullptr);
    EXPECT_EQ(c.datagram->peer.port(), ntohs(peer_addr.sin_port));
    EXPECT_FALSE(c.datagram->truncated);
    got.emplace_back(c.data.begin(), c.data.end());
    // The reply goes back to the datagram's source, at once.
    EXPECT_EQ(backend->send_to(served.get(), c.data, *c.datagram),
              static_cast<long>(c.data.size()));
  };
  backend->recv_from(served.get(), {3, 0});
  for (int i = 0; i < kDatagrams; ++i) {
    const Bytes d = random_bytes(1 + static_cast<std::size_t>(i) * 97, 100 + i);
    ASSERT_EQ(::sendto(peer.get(), d.data(), d.size(), 0,
                       reinterpret_cast<const sockaddr*>(&served_addr), sizeof(served_addr)),
              static_cast<ssize_t>(d.size()));
  }
  EXPECT_TRUE(poll_until(*backend, h, [&] { return got.size() == kDatagrams; }));
  for (int i = 0; i < kDatagrams; ++i) {
    const Bytes want = random_bytes(1 + static_cast<std::size_t>(i) * 97, 100 + i);
    ASSERT_LT(static_cast<std::size_t>(i), got.size());
    EXPECT_TRUE(got[static_cast<std::size_t>(i)] == want) << "datagram " << i;
    Bytes reply(want.size() + 1);
    EXPECT_EQ(::recv(peer.get(), reply.data(), reply.size(), 0), static_cast<ssize_t>(want.size()));
    reply.resize(want.size());
    EXPECT_TRUE(reply == want) << "reply " << i;
  }
  backend->forget(served.get());
}

// watch() completes once, when the descriptor reports what was asked, and not before; level-
// triggered readiness that stays does not make it complete again until it is asked again.
TEST_P(Contract, WatchCompletesOnceWhenTheDescriptorTurnsReadable) {
  auto backend = make();
  int ends[2];
  ASSERT_EQ(::pipe2(ends, O_NONBLOCK | O_CLOEXEC), 0);
  net::Fd read_end(ends[0]);
  net::Fd write_end(ends[1]);
  std::vector<Completion> got;
  FnHandler h;
  h.fn = [&](const Completion& c) { got.push_back(c); };
  backend->watch(read_end.get(), {7, 1}, POLLIN);
  for (int i = 0; i < 3; ++i) {
    backend->poll(h, 5ms);
  }
  EXPECT_TRUE(got.empty()) << "completed before the pipe was readable";
  ASSERT_EQ(::write(write_end.get(), "x", 1), 1);
  ASSERT_TRUE(poll_until(*backend, h, [&] { return !got.empty(); }));
  EXPECT_EQ(got[0].op, Op::ready);
  EXPECT_EQ(got[0].token.slot, 7u);
  EXPECT_EQ(got[0].token.gen, 1u);
  EXPECT_NE(got[0].res & POLLIN, 0) << got[0].res;
  for (int i = 0; i < 3; ++i) {
    backend->poll(h, 5ms);  // still readable, but not asked again
  }
  EXPECT_EQ(got.size(), 1u);
  backend->watch(read_end.get(), {7, 2}, POLLIN);
  ASSERT_TRUE(poll_until(*backend, h, [&] { return got.size() == 2; }));
  EXPECT_EQ(got[1].token.gen, 2u);
  backend->forget(read_end.get());
}

// A UDP socket with its error queue on (IP_RECVERR), as ping uses it: an ICMP error for a
// datagram it sent completes a watch for POLLERR, the queue then holds the error with the
// datagram it quotes, and the multishot receive beside it goes on receiving.
TEST_P(Contract, WatchReportsTheErrorQueueBesideAReceive) {
  auto backend = make();
  sockaddr_in served_addr{};
  sockaddr_in peer_addr{};
  sockaddr_in closed_addr{};
  net::Fd served = udp_socket(served_addr, true);
  net::Fd peer = udp_socket(peer_addr, false);
  udp_socket(closed_addr, false).reset();  // a port nobody listens on now
  ASSERT_FALSE(net::enable_error_queue(served.get(), AF_INET));
  int ready = 0;
  int refused = 0;
  std::vector<Bytes> received;
  FnHandler h;
  h.fn = [&](const Completion& c) {
    if (c.op == Op::ready) {
      EXPECT_EQ(c.token.slot, 3u);
      EXPECT_NE(c.res & POLLERR, 0) << c.res;
      ++ready;
      Bytes quoted(64);
      for (auto q = net::receive_queued_error(served.get(), quoted); q;
           q = net::receive_queued_error(served.get(), quoted)) {
        EXPECT_EQ(q->error, std::errc::connection_refused);
        ++refused;
      }
      return;
    }
    ASSERT_EQ(c.op, Op::recv_from);
    if (c.res == -ECONNREFUSED) {
      return;  // the socket's pending error, which the error queue reports too
    }
    ASSERT_GE(c.res, 0);
    received.emplace_back(c.data.begin(), c.data.end());
  };
  backend->recv_from(served.get(), {3, 0});
  for (int round = 1; round <= 2; ++round) {
    backend->watch(served.get(), {3, 0}, POLLERR);
    const Bytes probe = random_bytes(32, 7);
    ASSERT_EQ(::sendto(served.get(), probe.data(), probe.size(), 0,
                       reinterpret_cast<const sockaddr*>(&closed_addr), sizeof(closed_addr)),
              32);
    ASSERT_TRUE(poll_until(*backend, h, [&] { return ready == round && refused == round; }))
        << "round " << round << ": ready " << ready << ", refused " << refused;
    const Bytes d = random_bytes(16, 100 + static_cast<std::uint64_t>(round));
    ASSERT_EQ(::sendto(peer.get(), d.data(), d.size(), 0,
                       reinterpret_cast<const sockaddr*>(&served_addr), sizeof(served_addr)),
              16);
    ASSERT_TRUE(poll_until(*backend, h, [&] { return received.size() == static_cast<std::size_t>(round); }));
    EXPECT_TRUE(received.back() == d);
  }
  EXPECT_EQ(ready, 2);
  backend->forget(served.get());
}

// An operation the backend cannot set up (here: a receive on a file that is no socket, which
// epoll refuses to watch and io_uring to receive from) completes with an error, so that its
// owner can close the connection instead of waiting for it until an idle timeout.
TEST_P(Contract, AnOperationThatCannotStartCompletesWithAnError) {
  auto backend = make();
  FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  const int fd = ::fileno(file);
  int res = 1;
  FnHandler h;
  h.fn = [&](const Completion& c) {
    EXPECT_EQ(c.op, Op::recv);
    EXPECT_EQ(c.token.slot, 5u);
    res = c.res;
  };
  backend->recv(fd, {5, 2});
  EXPECT_TRUE(poll_until(*backend, h, [&] { return res <= 0; }));
  EXPECT_LT(res, 0);
  backend->forget(fd);
  std::fclose(file);
}

// Out of descriptors: accept completes with -EMFILE and stops (no spinning on a listener that
// stays readable); armed again once descriptors are free, it takes the waiting connection.
TEST_P(Contract, AcceptOutOfDescriptorsFailsOnceAndStops) {
  auto backend = make();
  Listener l;
  std::vector<int> results;
  FnHandler h;
  h.fn = [&](const Completion& c) {
    EXPECT_EQ(c.op, Op::accept);
    results.push_back(c.res);
    if (c.res >= 0) {
      ::close(c.res);
    }
  };
  // A first connection accepted as usual, before the limit is lowered: whatever the backend
  // (or a sanitizer's runtime, on its first check of a call) opens lazily, it opens now.
  backend->accept(l.fd.get(), {0, 0});
  net::Fd first(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(first.get(), reinterpret_cast<const sockaddr*>(&l.addr), sizeof(l.addr)), 0);
  ASSERT_TRUE(poll_until(*backend, h, [&] { return results.size() == 1; }));
  ASSERT_GE(results[0], 0);
  // Stopped, and armed again under the lower limit below. (An io_uring accept armed before the
  // limit was lowered was seen to go on accepting past it: the kernel's business, not ours.)
  backend->stop_read(l.fd.get());
  for (int i = 0; i < 3; ++i) {
    backend->poll(h, 0ms);
  }
  net::Fd second(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(second);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Every descriptor below the lowest free one is in use: a limit there refuses the next.
  const int lowest_free = ::dup(0);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  backend->accept(l.fd.get(), {0, 0});
  const int rc =
      ::connect(second.get(), reinterpret_cast<const sockaddr*>(&l.addr), sizeof(l.addr));
  const bool failed = rc == 0 && poll_until(*backend, h, [&] { return results.size() == 2; });
  // More turns: a stopped accept delivers nothing more while the connection still waits.
  for (int i = 0; i < 5; ++i) {
    backend->poll(h, 10ms);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_EQ(rc, 0) << std::strerror(errno);
  ASSERT_TRUE(failed);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1], -EMFILE);
  backend->accept(l.fd.get(), {0, 0});
  EXPECT_TRUE(poll_until(*backend, h, [&] { return results.size() == 3; }));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_GE(results[2], 0);
  backend->forget(l.fd.get());
}

std::string kind_name(const ::testing::TestParamInfo<BackendKind>& info) {
  return std::string(to_string(info.param));
}

INSTANTIATE_TEST_SUITE_P(Backends, Contract,
                         ::testing::Values(BackendKind::epoll, BackendKind::io_uring), kind_name);

}  // namespace
}  // namespace netecho::io
