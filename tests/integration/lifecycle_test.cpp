// The server's whole life under a supervisor that stops and starts it: stopped and started
// again at once on the same ports, a hundred times per backend (half of the times under load:
// a connection streaming through the drain, or a client that never reads, cut by a second
// SIGTERM); killed with SIGKILL and started again; and refused at once, naming the holder,
// when a live process has its port.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace netecho::test {
namespace {

using Clock = std::chrono::steady_clock;

class Lifecycle : public BackendTest {
 protected:
  // A server on TCP and UDP 127.0.0.1:port (one number for both), two workers.
  Server start(std::uint16_t port) {
    const std::string where = "127.0.0.1:" + std::to_string(port);
    return Server(serve_args({"--tcp", where, "--udp", where, "--threads", "2"}));
  }

  // The first start: a port below the ephemeral range (so this suite's own client sockets do
  // not take it between starts), free now; another process may take it first, so try again.
  std::pair<Server, std::uint16_t> first_start() {
    for (int attempt = 0;; ++attempt) {
      const std::uint16_t port = pick_free_port();
      try {
        return {start(port), port};
      } catch (const std::exception&) {
        if (attempt == 5) {
          throw;
        }
      }
    }
  }
};

// One UDP round trip and one TCP echo: the server serves, and its backend has requests in
// the kernel on every socket (multishot receives on io_uring).
void check_serves(std::uint16_t port, std::uint64_t seed) {
  Socket udp = Socket::udp("127.0.0.1", port);
  const Bytes datagram = random_bytes(512, seed);
  EXPECT_EQ(udp.udp_roundtrip(datagram), datagram);
  Socket tcp = Socket::tcp("127.0.0.1", port);
  const Bytes data = random_bytes(4096, seed + 1);
  EXPECT_EQ(tcp.echo_exchange(data, {1000}), data);
}

TEST_P(Lifecycle, StopsAndStartsAgainAtOnceAHundredTimes) {
  constexpr int kCycles = 100;
  auto [first, port] = first_start();
  std::optional<Server> server(std::move(first));
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    if (!server) {
      try {
        server.emplace(start(port));  // at once: right after the last one was reaped
      } catch (const std::exception& e) {
        FAIL() << "start " << cycle << " failed: " << e.what();
      }
    }
    check_serves(port, static_cast<std::uint64_t>(cycle) * 4);
    if (cycle % 4 == 3) {
      // Under load, stopped hard: a client that never reads has sent megabytes, so the drain
      // waits for it; a second SIGTERM ends the drain at once.
      Socket stuck = Socket::tcp("127.0.0.1", port);
      const Bytes one = random_bytes(1, static_cast<std::uint64_t>(cycle));
      stuck.send_all(one);
      ASSERT_EQ(stuck.recv_exact(1), one);
      ASSERT_EQ(::fcntl(stuck.fd(), F_SETFL, O_NONBLOCK), 0);
      const Bytes chunk = random_bytes(65536, 5);
      std::size_t queued = 0;
      for (int i = 0; i < 1024; ++i) {  // bounded: a few MiB fill both buffers
        const ssize_t n = ::send(stuck.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
        if (n <= 0) {
          break;
        }
        queued += static_cast<std::size_t>(n);
      }
      ASSERT_GT(queued, 0u);
      ASSERT_EQ(::kill(server->process().pid(), SIGTERM), 0);
      const auto draining = server->process().read_line(10s);
      ASSERT_TRUE(draining && draining->rfind("draining connections=1 ", 0) == 0)
          << (draining ? *draining : "(no line)");
      // Exit 1 if the cut lost echo the server still owed or had not read; 0 if all of it
      // was already in the kernel's buffers on its way to the client (hardening_test.cpp
      // checks which is which). Here what counts is that it ends now, and the next start.
      const int rc = server->process().stop(SIGTERM, 5s);
      EXPECT_TRUE(rc == 0 || rc == 1) << rc << ": " << server->process().stderr_text();
      EXPECT_NE(server->process().stderr_text().find("SIGTERM received again"), std::string::npos);
      server.reset();
      continue;
    }
    Bytes streamed;
    Bytes echoed;
    std::thread client;
    if (cycle % 4 == 1) {
      // Under load: a connection the server has accepted (a byte went round) streams 4 MiB
      // through the signal; the drain must echo every byte before the server exits.
      Socket tcp = Socket::tcp("127.0.0.1", port);
      const Bytes one = random_bytes(1, static_cast<std::uint64_t>(cycle));
      tcp.send_all(one);
      ASSERT_EQ(tcp.recv_exact(1), one);
      streamed = random_bytes(4 << 20, static_cast<std::uint64_t>(cycle) + 7);
      client = std::thread([&streamed, &echoed, sock = std::move(tcp)]() mutable {
        echoed = sock.echo_exchange(streamed, {16384});
      });
    }
    EXPECT_EQ(server->stop(SIGTERM), 0) << server->process().stderr_text();
    if (client.joinable()) {
      client.join();
      EXPECT_TRUE(echoed == streamed) << "echoed " << echoed.size() << " of " << streamed.size();
    }
    server.reset();
  }
}

TEST_P(Lifecycle, StartsWithinTwoSecondsAfterAKill) {
  // A killed process leaves its sockets to the kernel, which on io_uring releases them only
  // after its ring's teardown, moments after the process is gone: the next start waits for
  // that (saying so), never for a live process's port.
  constexpr int kCycles = 10;
  auto [first, port] = first_start();
  std::optional<Server> server(std::move(first));
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    check_serves(port, static_cast<std::uint64_t>(cycle) * 3);
    Socket held = Socket::tcp("127.0.0.1", port);  // a connection open at the kill
    EXPECT_EQ(server->stop(SIGKILL), 128 + SIGKILL);
    server.reset();
    const auto begin = Clock::now();
    try {
      server.emplace(start(port));
    } catch (const std::exception& e) {
      FAIL() << "start after SIGKILL failed: " << e.what();
    }
    const auto took = Clock::now() - begin;
    EXPECT_LT(took, scaled(2s))
        << "stderr: " << server->process().stderr_text();
  }
  check_serves(port, 99);
  EXPECT_EQ(server->stop(SIGTERM), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, Lifecycle, ::testing::ValuesIn(backend_names()),
                         backend_test_name);

// A plain socket of this test process, bound to 127.0.0.1:port.
int bind_plain(int type, std::uint16_t port) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0 ||
      (type == SOCK_STREAM && ::listen(fd, 8) != 0)) {
    throw std::runtime_error("cannot bind the test's own socket");
  }
  return fd;
}

TEST(LifecycleHeldPort, ALiveProcessesPortFailsAtOnceNamingIt) {
  for (const int type : {SOCK_STREAM, SOCK_DGRAM}) {
    const std::uint16_t port = pick_free_port();
    const int fd = bind_plain(type, port);
    const std::string flag = type == SOCK_STREAM ? "--tcp" : "--udp";
    const auto begin = Clock::now();
    const RunResult r = run({netecho_bin(), "serve", flag, "127.0.0.1:" + std::to_string(port)});
    const auto took = Clock::now() - begin;
    ::close(fd);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const std::string expected = "netecho: cannot listen on " + flag.substr(2) + " 127.0.0.1:" +
                                 std::to_string(port) + ": Address already in use (held by ";
    EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("pid " + std::to_string(::getpid()) + ")"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("retrying"), std::string::npos) << r.err;
    EXPECT_LT(took, 1500ms) << "waited for a live process's port";
  }
}

}  // namespace
}  // namespace netecho::test
