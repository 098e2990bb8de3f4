// netecho serve against real sockets: exact echo, half-close, concurrency, backpressure,
// resets, signals, threads, UDP modes, --once, IPv6.
//
// Every test starts its server through ServeTest::start_server(), which appends
// "--backend NAME": the suite runs once per backend the binary has (backend_names(), from
// `netecho serve --list-backends`), with the backend in each test's name
// (Backends/ServeTest.X/epoll, .../io_uring). A backend the probe cannot run here is reported
// as skipped, with the probe's reason, never as passed.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "harness.hpp"

namespace netecho::test {
namespace {

using Clock = std::chrono::steady_clock;

class ServeTest : public BackendTest {
 protected:
  // Starts `netecho serve ARGS... --backend NAME` and waits for its "ready" line, which must
  // name the backend asked for.
  static Server start_server(std::vector<std::string> args) {
    args.push_back("--backend");
    args.push_back(GetParam());
    Server server(args);
    EXPECT_EQ(server.ready_line().rfind("ready backend=" + GetParam() + " ", 0), 0u)
        << server.ready_line();
    return server;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, ServeTest, ::testing::ValuesIn(backend_names()),
                         backend_test_name);

int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

Bytes reversed(Bytes b) {
  std::reverse(b.begin(), b.end());
  return b;
}

// Payloads of random sizes in [min_size, max_size], each with its own random content.
std::vector<Bytes> distinct_payloads(std::size_t count, std::size_t min_size, std::size_t max_size,
                                     std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> size(min_size, max_size);
  std::vector<Bytes> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(random_bytes(size(rng), seed * 100'003 + i));
  }
  return out;
}

// One echo check per payload, all at the same time over non-blocking sockets multiplexed
// with poll(): each client writes its payload in chunks of up to 16 KiB while reading, half-
// closes after its last byte and reads to EOF. Returns what each client received (a client
// whose connection failed keeps what it had).
std::vector<Bytes> concurrent_echo(std::uint16_t port, const std::vector<Bytes>& payloads,
                                   std::chrono::milliseconds timeout = 60s) {
  struct Client {
    int fd = -1;
    std::size_t sent = 0;
    bool shut = false;
    bool done = false;
  };
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<Client> clients(payloads.size());
  std::vector<Bytes> got(payloads.size());
  for (auto& c : clients) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0 || (::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 &&
                     errno != EINPROGRESS)) {
      ADD_FAILURE() << "socket/connect: " << std::strerror(errno);
      c.done = true;
    }
  }
  const auto deadline = Clock::now() + timeout;
  std::vector<std::byte> buf(65536);
  std::vector<pollfd> fds;
  std::vector<std::size_t> index;
  constexpr std::size_t kChunk = 16384;
  for (int round = 0; round < 1'000'000 && Clock::now() < deadline; ++round) {
    fds.clear();
    index.clear();
    for (std::size_t i = 0; i < clients.size(); ++i) {
      if (!clients[i].done) {
        const short events = static_cast<short>(POLLIN | (clients[i].shut ? 0 : POLLOUT));
        fds.push_back({clients[i].fd, events, 0});
        index.push_back(i);
      }
    }
    if (fds.empty() || ::poll(fds.data(), fds.size(), ms_left(deadline)) <= 0) {
      break;
    }
    for (std::size_t k = 0; k < fds.size(); ++k) {
      Client& c = clients[index[k]];
      const Bytes& data = payloads[index[k]];
      if ((fds[k].revents & POLLOUT) != 0 && !c.shut) {
        const std::size_t want = std::min(kChunk, data.size() - c.sent);
        const ssize_t n = ::send(c.fd, data.data() + c.sent, want, MSG_NOSIGNAL);
        if (n > 0) {
          c.sent += static_cast<std::size_t>(n);
        }
        if (c.sent == data.size()) {
          ::shutdown(c.fd, SHUT_WR);
          c.shut = true;
        }
      }
      if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        const ssize_t n = ::recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n > 0) {
          got[index[k]].insert(got[index[k]].end(), buf.begin(), buf.begin() + n);
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          c.done = true;
        }
      }
    }
  }
  for (auto& c : clients) {
    if (c.fd >= 0) {
      ::close(c.fd);
    }
  }
  return got;
}

// Expects every client's reply to equal its payload; reports the first few that do not.
void expect_all_exact(const std::vector<Bytes>& payloads, const std::vector<Bytes>& got) {
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    if (got[i] != payloads[i]) {
      if (++wrong <= 5) {
        ADD_FAILURE() << "client " << i << ": sent " << payloads[i].size() << " bytes, got "
                      << got[i].size()
                      << (got[i].size() == payloads[i].size() ? " (differing)" : "");
      }
    }
  }
  EXPECT_EQ(wrong, 0u) << "of " << payloads.size() << " clients";
}

// CPU time (ns, from /proc/PID/task/TID/schedstat) of each thread of pid except the main one
// and io_uring's kernel workers (iou-*), by thread id. Empty where schedstat is not available.
std::map<int, long long> worker_cpu_ns(pid_t pid) {
  std::map<int, long long> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return out;
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name == std::to_string(pid)) {
      continue;
    }
    std::ifstream comm(dir + "/" + name + "/comm");
    std::string c;
    std::getline(comm, c);
    if (c.rfind("iou-", 0) == 0) {
      continue;
    }
    std::ifstream schedstat(dir + "/" + name + "/schedstat");
    long long ns = -1;
    if (schedstat >> ns) {
      out[std::stoi(name)] = ns;
    }
  }
  ::closedir(d);
  return out;
}

TEST_P(ServeTest, EchoesOneMebibyteThroughOddSizedWrites) {
  Server server = start_server({"--tcp", "127.0.0.1:0"});
  auto sock = Socket::tcp("127.0.0.1", server.port("tcp"));
  const Bytes data = random_bytes(1 << 20, 1);
  EXPECT_EQ(sock.echo_exchange(data, {1, 7, 1460, 4093, 65537, 13}), data);
}

TEST_P(ServeTest, HalfCloseWithOneMebibytePendingSendsEverythingThenEof) {
  Server server = start_server({"--tcp", "127.0.0.1:0"});
  auto sock = Socket::tcp("127.0.0.1", server.port("tcp"));
  const Bytes data = random_bytes(1 << 20, 2);
  // Nothing is read until the whole mebibyte is out and the write side is shut: the echo waits
  // in the socket buffers and in the server, which must still send all of it after the FIN.
  sock.send_all(data, 20s);
  sock.shutdown_write();
  Socket::End end{};
  const Bytes got = sock.recv_until_end(end, 20s);
  EXPECT_EQ(end, Socket::End::eof) << "expected the server's FIN, not a reset or a timeout";
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

TEST_P(ServeTest, FiveHundredConcurrentClientsEachGetTheirOwnBytes) {
  Server server = start_server({"--tcp", "127.0.0.1:0"});
  const auto payloads = distinct_payloads(500, 16 * 1024, 64 * 1024, 3);
  expect_all_exact(payloads, concurrent_echo(server.port("tcp"), payloads));
}

TEST_P(ServeTest, NeverReadingClientCostsBoundedMemoryAndOthersStillEcho) {
  Server server = start_server({"--tcp", "127.0.0.1:0"});
  const auto port = server.port("tcp");
  {
    // Warm up the workers' allocators, so the baseline is not the empty process.
    const auto warm = distinct_payloads(8, 64 * 1024, 256 * 1024, 4);
    expect_all_exact(warm, concurrent_echo(port, warm));
  }
  const long before = server.process().rss_kib();
  ASSERT_GT(before, 0);

  // Push up to 200 MiB without ever reading; stop early when the socket has not been writable
  // for a second, i.e. when the server has stopped reading from us (backpressure).
  constexpr std::size_t kLimit = std::size_t{200} << 20;
  const Bytes pattern = random_bytes(1 << 20, 5);
  auto pusher = Socket::tcp("127.0.0.1", port);
  std::size_t pushed = 0;
  bool stalled = false;
  const auto deadline = Clock::now() + 60s;
  while (pushed < kLimit && Clock::now() < deadline) {
    pollfd p{pusher.fd(), POLLOUT, 0};
    const int rc = ::poll(&p, 1, 1000);
    if (rc == 0) {
      stalled = true;
      break;
    }
    const std::size_t off = pushed % pattern.size();
    const std::size_t want = std::min(pattern.size() - off, kLimit - pushed);
    const ssize_t n = ::send(pusher.fd(), pattern.data() + off, want, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      FAIL() << "pusher: send failed after " << pushed << " bytes: " << std::strerror(errno);
    }
    pushed += n > 0 ? static_cast<std::size_t>(n) : 0;
  }

  // Another client gets its echo, exactly, while the pusher is still connected.
  auto other = Socket::tcp("127.0.0.1", port);
  const Bytes data = random_bytes(1 << 20, 6);
  EXPECT_EQ(other.echo_exchange(data, {65536, 1000}, 30s), data);

  const long after = server.process().rss_kib();
  const long growth = after - before;
  std::cout << "[ measured ] never-reading client pushed " << pushed << " bytes ("
            << (stalled ? "stalled by backpressure" : "limit reached") << "); server RSS " << before
            << " KiB -> " << after << " KiB, growth " << growth << " KiB" << std::endl;
  RecordProperty("pushed_bytes", std::to_string(pushed));
  RecordProperty("rss_growth_kib", std::to_string(growth));
  EXPECT_LT(growth, 64 * 1024) << "server RSS grew by " << growth << " KiB";

  // Nothing was dropped: once the pusher half-closes and reads, every byte comes back.
  pusher.shutdown_write();
  Socket::End end{};
  const Bytes back = pusher.recv_until_end(end, 60s);
  EXPECT_EQ(end, Socket::End::eof);
  ASSERT_EQ(back.size(), pushed);
  for (std::size_t i = 0; i < back.size(); i += pattern.size()) {
    const std::size_t n = std::min(pattern.size(), back.size() - i);
    ASSERT_TRUE(std::equal(back.begin() + static_cast<std::ptrdiff_t>(i),
                           back.begin() + static_cast<std::ptrdiff_t>(i + n), pattern.begin()))
        << "echo differs in the mebibyte at offset " << i;
  }
}

TEST_P(ServeTest, ClientResetMidTransferAffectsOnlyItself) {
  Server server = start_server({"--tcp", "127.0.0.1:0"});
  const auto port = server.port("tcp");
  auto bystander = Socket::tcp("127.0.0.1", port);  // connected through all the resets
  for (int i = 0; i < 10; ++i) {
    auto victim = Socket::tcp("127.0.0.1", port);
    victim.send_all(random_bytes(256 * 1024 + static_cast<std::size_t>(i) * 4099,
                                 static_cast<std::uint64_t>(100 + i)));
    const auto part = victim.recv_exact(1000 + static_cast<std::size_t>(i) * 777, 10s);
    ASSERT_EQ(part.size(), 1000 + static_cast<std::size_t>(i) * 777);
    victim.reset();  // with most of its echo still owed
  }
  const Bytes data = random_bytes(512 * 1024, 7);
  EXPECT_EQ(bystander.echo_exchange(data, {1000, 65536}), data);
  auto fresh = Socket::tcp("127.0.0.1", port);
  EXPECT_EQ(fresh.echo_exchange(data, {4096}), data);
  EXPECT_TRUE(server.process().running());
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.process().stderr_text();
}

TEST_P(ServeTest, ResetWhileTheServerWritesDoesNotRaiseSigpipe) {
  Server server = start_server({"--tcp", "127.0.0.1:0"});
  const auto port = server.port("tcp");
  for (int i = 0; i < 6; ++i) {
    // 4 MiB and no reads: the server's sends are blocked on our full receive buffer when the
    // reset arrives, so its next send fails with EPIPE or ECONNRESET.
    auto victim = Socket::tcp("127.0.0.1", port);
    victim.send_all(random_bytes(4 << 20, static_cast<std::uint64_t>(200 + i)), 20s);
    victim.reset();
  }
  auto other = Socket::tcp("127.0.0.1", port);
  const Bytes data = random_bytes(1 << 20, 8);
  EXPECT_EQ(other.echo_exchange(data, {65536}), data);
  // 141 (128 + SIGPIPE) here would mean a SIGPIPE killed the server.
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.process().stderr_text();
}

// Connects count clients and proves each is being served (one byte echoed), then leaves them
// connected and idle.
std::vector<Socket> connected_idle_clients(std::uint16_t port, int count) {
  std::vector<Socket> out;
  for (int i = 0; i < count; ++i) {
    auto s = Socket::tcp("127.0.0.1", port);
    const Bytes one = to_bytes("x");
    s.send_all(one);
    EXPECT_EQ(s.recv_exact(1, 10s), one);
    out.push_back(std::move(s));
  }
  return out;
}

void expect_prompt_clean_stop(Server& server, int sig, std::vector<Socket>& clients) {
  const auto start = Clock::now();
  const int rc = server.stop(sig);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_EQ(rc, 0) << "signal " << sig << "; stderr:\n" << server.process().stderr_text();
  EXPECT_LT(took, scaled(3s)) << "signal " << sig << " took " << took.count() << " ms";
  for (auto& c : clients) {
    Socket::End end{};
    c.recv_until_end(end, 2s);
    EXPECT_NE(end, Socket::End::timeout) << "a client's connection was left open";
  }
}

TEST_P(ServeTest, SigtermExitsZeroPromptlyWithClientsConnected) {
  Server server = start_server({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"});
  auto clients = connected_idle_clients(server.port("tcp"), 5);
  expect_prompt_clean_stop(server, SIGTERM, clients);
}

TEST_P(ServeTest, SigintExitsZeroPromptlyWithClientsConnected) {
  Server server = start_server({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"});
  auto clients = connected_idle_clients(server.port("tcp"), 5);
  expect_prompt_clean_stop(server, SIGINT, clients);
}

TEST_P(ServeTest, SighupDoesNotStopTheServer) {
  Server server = start_server({"--tcp", "127.0.0.1:0"});
  auto before = Socket::tcp("127.0.0.1", server.port("tcp"));
  ASSERT_EQ(::kill(server.process().pid(), SIGHUP), 0);
  const Bytes data = random_bytes(64 * 1024, 9);
  EXPECT_EQ(before.echo_exchange(data, {4096}), data);
  auto after = Socket::tcp("127.0.0.1", server.port("tcp"));
  EXPECT_EQ(after.echo_exchange(data, {4096}), data);
  EXPECT_TRUE(server.process().running());
  // 129 (128 + SIGHUP) here would mean the SIGHUP killed it after all.
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.process().stderr_text();
}

TEST_P(ServeTest, Sigusr1PrintsTheCountersSoFarAndServingGoesOn) {
  Server server = start_server({"--tcp", "127.0.0.1:0"});
  const Bytes data = random_bytes(64 * 1024, 11);
  {
    auto client = Socket::tcp("127.0.0.1", server.port("tcp"));
    ASSERT_EQ(client.echo_exchange(data, {4096}), data);
  }
  ASSERT_EQ(::kill(server.process().pid(), SIGUSR1), 0);
  // The line has no other sign of being written: look at stderr, bounded, pausing on the process.
  std::string err;
  const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
  while ((err = server.process().stderr_text()).find("netecho: counters ") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    ASSERT_FALSE(server.process().exits_within(20ms)) << err;
  }
  const auto at = err.find("netecho: counters ");
  ASSERT_NE(at, std::string::npos) << err;
  const std::string line = err.substr(at, err.find('\n', at) - at);
  EXPECT_NE(line.find(" tcp_accepted=1 "), std::string::npos) << line;
  EXPECT_NE(line.find(" tcp_bytes_in=65536 "), std::string::npos) << line;
  auto after = Socket::tcp("127.0.0.1", server.port("tcp"));
  EXPECT_EQ(after.echo_exchange(data, {4096}), data);
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.process().stderr_text();
}

void expect_threads_share_the_work(Server& server, unsigned threads) {
  EXPECT_NE(server.ready_line().find("threads=" + std::to_string(threads)), std::string::npos)
      << server.ready_line();
  const auto before = worker_cpu_ns(server.process().pid());
  const auto payloads = distinct_payloads(200, 8 * 1024, 32 * 1024, 10 + threads);
  expect_all_exact(payloads, concurrent_echo(server.port("tcp"), payloads));
  const auto after = worker_cpu_ns(server.process().pid());
  if (after.empty()) {
    std::cout << "[ note     ] /proc/PID/task/TID/schedstat is not available here: how the "
                 "connections spread over the threads is not checked"
              << std::endl;
    return;
  }
  std::map<int, long long> used;
  long long busiest = 0;
  std::string detail;
  for (const auto& [tid, ns] : after) {
    const auto it = before.find(tid);
    used[tid] = ns - (it == before.end() ? 0 : it->second);
    busiest = std::max(busiest, used[tid]);
    detail += " tid " + std::to_string(tid) + ": " + std::to_string(used[tid] / 1000) + " us";
  }
  std::cout << "[ measured ] --threads " << threads << ", CPU time per thread:" << detail
            << std::endl;
  // SO_REUSEPORT spreads the 200 connections over the workers about evenly; a worker that got
  // none would show next to no CPU time (a timer wake-up or two) next to the busiest one.
  unsigned active = 0;
  for (const auto& [tid, ns] : used) {
    active += busiest > 0 && ns * 20 >= busiest ? 1 : 0;
  }
  EXPECT_GE(active, threads) << "threads that served connections:" << detail;
}

TEST_P(ServeTest, OneThreadServesManyConnections) {
  Server server = start_server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  expect_threads_share_the_work(server, 1);
}

TEST_P(ServeTest, TwoThreadsShareManyConnections) {
  Server server = start_server({"--tcp", "127.0.0.1:0", "--threads", "2"});
  expect_threads_share_the_work(server, 2);
}

// One datagram out, one back, over a connected UDP socket; a lost datagram (rare even on
// loopback) is retried twice.
std::optional<Bytes> udp_exchange(Socket& sock, const Bytes& data) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (auto reply = sock.udp_roundtrip(data, 2s)) {
      return reply;
    }
  }
  return std::nullopt;
}

TEST_P(ServeTest, UdpEchoAndReverseAtEdgeSizes) {
  Server server = start_server({"--udp", "127.0.0.1:0", "--udp-reverse", "127.0.0.1:0"});
  auto echo = Socket::udp("127.0.0.1", server.port("udp", "echo"));
  auto reverse = Socket::udp("127.0.0.1", server.port("udp", "reverse"));
  for (const std::size_t size : {0, 1, 1472, 65507}) {
    const Bytes data = random_bytes(size, size + 1);
    const auto e = udp_exchange(echo, data);
    ASSERT_TRUE(e.has_value()) << "no echo for " << size << " bytes";
    EXPECT_EQ(*e, data) << size << " bytes";
    const auto r = udp_exchange(reverse, data);
    ASSERT_TRUE(r.has_value()) << "no reverse reply for " << size << " bytes";
    EXPECT_EQ(*r, reversed(data)) << size << " bytes";
  }
}

TEST_P(ServeTest, UdpMaxCutsEachDatagramBeforeAnswering) {
  Server server =
      start_server({"--udp", "127.0.0.1:0", "--udp-reverse", "127.0.0.1:0", "--udp-max", "10"});
  auto echo = Socket::udp("127.0.0.1", server.port("udp", "echo"));
  auto reverse = Socket::udp("127.0.0.1", server.port("udp", "reverse"));
  const Bytes longer = to_bytes("abcdefghijklmnopqrstuvwxyz");
  EXPECT_EQ(udp_exchange(echo, longer), to_bytes("abcdefghij"));
  EXPECT_EQ(udp_exchange(reverse, longer), to_bytes("jihgfedcba"));
  EXPECT_EQ(udp_exchange(echo, to_bytes("hello")), to_bytes("hello"));
  EXPECT_EQ(udp_exchange(reverse, to_bytes("hello")), to_bytes("olleh"));
  const Bytes big = random_bytes(65507, 11);
  EXPECT_EQ(udp_exchange(echo, big), Bytes(big.begin(), big.begin() + 10));
}

TEST_P(ServeTest, OnceEchoesOneReadThenCloses) {
  Server server = start_server({"--tcp", "127.0.0.1:0", "--once"});
  ASSERT_EQ(server.listeners().at(0).mode, "once");
  const auto port = server.port("tcp");
  {
    auto sock = Socket::tcp("127.0.0.1", port);
    const Bytes ten = random_bytes(10, 12);
    sock.send_all(ten);
    Socket::End end{};
    EXPECT_EQ(sock.recv_until_end(end, 10s), ten);
    EXPECT_EQ(end, Socket::End::eof);
  }
  {
    // One write of 6000 bytes: the server's one read takes at most 4096 of them.
    auto sock = Socket::tcp("127.0.0.1", port);
    const Bytes data = random_bytes(6000, 13);
    ASSERT_EQ(::send(sock.fd(), data.data(), data.size(), MSG_NOSIGNAL), 6000);
    Socket::End end{};
    const Bytes got = sock.recv_until_end(end, 10s);
    EXPECT_NE(end, Socket::End::timeout) << "the connection was not closed";
    EXPECT_GE(got.size(), 1u);
    EXPECT_LE(got.size(), 4096u);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin())) << "not a prefix";
  }
}

TEST_P(ServeTest, Ipv6LoopbackTcpAndUdp) {
  if (!ipv6_loopback_available()) {
    GTEST_SKIP() << "::1 is not configured on this machine, so IPv6 cannot be tested here";
  }
  Server server = start_server({"--tcp", "[::1]:0", "--udp", "[::1]:0"});
  for (const auto& l : server.listeners()) {
    EXPECT_EQ(l.host, "::1");
  }
  auto tcp = Socket::tcp("::1", server.port("tcp"));
  const Bytes data = random_bytes(256 * 1024, 14);
  EXPECT_EQ(tcp.echo_exchange(data, {1460}), data);
  auto udp = Socket::udp("::1", server.port("udp"));
  const Bytes dgram = random_bytes(1200, 15);
  EXPECT_EQ(udp_exchange(udp, dgram), dgram);
}

}  // namespace
}  // namespace netecho::test
