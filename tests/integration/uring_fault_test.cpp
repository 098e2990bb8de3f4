// Faults aimed at what the io_uring backend adds (a shared receive buffer ring, completions
// that outlive their connection), run on every backend: what holds for io_uring must hold for
// epoll too.
//
// - Buffer exhaustion: a ring of 8 receive buffers shared by 80 busy connections, most of which
//   never read. The kernel runs out of buffers again and again (the server's log counts it);
//   the clients that do read are served all along, and once the stalled ones read too, every
//   byte comes back exactly.
// - Churn: 1,000 connections opened and closed (normally, with a reset, mid-send) while
//   long-lived clients echo unique patterns: a completion meant for a closed connection whose
//   descriptor was reused would show up as foreign or missing bytes.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace netecho::test {
namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// One client of a poll loop: writes payload (when writing), reads the echo (when reading),
// half-closes after its last byte and is done at EOF or on an error.
struct StreamClient {
  int fd = -1;
  Bytes payload;
  std::size_t sent = 0;
  Bytes got;
  bool reading = true;
  bool shut = false;
  bool done = false;
  std::string error;
};

int connect_nonblocking(std::uint16_t port, int buffer_size) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  if (buffer_size > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_size, sizeof(buffer_size));
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_size, sizeof(buffer_size));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Drives every client one step per poll round until finished() says so or the deadline
// passes. Returns whether finished() became true.
template <typename Finished>
bool pump(std::vector<StreamClient>& clients, Clock::time_point deadline, Finished finished) {
  std::vector<pollfd> fds;
  std::vector<std::size_t> index;
  std::vector<std::byte> buf(65536);
  constexpr std::size_t kChunk = 16384;
  for (int round = 0; round < 10'000'000; ++round) {
    if (finished()) {
      return true;
    }
    if (Clock::now() >= deadline) {
      return false;
    }
    fds.clear();
    index.clear();
    for (std::size_t i = 0; i < clients.size(); ++i) {
      StreamClient& c = clients[i];
      if (c.done) {
        continue;
      }
      short events = 0;
      if (c.reading) {
        events |= POLLIN;
      }
      if (!c.shut) {
        events |= POLLOUT;
      }
      if (events != 0) {
        fds.push_back({c.fd, events, 0});
        index.push_back(i);
      }
    }
    if (fds.empty() || ::poll(fds.data(), fds.size(), std::min(ms_left(deadline), 100)) <= 0) {
      continue;  // nothing to wait for, or a bounded wait ended: check finished() again
    }
    for (std::size_t k = 0; k < fds.size(); ++k) {
      StreamClient& c = clients[index[k]];
      const short rev = fds[k].revents;
      if ((rev & POLLOUT) != 0 && !c.shut) {
        const std::size_t n = std::min(kChunk, c.payload.size() - c.sent);
        const ssize_t w = n == 0 ? 0 : ::send(c.fd, c.payload.data() + c.sent, n, MSG_NOSIGNAL);
        if (w > 0) {
          c.sent += static_cast<std::size_t>(w);
        } else if (w < 0 && errno != EAGAIN) {
          c.error = std::string("send: ") + std::strerror(errno);
          c.done = true;
          continue;
        }
        if (c.sent == c.payload.size() && c.reading) {
          ::shutdown(c.fd, SHUT_WR);  // stalled clients keep their FIN until they read
          c.shut = true;
        }
      }
      if (c.reading && (rev & (POLLIN | POLLHUP | POLLERR)) != 0) {
        const ssize_t r = ::recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (r > 0) {
          c.got.insert(c.got.end(), buf.begin(), buf.begin() + r);
        } else if (r == 0) {
          c.done = true;
        } else if (errno != EAGAIN) {
          c.error = std::string("recv: ") + std::strerror(errno);
          c.done = true;
        }
      }
    }
  }
  return finished();
}

void close_all(std::vector<StreamClient>& clients) {
  for (auto& c : clients) {
    if (c.fd >= 0) {
      ::close(c.fd);
      c.fd = -1;
    }
  }
}

class UringFault : public BackendTest {
 protected:
  void exhaust_buffers(const char* count);
  void burst_then_idle(const std::vector<std::string>& args);
};

TEST_P(UringFault, ExhaustedReceiveBuffersLoseNoByteAndStarveNoClient) {
  // 80 connections that all send at once, against 8 small buffers (all published from the
  // start) and against 64 (32 published at first: the ring runs dry before it may grow).
  for (const char* count : {"8", "64"}) {
    SCOPED_TRACE(std::string("--uring-buffers ") + count);
    exhaust_buffers(count);
    if (HasFatalFailure()) {
      return;
    }
  }
}

void UringFault::exhaust_buffers(const char* count) {
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--threads", "1", "--uring-buffers", count}));
  const std::uint16_t port = server.port("tcp");
  constexpr std::size_t kStalled = 64;
  constexpr std::size_t kActive = 16;
  std::vector<StreamClient> stalled(kStalled);
  std::vector<StreamClient> active(kActive);
  for (std::size_t i = 0; i < kStalled; ++i) {
    // Small socket buffers, so that a client that does not read soon blocks the server's send.
    stalled[i].fd = connect_nonblocking(port, 65536);
    ASSERT_GE(stalled[i].fd, 0) << std::strerror(errno);
    stalled[i].payload = random_bytes(1 << 20, 1000 + i);
    stalled[i].reading = false;
  }
  for (std::size_t i = 0; i < kActive; ++i) {
    active[i].fd = connect_nonblocking(port, 0);
    ASSERT_GE(active[i].fd, 0) << std::strerror(errno);
    active[i].payload = random_bytes(256 << 10, 2000 + i);
  }
  std::vector<StreamClient> all;
  all.reserve(kStalled + kActive);
  for (auto& c : stalled) {
    all.push_back(std::move(c));
  }
  for (auto& c : active) {
    all.push_back(std::move(c));
  }
  const auto active_done = [&all] {
    for (std::size_t i = kStalled; i < all.size(); ++i) {
      if (!all[i].done) {
        return false;
      }
    }
    return true;
  };
  // Phase 1: the stalled clients push what they can and never read; the others must finish.
  const bool served = pump(all, Clock::now() + 60s, active_done);
  EXPECT_TRUE(served) << "the reading clients were not served while others stalled";
  for (std::size_t i = kStalled; i < all.size(); ++i) {
    EXPECT_EQ(all[i].error, "") << "active client " << i - kStalled;
    EXPECT_TRUE(all[i].got == all[i].payload)
        << "active client " << i - kStalled << ": " << all[i].got.size() << " of "
        << all[i].payload.size() << " bytes back";
  }
  // Phase 2: the stalled clients read at last; every byte they sent must come back.
  for (std::size_t i = 0; i < kStalled; ++i) {
    all[i].reading = true;
  }
  const auto all_done = [&all] {
    for (const auto& c : all) {
      if (!c.done) {
        return false;
      }
    }
    return true;
  };
  EXPECT_TRUE(pump(all, Clock::now() + 120s, all_done)) << "the stalled clients never finished";
  for (std::size_t i = 0; i < kStalled; ++i) {
    EXPECT_EQ(all[i].error, "") << "stalled client " << i;
    EXPECT_TRUE(all[i].got == all[i].payload) << "stalled client " << i << ": " << all[i].got.size()
                                              << " of " << all[i].payload.size() << " bytes back";
  }
  close_all(all);
  EXPECT_EQ(server.stop(), 0);
  const std::string log = server.process().stderr_text();
  if (backend() == "io_uring") {
    // Proof that the scenario happened: the backend counts the times the ring ran dry, and the
    // exit summary adds them up over the workers.
    static const std::regex kRanOut(R"(io_uring receive buffers buffer_exhaustions=(\d+) rearms=\d+)");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(log, m, kRanOut)) << "the buffer ring never ran out:\n" << log;
    EXPECT_GT(std::stoul(m[1]), 0u);
  }
}

// Long-lived clients: each echoes chunks of its own pattern until told to stop, and checks
// every byte that comes back.
struct Echoer {
  Echoer(std::atomic<bool>& stop_flag, std::uint16_t server_port, std::uint64_t pattern_seed)
      : stop(stop_flag), port(server_port), seed(pattern_seed) {}

  std::atomic<bool>& stop;
  std::uint16_t port;
  std::uint64_t seed;
  std::atomic<int> rounds{0};
  std::string failure;

  void run() {
    try {
      Socket sock = Socket::tcp("127.0.0.1", port);
      for (int i = 0; i < 1'000'000 && !stop.load(); ++i) {
        const Bytes chunk = random_bytes(1 + (seed * 7919 + static_cast<std::uint64_t>(i)) % 8192,
                                         seed * 1'000'003 + static_cast<std::uint64_t>(i));
        sock.send_all(chunk);
        const Bytes back = sock.recv_exact(chunk.size());
        if (back != chunk) {
          failure = "round " + std::to_string(i) + ": " + std::to_string(back.size()) + " of " +
                    std::to_string(chunk.size()) + " bytes back, or different bytes";
          return;
        }
        rounds.fetch_add(1);
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
};

TEST_P(UringFault, ThousandConnectionsChurningNeverTouchAnotherConnection) {
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--threads", "2"}));
  const std::uint16_t port = server.port("tcp");
  std::atomic<bool> stop{false};
  constexpr int kEchoers = 8;
  std::vector<std::unique_ptr<Echoer>> echoers;
  std::vector<std::thread> threads;
  for (int i = 0; i < kEchoers; ++i) {
    echoers.push_back(std::make_unique<Echoer>(stop, port, 77u + static_cast<unsigned>(i)));
  }
  for (auto& e : echoers) {
    threads.emplace_back([&e] { e->run(); });
  }
  const Bytes big = random_bytes(128 << 10, 5);
  int echoed = 0;
  for (int i = 0; i < 1000; ++i) {
    Socket sock = Socket::tcp("127.0.0.1", port);
    const Bytes msg = random_bytes(100, 10'000 + static_cast<std::uint64_t>(i));
    switch (i % 4) {
      case 0: {  // a normal exchange: its own bytes back, then EOF after the FIN
        sock.send_all(msg);
        sock.shutdown_write();
        const Bytes back = sock.recv_to_eof(10s);
        EXPECT_TRUE(back == msg) << "churn connection " << i << ": " << back.size() << " bytes";
        echoed += back == msg ? 1 : 0;
        break;
      }
      case 1:  // data, then a reset while the server may be reading or answering
        sock.send_all(msg);
        sock.reset();
        break;
      case 2:  // no data at all
        break;
      case 3:  // more than the server will hold, unread, then a reset mid-send
        ::send(sock.fd(), big.data(), big.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        sock.reset();
        break;
    }
  }
  stop.store(true);
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(echoed, 250);
  for (int i = 0; i < kEchoers; ++i) {
    EXPECT_EQ(echoers[static_cast<std::size_t>(i)]->failure, "") << "echoer " << i;
    EXPECT_GT(echoers[static_cast<std::size_t>(i)]->rounds.load(), 0) << "echoer " << i;
  }
  // The server is still whole: a fresh echo check, then a clean stop.
  auto sock = Socket::tcp("127.0.0.1", port);
  const Bytes data = random_bytes(1 << 20, 9);
  EXPECT_TRUE(sock.echo_exchange(data, {1460, 65536, 7}) == data);
  EXPECT_EQ(server.stop(), 0);
  const std::string log = server.process().stderr_text();
  EXPECT_EQ(log.find("worker failed"), std::string::npos) << log;
}

TEST_P(UringFault, BurstOfReceivesThenIdleGivesBufferMemoryBack) {
  // 1,000 connections each send a byte while the server is stopped, so its first turn after
  // SIGCONT receives from all of them at once and needs a receive buffer for each. Once idle,
  // an io_uring worker hands those pages back (epoll has no buffer pool: there the test checks
  // only that every byte comes back, before and after). Twice: without timers, and with an
  // idle sweep that wakes the loop every second (--idle-timeout 8s), which must not keep the
  // worker from counting as idle.
  for (const bool sweeping : {false, true}) {
    SCOPED_TRACE(sweeping ? "with --idle-timeout 8s" : "without timers");
    std::vector<std::string> args{"--tcp", "127.0.0.1:0", "--threads", "1"};
    if (sweeping) {
      args.insert(args.end(), {"--idle-timeout", "8s"});
    }
    burst_then_idle(serve_args(args));
    if (HasFatalFailure()) {
      return;
    }
  }
}

void UringFault::burst_then_idle(const std::vector<std::string>& args) {
  Server server(args);
  const std::uint16_t port = server.port("tcp");
  const pid_t pid = server.process().pid();
  constexpr int kClients = 1000;
  std::vector<Socket> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(Socket::tcp("127.0.0.1", port));
  }
  // Every connection served once first: accepted, and its receive armed.
  for (auto& c : clients) {
    c.send_all(to_bytes("hi"));
    ASSERT_EQ(c.recv_exact(2, 10s), to_bytes("hi"));
  }
  const long before_burst = server.process().rss_kib();
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  for (int i = 0; i < kClients; ++i) {
    const Bytes b{static_cast<std::byte>(i & 0xff)};
    clients[static_cast<std::size_t>(i)].send_all(b);
  }
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  for (int i = 0; i < kClients; ++i) {
    const Bytes b{static_cast<std::byte>(i & 0xff)};
    ASSERT_EQ(clients[static_cast<std::size_t>(i)].recv_exact(1, 10s), b) << "client " << i;
  }
  const long after_burst = server.process().rss_kib();
  // Not in sanitizer builds: their own memory (quarantine, shadow) moves RSS.
  if (backend() == "io_uring" && !kSanitizedBuild) {
    // The burst made receive buffers resident (how many depends on how the kernel's receives
    // met the lazily published ring: 384 KiB and more here); once the worker has been idle for
    // 1 s it gives them all back. Wait for that (RSS read every 50 ms), at most 5 s.
    EXPECT_GE(after_burst - before_burst, 128)
        << "the burst filled too few buffers: RSS KiB " << before_burst << " -> " << after_burst;
    const auto deadline = Clock::now() + 5s;
    long now_kib = server.process().rss_kib();
    while (now_kib > before_burst + 64 && Clock::now() < deadline) {
      ASSERT_TRUE(!server.process().exits_within(50ms)) << server.process().stderr_text();
      now_kib = server.process().rss_kib();
    }
    EXPECT_LE(now_kib, before_burst + 64) << "RSS KiB before the burst " << before_burst
                                          << ", after it " << after_burst << ", 5 s later "
                                          << now_kib;
  }
  // The pages given back are filled again as needed: everything still echoes exactly.
  for (int i = 0; i < kClients; i += 7) {
    const Bytes data = random_bytes(3000, 900 + static_cast<std::uint64_t>(i));
    auto& c = clients[static_cast<std::size_t>(i)];
    c.send_all(data);
    ASSERT_EQ(c.recv_exact(data.size(), 10s), data) << "client " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, UringFault, ::testing::ValuesIn(backend_names()),
                         backend_test_name);

}  // namespace
}  // namespace netecho::test
