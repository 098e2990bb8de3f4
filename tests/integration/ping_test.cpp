// netecho ping against netecho serve, socat, and small impaired servers written here (UDP ones
// that drop, duplicate, reorder or delay datagrams; TCP ones that reset or corrupt). Every wait
// is bounded: the peers poll with a deadline and a stop pipe, and ping runs under run()'s
// timeout.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <thread>

#include "harness.hpp"
#include "terminal.hpp"

namespace netecho::test {
namespace {

using Clock = std::chrono::steady_clock;

RunResult run_ping(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{netecho_bin(), "ping"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, timeout);
}

// The lines of text matching pattern, each wrapped line taken whole (joined back).
std::size_t count_matching(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  std::size_t n = 0;
  for (const auto& line : lines_of(unwrap(text))) {
    n += std::regex_search(line, re) ? 1 : 0;
  }
  return n;
}

// The counts line of the summary: "N probes transmitted, M received, ..., X% loss, time T ms".
struct Counts {
  int transmitted = -1;
  int received = -1;
  std::string extras;  // ", +1 duplicates" ...
  double loss = -1;
};

Counts counts_of(const std::string& out) {
  static const std::regex re(
      R"((\d+) probes transmitted, (\d+) received(.*), ([\d.]+)% loss, time \d+ ms)");
  Counts c;
  std::smatch m;
  const std::string text = unwrap(out);  // a long counts line is wrapped
  if (std::regex_search(text, m, re)) {
    c.transmitted = std::stoi(m[1]);
    c.received = std::stoi(m[2]);
    c.extras = m[3];
    c.loss = std::stod(m[4]);
  }
  return c;
}

std::string tcp_url(std::uint16_t port) { return "tcp://127.0.0.1:" + std::to_string(port); }
std::string udp_url(std::uint16_t port) { return "udp://127.0.0.1:" + std::to_string(port); }

// A pipe whose read end becomes readable when a peer thread must stop.
class StopPipe {
 public:
  StopPipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
  }
  ~StopPipe() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  void signal() { (void)!::write(fds_[1], "x", 1); }
  int fd() const { return fds_[0]; }

 private:
  int fds_[2];
};

// Waits until fd is readable (true), the stop pipe is, or the deadline passes (false).
bool wait_readable(int fd, const StopPipe& stop, Clock::time_point deadline) {
  while (Clock::now() < deadline) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop.fd(), POLLIN, 0}};
    ::poll(p, 2, 200);
    if (p[1].revents != 0) {
      return false;
    }
    if (p[0].revents != 0) {
      return true;
    }
  }
  return false;
}

int bound_socket(int type, std::uint16_t& port) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
  }
  port = ntohs(a.sin_port);
  return fd;
}

// A UDP echo peer that misbehaves in one chosen way, on 127.0.0.1, in a thread of its own.
class ImpairedUdp {
 public:
  enum class Mode {
    drop_every_third,        // datagrams 3, 6, 9, ... get no answer
    duplicate,               // every datagram is answered twice
    swap_pairs,              // 2 is answered before 1, 4 before 3, ...
    hold_first_until_third,  // the answer to 1 waits until 3 has arrived, then goes first
  };

  explicit ImpairedUdp(Mode mode) : mode_(mode), fd_(bound_socket(SOCK_DGRAM, port_)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~ImpairedUdp() {
    stop_.signal();
    thread_.join();
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }

 private:
  struct Held {
    Bytes data;
    sockaddr_storage peer;
    socklen_t len;
  };

  void reply(const Held& d) {
    ::sendto(fd_, d.data.data(), d.data.size(), 0, reinterpret_cast<const sockaddr*>(&d.peer),
             d.len);
  }

  void serve() {
    const auto deadline = Clock::now() + 60s;
    std::optional<Held> held;
    for (int n = 1; wait_readable(fd_, stop_, deadline); ++n) {
      Held d{Bytes(65536), {}, sizeof(sockaddr_storage)};
      const ssize_t r = ::recvfrom(fd_, d.data.data(), d.data.size(), 0,
                                   reinterpret_cast<sockaddr*>(&d.peer), &d.len);
      if (r < 0) {
        return;
      }
      d.data.resize(static_cast<std::size_t>(r));
      switch (mode_) {
        case Mode::drop_every_third:
          if (n % 3 != 0) {
            reply(d);
          }
          break;
        case Mode::duplicate:
          reply(d);
          reply(d);
          break;
        case Mode::swap_pairs:
          if (n % 2 == 1) {
            held = d;
          } else {
            reply(d);
            reply(*held);
          }
          break;
        case Mode::hold_first_until_third:
          // The held answer goes first, so that it is in before the run's last reply ends it.
          if (n == 3) {
            reply(*held);
          }
          if (n == 1) {
            held = d;
          } else {
            reply(d);
          }
          break;
      }
    }
  }

  Mode mode_;
  std::uint16_t port_ = 0;
  int fd_;
  StopPipe stop_;
  std::thread thread_;
};

// A TCP echo peer whose first connection misbehaves once; later connections echo faithfully.
// Connections are served one at a time, which is all ping's reused connection needs.
class ImpairedTcp {
 public:
  enum class Mode {
    reset_after_first_frame,  // echo 64 bytes, then close with a reset (SO_LINGER 0)
    corrupt_first_frame,      // echo the first 64 bytes with one byte flipped, then echo on
  };

  explicit ImpairedTcp(Mode mode) : mode_(mode), fd_(bound_socket(SOCK_STREAM, port_)) {
    ::listen(fd_, 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~ImpairedTcp() {
    stop_.signal();
    thread_.join();
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  void serve() {
    const auto deadline = Clock::now() + 60s;
    while (wait_readable(fd_, stop_, deadline)) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        return;
      }
      const bool first = connections_.fetch_add(1) == 0;
      echo(c, first, deadline);
    }
  }

  // Echoes until EOF; on the first connection applies the mode to the first 64 bytes.
  void echo(int c, bool first, Clock::time_point deadline) {
    Bytes buf(65536);
    std::size_t total = 0;
    while (wait_readable(c, stop_, deadline)) {
      const ssize_t r = ::recv(c, buf.data(), buf.size(), 0);
      if (r <= 0) {
        break;
      }
      Bytes chunk(buf.begin(), buf.begin() + r);
      if (first && total < 64) {
        if (mode_ == Mode::corrupt_first_frame) {
          if (total <= 40 && 40 - total < chunk.size()) {
            chunk[40 - total] ^= std::byte{0xff};
          }
        } else {
          chunk.resize(std::min<std::size_t>(chunk.size(), 64 - total));
          ::send(c, chunk.data(), chunk.size(), MSG_NOSIGNAL);
          linger l{1, 0};
          ::setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
          break;
        }
      }
      total += static_cast<std::size_t>(r);
      ::send(c, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    }
    ::close(c);
  }

  Mode mode_;
  std::uint16_t port_ = 0;
  int fd_;
  StopPipe stop_;
  std::thread thread_;
  std::atomic<int> connections_{0};
};

// socat as a real third-party echo peer; its port is read from its own log line.
std::optional<std::pair<Process, std::uint16_t>> start_socat(const std::string& address) {
  if (!have_command("socat")) {
    return std::nullopt;
  }
  auto p = Process::spawn({"sh", "-c", "exec socat -d -d " + address + " PIPE 2>&1"});
  static const std::regex kListening(R"(listening on .*:(\d+))");
  for (int i = 0; i < 20; ++i) {
    const auto line = p.read_line(10s);
    if (!line) {
      break;
    }
    std::smatch m;
    if (std::regex_search(*line, m, kListening)) {
      const auto port = static_cast<std::uint16_t>(std::stoi(m[1]));
      return std::make_pair(std::move(p), port);
    }
  }
  throw std::runtime_error("socat did not say where it listens");
}

bool have_ipv6_loopback() {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  if (fd >= 0) {
    ::close(fd);
  }
  return ok;
}

void expect_clean_run(const RunResult& r, const std::string& url, const std::string& from,
                      int count) {
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front().rfind("PING " + url + " (", 0), 0u) << lines.front();
  for (int seq = 1; seq <= count; ++seq) {
    const std::string re = "^64 bytes from " +
                           std::regex_replace(from, std::regex(R"([.\[\]])"), R"(\$&)") +
                           ": seq=" + std::to_string(seq) + R"( time=[0-9.]+ ms$)";
    EXPECT_EQ(count_matching(r.out, re), 1u) << "seq " << seq << "\n" << r.out;
  }
  EXPECT_EQ(
      count_matching(r.out, "^--- " + std::regex_replace(url, std::regex(R"([.\[\]])"), R"(\$&)") +
                                " ping statistics ---$"),
      1u)
      << r.out;
  const auto c = counts_of(r.out);
  EXPECT_EQ(c.transmitted, count) << r.out;
  EXPECT_EQ(c.received, count) << r.out;
  EXPECT_EQ(c.loss, 0) << r.out;
  EXPECT_EQ(count_matching(r.out, R"(^rtt min/avg/max/mdev = [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ ms$)"),
            1u)
      << r.out;
  EXPECT_EQ(count_matching(r.out, R"(^rtt p50/p90/p99 = [0-9.]+/[0-9.]+/[0-9.]+ ms$)"), 1u)
      << r.out;
}

// ----------------------------------------------------------------- against netecho serve

// Every test runs once per backend the binary has: ping's loop runs on either.
class Ping : public BackendTest {
 protected:
  // `netecho ping --backend NAME ARGS...`, under a timeout.
  RunResult ping(const std::vector<std::string>& args,
                 std::chrono::milliseconds timeout = 30s) const {
    std::vector<std::string> argv{"--backend", backend()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_ping(argv, timeout);
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, Ping, ::testing::ValuesIn(backend_names()), backend_test_name);

TEST_P(Ping, TcpAgainstNetechoServe) {
  Server server({"--tcp", "127.0.0.1:0"});
  const auto port = server.port("tcp");
  const auto r = ping({"-c", "3", "-i", "0.05", tcp_url(port)});
  expect_clean_run(r, tcp_url(port), "127.0.0.1:" + std::to_string(port), 3);
}

TEST_P(Ping, PlainHostPortMeansTcp) {
  Server server({"--tcp", "127.0.0.1:0"});
  const auto port = server.port("tcp");
  const auto r = ping({"-c", "2", "-i", "0.05", "127.0.0.1:" + std::to_string(port)});
  expect_clean_run(r, tcp_url(port), "127.0.0.1:" + std::to_string(port), 2);
}

TEST_P(Ping, UdpAgainstNetechoServe) {
  Server server({"--udp", "127.0.0.1:0"});
  const auto port = server.port("udp");
  const auto r = ping({"-c", "3", "-i", "0.05", udp_url(port)});
  expect_clean_run(r, udp_url(port), "127.0.0.1:" + std::to_string(port), 3);
}

TEST_P(Ping, SizeSetsTheBytesPerProbe) {
  Server server({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"});
  for (const auto& url : {tcp_url(server.port("tcp")), udp_url(server.port("udp"))}) {
    const auto r = ping({"-c", "2", "-i", "0.05", "-s", "1400", url});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(count_matching(r.out, "^1400 bytes from 127.0.0.1:"), 2u) << r.out;
    EXPECT_NE(r.out.find(": 1400 data bytes"), std::string::npos) << r.out;
  }
}

TEST_P(Ping, UdpReverseServerWithExpectReverse) {
  Server server({"--udp-reverse", "127.0.0.1:0"});
  const auto port = server.port("udp", "reverse");
  const auto r = ping({"-c", "3", "-i", "0.05", "--expect", "reverse", udp_url(port)});
  expect_clean_run(r, udp_url(port), "127.0.0.1:" + std::to_string(port), 3);

  // Without it, every reply is flagged (with the hint) and none counts.
  const auto bad = ping({"-c", "2", "-i", "0.05", "-W", "200ms", udp_url(port)});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_EQ(
      count_matching(bad.out, R"(^error from .*: seq=\d reply is reversed.*--expect reverse)"), 2u)
      << bad.out;
  EXPECT_EQ(count_matching(bad.out, "^no reply from "), 0u) << "a wrong answer is not a timeout\n"
                                                            << bad.out;
  EXPECT_EQ(counts_of(bad.out).received, 0) << bad.out;
}

TEST_P(Ping, HostnamesResolveAndLinesShowTheAddressUsed) {
  // A minimal root (debootstrap minbase) may have no /etc/hosts: then no name resolves here.
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  if (::getaddrinfo("localhost", nullptr, &hints, &found) != 0) {
    GTEST_SKIP() << "'localhost' does not resolve on this machine (no /etc/hosts entry)";
  }
  ::freeaddrinfo(found);
  Server server({"--tcp", "127.0.0.1:0"});
  const auto port = std::to_string(server.port("tcp"));
  const auto r = ping({"-4", "-c", "2", "-i", "0.05", "tcp://localhost:" + port});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PING tcp://localhost:" + port + " (127.0.0.1:" + port + ")"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(count_matching(r.out, "^64 bytes from 127\\.0\\.0\\.1:" + port + ": seq="), 2u)
      << r.out;
}

// ------------------------------------------------------------------------ against socat

TEST_P(Ping, TcpAgainstSocat) {
  auto socat = start_socat("TCP-LISTEN:0,bind=127.0.0.1,reuseaddr,fork");
  if (!socat) {
    GTEST_SKIP() << "socat is not installed (scripts/setup-debian.sh installs it)";
  }
  const auto port = socat->second;
  const auto r = ping({"-c", "3", "-i", "0.05", tcp_url(port)});
  expect_clean_run(r, tcp_url(port), "127.0.0.1:" + std::to_string(port), 3);
}

TEST_P(Ping, UdpAgainstSocat) {
  auto socat = start_socat("UDP-LISTEN:0,bind=127.0.0.1");
  if (!socat) {
    GTEST_SKIP() << "socat is not installed (scripts/setup-debian.sh installs it)";
  }
  const auto port = socat->second;
  const auto r = ping({"-c", "3", "-i", "0.05", udp_url(port)});
  expect_clean_run(r, udp_url(port), "127.0.0.1:" + std::to_string(port), 3);
}

// ------------------------------------------------------------------------------- TCP modes

TEST_P(Ping, ConnectModeReportsConnectAndEchoTimeApart) {
  Server server({"--tcp", "127.0.0.1:0"});
  const auto url = tcp_url(server.port("tcp"));
  const auto r = ping({"--connect", "-c", "3", "-i", "0.05", url});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(
      count_matching(
          r.out, R"(^64 bytes from 127\.0\.0\.1:\d+: seq=\d connect=[0-9.]+ ms time=[0-9.]+ ms$)"),
      3u)
      << r.out;
  EXPECT_EQ(count_matching(r.out, R"(^connect min/avg/max/mdev = [0-9./]+ ms$)"), 1u) << r.out;
  EXPECT_EQ(count_matching(r.out, R"(^connect p50/p90/p99 = [0-9./]+ ms$)"), 1u) << r.out;

  const auto j = ping({"--connect", "-c", "3", "-i", "0.05", "--json", url});
  ASSERT_EQ(j.exit_code, 0) << j.out << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["connects"], 3);
  EXPECT_EQ(doc["connect_per_probe"], true);
  EXPECT_TRUE(doc["connect_ms"].is_object());
}

TEST_P(Ping, ResetConnectionIsReopenedAndCounted) {
  ImpairedTcp peer(ImpairedTcp::Mode::reset_after_first_frame);
  const auto r = ping({"-c", "4", "-i", "0.05", "--json-lines", tcp_url(peer.port())});
  const auto lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty()) << r.err;
  const auto summary = nlohmann::json::parse(lines.back());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(summary["reconnects"], 1) << r.out;
  EXPECT_EQ(summary["connects"], 2) << r.out;
  EXPECT_GE(summary["received"].get<int>(), 3) << r.out;
  EXPECT_GE(summary["errors"].get<int>(), 1) << r.out;
  EXPECT_EQ(count_matching(r.out, R"("type":"error".*reset by peer)"), 1u) << r.out;
  EXPECT_EQ(peer.connections(), 2);
}

TEST_P(Ping, CorruptTcpEchoIsDetected) {
  ImpairedTcp peer(ImpairedTcp::Mode::corrupt_first_frame);
  const auto r = ping({"-c", "3", "-i", "0.05", tcp_url(peer.port())});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(
      count_matching(r.out, R"(^error from .*: seq=1 bad reply \(64 bytes\): payload differs )"
                            R"(from what was sent \(first difference at byte 40\)$)"),
      1u)
      << r.out;
  const auto c = counts_of(r.out);
  EXPECT_EQ(c.transmitted, 3) << r.out;
  EXPECT_EQ(c.received, 2) << r.out;
  EXPECT_NE(c.extras.find("+1 errors"), std::string::npos) << r.out;
  EXPECT_NE(c.extras.find("1 reconnect"), std::string::npos) << r.out;
  EXPECT_EQ(c.extras.find("1 reconnects"), std::string::npos) << r.out;
}

TEST_P(Ping, ServerThatStopsReadingIsCutNotBuffered) {
  // A listening socket that never accepts: the kernel takes a few hundred KiB, then the
  // connection stops moving. ping must give up on it instead of queueing every probe.
  std::uint16_t port = 0;
  const int deaf = bound_socket(SOCK_STREAM, port);
  ::listen(deaf, 1);
  const auto r = ping({"-s", "65536", "-i", "0.005", "-w", "2", "-W", "1s", tcp_url(port)});
  ::close(deaf);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_GE(
      count_matching(
          r.out,
          R"(^error from .*: seq=\d+ connection stalled: the server has not read \d+ bytes$)"),
      1u)
      << r.out;
  EXPECT_EQ(counts_of(r.out).received, 0) << r.out;
}

// ----------------------------------------------------------------------- impaired UDP peers

TEST_P(Ping, UdpLossIsReported) {
  ImpairedUdp peer(ImpairedUdp::Mode::drop_every_third);
  const auto r = ping({"-c", "9", "-i", "0.05", "-W", "300ms", udp_url(peer.port())});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto c = counts_of(r.out);
  EXPECT_EQ(c.transmitted, 9) << r.out;
  EXPECT_EQ(c.received, 6) << r.out;
  EXPECT_NEAR(c.loss, 33.33, 0.01) << r.out;
  for (const int seq : {3, 6, 9}) {
    EXPECT_EQ(count_matching(r.out, "^no reply from 127\\.0\\.0\\.1:\\d+: seq=" +
                                        std::to_string(seq) + " timeout after 300 ms$"),
              1u)
        << r.out;
  }
}

TEST_P(Ping, UdpDuplicatesAreReported) {
  ImpairedUdp peer(ImpairedUdp::Mode::duplicate);
  const auto r = ping({"-c", "3", "-i", "0.05", udp_url(peer.port())});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // Like ping, the run ends as soon as the last probe is answered, so the copy of the last
  // reply may come too late to be seen; the copies of the earlier ones come 50 ms before the
  // next probe and must all be reported.
  for (const int seq : {1, 2}) {
    EXPECT_EQ(count_matching(r.out, "^64 bytes from .*: seq=" + std::to_string(seq) +
                                        R"( time=[0-9.]+ ms \(DUP!\)$)"),
              1u)
        << r.out;
  }
  const auto c = counts_of(r.out);
  EXPECT_EQ(c.received, 3) << r.out;
  EXPECT_EQ(c.loss, 0) << r.out;
  EXPECT_TRUE(c.extras.find("+2 duplicates") != std::string::npos ||
              c.extras.find("+3 duplicates") != std::string::npos)
      << r.out;
}

TEST_P(Ping, UdpReorderingIsReported) {
  ImpairedUdp peer(ImpairedUdp::Mode::swap_pairs);
  const auto r = ping({"-c", "4", "-i", "0.05", udp_url(peer.port())});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const int seq : {1, 3}) {
    EXPECT_EQ(count_matching(r.out, "^64 bytes from .*: seq=" + std::to_string(seq) +
                                        R"( time=[0-9.]+ ms \(out of order\)$)"),
              1u)
        << r.out;
  }
  const auto c = counts_of(r.out);
  EXPECT_EQ(c.received, 4) << r.out;
  EXPECT_NE(c.extras.find("2 out of order"), std::string::npos) << r.out;
}

TEST_P(Ping, UdpLateRepliesAreReported) {
  ImpairedUdp peer(ImpairedUdp::Mode::hold_first_until_third);
  const auto r = ping({"-c", "3", "-i", "0.1", "-W", "150ms", udp_url(peer.port())});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(count_matching(r.out, R"(^no reply from .*: seq=1 timeout after 150 ms$)"), 1u)
      << r.out;
  EXPECT_EQ(
      count_matching(
          r.out, R"(^64 bytes from .*: seq=1 time=[0-9.]+ ms \(late: after the 150 ms timeout\)$)"),
      1u)
      << r.out;
  const auto c = counts_of(r.out);
  EXPECT_EQ(c.transmitted, 3) << r.out;
  EXPECT_EQ(c.received, 2) << r.out;
  EXPECT_NE(c.extras.find("+1 late"), std::string::npos) << r.out;
}

// ------------------------------------------------------------ timing, deadline and signals

TEST_P(Ping, NothingAnswersExitsOneAfterTheTimeouts) {
  std::uint16_t port = 0;
  const int silent = bound_socket(SOCK_DGRAM, port);  // bound, never read
  const auto t0 = Clock::now();
  const auto r = ping({"-c", "2", "-i", "0.05", "-W", "200ms", udp_url(port)});
  const auto took = Clock::now() - t0;
  ::close(silent);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(
      count_matching(r.out, R"(^no reply from 127\.0\.0\.1:\d+: seq=[12] timeout after 200 ms$)"),
      2u)
      << r.out;
  const auto c = counts_of(r.out);
  EXPECT_EQ(c.transmitted, 2) << r.out;
  EXPECT_EQ(c.received, 0) << r.out;
  EXPECT_EQ(c.loss, 100) << r.out;
  EXPECT_EQ(count_matching(r.out, "^rtt "), 0u) << r.out;
  // Probe 2 goes at 50 ms and times out at 250 ms.
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 5s);
}

TEST_P(Ping, DeadlineEndsTheRunOnTime) {
  std::uint16_t port = 0;
  const int silent = bound_socket(SOCK_DGRAM, port);
  const auto t0 = Clock::now();
  const auto r = ping({"-w", "0.3", "-i", "0.05", "-W", "5s", udp_url(port)});
  const auto took = Clock::now() - t0;
  ::close(silent);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s) << "-w 0.3 must not wait for the 5 s probe timeout";
  const auto c = counts_of(r.out);
  EXPECT_GE(c.transmitted, 6) << r.out;
  EXPECT_LE(c.transmitted, 7) << r.out;
}

TEST_P(Ping, DeadlineWithoutCountKeepsProbingAnAnsweringServer) {
  Server server({"--udp", "127.0.0.1:0"});
  const auto r = ping({"-w", "0.3", "-i", "0.05", udp_url(server.port("udp"))});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto c = counts_of(r.out);
  EXPECT_GE(c.transmitted, 6) << r.out;
  EXPECT_LE(c.transmitted, 7) << r.out;
  EXPECT_EQ(c.received, c.transmitted) << r.out;
}

TEST_P(Ping, CountWithDeadlineEndsOnceCountRepliesCame) {
  Server server({"--tcp", "127.0.0.1:0"});
  const auto t0 = Clock::now();
  const auto r = ping({"-c", "3", "-w", "10", "-i", "0.05", tcp_url(server.port("tcp"))});
  EXPECT_LT(Clock::now() - t0, 5s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(counts_of(r.out).received, 3) << r.out;

  // And exits 1 when the deadline comes first (as ping does with -c and -w).
  std::uint16_t port = 0;
  const int silent = bound_socket(SOCK_DGRAM, port);
  const auto miss = ping({"-c", "3", "-w", "0.2", "-i", "0.05", udp_url(port)});
  ::close(silent);
  EXPECT_EQ(miss.exit_code, 1) << miss.out << miss.err;
}

TEST_P(Ping, ProbesFollowTheScheduleWithoutDrift) {
  Server server({"--udp", "127.0.0.1:0"});
  const auto r = ping({"-c", "6", "-i", "0.1", "--json-lines", udp_url(server.port("udp"))});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  int replies = 0;
  for (const auto& line : lines_of(r.out)) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] != "reply") {
      continue;
    }
    ++replies;
    // Probe seq is due at (seq - 1) * 100 ms; its reply comes a loopback RTT later. Never
    // early, and not falling behind.
    const double due_ms = (j["seq"].get<double>() - 1) * 100;
    const double sent_ms = j["at_ms"].get<double>() - j["rtt_ms"].get<double>();
    EXPECT_GE(sent_ms, due_ms - 0.001) << line;
    EXPECT_LT(sent_ms, due_ms + 50) << line;
  }
  EXPECT_EQ(replies, 6);
}

TEST_P(Ping, SigintPrintsTheSummaryAndExitsZero) {
  Server server({"--tcp", "127.0.0.1:0"});
  const auto url = tcp_url(server.port("tcp"));
  auto p = Process::spawn({netecho_bin(), "ping", "--backend", backend(), "-i", "0.05", url});
  std::string out;
  bool replied = false;
  for (int i = 0; i < 20 && !replied; ++i) {
    const auto line = p.read_line(10s);
    ASSERT_TRUE(line) << "no output; stderr: " << p.stderr_text();
    out += *line + "\n";
    replied = line->find(" bytes from ") != std::string::npos;
  }
  ASSERT_TRUE(replied) << out;
  EXPECT_EQ(p.stop(SIGINT), 0) << out << p.stderr_text();
  while (const auto line = p.read_line(5s)) {
    out += *line + "\n";
  }
  EXPECT_EQ(count_matching(out, "^--- " + std::regex_replace(url, std::regex(R"(\.)"), R"(\.)") +
                                    " ping statistics ---$"),
            1u)
      << out;
  const auto c = counts_of(out);
  EXPECT_GE(c.received, 1) << out;
  EXPECT_EQ(count_matching(out, "^rtt p50/p90/p99 = "), 1u) << out;
}

// `netecho ping -i 0.1 HOST:P | head -2` (and `--json-lines | head -1`): once the reader has
// gone, the next write fails with EPIPE (SIGPIPE is ignored) and ping ends at once, silently,
// with exit 1, instead of probing on until a signal.
TEST_P(Ping, ClosedOutputEndsTheRunAtOnce) {
  Server server({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"});
  struct Case {
    std::vector<std::string> args;
    int lines;  // what head reads before it leaves
  };
  const Case cases[] = {
      {{"-i", "0.1", tcp_url(server.port("tcp"))}, 2},
      {{"-i", "0.1", "--json-lines", udp_url(server.port("udp"))}, 1},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv{netecho_bin(), "ping", "--backend", backend()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto p = Process::spawn(argv);
    for (int i = 0; i < c.lines; ++i) {
      ASSERT_TRUE(p.read_line(scaled(10s))) << "no output; stderr: " << p.stderr_text();
    }
    p.close_stdout();
    // The next line is due within 0.1 s; a run that goes on is killed by wait() and reads -1.
    EXPECT_EQ(p.wait(scaled(3s)), 1) << c.args.back() << ": " << p.stderr_text();
    EXPECT_EQ(p.stderr_text(), "") << c.args.back();
  }
}

// ------------------------------------------------------------------------ errors and usage

TEST_P(Ping, UsageErrorsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {"--bogus", "127.0.0.1:7"},
      {"-c", "0", "127.0.0.1:7"},
      {"-i", "abc", "127.0.0.1:7"},
      {"-i", "0", "127.0.0.1:7"},
      {"-W", "0", "127.0.0.1:7"},
      {"-s", "10", "127.0.0.1:7"},
      {"-s", "70000", "udp://127.0.0.1:7"},
      {"--connect", "udp://127.0.0.1:7"},
      {"--expect", "reverse", "tcp://127.0.0.1:7"},
      {"--json", "--json-lines", "127.0.0.1:7"},
      {"-4", "-6", "127.0.0.1:7"},
      {"127.0.0.1:70000"},
      {},
  };
  for (const auto& args : cases) {
    const auto r = ping(args);
    std::string joined;
    for (const auto& a : args) {
      joined += a + " ";
    }
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.out << r.err;
    EXPECT_EQ(r.out, "") << joined;
    EXPECT_NE(r.err.find("netecho"), std::string::npos) << joined << r.err;
  }
}

TEST_P(Ping, UnresolvableHostExitsTwo) {
  const auto r = ping({"-c", "1", "tcp://no-such-host.invalid:7"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no-such-host.invalid"), std::string::npos) << r.err;
  // The address family asked for must exist too.
  const auto v6 = ping({"-6", "-c", "1", "tcp://127.0.0.1:7"});
  EXPECT_EQ(v6.exit_code, 2) << v6.out << v6.err;
}

TEST_P(Ping, RefusedTcpPortIsAnErrorPerProbe) {
  std::uint16_t port = 0;
  const int closed = bound_socket(SOCK_STREAM, port);  // bound, not listening: refuses
  const auto r = ping({"-c", "2", "-i", "0.05", tcp_url(port)});
  ::close(closed);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(
      count_matching(r.out, R"(^error from .*: seq=[12] connect failed: Connection refused$)"), 2u)
      << r.out;
  const auto c = counts_of(r.out);
  EXPECT_EQ(c.transmitted, 2) << r.out;
  EXPECT_NE(c.extras.find("+2 errors"), std::string::npos) << r.out;
}

TEST_P(Ping, ClosedUdpPortIsAnErrorPerProbe) {
  std::uint16_t port = 0;
  ::close(bound_socket(SOCK_DGRAM, port));  // a port that was free a moment ago: nobody listens
  const auto r = ping({"-c", "2", "-i", "0.05", "-W", "2s", udp_url(port)});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // The kernel's ICMP port unreachable quotes the probe, so each error names its probe, and
  // the probe ends there instead of waiting out its timeout.
  EXPECT_EQ(
      count_matching(r.out, R"(^error from .*: seq=[12] port unreachable \(connection refused\)$)"),
      2u)
      << r.out;
  EXPECT_EQ(count_matching(r.out, "^no reply from "), 0u) << r.out;
  const auto c = counts_of(r.out);
  EXPECT_EQ(c.transmitted, 2) << r.out;
  EXPECT_NE(c.extras.find("+2 errors"), std::string::npos) << r.out;
}

// Everything ping writes as text fits an 80-column terminal: the header with --connect, a
// reverse-mode server's replies (a long error line with its hint), the errors of a refused TCP
// port and of a closed UDP port, the summaries, and the message for an unknown host.
TEST_P(Ping, EveryLineFitsEightyColumns) {
  Server server({"--tcp", "127.0.0.1:0", "--udp-reverse", "127.0.0.1:0"});
  std::uint16_t refused_port = 0;
  const int refusing = bound_socket(SOCK_STREAM, refused_port);  // bound, not listening
  std::uint16_t closed_port = 0;
  ::close(bound_socket(SOCK_DGRAM, closed_port));  // free a moment ago: nobody listens
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    const char* shows;  // what the run prints, so each case is the run it is meant to be
  };
  const Case cases[] = {
      {{"--connect", "-c", "2", tcp_url(server.port("tcp"))}, 0, "a new connection per probe"},
      {{"-c", "2", "-W", "200ms", udp_url(server.port("udp", "reverse"))},
       1,
       "(use --expect reverse)"},
      {{"-c", "2", tcp_url(refused_port)}, 1, "connect failed: Connection refused"},
      {{"-c", "2", "-W", "2s", udp_url(closed_port)}, 1, "port unreachable"},
      {{"-c", "1", "tcp://no-such-host.invalid:7"}, 2, "no-such-host.invalid"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), {"-i", "0.05"});
    const auto r = ping(args);
    SCOPED_TRACE(args.back());
    EXPECT_EQ(r.exit_code, c.exit_code) << r.out << r.err;
    EXPECT_NE(unwrap(r.out + r.err).find(c.shows), std::string::npos) << r.out << r.err;
    expect_fits_terminal(r.out, "stdout");
    expect_fits_terminal(r.err, "stderr");
  }
  ::close(refusing);
}

// ----------------------------------------------------------------------------- IPv6, JSON

TEST_P(Ping, Ipv6Loopback) {
  if (!have_ipv6_loopback()) {
    GTEST_SKIP() << "::1 is not available on this host (cannot bind a socket to it)";
  }
  Server server({"--tcp", "[::1]:0", "--udp", "[::1]:0"});
  for (const auto& [url, port] :
       {std::pair{"tcp://[::1]:" + std::to_string(server.port("tcp")), server.port("tcp")},
        std::pair{"udp://[::1]:" + std::to_string(server.port("udp")), server.port("udp")}}) {
    const auto r = ping({"-6", "-c", "2", "-i", "0.05", url});
    expect_clean_run(r, url, "[::1]:" + std::to_string(port), 2);
  }
}

TEST_P(Ping, JsonIsOneDocumentWithTheDocumentedFields) {
  Server server({"--udp", "127.0.0.1:0"});
  const auto url = udp_url(server.port("udp"));
  const auto r = ping({"-c", "3", "-i", "0.05", "--json", url});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto check = run({"python3", "-c", "import json,sys; json.load(sys.stdin)"}, r.out);
  EXPECT_EQ(check.exit_code, 0) << check.err << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema"], "netecho-ping/1");
  static const std::regex kUtc(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
  EXPECT_TRUE(std::regex_match(j["started_at"].get<std::string>(), kUtc)) << j["started_at"];
  EXPECT_TRUE(j["first_error"].is_null());
  EXPECT_EQ(j["target"], url);
  EXPECT_EQ(j["transport"], "udp");
  EXPECT_EQ(j["address"], "127.0.0.1:" + std::to_string(server.port("udp")));
  EXPECT_EQ(j["size"], 64);
  EXPECT_EQ(j["interval_ms"], 50.0);
  EXPECT_EQ(j["timeout_ms"], 1000.0);
  EXPECT_EQ(j["expect"], "echo");
  EXPECT_EQ(j["transmitted"], 3);
  EXPECT_EQ(j["received"], 3);
  EXPECT_EQ(j["duplicates"], 0);
  EXPECT_EQ(j["late"], 0);
  EXPECT_EQ(j["reordered"], 0);
  EXPECT_EQ(j["errors"], 0);
  EXPECT_EQ(j["loss_percent"], 0.0);
  EXPECT_EQ(j["interrupted"], false);
  EXPECT_GT(j["time_ms"].get<double>(), 99.0);
  for (const char* k : {"min", "avg", "max", "mdev", "p50", "p90", "p99"}) {
    EXPECT_GT(j["rtt_ms"][k].get<double>(), k == std::string("mdev") ? -1 : 0) << k;
  }
  EXPECT_TRUE(j["connect_ms"].is_null());
}

// The JSON says why the errors happened, as bench's does, not just how many.
TEST_P(Ping, JsonNamesTheFirstError) {
  std::uint16_t port = 0;
  const int closed = bound_socket(SOCK_STREAM, port);  // bound, not listening: refused
  const auto r =
      ping({"-c", "2", "-i", "0.05", "--json", "tcp://127.0.0.1:" + std::to_string(port)});
  ::close(closed);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["errors"], 2);
  const std::string first = j["first_error"];
  EXPECT_NE(first.find("seq=1"), std::string::npos) << first;
  EXPECT_NE(first.find("Connection refused"), std::string::npos) << first;
}

TEST_P(Ping, JsonLinesStreamsOneObjectPerProbeThenTheSummary) {
  std::uint16_t port = 0;
  const int silent = bound_socket(SOCK_DGRAM, port);
  const auto r = ping({"-c", "2", "-i", "0.05", "-W", "100ms", "--json-lines", udp_url(port)});
  ::close(silent);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  for (int i = 0; i < 2; ++i) {
    const auto j = nlohmann::json::parse(lines[static_cast<std::size_t>(i)]);
    EXPECT_EQ(j["type"], "timeout");
    EXPECT_EQ(j["seq"], i + 1);
  }
  const auto s = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(s["type"], "summary");
  EXPECT_EQ(s["received"], 0);
  EXPECT_EQ(s["loss_percent"], 100.0);
}

}  // namespace
}  // namespace netecho::test
