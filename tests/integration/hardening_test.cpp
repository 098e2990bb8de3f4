// The guards of docs/SECURITY.md against the real binary and real sockets: connection caps,
// idle timeout, descriptor exhaustion, the UDP guard (deny list, own address, rate limit,
// oversize), graceful drain and signals, privilege drop, and an idle server that stays idle.
//
// Per-source cases use distinct loopback sources (127.0.0.2, 127.0.0.3, ...: the whole of
// 127/8 is local on Linux). Cases that need root (forged source ports through raw sockets,
// binding port 7, dropping privileges) skip with the reason when not root.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

namespace netecho::test {
namespace {

using Clock = std::chrono::steady_clock;
using Counts = std::map<std::string, std::uint64_t>;

int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Lines of text that contain needle.
std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) {
      out.push_back(line);
    }
  }
  return out;
}

sockaddr_in v4(const std::string& host, std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &sin.sin_addr);
  return sin;
}

// A socket bound to source:source_port (0: any port), before anything else happens to it.
Socket bound_socket(int type, const std::string& source, std::uint16_t source_port,
                    bool reuse_port = false) {
  Socket s(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!s.valid()) {
    throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  }
  if (reuse_port) {
    const int one = 1;
    ::setsockopt(s.fd(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  }
  const sockaddr_in src = v4(source, source_port);
  if (::bind(s.fd(), reinterpret_cast<const sockaddr*>(&src), sizeof(src)) != 0) {
    throw std::runtime_error("bind " + source + ":" + std::to_string(source_port) + ": " +
                             std::strerror(errno));
  }
  return s;
}

// A TCP connection to 127.0.0.1:port from the given source address.
Socket tcp_from(const std::string& source, std::uint16_t port, int rcvbuf = 0) {
  Socket s = bound_socket(SOCK_STREAM, source, 0);
  if (rcvbuf != 0) {
    ::setsockopt(s.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  }
  const sockaddr_in dst = v4("127.0.0.1", port);
  if (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&dst), sizeof(dst)) != 0) {
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
  }
  return s;
}

// One byte out and back: whether the connection is served.
bool echoes(Socket& s, std::chrono::milliseconds timeout = scaled(5000ms)) {
  const Bytes one = to_bytes("x");
  if (::send(s.fd(), one.data(), 1, MSG_NOSIGNAL) != 1) {
    return false;
  }
  return s.recv_exact(1, timeout) == one;
}

// What the server did with a connection: the bytes it sent back before closing it, and how it
// closed (nullopt: it did neither before the timeout).
struct Ending {
  Bytes data;
  bool reset = false;
};
std::optional<Ending> wait_closed(Socket& s, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Ending e;
  std::vector<std::byte> buf(65536);
  for (;;) {
    pollfd p{s.fd(), POLLIN, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) {
      return std::nullopt;
    }
    const ssize_t n = ::recv(s.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n == 0) {
      return e;
    }
    if (n < 0) {
      if (errno == EAGAIN) {
        continue;
      }
      e.reset = errno == ECONNRESET;
      return e;
    }
    e.data.insert(e.data.end(), buf.begin(), buf.begin() + n);
  }
}

// A connection the server refused: reset or closed without a byte of echo.
bool refused_without_echo(Socket& s) {
  const char probe = 'x';
  ::send(s.fd(), &probe, 1, MSG_NOSIGNAL);  // may fail: the reset can come first
  const auto end = wait_closed(s, scaled(5s));
  return end && end->data.empty();
}

// The port a socket is bound to (IPv4 or IPv6).
std::uint16_t local_port(const Socket& s) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(s.fd(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return 0;
  }
  return ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port
                                        : reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
}

// Sends into s without reading until the kernel takes no more (bounded by count); appends
// what it sent to *sent_bytes when given.
std::size_t fill_until_full(Socket& s, Bytes* sent_bytes = nullptr) {
  const Bytes chunk = random_bytes(65536, 5);
  std::size_t sent = 0;
  for (int i = 0; i < 4096; ++i) {
    const ssize_t n = ::send(s.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) {
      break;
    }
    sent += static_cast<std::size_t>(n);
    if (sent_bytes != nullptr) {
      sent_bytes->insert(sent_bytes->end(), chunk.begin(), chunk.begin() + n);
    }
  }
  return sent;
}

// The connection is not refused: a new connection to port succeeds.
bool accepts_connections(std::uint16_t port) {
  Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const sockaddr_in dst = v4("127.0.0.1", port);
  return ::connect(s.fd(), reinterpret_cast<const sockaddr*>(&dst), sizeof(dst)) == 0;
}

// utime + stime of a process, in clock ticks, and its context switches over all threads.
long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state
    if (i == 14) {
      utime = std::stol(f);
    } else if (i == 15) {
      stime = std::stol(f);
      break;
    }
  }
  return utime + stime;
}

long context_switches(pid_t pid) {
  long total = 0;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return -1;
  }
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') {
      continue;
    }
    std::ifstream in(dir + "/" + e->d_name + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0 ||
          line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
        total += std::stol(line.substr(line.find(':') + 1));
      }
    }
  }
  ::closedir(d);
  return total;
}

// Descriptors of a process numbered below limit (those an accept competes with).
int open_fds_below(pid_t pid, int limit) {
  int n = 0;
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr) {
    return -1;
  }
  while (const dirent* e = ::readdir(d)) {
    n += e->d_name[0] != '.' && std::atoi(e->d_name) < limit;
  }
  ::closedir(d);
  return n;
}

// Waits up to timeout for data on s, expecting none: the way these tests let time pass while
// they watch (never a fixed sleep). Returns whether anything arrived.
bool anything_arrives(Socket& s, std::chrono::milliseconds timeout) {
  pollfd p{s.fd(), POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

// Sends one UDP datagram from any source port through a raw socket (root only): the kernel
// adds the IPv4 header, this adds the UDP one with checksum 0 (none, allowed over IPv4).
bool send_forged_udp(std::uint16_t source_port, std::uint16_t dest_port, const Bytes& payload) {
  Socket raw(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!raw.valid()) {
    return false;
  }
  std::vector<std::byte> packet(sizeof(udphdr) + payload.size());
  udphdr h{};
  h.source = htons(source_port);
  h.dest = htons(dest_port);
  h.len = htons(static_cast<std::uint16_t>(packet.size()));
  std::memcpy(packet.data(), &h, sizeof(h));
  std::memcpy(packet.data() + sizeof(h), payload.data(), payload.size());
  const sockaddr_in dst = v4("127.0.0.1", 0);
  return ::sendto(raw.fd(), packet.data(), packet.size(), 0,
                  reinterpret_cast<const sockaddr*>(&dst),
                  sizeof(dst)) == static_cast<ssize_t>(packet.size());
}

// Puts one IPv4 UDP datagram from source:source_port to dest:dest_port on the loopback
// interface as a received frame (an AF_PACKET socket, so root only), headers and all exactly as
// given: unlike a raw IP socket, nothing fills in a source address of 0.0.0.0.
bool inject_udp_on_loopback(const char* source, std::uint16_t source_port, const char* dest,
                            std::uint16_t dest_port, const Bytes& payload) {
  Socket packet(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP)));
  const unsigned lo = ::if_nametoindex("lo");
  if (!packet.valid() || lo == 0) {
    return false;
  }
  std::vector<std::byte> frame(14 + sizeof(iphdr) + sizeof(udphdr) + payload.size());
  frame[12] = std::byte{0x08};  // EtherType IPv4; both MAC addresses 0, as lo's are
  iphdr ip{};
  ip.version = 4;
  ip.ihl = 5;
  ip.ttl = 64;
  ip.protocol = IPPROTO_UDP;
  ip.tot_len = htons(static_cast<std::uint16_t>(frame.size() - 14));
  ::inet_pton(AF_INET, source, &ip.saddr);
  ::inet_pton(AF_INET, dest, &ip.daddr);
  std::uint16_t words[sizeof(ip) / 2];
  std::memcpy(words, &ip, sizeof(ip));
  std::uint32_t sum = 0;
  for (const std::uint16_t w : words) {
    sum += w;
  }
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  ip.check = static_cast<std::uint16_t>(~sum);
  udphdr h{};
  h.source = htons(source_port);
  h.dest = htons(dest_port);
  h.len = htons(static_cast<std::uint16_t>(sizeof(h) + payload.size()));
  std::memcpy(frame.data() + 14, &ip, sizeof(ip));
  std::memcpy(frame.data() + 14 + sizeof(ip), &h, sizeof(h));
  std::memcpy(frame.data() + 14 + sizeof(ip) + sizeof(h), payload.data(), payload.size());
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_IP);
  to.sll_ifindex = static_cast<int>(lo);
  to.sll_halen = 6;
  return ::sendto(packet.fd(), frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to),
                  sizeof(to)) == static_cast<ssize_t>(frame.size());
}

// The same over IPv6, where the UDP checksum is required.
bool inject_udp6_on_loopback(const char* source, std::uint16_t source_port, const char* dest,
                             std::uint16_t dest_port, const Bytes& payload) {
  Socket packet(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IPV6)));
  const unsigned lo = ::if_nametoindex("lo");
  if (!packet.valid() || lo == 0) {
    return false;
  }
  const std::size_t udp_len = sizeof(udphdr) + payload.size();
  std::vector<std::byte> frame(14 + 40 + udp_len);
  frame[12] = std::byte{0x86};  // EtherType IPv6
  frame[13] = std::byte{0xdd};
  std::byte* ip = frame.data() + 14;
  ip[0] = std::byte{0x60};  // version 6
  const std::uint16_t payload_len = htons(static_cast<std::uint16_t>(udp_len));
  std::memcpy(ip + 4, &payload_len, 2);
  ip[6] = std::byte{IPPROTO_UDP};
  ip[7] = std::byte{64};  // hop limit
  ::inet_pton(AF_INET6, source, ip + 8);
  ::inet_pton(AF_INET6, dest, ip + 24);
  udphdr h{};
  h.source = htons(source_port);
  h.dest = htons(dest_port);
  h.len = payload_len;
  std::byte* udp = ip + 40;
  std::memcpy(udp, &h, sizeof(h));
  std::memcpy(udp + sizeof(h), payload.data(), payload.size());
  // The checksum over the pseudo-header (addresses, length, next header) and the datagram.
  std::uint32_t sum = static_cast<std::uint32_t>(udp_len) + IPPROTO_UDP;
  const auto add_bytes = [&sum](const std::byte* p, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 2) {
      sum += (std::to_integer<std::uint32_t>(p[i]) << 8) +
             (i + 1 < n ? std::to_integer<std::uint32_t>(p[i + 1]) : 0);
    }
  };
  add_bytes(ip + 8, 32);
  add_bytes(udp, udp_len);
  while (sum >> 16 != 0) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  const std::uint16_t check = htons(sum == 0xffff ? 0xffff : static_cast<std::uint16_t>(~sum));
  std::memcpy(udp + 6, &check, 2);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_IPV6);
  to.sll_ifindex = static_cast<int>(lo);
  to.sll_halen = 6;
  return ::sendto(packet.fd(), frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to),
                  sizeof(to)) == static_cast<ssize_t>(frame.size());
}

std::optional<Bytes> udp_recv(Socket& s, std::chrono::milliseconds timeout) {
  pollfd p{s.fd(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
    return std::nullopt;
  }
  Bytes buf(65536);
  const ssize_t n = ::recv(s.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
  if (n < 0) {
    return std::nullopt;
  }
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

void udp_send_to(Socket& s, std::uint16_t port, const Bytes& data) {
  const sockaddr_in dst = v4("127.0.0.1", port);
  ::sendto(s.fd(), data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&dst),
           sizeof(dst));
}

bool queue_empty(Socket& s) {
  std::byte b;
  return ::recv(s.fd(), &b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

// Every case that involves the server's I/O runs once per backend: the guards live above the
// backend interface, so each backend must show the same behaviour.
class Hardening : public BackendTest {};

INSTANTIATE_TEST_SUITE_P(Backends, Hardening, ::testing::ValuesIn(backend_names()),
                         backend_test_name);

Counts stop_and_count(Server& server, int expected_exit = 0) {
  EXPECT_EQ(server.stop(SIGTERM), expected_exit) << server.process().stderr_text();
  return stopped_counters(server.process().stderr_text());
}

// ------------------------------------------------------------------ connection caps

TEST_P(Hardening, PerIpCapIsExactAcrossWorkersAndGlobalCapHolds) {
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--threads", "2", "--max-conns", "100",
                            "--max-conns-per-ip", "10"}));
  const auto port = server.port("tcp");
  std::vector<Socket> held;
  for (int i = 0; i < 10; ++i) {
    held.push_back(tcp_from("127.0.0.2", port));
    ASSERT_TRUE(echoes(held.back())) << "connection " << i + 1 << " from 127.0.0.2";
  }
  // The 11th and later from 127.0.0.2 are refused, whichever worker the kernel hands them to.
  for (int i = 0; i < 4; ++i) {
    Socket extra = tcp_from("127.0.0.2", port);
    EXPECT_TRUE(refused_without_echo(extra)) << "extra connection " << i + 1;
  }
  // Another source is unaffected.
  Socket other = tcp_from("127.0.0.3", port);
  EXPECT_TRUE(echoes(other));
  // Closing one from 127.0.0.2 frees its place once the server has closed its side.
  held.back().shutdown_write();
  ASSERT_TRUE(wait_closed(held.back(), 5s));
  held.pop_back();
  held.push_back(tcp_from("127.0.0.2", port));
  EXPECT_TRUE(echoes(held.back()));
  // Fill the global cap: 10 from 127.0.0.2 and 1 from 127.0.0.3 are open; 89 more.
  for (int i = 0; i < 89; ++i) {
    const std::string source = "127.0.1." + std::to_string(1 + i / 9);
    held.push_back(tcp_from(source, port));
    ASSERT_TRUE(echoes(held.back())) << "connection from " << source;
  }
  Socket over = tcp_from("127.0.2.1", port);  // the 101st
  EXPECT_TRUE(refused_without_echo(over));
  EXPECT_TRUE(echoes(other)) << "an admitted connection still works at the cap";
  held.clear();
  other = Socket();
  const auto counts = stop_and_count(server);
  EXPECT_EQ(counts.at("tcp_refused_per_ip"), 4u);
  EXPECT_EQ(counts.at("tcp_refused_max"), 1u);
  EXPECT_EQ(counts.at("tcp_accepted"), 101u);
  // Refusals are logged as counts, not one line each; the lines add up to the counters.
  const auto lines = lines_with(server.process().stderr_text(), "refused or dropped");
  EXPECT_GE(lines.size(), 1u);
  EXPECT_LE(lines.size(), 3u) << server.process().stderr_text();
  std::uint64_t logged = 0;
  const std::regex count(R"(tcp_refused_(?:per_ip|max)=(\d+))");
  for (const auto& line : lines) {
    for (std::sregex_iterator it(line.begin(), line.end(), count), end; it != end; ++it) {
      logged += std::stoull((*it)[1]);
    }
  }
  EXPECT_EQ(logged, 5u) << server.process().stderr_text();
}

// ------------------------------------------------------------------ idle timeout

TEST_P(Hardening, IdleTimeoutClosesTheIdleConnectionAndKeepsTheActiveOne) {
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--idle-timeout", "1s", "--threads", "2"}));
  const auto port = server.port("tcp");
  const auto start = Clock::now();
  Socket idle = tcp_from("127.0.0.1", port);
  Socket active = tcp_from("127.0.0.1", port);
  std::optional<double> closed_after;
  int echoes_after_close = 0;
  // Every 250 ms the active connection echoes a byte, while the idle one is watched for its
  // end; bounded by count and by 2.5 s.
  for (int i = 0; i < 10 && seconds_since(start) < 2.5; ++i) {
    if (!closed_after && anything_arrives(idle, 250ms)) {
      closed_after = seconds_since(start);
      const auto end = wait_closed(idle, 1s);
      ASSERT_TRUE(end);
      EXPECT_FALSE(end->reset) << "an idle connection is closed with a FIN";
      EXPECT_TRUE(end->data.empty());
    } else if (closed_after) {
      EXPECT_FALSE(anything_arrives(active, 250ms));  // time passes; nothing is owed
    }
    ASSERT_TRUE(echoes(active)) << "the active connection was cut at " << seconds_since(start);
    echoes_after_close += closed_after ? 1 : 0;
  }
  ASSERT_TRUE(closed_after) << "the idle connection was never closed";
  EXPECT_GE(*closed_after, 0.95);
  EXPECT_LE(*closed_after, 1.75);
  EXPECT_GE(echoes_after_close, 2);
  const auto counts = stop_and_count(server);
  EXPECT_EQ(counts.at("tcp_idle_closed"), 1u);
}

TEST_P(Hardening, IdleTimeoutCutsAPeerThatNeverReads) {
  // A stalled peer makes no progress: the server cannot write to it. The idle timeout is the
  // documented timer that frees what it holds.
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--idle-timeout", "500ms", "--threads", "1"}));
  Socket stalled = tcp_from("127.0.0.1", server.port("tcp"), 4096);
  const auto start = Clock::now();
  ASSERT_GT(fill_until_full(stalled), 0u);
  pollfd p{stalled.fd(), POLLOUT, 0};
  // The reset (unread input on the server's side) makes the socket writable, with an error.
  const auto deadline = Clock::now() + 5s;
  bool cut = false;
  for (int i = 0; i < 100 && !cut && ms_left(deadline) > 0; ++i) {
    if (::poll(&p, 1, ms_left(deadline)) > 0) {
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(stalled.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
      cut = err == ECONNRESET || (p.revents & (POLLERR | POLLHUP)) != 0;
      if (!cut) {
        fill_until_full(stalled);  // room appeared before the cut: fill it again
      }
    }
  }
  EXPECT_TRUE(cut);
  EXPECT_GE(seconds_since(start), 0.45);
  EXPECT_EQ(stop_and_count(server).at("tcp_idle_closed"), 1u);
}

// ------------------------------------------------------------------ descriptors

// `netecho serve ARGS` under `prlimit --nofile=LIMIT:LIMIT`, read up to its "ready" line; the
// port of its first TCP listener is stored in port. The limit must be in place from the start:
// an io_uring multishot accept keeps the limit of the moment it was armed.
Process serve_with_file_limit(int limit, const std::vector<std::string>& args,
                              std::uint16_t& port) {
  std::vector<std::string> argv{"prlimit",
                                "--nofile=" + std::to_string(limit) + ":" + std::to_string(limit),
                                "--", netecho_bin(), "serve"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process proc = Process::spawn(argv);
  const std::regex listening(R"(listening proto=tcp host=\S+ port=(\d+) .*)");
  for (int i = 0; i < 16; ++i) {
    const auto line = proc.read_line(scaled(10s));
    if (!line) {
      break;
    }
    std::smatch m;
    if (std::regex_match(*line, m, listening)) {
      port = static_cast<std::uint16_t>(std::stoi(m[1]));
    } else if (line->rfind("ready ", 0) == 0) {
      return proc;
    }
  }
  throw std::runtime_error("netecho serve did not become ready: " + proc.stderr_text());
}

TEST_P(Hardening, OutOfDescriptorsPausesAcceptingWithoutSpinningAndRecovers) {
  if (!have_command("prlimit")) {
    GTEST_SKIP() << "prlimit (util-linux) is not installed";
  }
  constexpr int kLimit = 40;
  std::uint16_t port = 0;
  Process server = serve_with_file_limit(
      kLimit, serve_args({"--tcp", "127.0.0.1:0", "--threads", "1", "--max-conns", "10000"}), port);
  const pid_t pid = server.pid();
  // One turn of the main loop (SIGUSR1's counters line) while descriptors are still free: the
  // debug build's UBSan checks each virtual call's type on its first sight of it, through a pipe
  // (IsAccessibleMemoryRange), which fails with EMFILE and reports a false "runtime error" if
  // that first sight comes while the process is out of descriptors.
  ASSERT_EQ(::kill(pid, SIGUSR1), 0);
  for (int i = 0; i < 500 && server.stderr_text().find("netecho: counters") == std::string::npos;
       ++i) {
    ASSERT_FALSE(server.exits_within(std::chrono::milliseconds(10)));
  }
  ASSERT_NE(server.stderr_text().find("netecho: counters"), std::string::npos);
  // Take every free descriptor below the limit with a served connection. The count is taken
  // again after each round, in case the server (or a sanitizer's runtime) opened one meanwhile.
  std::vector<Socket> served;
  for (int round = 0; round < 4; ++round) {
    const int room = kLimit - open_fds_below(pid, kLimit);
    if (room <= 0) {
      break;
    }
    for (int i = 0; i < room - (round == 0 ? 2 : 0); ++i) {
      served.push_back(tcp_from("127.0.0.1", port));
      ASSERT_TRUE(echoes(served.back())) << "connection " << served.size();
    }
  }
  ASSERT_EQ(open_fds_below(pid, kLimit), kLimit);
  ASSERT_GT(served.size(), 3u);
  // The next ones wait in the backlog: the server cannot accept them.
  std::vector<Socket> waiting;
  for (int i = 0; i < 3; ++i) {
    waiting.push_back(tcp_from("127.0.0.1", port));
    const char b = 'w';
    ASSERT_EQ(::send(waiting.back().fd(), &b, 1, MSG_NOSIGNAL), 1);
  }
  const long cpu_before = cpu_ticks(pid);
  const auto watch = Clock::now();
  EXPECT_FALSE(anything_arrives(waiting.front(), 1000ms)) << "accepted beyond the limit?";
  const double watched = seconds_since(watch);
  const long cpu = cpu_ticks(pid) - cpu_before;
  // Spinning on a level-triggered listener would burn the whole second (100 ticks).
  EXPECT_LE(cpu, 10) << "CPU ticks over " << watched << " s while out of descriptors";
  // Established connections keep working.
  for (auto& s : served) {
    ASSERT_TRUE(echoes(s));
  }
  const std::size_t accepted = served.size();
  // Free some descriptors: the server resumes accepting by itself.
  for (int i = 0; i < 4; ++i) {
    served.back().shutdown_write();
    ASSERT_TRUE(wait_closed(served.back(), 5s));
    served.pop_back();
  }
  for (auto& s : waiting) {
    EXPECT_EQ(s.recv_exact(1, scaled(5s)), to_bytes("w"));
    EXPECT_TRUE(echoes(s));
  }
  served.clear();
  waiting.clear();
  EXPECT_EQ(server.stop(SIGTERM), 0);
  const std::string err = server.stderr_text();
  EXPECT_EQ(err.find("runtime error:"), std::string::npos) << err;
  EXPECT_EQ(err.find("Sanitizer"), std::string::npos) << err;
  const auto counts = stopped_counters(err);
  EXPECT_GE(counts.at("accept_errors"), 1u);
  EXPECT_EQ(counts.at("tcp_accepted"), static_cast<std::uint64_t>(accepted + 3));
  // Logged once per interval with a count, not once per failed accept.
  auto lines = lines_with(err, "accept_errors=");
  std::erase_if(lines, [](const auto& l) { return l.find("netecho: counters") != l.npos; });
  EXPECT_GE(lines.size(), 1u);
  EXPECT_LE(lines.size(), 3u);
}

TEST_P(Hardening, IdleServerMakesNoWakeUps) {
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--threads", "2"}));
  Socket client = tcp_from("127.0.0.1", server.port("tcp"));
  ASSERT_TRUE(echoes(client));
  const pid_t pid = server.process().pid();
  const long cpu_before = cpu_ticks(pid);
  const long switches_before = context_switches(pid);
  EXPECT_FALSE(anything_arrives(client, 2000ms));
  const long switches = context_switches(pid) - switches_before;
  const long cpu = cpu_ticks(pid) - cpu_before;
  EXPECT_LT(switches, 50) << "context switches in 2 s of idleness";
  EXPECT_LE(cpu, 2) << "CPU ticks in 2 s of idleness";
}

// ------------------------------------------------------------------ UDP guard

TEST_P(Hardening, UdpRateLimitPerSourceHoldsAcrossWorkersAndSparesOthers) {
  // A low limit (100/s, burst 10), so that the flood below overloads it on any machine, even a
  // sanitizer build on a loaded one that manages only a few dozen rounds a second.
  Server server(serve_args(
      {"--udp", "127.0.0.1:0", "--threads", "2", "--udp-rate", "100/s", "--udp-burst", "10"}));
  const auto port = server.port("udp");
  // Four sockets from 127.0.0.2: four source ports, so SO_REUSEPORT spreads them over both
  // workers; the limit is per address all the same.
  std::vector<Socket> flood;
  for (int i = 0; i < 4; ++i) {
    flood.push_back(bound_socket(SOCK_DGRAM, "127.0.0.2", 0));
  }
  Socket polite = bound_socket(SOCK_DGRAM, "127.0.0.3", 0);
  const Bytes payload = random_bytes(64, 11);
  std::uint64_t sent = 0, replies = 0, polite_sent = 0, polite_ok = 0;
  const auto start = Clock::now();
  auto next_polite = start;
  // 1.5 s of rounds (at most 100,000): 10 flood datagrams each, then a 1 ms wait for replies;
  // every 50 ms, one datagram from the polite source (20/s: within its own limit).
  for (int round = 0; round < 100'000 && seconds_since(start) < 1.5; ++round) {
    for (int i = 0; i < 10; ++i, ++sent) {
      udp_send_to(flood[sent % flood.size()], port, payload);
    }
    std::vector<pollfd> p;
    for (auto& s : flood) {
      p.push_back({s.fd(), POLLIN, 0});
    }
    ::poll(p.data(), p.size(), 1);
    for (auto& s : flood) {
      while (udp_recv(s, 0ms)) {
        ++replies;
      }
    }
    if (Clock::now() >= next_polite) {
      udp_send_to(polite, port, payload);
      ++polite_sent;
      polite_ok += udp_recv(polite, 1000ms) == payload;
      next_polite = Clock::now() + 50ms;
    }
  }
  // Replies still in flight arrive within a short wait after the last send.
  for (auto& s : flood) {
    while (udp_recv(s, 100ms)) {
      ++replies;
    }
  }
  const double elapsed = seconds_since(start);
  ASSERT_GE(polite_sent, 5u) << "too few rounds to judge";
  EXPECT_EQ(polite_ok, polite_sent) << "127.0.0.3 must be fully served";
  const auto counts = stop_and_count(server);
  const std::uint64_t to_flood = counts.at("udp_out") - polite_ok;
  EXPECT_LE(replies, to_flood);
  EXPECT_LE(to_flood, static_cast<std::uint64_t>(100 * elapsed) + 10 + 5)
      << "over " << elapsed << " s";
  EXPECT_GE(to_flood, static_cast<std::uint64_t>(50 * elapsed))
      << "the source was starved, not limited, over " << elapsed << " s";
  EXPECT_GT(counts.at("udp_rate_limited"), 0u);
  // Every datagram read was either answered or counted as rate limited.
  EXPECT_EQ(counts.at("udp_in"), counts.at("udp_out") + counts.at("udp_rate_limited"));
  EXPECT_LE(counts.at("udp_in"), sent + polite_sent);
}

TEST_P(Hardening, UdpDatagramLargerThanTheBufferIsDroppedNotCut) {
  Server server(serve_args({"--udp", "127.0.0.1:0", "--threads", "1", "--udp-buffer", "1024"}));
  const auto port = server.port("udp");
  Socket s = bound_socket(SOCK_DGRAM, "127.0.0.1", 0);
  const Bytes big = random_bytes(1025, 1);
  const Bytes fits = random_bytes(1024, 2);
  const Bytes small = random_bytes(10, 3);
  // One worker answers in order: the reply to the datagram sent second arrives first only if
  // the first got none.
  udp_send_to(s, port, big);
  udp_send_to(s, port, fits);
  EXPECT_EQ(udp_recv(s, scaled(5000ms)), fits);
  udp_send_to(s, port, big);
  udp_send_to(s, port, small);
  EXPECT_EQ(udp_recv(s, scaled(5000ms)), small);
  const auto counts = stop_and_count(server);
  EXPECT_EQ(counts.at("udp_truncated"), 2u);
  EXPECT_EQ(counts.at("udp_out"), 2u);
  EXPECT_EQ(counts.at("udp_bytes_out"), 1024u + 10u);
}

// Sends from deny_port (bound for real, so not below 1024 without root), then from an
// ordinary port; returns whether the first got an answer.
bool answered_from_port(Server& server, const char* source, std::uint16_t deny_port) {
  const auto port = server.port("udp");
  Socket from = bound_socket(SOCK_DGRAM, source, deny_port);
  Socket sentinel = bound_socket(SOCK_DGRAM, "127.0.0.1", 0);
  udp_send_to(from, port, to_bytes("denied?"));
  udp_send_to(sentinel, port, to_bytes("sentinel"));
  // With one worker the answers leave in order: once the sentinel's is here, the other's
  // would be queued already.
  EXPECT_EQ(udp_recv(sentinel, scaled(5000ms)), to_bytes("sentinel"));
  return !queue_empty(from);
}

// Whether TCP and UDP port on host can be bound now.
bool port_free(const char* host, std::uint16_t port) {
  const sockaddr_in a = v4(host, port);
  for (const int type : {SOCK_DGRAM, SOCK_STREAM}) {
    Socket probe(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
    const int one = 1;
    if (type == SOCK_STREAM) {  // TIME_WAIT left by an earlier test does not count as in use
      ::setsockopt(probe.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (::bind(probe.fd(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
      return false;
    }
  }
  return true;
}

TEST_P(Hardening, UdpDenyListIsHonouredAndConfigurable) {
  // Each backend's run sends from its own loopback address, so the two runs can bind the same
  // fixed source ports at the same time under ctest -j.
  const char* source = GetParam() == "epoll" ? "127.0.0.2" : "127.0.0.3";
  if (!port_free(source, 2049) || !port_free(source, 20005)) {
    GTEST_SKIP() << "UDP port 2049 or 20005 on " << source
                 << " is in use here; the test binds them";
  }
  {
    Server server(serve_args({"--udp", "127.0.0.1:0", "--threads", "1"}));  // default: 0-1023,2049
    EXPECT_FALSE(answered_from_port(server, source, 2049));
    EXPECT_TRUE(answered_from_port(server, source, 20005));
    EXPECT_EQ(stop_and_count(server).at("udp_denied_port"), 1u);
  }
  {
    Server server(
        serve_args({"--udp", "127.0.0.1:0", "--threads", "1", "--udp-deny-ports", "20000-20010"}));
    EXPECT_TRUE(answered_from_port(server, source, 2049));
    EXPECT_FALSE(answered_from_port(server, source, 20005));
    EXPECT_EQ(stop_and_count(server).at("udp_denied_port"), 1u);
  }
  {
    Server server(
        serve_args({"--udp", "127.0.0.1:0", "--threads", "1", "--udp-deny-ports", "none"}));
    EXPECT_TRUE(answered_from_port(server, source, 2049));
    EXPECT_EQ(stop_and_count(server).at("udp_denied_port"), 0u);
  }
}

TEST_P(Hardening, UdpForgedPrivilegedSourcePortsGetNoAnswer) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "forging source ports needs a raw socket, so root (CI runs as root)";
  }
  Server server(serve_args({"--udp", "127.0.0.1:0", "--threads", "1"}));
  const auto port = server.port("udp");
  const Bytes payload = to_bytes("reflect me");
  // 0, and the echo, chargen, DNS and NTP ports of the classic reflection loops.
  for (const std::uint16_t src : {0, 7, 19, 53, 123}) {
    ASSERT_TRUE(send_forged_udp(src, port, payload)) << std::strerror(errno);
  }
  Socket sentinel = bound_socket(SOCK_DGRAM, "127.0.0.1", 0);
  udp_send_to(sentinel, port, payload);
  EXPECT_EQ(udp_recv(sentinel, scaled(5000ms)), payload);
  const auto counts = stop_and_count(server);
  EXPECT_EQ(counts.at("udp_in"), 6u);
  EXPECT_EQ(counts.at("udp_denied_port"), 5u);
  EXPECT_EQ(counts.at("udp_out"), 1u);
}

TEST_P(Hardening, UdpNeverAnswersItsOwnAddress) {
  // Two listeners: a datagram forged to come from one, sent to the other, would start a loop
  // between them. Without root the forgery joins the first listener's SO_REUSEPORT group (the
  // same user may); with root a raw socket also forges a datagram from a listener to itself.
  Server server(serve_args({"--udp", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--threads", "1",
                            "--udp-deny-ports", "none"}));
  const auto& ls = server.listeners();
  ASSERT_EQ(ls.size(), 2u);
  const std::uint16_t a = ls[0].port;
  const std::uint16_t b = ls[1].port;
  {
    Socket as_a = bound_socket(SOCK_DGRAM, "127.0.0.1", a, /*reuse_port=*/true);
    udp_send_to(as_a, b, to_bytes("loop?"));
  }  // closed: datagrams to a reach the server alone again
  std::uint64_t forged = 1;
  if (::geteuid() == 0) {
    ASSERT_TRUE(send_forged_udp(a, a, to_bytes("loop?")));
    ++forged;
  }
  Socket sentinel = bound_socket(SOCK_DGRAM, "127.0.0.1", 0);
  udp_send_to(sentinel, b, to_bytes("sentinel"));
  EXPECT_EQ(udp_recv(sentinel, scaled(5000ms)), to_bytes("sentinel"));
  if (forged == 2) {
    udp_send_to(sentinel, a, to_bytes("sentinel"));
    EXPECT_EQ(udp_recv(sentinel, scaled(5000ms)), to_bytes("sentinel"));
  }
  const auto counts = stop_and_count(server);
  EXPECT_EQ(counts.at("udp_denied_self"), forged);
  EXPECT_EQ(counts.at("udp_out"), forged);  // the sentinels only
}

TEST_P(Hardening, UdpNeverAnswersAnUnspecifiedSourceSentToTheUnspecifiedAddress) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "forging a 0.0.0.0 source needs a packet socket, so root (CI runs as root)";
  }
  // Linux takes a datagram from 0.0.0.0 to 0.0.0.0 as a broadcast, and routes a reply to
  // 0.0.0.0:P to 127.0.0.1:P: answered, it would put attacker bytes into a loopback-only
  // service. The victim here is a socket on 127.0.0.1:P.
  Server server(serve_args({"--udp", "0.0.0.0:0", "--threads", "1"}));
  const auto port = server.port("udp");
  Socket victim = bound_socket(SOCK_DGRAM, "127.0.0.1", 0);
  ASSERT_TRUE(inject_udp_on_loopback("0.0.0.0", local_port(victim), "0.0.0.0", port,
                                     to_bytes("reflect me")))
      << std::strerror(errno);
  Socket sentinel = bound_socket(SOCK_DGRAM, "127.0.0.1", 0);
  udp_send_to(sentinel, port, to_bytes("sentinel"));
  EXPECT_EQ(udp_recv(sentinel, scaled(5000ms)), to_bytes("sentinel"));
  EXPECT_FALSE(anything_arrives(victim, 200ms)) << "the forged datagram was answered";
  const auto counts = stop_and_count(server);
  EXPECT_EQ(counts.at("udp_in"), 2u) << "the forged datagram did not reach the server";
  EXPECT_EQ(counts.at("udp_denied_address"), 1u);
  EXPECT_EQ(counts.at("udp_out"), 1u);  // the sentinel only
}

TEST_P(Hardening, UdpNeverAnswersAMappedSourceThatCameOverIpv6) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "forging an IPv6 source needs a packet socket, so root (CI runs as root)";
  }
  // A native IPv6 datagram from ::ffff:127.0.0.1:P to a listener on [::1]: answered, Linux would
  // send the reply over IPv4 to 127.0.0.1:P, a loopback-only service.
  Server server(serve_args({"--udp", "[::1]:0", "--threads", "1"}));
  const auto port = server.port("udp");
  Socket victim = bound_socket(SOCK_DGRAM, "127.0.0.1", 0);
  ASSERT_TRUE(inject_udp6_on_loopback("::ffff:127.0.0.1", local_port(victim), "::1", port,
                                      to_bytes("reflect me")))
      << std::strerror(errno);
  // A genuine ::1 client is answered (through the same path: a frame on lo).
  Socket sentinel(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 six{};
  six.sin6_family = AF_INET6;
  six.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::bind(sentinel.fd(), reinterpret_cast<const sockaddr*>(&six), sizeof(six)), 0);
  ASSERT_TRUE(
      inject_udp6_on_loopback("::1", local_port(sentinel), "::1", port, to_bytes("sentinel")));
  EXPECT_EQ(udp_recv(sentinel, scaled(5000ms)), to_bytes("sentinel"));
  EXPECT_FALSE(anything_arrives(victim, 200ms)) << "the forged datagram was answered";
  const auto counts = stop_and_count(server);
  EXPECT_EQ(counts.at("udp_in"), 2u) << "the forged datagram did not reach the server";
  EXPECT_EQ(counts.at("udp_denied_address"), 1u);
  EXPECT_EQ(counts.at("udp_out"), 1u);  // the sentinel only
}

// ------------------------------------------------------------------ signals and drain

TEST_P(Hardening, SigtermAndSigintStopAnIdleServerAtOnce) {
  for (const int sig : {SIGTERM, SIGINT}) {
    Server server(serve_args({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"}));
    const auto port = server.port("tcp");
    Socket idle = tcp_from("127.0.0.1", port);
    ASSERT_TRUE(echoes(idle));
    const auto start = Clock::now();
    EXPECT_EQ(server.stop(sig), 0) << server.process().stderr_text();
    EXPECT_LT(seconds_since(start), 1.0);
    const auto end = wait_closed(idle, 1s);
    ASSERT_TRUE(end) << "the idle connection was closed";
    EXPECT_FALSE(end->reset);
    EXPECT_FALSE(accepts_connections(port));
  }
}

TEST_P(Hardening, DrainLetsTheEchoInFlightFinish) {
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--threads", "1", "--drain-timeout", "20s"}));
  const auto port = server.port("tcp");
  // A slow reader (4 KiB receive buffer) with 96 KiB sent: most of the echo is still owed when
  // the signal comes.
  Socket client = tcp_from("127.0.0.1", port, 4096);
  const Bytes data = random_bytes(96 * 1024, 7);
  client.send_all(data);
  ::kill(server.process().pid(), SIGTERM);
  const auto line = server.process().read_line(scaled(5s));
  ASSERT_TRUE(line);
  // 1, or 0 when the server had already passed the whole echo to the kernel (which still
  // delivers it after close).
  EXPECT_TRUE(std::regex_match(*line, std::regex("draining connections=[01] timeout_ms=20000")))
      << *line;
  EXPECT_FALSE(accepts_connections(port)) << "the listener is closed once draining is announced";
  const auto end = wait_closed(client, scaled(20s));
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->reset);
  EXPECT_TRUE(end->data == data) << "got " << end->data.size() << " of " << data.size();
  EXPECT_EQ(server.process().wait(scaled(5s)), 0);
  EXPECT_EQ(stopped_counters(server.process().stderr_text()).at("tcp_drain_cut"), 0u);
}

TEST_P(Hardening, DrainWaitsForAReaderThatFallsBehind) {
  // The client sends until nothing more fits and reads nothing: the server owes it echo it
  // cannot send, so the drain must wait until the client reads it all.
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--drain-timeout", "20s"}));
  Socket slow = tcp_from("127.0.0.1", server.port("tcp"), 4096);
  Bytes sent;
  ASSERT_GT(fill_until_full(slow, &sent), 0u);
  ::kill(server.process().pid(), SIGTERM);
  const auto line = server.process().read_line(scaled(5s));
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "draining connections=1 timeout_ms=20000");
  const auto end = wait_closed(slow, scaled(20s));
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->reset);
  EXPECT_EQ(end->data.size(), sent.size());
  EXPECT_TRUE(end->data == sent) << "the echo differs from what was sent";
  EXPECT_EQ(server.process().wait(scaled(5s)), 0);
  EXPECT_EQ(stopped_counters(server.process().stderr_text()).at("tcp_drain_cut"), 0u);
}

TEST_P(Hardening, DrainKeepsAConnectionThatKeepsTalkingOpen) {
  // A draining connection closes only after a quiet period (250 ms + 2 RTT) with nothing owed
  // or unread; every message restarts it. A client that sends every 100 ms for 1 s after the
  // signal gets every echo, then a FIN once it falls silent.
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--threads", "1", "--drain-timeout", "20s"}));
  Socket client = tcp_from("127.0.0.1", server.port("tcp"));
  ASSERT_TRUE(echoes(client));
  ::kill(server.process().pid(), SIGTERM);
  const auto line = server.process().read_line(scaled(5s));
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "draining connections=1 timeout_ms=20000");
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(anything_arrives(client, 100ms)) << "closed or sent unasked, message " << i;
    ASSERT_TRUE(echoes(client)) << "message " << i << " after the signal";
  }
  const auto silent = Clock::now();
  const auto end = wait_closed(client, scaled(5s));
  ASSERT_TRUE(end) << "never closed after the client fell silent";
  EXPECT_FALSE(end->reset);
  EXPECT_TRUE(end->data.empty());
  EXPECT_GE(seconds_since(silent), 0.2) << "closed before a quiet period had passed";
  EXPECT_EQ(server.process().wait(scaled(5s)), 0);
  EXPECT_EQ(stopped_counters(server.process().stderr_text()).at("tcp_drain_cut"), 0u);
}

TEST_P(Hardening, DrainTimeoutShorterThanTheQuietPeriodLosesNothingAndExitsZero) {
  // An idle connection is still in its quiet period when a 100 ms drain timeout ends the
  // drain: it owes nothing and has nothing unread, so its close is a plain FIN and the
  // shutdown is clean (exit 0, nothing counted as cut).
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--drain-timeout", "100ms"}));
  Socket idle = tcp_from("127.0.0.1", server.port("tcp"));
  ASSERT_TRUE(echoes(idle));
  ::kill(server.process().pid(), SIGTERM);
  EXPECT_EQ(server.process().wait(scaled(5s)), 0) << server.process().stderr_text();
  const auto end = wait_closed(idle, scaled(5s));
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->reset);
  EXPECT_TRUE(end->data.empty());
  EXPECT_EQ(stopped_counters(server.process().stderr_text()).at("tcp_drain_cut"), 0u);
}

TEST_P(Hardening, DrainTimeoutCutsAStuckConnectionAndExitsOne) {
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--drain-timeout", "500ms"}));
  Socket stuck = tcp_from("127.0.0.1", server.port("tcp"), 4096);
  ASSERT_GT(fill_until_full(stuck), 0u);
  const auto start = Clock::now();
  ::kill(server.process().pid(), SIGTERM);
  EXPECT_EQ(server.process().wait(scaled(5s)), 1);
  EXPECT_GE(seconds_since(start), 0.45);
  EXPECT_LT(seconds_since(start), 2.0);
  const std::string err = server.process().stderr_text();
  EXPECT_NE(err.find("drain timeout"), std::string::npos) << err;
  EXPECT_EQ(stopped_counters(err).at("tcp_drain_cut"), 1u);
}

TEST_P(Hardening, SecondSignalDuringADrainExitsAtOnce) {
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--drain-timeout", "60s"}));
  Socket stuck = tcp_from("127.0.0.1", server.port("tcp"), 4096);
  ASSERT_GT(fill_until_full(stuck), 0u);
  ::kill(server.process().pid(), SIGTERM);
  const auto line = server.process().read_line(scaled(5s));
  ASSERT_TRUE(line && line->rfind("draining ", 0) == 0);
  const auto start = Clock::now();
  ::kill(server.process().pid(), SIGINT);
  EXPECT_EQ(server.process().wait(scaled(5s)), 1);
  EXPECT_LT(seconds_since(start), 1.0);
}

TEST_P(Hardening, SighupAndSigpipeNeverKill) {
  Server server(serve_args({"--tcp", "127.0.0.1:0"}));
  ::kill(server.process().pid(), SIGHUP);
  ::kill(server.process().pid(), SIGPIPE);
  Socket client = tcp_from("127.0.0.1", server.port("tcp"));
  EXPECT_TRUE(echoes(client));
  client = Socket();
  // SIGTERM after SIGHUP: had SIGHUP or SIGPIPE killed it, the exit would be 128+signal.
  EXPECT_EQ(server.stop(SIGTERM), 0);
  EXPECT_NE(server.process().stderr_text().find("SIGHUP received"), std::string::npos);
}

// ------------------------------------------------------------------ privileges

TEST(HardeningCli, UnknownUserIsAStartupErrorBeforeBinding) {
  // Hold the port: if netecho bound before looking the user up, it would fail on the address.
  Socket holder = bound_socket(SOCK_STREAM, "127.0.0.1", 0);
  ASSERT_EQ(::listen(holder.fd(), 1), 0);
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  ::getsockname(holder.fd(), reinterpret_cast<sockaddr*>(&a), &len);
  const std::string addr = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  const auto r = run({netecho_bin(), "serve", "--tcp", addr, "--user", "no-such-user-zq"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no-such-user-zq"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("cannot listen"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(HardeningCli, BadGuardOptionsAreUsageErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--udp-deny-ports", "5-3"}, {"--udp-deny-ports", "70000"}, {"--udp-deny-ports", ""},
      {"--udp-rate", "fast"},      {"--idle-timeout", "-1s"},     {"--drain-timeout", "soon"},
      {"--udp-buffer", "0"},       {"--max-conns", "-5"},
  };
  for (const auto& [flag, value] : cases) {
    const auto r = run({netecho_bin(), "serve", "--tcp", "127.0.0.1:0", flag, value});
    EXPECT_EQ(r.exit_code, 2) << flag << " " << value << ": " << r.err;
    EXPECT_NE(r.err.find(flag), std::string::npos) << r.err;
  }
}

TEST(HardeningCli, ShortRunUnderValgrindIsClean) {
  if (kSanitizedBuild) {
    GTEST_SKIP() << "a sanitizer build: valgrind cannot run it (the sanitizers check it instead)";
  }
  if (!have_command("valgrind")) {
    GTEST_SKIP() << "valgrind is not installed (scripts/setup-debian.sh installs it)";
  }
  // Echo over TCP and UDP, a refused connection and a drain, under memcheck: any invalid
  // access or definite leak makes valgrind exit 99 instead of netecho's 0.
  Process proc = Process::spawn({"valgrind", "--quiet", "--error-exitcode=99",
                                 "--leak-check=full", "--errors-for-leak-kinds=definite",
                                 netecho_bin(), "serve", "--tcp", "127.0.0.1:0", "--udp",
                                 "127.0.0.1:0", "--threads", "2", "--max-conns-per-ip", "1"});
  std::uint16_t tcp = 0, udp = 0;
  const std::regex listening(R"(listening proto=(tcp|udp) host=\S+ port=(\d+) .*)");
  for (int i = 0; i < 8; ++i) {
    const auto line = proc.read_line(60s);
    ASSERT_TRUE(line) << proc.stderr_text();
    std::smatch m;
    if (std::regex_match(*line, m, listening)) {
      (m[1] == "tcp" ? tcp : udp) = static_cast<std::uint16_t>(std::stoi(m[2]));
    } else if (line->rfind("ready ", 0) == 0) {
      break;
    }
  }
  ASSERT_NE(tcp, 0);
  ASSERT_NE(udp, 0);
  Socket client = tcp_from("127.0.0.1", tcp);
  EXPECT_TRUE(echoes(client, 30s));
  Socket refused = tcp_from("127.0.0.1", tcp);
  EXPECT_TRUE(refused_without_echo(refused));
  Socket u = bound_socket(SOCK_DGRAM, "127.0.0.1", 0);
  udp_send_to(u, udp, to_bytes("valgrind"));
  EXPECT_EQ(udp_recv(u, 30000ms), to_bytes("valgrind"));
  const Bytes data = random_bytes(200000, 3);
  EXPECT_EQ(client.echo_exchange(data, {1000, 65536}, 60s), data);
  EXPECT_EQ(proc.stop(SIGTERM, 60s), 0) << proc.stderr_text();
}

// The "Key: value" lines of a /proc status file.
std::map<std::string, std::string> read_status(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      const auto first = line.find_first_not_of(" \t", colon + 1);
      out[line.substr(0, colon)] = first == std::string::npos ? "" : line.substr(first);
    }
  }
  return out;
}

TEST_P(Hardening, UserDropsEveryPrivilegeAfterBindingPort7) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "binding port 7 and switching users need root (CI runs as root)";
  }
  // Port 7 is one fixed port: the instances of this test (one per backend, which ctest may run
  // in parallel) take turns, waiting on a file lock.
  const int lock = ::open("/tmp/netecho-test-port7.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  ASSERT_GE(lock, 0) << std::strerror(errno);
  ASSERT_EQ(::flock(lock, LOCK_EX), 0) << std::strerror(errno);
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{lock};
  if (!port_free("127.0.0.1", 7)) {
    GTEST_SKIP() << "port 7 on 127.0.0.1 is in use here by another program";
  }
  Server server(serve_args({"--tcp", "127.0.0.1:7", "--udp", "127.0.0.1:7", "--user", "nobody"}));
  Socket tcp = tcp_from("127.0.0.1", 7);
  EXPECT_TRUE(echoes(tcp));
  Socket udp = bound_socket(SOCK_DGRAM, "127.0.0.1", 0);
  udp_send_to(udp, 7, to_bytes("seven"));
  EXPECT_EQ(udp_recv(udp, scaled(5000ms)), to_bytes("seven"));
  const std::string task_dir = "/proc/" + std::to_string(server.process().pid()) + "/task";
  DIR* d = ::opendir(task_dir.c_str());
  ASSERT_NE(d, nullptr);
  int threads = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') {
      continue;
    }
    ++threads;
    auto st = read_status(task_dir + "/" + e->d_name + "/status");
    EXPECT_EQ(st["Uid"], "65534\t65534\t65534\t65534") << "thread " << e->d_name;
    EXPECT_EQ(st["Gid"], "65534\t65534\t65534\t65534") << "thread " << e->d_name;
    EXPECT_EQ(st["Groups"], "") << "thread " << e->d_name;
    EXPECT_EQ(st["CapEff"], "0000000000000000") << "thread " << e->d_name;
    EXPECT_EQ(st["CapPrm"], "0000000000000000") << "thread " << e->d_name;
  }
  ::closedir(d);
  EXPECT_GE(threads, 2);
  tcp = Socket();
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(HardeningCli, UserOtherThanOneselfNeedsRoot) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "as root, switching users is allowed (UserDropsEveryPrivilege... covers it)";
  }
  const auto r = run({netecho_bin(), "serve", "--tcp", "127.0.0.1:0", "--user", "root"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("needs root"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace netecho::test
