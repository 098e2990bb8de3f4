// netecho bench against real servers: netecho serve (TCP, UDP, IPv6), socat, and small faulty
// echo servers run in a thread of this test (one that corrupts a byte, one that stalls once),
// plus a closed port, Ctrl-C, the JSON document against docs/BENCH.md, the SVG chart and the
// live line on a terminal. Every bench run is short (at most about 2 s) and on one thread.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "netns.hpp"
#include "terminal.hpp"

namespace netecho::test {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// A file name in /tmp, removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const char* suffix) {
    char tmpl[] = "/tmp/netecho-bench-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd < 0) {
      throw std::runtime_error("mkstemp failed");
    }
    ::close(fd);
    ::unlink(tmpl);
    path_ = std::string(tmpl) + suffix;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }
  std::string text() const {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  json parse() const { return json::parse(text()); }

 private:
  std::string path_;
};

RunResult bench(std::vector<std::string> args, std::chrono::milliseconds timeout = 30s) {
  args.insert(args.begin(), {netecho_bin(), "bench"});
  return run(args, {}, timeout);
}

std::string target(const char* proto, std::uint16_t port, const char* host = "127.0.0.1") {
  return std::string(proto) + "://" + host + ":" + std::to_string(port);
}

// The counters of the server's "netecho: stopped key=value ..." log line.
std::map<std::string, std::uint64_t> stopped_counters(const std::string& stderr_text) {
  std::map<std::string, std::uint64_t> out;
  const auto at = stderr_text.find("netecho: stopped ");
  if (at == std::string::npos) {
    return out;
  }
  const std::string line = stderr_text.substr(at, stderr_text.find('\n', at) - at);
  static const std::regex kPair(R"((\w+)=(\d+))");
  for (auto it = std::sregex_iterator(line.begin(), line.end(), kPair);
       it != std::sregex_iterator(); ++it) {
    out[(*it)[1]] = std::stoull((*it)[2]);
  }
  return out;
}

std::uint64_t u64(const json& j) { return j.get<std::uint64_t>(); }

// An echo server in a thread of the test, with faults to order: flip one byte of the echo at
// a given offset of everything received, or stall once (read nothing, answer nothing) for a
// while after a given number of bytes. Every wait is a poll() with a deadline on sockets or on
// the stop pipe, so the destructor ends the thread at once.
class FaultyEchoServer {
 public:
  struct Faults {
    bool udp = false;
    std::optional<std::uint64_t> corrupt_at;   // offset in all bytes received, all connections
    std::optional<std::uint64_t> stall_after;  // bytes received before the stall
    std::chrono::milliseconds stall{1000};

    static Faults none() { return {}; }
    static Faults corrupt(bool udp, std::uint64_t at) {
      Faults f;
      f.udp = udp;
      f.corrupt_at = at;
      return f;
    }
    static Faults stall_once(std::uint64_t after, std::chrono::milliseconds how_long) {
      Faults f;
      f.stall_after = after;
      f.stall = how_long;
      return f;
    }
  };

  explicit FaultyEchoServer(Faults faults) : faults_(faults) {
    fd_ = ::socket(AF_INET, (faults.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&sin), len) != 0 ||
        (!faults.udp && ::listen(fd_, 64) != 0) ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sin), &len) != 0 ||
        ::pipe2(stop_, O_CLOEXEC) != 0 || ::pipe2(traffic_, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw std::runtime_error("faulty echo server set-up failed");
    }
    port_ = ntohs(sin.sin_port);
    thread_ = std::thread([this] { faults_.udp ? serve_udp() : serve_tcp(); });
  }

  ~FaultyEchoServer() {
    [[maybe_unused]] auto n = ::write(stop_[1], "x", 1);
    thread_.join();
    for (const int fd : {fd_, stop_[0], stop_[1], traffic_[0], traffic_[1]}) {
      ::close(fd);
    }
  }

  std::uint16_t port() const { return port_; }
  bool stalled() const { return stalled_.load(); }

  // Waits until the first bytes arrived.
  bool wait_for_traffic(std::chrono::milliseconds timeout) {
    pollfd p{traffic_[0], POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
  }

 private:
  bool stopping() {
    pollfd p{stop_[0], POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  }

  // Flips the byte at faults_.corrupt_at if it is among these, counts them, and stalls once
  // when the count passes faults_.stall_after. Returns false when asked to stop.
  bool account(std::byte* data, std::size_t n) {
    if (received_ == 0 && n != 0) {
      [[maybe_unused]] auto w = ::write(traffic_[1], "x", 1);
    }
    if (faults_.corrupt_at && *faults_.corrupt_at >= received_ &&
        *faults_.corrupt_at < received_ + n) {
      data[*faults_.corrupt_at - received_] ^= std::byte{0x5a};
    }
    received_ += n;
    if (faults_.stall_after && !stalled_.load() && received_ >= *faults_.stall_after) {
      stalled_.store(true);
      pollfd p{stop_[0], POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(faults_.stall.count())) != 0) {
        return false;
      }
    }
    return true;
  }

  void serve_tcp() {
    std::vector<int> conns;
    std::vector<std::byte> buf(65536);
    while (!stopping()) {
      std::vector<pollfd> fds{{stop_[0], POLLIN, 0}, {fd_, POLLIN, 0}};
      for (const int c : conns) {
        fds.push_back({c, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 1000) <= 0 || fds[0].revents != 0) {
        continue;
      }
      if (fds[1].revents != 0) {
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          conns.push_back(c);
        }
      }
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) {
          continue;
        }
        const int c = fds[i].fd;
        const ssize_t n = ::recv(c, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n <= 0) {
          ::close(c);
          std::erase(conns, c);
          continue;
        }
        if (!account(buf.data(), static_cast<std::size_t>(n))) {
          break;
        }
        send_all(c, buf.data(), static_cast<std::size_t>(n));
      }
    }
    for (const int c : conns) {
      ::close(c);
    }
  }

  void send_all(int c, const std::byte* data, std::size_t n) {
    const auto deadline = Clock::now() + 5s;
    std::size_t off = 0;
    while (off < n && Clock::now() < deadline) {
      pollfd p{c, POLLOUT, 0};
      ::poll(&p, 1, 100);
      const ssize_t w = ::send(c, data + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0 && errno != EAGAIN) {
        return;
      }
      off += w > 0 ? static_cast<std::size_t>(w) : 0;
    }
  }

  void serve_udp() {
    std::vector<std::byte> buf(65536);
    while (!stopping()) {
      pollfd fds[2] = {{stop_[0], POLLIN, 0}, {fd_, POLLIN, 0}};
      if (::poll(fds, 2, 1000) <= 0 || fds[0].revents != 0) {
        continue;
      }
      sockaddr_storage peer{};
      socklen_t len = sizeof(peer);
      const ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&peer), &len);
      if (n < 0) {
        continue;
      }
      if (!account(buf.data(), static_cast<std::size_t>(n))) {
        break;
      }
      ::sendto(fd_, buf.data(), static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer),
               len);
    }
  }

  Faults faults_;
  int fd_ = -1;
  int stop_[2] = {-1, -1};
  int traffic_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::uint64_t received_ = 0;  // only the server thread touches it
  std::atomic<bool> stalled_{false};
  std::thread thread_;
};

void expect_clean(const RunResult& r, const json& doc) {
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(u64(doc["errors"]["total"]), 0u) << doc["first_error"];
  EXPECT_NE(r.out.find("Errors    none"), std::string::npos) << r.out;
  EXPECT_GT(u64(doc["throughput"]["messages"]), 100u);
}

// ------------------------------------------------------------------ against real servers

TEST(Bench, TcpAgainstServeMatchesTheServersCounters) {
  Server server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  TempFile out(".json");
  const auto r = bench({target("tcp", server.port("tcp")), "-c", "4", "-p", "2", "-d", "1s", "-t",
                        "1", "--json", out.path()});
  const json doc = out.parse();
  expect_clean(r, doc);
  ASSERT_EQ(server.stop(SIGTERM), 0);
  const auto seen = stopped_counters(server.process().stderr_text());
  ASSERT_FALSE(seen.empty()) << server.process().stderr_text();
  const json& wire = doc["wire"];
  EXPECT_EQ(seen.at("tcp_accepted"), 4u);
  EXPECT_EQ(seen.at("tcp_bytes_in"), u64(wire["bytes_sent"]));
  EXPECT_EQ(seen.at("tcp_bytes_out"), u64(wire["bytes_received"]));
  EXPECT_EQ(u64(wire["bytes_sent"]), u64(wire["messages_sent"]) * 64);
  EXPECT_EQ(u64(wire["messages_received"]), u64(wire["messages_sent"]));
  // Nothing owed at the end, and the measured messages are all of them (no warm-up).
  EXPECT_EQ(u64(wire["bytes_received"]), u64(wire["bytes_sent"]));
  EXPECT_EQ(u64(doc["throughput"]["messages"]), u64(wire["messages_received"]));
  EXPECT_EQ(r.out.find("errors 0"), std::string::npos) << "live line printed to a pipe";
}

TEST(Bench, UdpAgainstServeMatchesTheServersCounters) {
  // Without its per-source rate limit: a bench is one source sending as fast as it can.
  Server server({"--udp", "127.0.0.1:0", "--threads", "1", "--udp-rate", "none"});
  TempFile out(".json");
  const auto r = bench({target("udp", server.port("udp")), "-c", "2", "-p", "2", "-d", "1s", "-t",
                        "1", "-s", "100", "--json", out.path()});
  const json doc = out.parse();
  expect_clean(r, doc);
  EXPECT_NE(r.out.find("UDP       0 reordered, 0 late"), std::string::npos) << r.out;
  ASSERT_EQ(server.stop(SIGTERM), 0);
  const auto seen = stopped_counters(server.process().stderr_text());
  ASSERT_FALSE(seen.empty()) << server.process().stderr_text();
  const json& wire = doc["wire"];
  EXPECT_EQ(seen.at("udp_in"), u64(wire["messages_sent"]));
  EXPECT_EQ(seen.at("udp_out"), u64(wire["messages_received"]));
  EXPECT_EQ(seen.at("udp_bytes_in"), u64(wire["bytes_sent"]));
  EXPECT_EQ(u64(wire["bytes_sent"]), u64(wire["messages_sent"]) * 100);
  EXPECT_EQ(u64(doc["errors"]["lost"]), 0u);
}

// A reverse-mode listener answers every datagram, reversed: without --expect reverse each is
// one mismatch (not also a loss after --timeout), the run ends at once, and the error names
// the mode; with it, the run is clean.
TEST(Bench, UdpReverseListenerIsOneMismatchPerDatagramWithAHint) {
  Server server({"--udp-reverse", "127.0.0.1:0", "--threads", "1"});
  const std::string where = target("udp", server.port("udp", "reverse"));
  TempFile out(".json");
  const auto started = Clock::now();
  const auto wrong = bench({where, "-n", "5", "-c", "1", "-t", "1", "--json", out.path()});
  EXPECT_LT(Clock::now() - started, scaled(1500ms)) << "waited for the replies as losses";
  EXPECT_EQ(wrong.exit_code, 1) << wrong.out << wrong.err;
  const json doc = out.parse();
  EXPECT_EQ(u64(doc["errors"]["mismatch"]), 5u);
  EXPECT_EQ(u64(doc["errors"]["lost"]), 0u);
  EXPECT_EQ(u64(doc["errors"]["total"]), 5u);
  EXPECT_NE(unwrap(wrong.err).find("the server is in reverse mode (use --expect reverse)"),
            std::string::npos)
      << wrong.err;

  const auto right = bench({where, "-n", "5", "-c", "1", "-t", "1", "--expect", "reverse", "--json",
                            out.path()});
  EXPECT_EQ(right.exit_code, 0) << right.out << right.err;
  EXPECT_EQ(u64(out.parse()["throughput"]["messages"]), 5u);
  EXPECT_EQ(bench({target("tcp", 9), "--expect", "reverse"}).exit_code, 2);
}

// Against serve's default per-source limit (1,000 replies/s) a UDP bench loses datagrams once
// the burst is spent: the report says the server may be rate-limiting, and how to lift it.
TEST(Bench, UdpLossesAtTheServersRateLimitGetAHint) {
  Server server({"--udp", "127.0.0.1:0", "--threads", "1"});
  const auto r = bench({target("udp", server.port("udp")), "-c", "1", "-t", "1", "-p", "4", "-d",
                        "1500ms", "--timeout", "200ms"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("lost"), std::string::npos) << r.out;
  EXPECT_NE(unwrap(r.out).find("the server may be rate-limiting"), std::string::npos) << r.out;
  EXPECT_NE(unwrap(r.err).find("netecho serve --udp-rate none"), std::string::npos) << r.err;
}

TEST(Bench, CountModeSendsExactlyThatManyOverIpv6) {
  Server server({"--tcp", "[::1]:0", "--threads", "1"});
  TempFile out(".json");
  const auto r = bench({target("tcp", server.port("tcp"), "[::1]"), "-n", "1000", "-c", "3", "-p",
                        "4", "-t", "1", "--json", out.path()});
  const json doc = out.parse();
  expect_clean(r, doc);
  EXPECT_EQ(u64(doc["throughput"]["messages"]), 1000u);
  EXPECT_EQ(u64(doc["wire"]["messages_sent"]), 1000u);
  EXPECT_EQ(doc["parameters"]["address"].get<std::string>().rfind("[::1]:", 0), 0u);
  ASSERT_EQ(server.stop(SIGTERM), 0);
  const auto seen = stopped_counters(server.process().stderr_text());
  EXPECT_EQ(seen.at("tcp_bytes_in"), 64'000u);
  EXPECT_EQ(seen.at("tcp_bytes_out"), 64'000u);
}

// socat -d -d -d logs every transfer of every fork child ("socat[PID] I transferred 64 bytes
// from 6 to 7"); in each child the socket is the descriptor that data both comes from and goes
// to (the other two are its pipe's ends), so the log tells what socat received and sent.
TEST(Bench, AgainstSocatMatchesWhatSocatTransferred) {
  if (!have_command("socat")) {
    GTEST_SKIP() << "socat is not installed (scripts/setup-debian.sh installs it)";
  }
  // socat names the port it bound, which is how port 0 is learned without a race.
  auto socat = Process::spawn({"sh", "-c",
                               "exec socat -d -d -d TCP4-LISTEN:0,bind=127.0.0.1,reuseaddr,fork "
                               "PIPE 2>&1"});
  std::uint16_t port = 0;
  static const std::regex kListening(R"(listening on AF=2 127\.0\.0\.1:(\d+))");
  for (int i = 0; i < 50 && port == 0; ++i) {
    const auto line = socat.read_line(10s);
    ASSERT_TRUE(line) << "socat did not say where it listens";
    std::smatch m;
    if (std::regex_search(*line, m, kListening)) {
      port = static_cast<std::uint16_t>(std::stoi(m[1]));
    }
  }
  ASSERT_NE(port, 0);
  TempFile out(".json");
  auto client = Process::spawn({netecho_bin(), "bench", target("tcp", port), "-c", "2", "-n",
                                "2000", "-p", "2", "-t", "1", "--json", out.path()});
  // socat's log must be read while bench runs, or socat blocks writing it.
  std::vector<std::string> log;
  const auto deadline = Clock::now() + 30s;
  while (client.running() && Clock::now() < deadline) {
    if (auto line = socat.read_line(50ms)) {
      log.push_back(std::move(*line));
    }
  }
  EXPECT_EQ(client.wait(10s), 0);
  socat.stop(SIGTERM);
  while (auto line = socat.read_line(2s)) {
    log.push_back(std::move(*line));
  }
  const json doc = out.parse();
  EXPECT_EQ(u64(doc["errors"]["total"]), 0u) << doc["first_error"];
  EXPECT_EQ(u64(doc["throughput"]["messages"]), 2000u);
  EXPECT_EQ(u64(doc["run"]["connected"]), 2u);

  struct Transfer {
    std::uint64_t bytes;
    int from;
    int to;
  };
  std::map<std::string, std::vector<Transfer>> by_child;
  static const std::regex kTransfer(
      R"(socat\[(\d+)\] I transferred (\d+) bytes from (\d+) to (\d+))");
  for (const auto& line : log) {
    std::smatch m;
    if (std::regex_search(line, m, kTransfer)) {
      by_child[m[1]].push_back({std::stoull(m[2]), std::stoi(m[3]), std::stoi(m[4])});
    }
  }
  EXPECT_EQ(by_child.size(), 2u);  // one fork child per connection
  std::uint64_t socat_in = 0;
  std::uint64_t socat_out = 0;
  for (const auto& [pid, transfers] : by_child) {
    std::set<int> from;
    std::set<int> to;
    for (const auto& t : transfers) {
      from.insert(t.from);
      to.insert(t.to);
    }
    std::vector<int> socket;
    std::set_intersection(from.begin(), from.end(), to.begin(), to.end(),
                          std::back_inserter(socket));
    ASSERT_EQ(socket.size(), 1u) << "child " << pid;
    for (const auto& t : transfers) {
      socat_in += t.from == socket[0] ? t.bytes : 0;
      socat_out += t.to == socket[0] ? t.bytes : 0;
    }
  }
  EXPECT_EQ(socat_in, u64(doc["wire"]["bytes_sent"]));
  EXPECT_EQ(socat_out, u64(doc["wire"]["bytes_received"]));
  EXPECT_EQ(u64(doc["wire"]["bytes_sent"]), 2000u * 64);
}

// ------------------------------------------------------------------ faults are reported

TEST(Bench, CorruptedTcpByteIsAMismatch) {
  FaultyEchoServer server(FaultyEchoServer::Faults::corrupt(false, 1000));
  TempFile out(".json");
  const auto r =
      bench({target("tcp", server.port()), "-c", "1", "-d", "2s", "-t", "1", "--json", out.path()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const json doc = out.parse();
  EXPECT_EQ(u64(doc["errors"]["mismatch"]), 1u);
  EXPECT_EQ(u64(doc["errors"]["total"]), 1u);
  const std::string first = doc["first_error"];
  EXPECT_NE(first.find("byte 1000 of the stream"), std::string::npos) << first;
  EXPECT_NE(r.out.find("mismatch 1"), std::string::npos) << r.out;
  EXPECT_NE(unwrap(r.err).find("byte 1000"), std::string::npos) << r.err;
  // The only connection died at the mismatch: the run ends without waiting for its duration.
  EXPECT_LT(doc["run"]["elapsed_s"].get<double>(), 1.5);
}

TEST(Bench, CorruptedUdpByteIsAMismatchNotALoss) {
  FaultyEchoServer server(FaultyEchoServer::Faults::corrupt(true, 64 * 10 + 40));
  TempFile out(".json");
  const auto r = bench({target("udp", server.port()), "-c", "1", "-n", "50", "-t", "1", "--timeout",
                        "500ms", "--json", out.path()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const json doc = out.parse();
  EXPECT_EQ(u64(doc["errors"]["mismatch"]), 1u);
  EXPECT_EQ(u64(doc["errors"]["lost"]), 0u);
  EXPECT_EQ(u64(doc["errors"]["total"]), 1u);
  EXPECT_EQ(u64(doc["throughput"]["messages"]), 49u);
  const std::string first = doc["first_error"];
  EXPECT_NE(first.find("datagram 10 differs at byte 40"), std::string::npos) << first;
}

// A port on 127.0.0.1 that refuses: TCP, a bound socket that does not listen holds it; UDP, a
// socket bound to it and connected elsewhere, so the kernel answers our datagrams with ICMP port
// unreachable. Either way no other process takes the port meanwhile.
class RefusingPort {
 public:
  explicit RefusingPort(int type) : fd_(::socket(AF_INET, type | SOCK_CLOEXEC, 0)) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sin), len) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
      throw std::runtime_error("cannot bind a port on 127.0.0.1");
    }
    port_ = ntohs(sin.sin_port);
    sin.sin_port = htons(9);
    if (type == SOCK_DGRAM && ::connect(fd_, reinterpret_cast<sockaddr*>(&sin), len) != 0) {
      throw std::runtime_error("cannot connect a UDP socket to 127.0.0.1:9");
    }
  }
  ~RefusingPort() { ::close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

TEST(Bench, ClosedTcpPortIsAClearError) {
  const RefusingPort refusing(SOCK_STREAM);
  const std::string where = target("tcp", refusing.port());
  const auto started = Clock::now();
  const auto r = bench({where, "-c", "3", "-d", "10s", "-t", "1"}, 10s);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot connect to " + where + ": Connection refused"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");  // no report for a run that never started
  EXPECT_LT(Clock::now() - started, 5s);
}

// An output file is written whole or not touched: a run that never started leaves the
// previous documents as they were, and no temporary file behind.
TEST(Bench, RefusedRunLeavesExistingOutputFilesUntouched) {
  const RefusingPort refusing(SOCK_STREAM);
  TempFile json_out(".json");
  TempFile svg_out(".svg");
  std::ofstream(json_out.path()) << "{\"previous\": true}\n";
  std::ofstream(svg_out.path()) << "<svg/>\n";
  const auto r = bench({target("tcp", refusing.port()), "-c", "2", "-d", "5s", "-t", "1",
                        "--json", json_out.path(), "--plot", svg_out.path()},
                       10s);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(json_out.text(), "{\"previous\": true}\n");
  EXPECT_EQ(svg_out.text(), "<svg/>\n");
  const auto temp = run({"sh", "-c", "ls " + json_out.path() + ".* " + svg_out.path() + ".*"});
  EXPECT_EQ(temp.out, "") << "temporary files left behind";
}

TEST(Bench, ClosedUdpPortIsAClearError) {
  const RefusingPort refusing(SOCK_DGRAM);
  TempFile out(".json");
  const auto r = bench(
      {target("udp", refusing.port()), "-c", "2", "-d", "10s", "-t", "1", "--json", out.path()},
      10s);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(unwrap(r.err).find("connection refused (port unreachable)"), std::string::npos)
      << r.err;
  const json doc = out.parse();
  EXPECT_EQ(u64(doc["errors"]["refused"]), 2u);
  EXPECT_LT(doc["run"]["elapsed_s"].get<double>(), 5.0);
}

// ------------------------------------------------------------------ 80 columns

// Everything bench writes for a person fits an 80-column terminal: the report (the run's
// description, the latency table, Wire, First, Hint) and its messages on standard error, over
// TCP (with a warm-up) and UDP, with errors (a corrupted byte, a refused UDP port, a refused
// TCP port) and with the hint of a rate-limited UDP run.
TEST(Bench, EveryLineFitsEightyColumns) {
  Server server({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--threads", "1"});
  FaultyEchoServer corrupting(FaultyEchoServer::Faults::corrupt(false, 1000));
  const RefusingPort refusing_udp(SOCK_DGRAM);
  const RefusingPort refusing_tcp(SOCK_STREAM);
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    const char* shows;  // what the run prints, so each case is the run it is meant to be
  };
  const Case cases[] = {
      {{target("tcp", server.port("tcp")), "-c", "20", "-p", "2", "-d", "1s", "--warmup", "200ms"},
       0,
       "in warm-up"},
      {{target("udp", server.port("udp")), "-c", "1", "-p", "4", "-d", "1500ms", "--timeout",
        "200ms"},
       1,
       "Hint"},
      {{target("tcp", corrupting.port()), "-c", "1", "-d", "2s"}, 1, "First"},
      {{target("udp", refusing_udp.port()), "-c", "2", "-d", "2s"}, 1, "refused 2"},
      {{target("tcp", refusing_tcp.port()), "-c", "2", "-d", "2s"}, 1, "Connection refused"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"-t", "1"});
    const auto r = bench(args);
    SCOPED_TRACE(args[0]);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.out << r.err;
    EXPECT_NE(unwrap(r.out + r.err).find(c.shows), std::string::npos) << r.out << r.err;
    expect_fits_terminal(r.out, "stdout");
    expect_fits_terminal(r.err, "stderr");
  }
}

// ------------------------------------------------------------------ coordinated omission

// A server that stalls for 1 s once. Closed loop, the stall delays one message per connection:
// the maximum shows it, p99 does not. Open loop, every message due during the stall is late by
// up to a second, and latency counts from the intended send time: p99 shows it.
TEST(Bench, OpenLoopShowsAStallInP99WhereClosedLoopDoesNot) {
  const auto stall_once = FaultyEchoServer::Faults::stall_once(64 * 200, 1000ms);
  json closed;
  json open;
  {
    FaultyEchoServer server(stall_once);
    TempFile out(".json");
    const auto r = bench({target("tcp", server.port()), "-c", "1", "-d", "2s", "-t", "1",
                          "--timeout", "5s", "--json", out.path()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(server.stalled());
    closed = out.parse();
  }
  {
    FaultyEchoServer server(stall_once);
    TempFile out(".json");
    const auto r = bench({target("tcp", server.port()), "-c", "1", "-d", "2s", "-t", "1", "--rate",
                          "1000", "--timeout", "5s", "--json", out.path()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(server.stalled());
    open = out.parse();
  }
  const double second = 1e9;
  EXPECT_GE(closed["latency_ns"]["max"].get<double>(), 0.9 * second) << closed["latency_ns"];
  EXPECT_LT(closed["latency_ns"]["p99"].get<double>(), 0.1 * second) << closed["latency_ns"];
  EXPECT_GE(open["latency_ns"]["max"].get<double>(), 0.9 * second) << open["latency_ns"];
  EXPECT_GE(open["latency_ns"]["p99"].get<double>(), 0.5 * second) << open["latency_ns"];
  // The open loop kept its schedule: about 2,000 messages in 2 s, stall or not.
  EXPECT_NEAR(open["throughput"]["messages"].get<double>(), 2000, 200);
}

// The same at the end of the window: a stall that starts 0.3 s before the end and outlasts it.
// The messages due in those 0.3 s are sent during the drain, once the server answers again,
// and counted from their intended times: about 300 of 1,500 samples are 0.7 s late or more.
TEST(Bench, OpenLoopShowsAStallThatOutlastsTheRun) {
  FaultyEchoServer server(FaultyEchoServer::Faults::stall_once(64 * 1200, 1000ms));
  TempFile out(".json");
  const auto r = bench({target("tcp", server.port()), "-c", "1", "-d", "1500ms", "-t", "1",
                        "--rate", "1000", "--timeout", "5s", "--json", out.path()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(server.stalled());
  const json doc = out.parse();
  EXPECT_GE(doc["latency_ns"]["p99"].get<double>(), 0.5e9) << doc["latency_ns"];
  EXPECT_NEAR(doc["throughput"]["messages"].get<double>(), 1500, 150);
  EXPECT_EQ(u64(doc["wire"]["messages_received"]), u64(doc["wire"]["messages_sent"]));
}

TEST(Bench, OpenLoopKeepsItsRate) {
  Server server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  TempFile out(".json");
  const auto r = bench({target("tcp", server.port("tcp")), "-c", "4", "-d", "1s", "-t", "1",
                        "--rate", "2000", "--json", out.path()});
  const json doc = out.parse();
  expect_clean(r, doc);
  EXPECT_EQ(doc["parameters"]["mode"], "open");
  EXPECT_NEAR(doc["throughput"]["messages"].get<double>(), 2000, 100);
  EXPECT_NEAR(doc["throughput"]["messages_per_s"].get<double>(), 2000, 100);
}

TEST(Bench, PipelinedLatenciesAreNeverZero) {
  // Every message's latency runs from its own send to its own echo. Stamping completions with
  // one clock read per loop turn once recorded 0 for a fifth of pipelined UDP messages (sent
  // and answered within the same turn); a round trip over loopback takes microseconds.
  Server server({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--threads", "1",
                 "--udp-rate", "none"});
  for (const std::string& backend : backend_names()) {
    for (const char* proto : {"udp", "tcp"}) {
      SCOPED_TRACE(std::string(proto) + " with bench on " + backend);
      TempFile out(".json");
      const auto r = bench({target(proto, server.port(proto)), "-c", "4", "-p", "16", "-d",
                            "500ms", "-t", "1", "--backend", backend, "--json", out.path()});
      const json doc = out.parse();
      expect_clean(r, doc);
      EXPECT_GE(doc["latency_ns"]["min"].get<double>(), 1000.0) << doc["latency_ns"];
    }
  }
}

TEST(Bench, MessageLargerThanTheSocketBuffersIsEchoedWithoutErrors) {
  // An 8 MiB message cannot be in the socket at once: part of it is echoed while the rest is
  // still being sent. None of that is a mismatch, whichever engine bench runs on.
  Server server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  for (const std::string& backend : backend_names()) {
    SCOPED_TRACE("bench on " + backend);
    TempFile out(".json");
    const auto r = bench({target("tcp", server.port("tcp")), "-c", "1", "-s", "8MiB", "-n", "4",
                          "-t", "1", "--backend", backend, "--json", out.path()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const json doc = out.parse();
    EXPECT_EQ(u64(doc["errors"]["total"]), 0u) << doc["first_error"];
    EXPECT_EQ(u64(doc["throughput"]["messages"]), 4u);
    EXPECT_EQ(u64(doc["wire"]["bytes_received"]), 4u * 8 * 1024 * 1024);
  }
}

TEST(Bench, OpenLoopThatFallsBehindReportsWhatItNeverSent) {
  // 1,000,000 messages/s on one connection, one at a time: far more than a round trip allows.
  // Every message due in the second is accounted for: answered (measured), in flight at the
  // end (abandoned), or never sent (unsent); none is an error, but a run that did not reach
  // its rate fails, saying so; the rate is over the real span, backlog included, not over the
  // nominal second.
  Server server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  TempFile out(".json");
  const auto r = bench({target("tcp", server.port("tcp")), "-c", "1", "-p", "1", "-d", "1s",
                        "-t", "1", "--rate", "1000000", "--timeout", "1s", "--json", out.path()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("--rate 1,000,000 was not reached"), std::string::npos) << r.err;
  const json doc = out.parse();
  EXPECT_EQ(u64(doc["errors"]["total"]), 0u) << doc["first_error"];
  const std::uint64_t measured = u64(doc["throughput"]["messages"]);
  const std::uint64_t abandoned = u64(doc["wire"]["abandoned"]);
  const std::uint64_t unsent = u64(doc["wire"]["unsent"]);
  EXPECT_GT(unsent, 0u);
  EXPECT_EQ(measured + abandoned + unsent, 1'000'000u)
      << measured << " measured, " << abandoned << " abandoned, " << unsent << " unsent";
  EXPECT_GT(doc["run"]["elapsed_s"].get<double>(), 1.0);
  EXPECT_NEAR(doc["throughput"]["messages_per_s"].get<double>(),
              static_cast<double>(measured) / doc["run"]["elapsed_s"].get<double>(), 1.0);
  EXPECT_NE(unwrap(r.out).find("fell due but were never sent"), std::string::npos) << r.out;
}

TEST(Bench, LateUdpRepliesAreLateNotDuplicates) {
  // The server is stopped for the first 1.5 s of a run with a deep pipeline: the datagrams
  // queued for it time out (lost), and their replies, when it resumes, are late, never
  // "second replies".
  Server server({"--udp", "127.0.0.1:0", "--threads", "1", "--udp-rate", "none"});
  TempFile out(".json");
  ASSERT_EQ(::kill(server.process().pid(), SIGSTOP), 0);
  Process run = Process::spawn({netecho_bin(), "bench", target("udp", server.port("udp")), "-c",
                                "1", "-p", "256", "-t", "1", "-d", "3s", "--timeout", "500ms",
                                "--json", out.path()});
  std::this_thread::sleep_for(1500ms);  // the length of the stall: the test's subject
  ASSERT_EQ(::kill(server.process().pid(), SIGCONT), 0);
  EXPECT_EQ(run.wait(20s), 1);  // losses are errors
  const json doc = out.parse();
  EXPECT_GT(u64(doc["errors"]["lost"]), 0u);
  EXPECT_GT(u64(doc["udp"]["late"]), 0u);
  EXPECT_EQ(u64(doc["errors"]["duplicate"]), 0u) << doc["first_error"];
}

// ------------------------------------------------------------------ output

// Every field path in the table of docs/BENCH.md's "## JSON" section ("| `latency_ns.p50` | ...")
// is in the document, and every field of the document is in that table.
TEST(Bench, JsonHoldsEveryDocumentedField) {
  std::ifstream docs(std::string(NETECHO_SOURCE_DIR) + "/docs/BENCH.md");
  ASSERT_TRUE(docs) << "docs/BENCH.md is missing";
  std::set<std::string> documented;
  static const std::regex kRow(R"(^\| `([a-z0-9_.\[\]]+)` \|)");
  std::string line;
  bool in_json_section = false;
  while (std::getline(docs, line)) {
    if (line.rfind("## ", 0) == 0) {
      in_json_section = line == "## JSON";
    }
    std::smatch m;
    if (in_json_section && std::regex_search(line, m, kRow)) {
      documented.insert(m[1]);
    }
  }
  ASSERT_GT(documented.size(), 40u);

  Server server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  TempFile out(".json");
  const auto r = bench({target("tcp", server.port("tcp")), "-c", "2", "-d", "300ms", "-t", "1",
                        "--warmup", "100ms", "--json", out.path()});
  const json doc = out.parse();
  expect_clean(r, doc);

  std::set<std::string> present;
  const std::function<void(const json&, const std::string&)> walk = [&](const json& j,
                                                                        const std::string& at) {
    if (j.is_object()) {
      for (const auto& [key, value] : j.items()) {
        const std::string path = at.empty() ? key : at + "." + key;
        present.insert(path);
        walk(value, path);
      }
    } else if (j.is_array() && !j.empty()) {
      walk(j.front(), at + "[]");
    }
  };
  walk(doc, "");
  for (const auto& path : documented) {
    EXPECT_TRUE(present.contains(path)) << "documented but not in the JSON: " << path;
  }
  for (const auto& path : present) {
    EXPECT_TRUE(documented.contains(path)) << "in the JSON but not documented: " << path;
  }
  EXPECT_GT(u64(doc["wire"]["warmup_messages"]), 0u);
  EXPECT_GT(doc["cpu"]["per_message_us"].get<double>(), 0.0);
}

TEST(Bench, PlotIsWellFormedSvgWithTheDistribution) {
  Server server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  TempFile json_out(".json");
  TempFile svg(".svg");
  const std::string where = target("tcp", server.port("tcp"));
  const auto r = bench({where, "-c", "2", "-d", "500ms", "-t", "1", "--json", json_out.path(),
                        "--plot", svg.path()});
  const json doc = json_out.parse();
  expect_clean(r, doc);
  const auto points = doc["latency_distribution"].size();
  // python3's XML parser must accept it, with the series and the title where expected.
  const std::string script =
      "import sys, xml.etree.ElementTree as ET\n"
      "ns = {'s': 'http://www.w3.org/2000/svg'}\n"
      "root = ET.parse(sys.argv[1]).getroot()\n"
      "assert root.tag == '{http://www.w3.org/2000/svg}svg', root.tag\n"
      "line = root.find(\".//s:polyline[@id='latency']\", ns)\n"
      "pts = [p.split(',') for p in line.get('points').split()]\n"
      "assert all(len(p) == 2 for p in pts)\n"
      "xs = [float(p[0]) for p in pts]\n"
      "assert xs == sorted(xs), 'percentile axis not increasing'\n"
      "title = root.find(\".//s:text[@id='title']\", ns).text\n"
      "ticks = [t.text for t in root.findall(\".//s:g[@id='x-axis']/s:text\", ns)]\n"
      "print(len(pts)); print(title); print(' '.join(ticks))\n";
  const auto py = run({"python3", "-c", script, svg.path()});
  ASSERT_EQ(py.exit_code, 0) << py.err;
  std::istringstream lines(py.out);
  std::string count, title, ticks;
  std::getline(lines, count);
  std::getline(lines, title);
  std::getline(lines, ticks);
  EXPECT_EQ(std::stoul(count), points);
  EXPECT_NE(title.find(where), std::string::npos) << title;
  EXPECT_NE(title.find("2 connections"), std::string::npos) << title;
  EXPECT_EQ(ticks.rfind("0% 90% 99%", 0), 0u) << ticks;
}

TEST(Bench, CtrlCEndsTheRunAndStillReports) {
  FaultyEchoServer server(FaultyEchoServer::Faults::none());
  TempFile out(".json");
  auto proc = Process::spawn({netecho_bin(), "bench", target("tcp", server.port()), "-c", "2", "-d",
                              "30s", "-t", "1", "--json", out.path()});
  ASSERT_TRUE(server.wait_for_traffic(10s));
  const auto started = Clock::now();
  EXPECT_EQ(proc.stop(SIGINT, 10s), 0);
  EXPECT_LT(Clock::now() - started, 3s);
  std::string text;
  while (auto line = proc.read_line(1s)) {
    text += *line + "\n";
  }
  EXPECT_NE(text.find("Interrupted"), std::string::npos) << text;
  EXPECT_NE(text.find("msgs/s"), std::string::npos) << text;
  const json doc = out.parse();
  EXPECT_TRUE(doc["run"]["interrupted"].get<bool>());
  EXPECT_EQ(u64(doc["errors"]["total"]), 0u);
  EXPECT_GT(u64(doc["throughput"]["messages"]), 0u);
  EXPECT_LT(doc["run"]["elapsed_s"].get<double>(), 29.0);
}

// Runs netecho ARGS with a terminal (python3's pty module) for its standard streams. With
// interrupt_after, types Ctrl-C on that terminal once the output holds that text: the terminal
// echoes "^C" and sends SIGINT, as when a user presses the keys. The output has the terminal's
// "\r\n" line ends. Bounded: the script gives up after 20 s and kills the child.
RunResult run_on_terminal(const std::vector<std::string>& args,
                          const std::string& interrupt_after = {}) {
  const std::string script =
      "import os, pty, select, signal, sys, time\n"
      "pid, fd = pty.fork()\n"
      "if pid == 0:\n"
      "    os.execv(sys.argv[2], sys.argv[2:])\n"
      "trigger = sys.argv[1].encode()\n"
      "out = b''\n"
      "end = time.monotonic() + 20\n"
      "while time.monotonic() < end:\n"
      "    if select.select([fd], [], [], 0.5)[0]:\n"
      "        try:\n"
      "            chunk = os.read(fd, 65536)\n"
      "        except OSError:\n"
      "            break\n"
      "        if not chunk:\n"
      "            break\n"
      "        out += chunk\n"
      "        if trigger and trigger in out:\n"
      "            trigger = b''\n"
      "            os.write(fd, b'\\x03')\n"
      "else:\n"
      "    os.kill(pid, signal.SIGKILL)\n"
      "_, status = os.waitpid(pid, 0)\n"
      "sys.stdout.write(out.decode(errors='replace'))\n"
      "sys.exit(os.waitstatus_to_exitcode(status))\n";
  std::vector<std::string> argv = {"python3", "-c", script, interrupt_after, netecho_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, 30s);
}

TEST(Bench, LiveLineOnlyOnATerminal) {
  Server server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  const auto r = run_on_terminal(
      {"bench", target("tcp", server.port("tcp")), "-c", "2", "-d", "2300ms", "-t", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  static const std::regex kLive(R"(\n\s+(\d+) s\s+[\d,]+ msgs/s\s+[\d.]+ MB/s\s+p50 .* errors 0)");
  std::vector<int> seconds;
  const std::string text = "\n" + r.out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kLive);
       it != std::sregex_iterator(); ++it) {
    seconds.push_back(std::stoi((*it)[1]));
  }
  // One line per whole second of the run: 1 and 2 for 2.3 s, and one more for each second
  // the last replies took beyond it on a loaded machine (the report says how long it ran).
  static const std::regex kElapsed(R"(messages in ([\d.]+) s)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, kElapsed)) << r.out;
  const auto whole_seconds = static_cast<std::size_t>(std::stod(m[1]));
  ASSERT_GE(seconds.size(), 2u) << r.out;
  EXPECT_LE(seconds.size(), std::max<std::size_t>(2, whole_seconds)) << r.out;
  for (std::size_t i = 0; i < seconds.size(); ++i) {
    EXPECT_EQ(seconds[i], static_cast<int>(i) + 1) << r.out;
  }
  EXPECT_NE(r.out.find("Errors    none"), std::string::npos) << r.out;
}

// Ctrl-C while warming up: the run measured nothing, says so and fails; the report starts on a
// line of its own, not after the terminal's "^C".
TEST(Bench, CtrlCInTheWarmUpMeasuredNothing) {
  Server server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  const auto r = run_on_terminal({"bench", target("tcp", server.port("tcp")), "-c", "1", "-t", "1",
                                  "--warmup", "30s", "-d", "1s"},
                                 " warm-up\r\n");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("^C\r\nnetecho bench "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("measured nothing"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("0 messages in"), std::string::npos) << r.out;
}

TEST(Bench, UsageErrors) {
  EXPECT_EQ(bench({"tcp://127.0.0.1:9", "-d", "1s", "-n", "10"}).exit_code, 2);
  const auto small = bench({"udp://127.0.0.1:9", "-s", "10"});
  EXPECT_EQ(small.exit_code, 2);
  EXPECT_NE(small.err.find("--size"), std::string::npos) << small.err;
  const auto bad = bench({"tcp://127.0.0.1:9", "-d", "soon"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("soon"), std::string::npos) << bad.err;
  EXPECT_EQ(bench({"tcp://127.0.0.1:9", "-c", "0"}).exit_code, 2);
  EXPECT_EQ(bench({"tcp://127.0.0.1:9", "-s", "1x"}).exit_code, 2);
  EXPECT_EQ(bench({"tcp://127.0.0.1:70000"}).exit_code, 2);
  // The chart is SVG: a PNG name is refused, not given SVG bytes.
  const auto png = bench({"tcp://127.0.0.1:9", "--plot", "/tmp/netecho-chart.png"});
  EXPECT_EQ(png.exit_code, 2);
  EXPECT_NE(png.err.find("must end in .svg"), std::string::npos) << png.err;
  const auto unwritable = bench({"tcp://127.0.0.1:9", "--json", "/nonexistent/dir/x.json"});
  EXPECT_EQ(unwritable.exit_code, 1);
  EXPECT_NE(unwritable.err.find("/nonexistent/dir/x.json"), std::string::npos) << unwritable.err;
}

// ------------------------------------------------------------------------------ bench merge

// The sample of nearest rank ceil(p / 100 * n) lies in the bucket it names: from its lowest
// value up to the next bucket's. Computed here from the summed bucket counts alone.
std::pair<std::uint64_t, std::uint64_t> bucket_of_rank(
    const std::map<std::uint64_t, std::uint64_t>& buckets, std::uint64_t rank) {
  std::uint64_t cumulative = 0;
  for (auto it = buckets.begin(); it != buckets.end(); ++it) {
    cumulative += it->second;
    if (cumulative >= rank) {
      const std::uint64_t lowest = it->first;
      // The bucket's width: 1 below 256 ns, then 2^(bit width - 8).
      const int width_bits = std::max(0, static_cast<int>(std::bit_width(lowest)) - 8);
      return {lowest, lowest + (std::uint64_t{1} << width_bits) - 1};
    }
  }
  return {0, 0};
}

TEST(Bench, MergeOfTwoRealRunsEqualsOneHistogramOfBoth) {
  Server server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  const std::string where = target("tcp", server.port("tcp"));
  TempFile a(".json");
  TempFile b(".json");
  TempFile merged(".json");
  TempFile svg(".svg");
  // One after the other: the arguments of one call are evaluated in no set order.
  const auto ra = bench({where, "-c", "2", "-n", "3000", "-t", "1", "--json", a.path()});
  expect_clean(ra, a.parse());
  const auto rb = bench({where, "-c", "3", "-n", "5000", "-t", "1", "--json", b.path()});
  expect_clean(rb, b.parse());
  const auto r = bench({"merge", a.path(), b.path(), "--json", merged.path(), "--plot", svg.path()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json da = a.parse();
  const json db = b.parse();
  const json m = merged.parse();

  std::map<std::uint64_t, std::uint64_t> both;
  for (const json* d : {&da, &db}) {
    for (const auto& bucket : (*d)["latency_ns"]["buckets"]) {
      both[u64(bucket[0])] += u64(bucket[1]);
    }
  }
  std::map<std::uint64_t, std::uint64_t> got;
  for (const auto& bucket : m["latency_ns"]["buckets"]) {
    got[u64(bucket[0])] += u64(bucket[1]);
  }
  EXPECT_EQ(got, both);
  EXPECT_EQ(u64(m["latency_ns"]["count"]), 8000u);
  EXPECT_EQ(u64(m["throughput"]["messages"]), 8000u);
  EXPECT_EQ(u64(m["latency_ns"]["min"]),
            std::min(u64(da["latency_ns"]["min"]), u64(db["latency_ns"]["min"])));
  EXPECT_EQ(u64(m["latency_ns"]["max"]),
            std::max(u64(da["latency_ns"]["max"]), u64(db["latency_ns"]["max"])));
  for (const char* name : {"p50", "p90", "p99", "p99_9"}) {
    const double p = name == std::string("p50")   ? 50
                     : name == std::string("p90") ? 90
                     : name == std::string("p99") ? 99
                                                  : 99.9;
    const auto rank = static_cast<std::uint64_t>(std::llround(p * 8000 / 100));
    const auto [lo, hi] = bucket_of_rank(both, rank);
    const std::uint64_t value = u64(m["latency_ns"][name]);
    EXPECT_GE(value, lo) << name;
    EXPECT_LE(value, hi) << name;
  }
  for (const char* field : {"messages_sent", "messages_received", "bytes_sent", "bytes_received"}) {
    EXPECT_EQ(u64(m["wire"][field]), u64(da["wire"][field]) + u64(db["wire"][field])) << field;
  }
  EXPECT_EQ(u64(m["parameters"]["connections"]), 5u);
  ASSERT_EQ(m["sources"].size(), 2u);
  EXPECT_EQ(m["sources"][0]["source"], a.path());
  EXPECT_EQ(m["sources"][1]["source"], b.path());
  // The two runs ran one after the other: the rate is over both windows, not the span between.
  const double window = da["run"]["elapsed_s"].get<double>() + db["run"]["elapsed_s"].get<double>();
  EXPECT_NEAR(m["throughput"]["messages_per_s"].get<double>(), 8000 / window, 8000 / window * 1e-3);
  EXPECT_NE(r.out.find("8,000 messages"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  Source    " + a.path() + ": errors none"), std::string::npos) << r.out;
  EXPECT_NE(svg.text().find("id=\"latency\""), std::string::npos);
}

TEST(Bench, MergeRefusesDocumentsThatDoNotAddUp) {
  Server server({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--udp-rate", "none",
                 "--threads", "1"});
  TempFile tcp(".json");
  TempFile udp(".json");
  TempFile other(".json");
  const auto rt = bench({target("tcp", server.port("tcp")), "-c", "1", "-n", "200", "-t", "1",
                         "--json", tcp.path()});
  expect_clean(rt, tcp.parse());
  const auto ru = bench({target("udp", server.port("udp")), "-c", "1", "-n", "200", "-t", "1",
                         "--json", udp.path()});
  expect_clean(ru, udp.parse());
  auto r = bench({"merge", tcp.path(), udp.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "netecho bench merge: " + tcp.path() + " measured tcp and " + udp.path() +
                       " measured udp: a merge needs one transport\n");
  {
    std::ofstream(other.path()) << R"({"schema": "netecho-ping/1"})";
  }
  r = bench({"merge", tcp.path(), other.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(other.path() + ": not a netecho bench document"), std::string::npos)
      << r.err;
  r = bench({"merge", tcp.path(), "/nonexistent/x.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "netecho bench merge: cannot read /nonexistent/x.json: No such file or "
                   "directory\n");
  r = bench({"merge"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

// ---------------------------------------------------------------------------- bench --hdr-log

// The log decoded by hdr-histogram-js (tests/hdr-js, installed by scripts/setup-debian.sh), not
// by netecho's code: the same count, and each of bench's percentiles in the bucket that
// hdr-histogram-js reports for it. 20,000 messages: every percentile below names a whole rank,
// so HdrHistogram's rounding of the rank and bench's ceiling agree.
TEST(Bench, HdrLogDecodesWithHdrHistogramJs) {
  const std::string js = std::string(NETECHO_SOURCE_DIR) + "/tests/hdr-js";
  if (::access((js + "/node_modules/hdr-histogram-js/package.json").c_str(), R_OK) != 0) {
    // Skipped only when the set-up tried the npm registry and recorded why it could not.
    std::ifstream why(js + "/.unavailable");
    std::string reason;
    ASSERT_TRUE(std::getline(why, reason))
        << "hdr-histogram-js is not installed: run scripts/setup-debian.sh (tests/hdr-js/setup.sh)";
    GTEST_SKIP() << "hdr-histogram-js could not be installed: " << reason;
  }
  Server server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  TempFile doc(".json");
  TempFile log(".hlog");
  const auto r = bench({target("tcp", server.port("tcp")), "-c", "4", "-n", "20000", "-t", "1",
                        "--json", doc.path(), "--hdr-log", log.path()});
  const json d = doc.parse();
  expect_clean(r, d);
  EXPECT_NE(log.text().find("#[StartTime: "), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
                            "\"Interval_Compressed_Histogram\"\n"),
            std::string::npos)
      << log.text();
  const auto decoded = run({"node", js + "/decode.js", log.path(), "50", "90", "99", "99.9",
                            "99.99", "100"});
  ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
  const json h = json::parse(decoded.out);
  EXPECT_EQ(u64(h["intervals"]), 1u);
  EXPECT_EQ(u64(h["total_count"]), u64(d["latency_ns"]["count"]));
  EXPECT_EQ(u64(h["total_count"]), 20000u);
  EXPECT_EQ(u64(h["significant_digits"]), 2u);
  EXPECT_NEAR(h["start_time_s"].get<double>(), u64(d["started_unix_ns"]) / 1e9, 1e-3);
  const std::pair<const char*, const char*> names[] = {
      {"50", "p50"}, {"90", "p90"}, {"99", "p99"}, {"99.9", "p99_9"}, {"99.99", "p99_99"},
      {"100", "max"}};
  for (const auto& [p, name] : names) {
    const json& got = h["percentiles"][p];
    const std::uint64_t ours = u64(d["latency_ns"][name]);
    EXPECT_GE(ours, u64(got["lowest"])) << "p" << p << ": hdr-histogram-js says " << got;
    EXPECT_LE(ours, u64(got["highest"])) << "p" << p << ": hdr-histogram-js says " << got;
  }
}

// --------------------------------------------------------------- several hosts, one server

// Three bench processes, each in a namespace of its own (three client addresses on one segment),
// against one server, at the same time: their documents merged by bench merge add up to the
// server's own counters, message for message and byte for byte.
TEST(Bench, RunsFromThreeHostsMergeToTheServersCounters) {
  if (auto why = netns_unavailable()) {
    GTEST_SKIP() << *why;
  }
  Netns srv("srv");
  Segment lan("lan");
  lan.attach(srv, "198.18.3.1/24");
  std::vector<Netns> hosts;
  for (int i = 0; i < 3; ++i) {
    hosts.emplace_back("bench" + std::to_string(i));
    lan.attach(hosts.back(), "198.18.3." + std::to_string(11 + i) + "/24");
  }
  Server server(Process::spawn(srv.wrap({netecho_bin(), "serve", "--tcp", "198.18.3.1:0",
                                         "--threads", "1"})));
  const std::string where = "tcp://198.18.3.1:" + std::to_string(server.port("tcp"));
  std::vector<TempFile> docs;
  std::vector<Process> runs;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    docs.emplace_back(".json");
    runs.push_back(Process::spawn(hosts[i].wrap({netecho_bin(), "bench", where, "-c", "2", "-d",
                                                 "1s", "-t", "1", "--json", docs[i].path()})));
  }
  for (auto& p : runs) {
    EXPECT_EQ(p.wait(scaled(30s)), 0) << p.stderr_text();
  }
  std::vector<std::string> merge = {"merge"};
  for (const auto& d : docs) merge.push_back(d.path());
  TempFile merged(".json");
  merge.insert(merge.end(), {"--json", merged.path()});
  const auto r = bench(merge);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json m = merged.parse();
  ASSERT_EQ(server.stop(SIGTERM), 0);
  const auto seen = stopped_counters(server.process().stderr_text());
  ASSERT_FALSE(seen.empty()) << server.process().stderr_text();
  const json& wire = m["wire"];
  EXPECT_EQ(seen.at("tcp_accepted"), 6u);
  EXPECT_EQ(u64(m["run"]["connected"]), 6u);
  EXPECT_EQ(seen.at("tcp_bytes_in"), u64(wire["bytes_sent"]));
  EXPECT_EQ(seen.at("tcp_bytes_out"), u64(wire["bytes_received"]));
  EXPECT_EQ(u64(wire["bytes_sent"]), u64(wire["messages_sent"]) * 64);
  EXPECT_EQ(u64(wire["messages_received"]), u64(wire["messages_sent"]));
  EXPECT_GT(u64(wire["messages_received"]), 0u);
  ASSERT_EQ(m["sources"].size(), 3u);
  // Three windows of about 1 s that overlap: the union is far from their 3 s sum.
  EXPECT_LT(m["run"]["elapsed_s"].get<double>(), 2.5);
}

}  // namespace
}  // namespace netecho::test
