// Real balancers from Debian in front of netecho serve --tcp-proxy, in network namespaces the
// test makes (one L2 segment, 198.18.2.0/24): HAProxy (mode tcp, send-proxy-v2 with /readyz
// health checks, and send-proxy with check-send-proxy) before two servers, clients in two
// namespaces; nginx's stream module (TCP with proxy_protocol, and plain UDP). The
// configurations are the ones docs/OPERATIONS.md shows ("Behind a load balancer"): the tests
// check the document holds them verbatim.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "netns.hpp"

namespace netecho::test {
namespace {

using Clock = std::chrono::steady_clock;

// The addresses of the documented set-up: the balancer, the two servers, the two clients.
constexpr const char* kBalancer = "198.18.2.1";
constexpr const char* kServer1 = "198.18.2.11";
constexpr const char* kServer2 = "198.18.2.12";
constexpr const char* kClient1 = "198.18.2.21";
constexpr const char* kClient2 = "198.18.2.22";

// What both HAProxy configurations share: the admin socket, on the balancer's loopback (for
// "show stat"), and the timeouts of mode tcp.
const std::string kHaproxyHead =
    "global\n"
    "    stats socket ipv4@127.0.0.1:9999 level user\n"
    "defaults\n"
    "    mode tcp\n"
    "    timeout connect 2s\n"
    "    timeout client 30s\n"
    "    timeout server 30s\n";
const std::string kHaproxyFrontend =
    "frontend echo\n"
    "    bind 198.18.2.1:7000\n"
    "    default_backend netecho\n"
    "backend netecho\n"
    "    balance roundrobin\n";
const std::string kHaproxyServers =
    "    server s1 198.18.2.11:7000\n"
    "    server s2 198.18.2.12:7000\n";

// HAProxy in front of two netecho --tcp-proxy listeners on port 7000, whose metrics listeners
// (port 9100) answer the health checks on /readyz: a draining server answers 503 there, and
// HAProxy sends new connections to the other (redispatch covers the connections that meet its
// closed listener before the check does).
const std::string kHaproxyV2 =
    kHaproxyHead +
    "    retries 3\n"
    "    option redispatch\n" +
    kHaproxyFrontend +
    "    option httpchk GET /readyz\n"
    "    http-check expect status 200\n"
    "    default-server send-proxy-v2 check port 9100 inter 200ms fall 1 rise 1\n" +
    kHaproxyServers;

// The same with the text header (send-proxy), and the health check made on the echo port
// itself: a TCP connection that starts with a PROXY header (check-send-proxy), as a
// --tcp-proxy listener requires.
const std::string kHaproxyV1 =
    kHaproxyHead + kHaproxyFrontend +
    "    default-server send-proxy check check-send-proxy inter 200ms fall 1 rise 1\n" +
    kHaproxyServers;

// nginx's stream module: TCP with the PROXY header to a --tcp-proxy listener, UDP as it is to
// a UDP echo listener. (The module is loaded from Debian's modules directory.) Without
// proxy_half_close, nginx would close both ways at the client's FIN, cutting the echo the
// client is still owed.
const std::string kNginx =
    "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n"
    "events {}\n"
    "stream {\n"
    "    server {\n"
    "        listen 198.18.2.1:7000;\n"
    "        proxy_pass 198.18.2.11:7000;\n"
    "        proxy_protocol on;\n"
    "        proxy_half_close on;\n"
    "    }\n"
    "    server {\n"
    "        listen 198.18.2.1:7001 udp;\n"
    "        proxy_pass 198.18.2.11:7001;\n"
    "        proxy_responses 1;\n"
    "    }\n"
    "}\n";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(BalancerDocs, OperationsShowsTheConfigurationsTheTestsUse) {
  const std::string doc = read_file(std::string(NETECHO_SOURCE_DIR) + "/docs/OPERATIONS.md");
  EXPECT_NE(doc.find("## Behind a load balancer"), std::string::npos);
  for (const std::string* config : {&kHaproxyV2, &kHaproxyV1, &kNginx}) {
    EXPECT_NE(doc.find(*config), std::string::npos) << "docs/OPERATIONS.md lacks, verbatim:\n"
                                                    << *config;
  }
}

// A config file, removed when the test ends.
class TempFile {
 public:
  TempFile(const std::string& tag, const std::string& text)
      : path_("/tmp/netecho-test-" + std::to_string(::getpid()) + "-" + tag) {
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The hosts of the segment, each in its namespace.
struct Lan {
  Netns balancer{"lb"};
  Netns s1{"s1"};
  Netns s2{"s2"};
  Netns c1{"c1"};
  Netns c2{"c2"};
  Segment segment{"lan"};
  Lan() {
    segment.attach(balancer, std::string(kBalancer) + "/24");
    segment.attach(s1, std::string(kServer1) + "/24");
    segment.attach(s2, std::string(kServer2) + "/24");
    segment.attach(c1, std::string(kClient1) + "/24");
    segment.attach(c2, std::string(kClient2) + "/24");
  }
};

// netecho serve in ns on ip: --tcp-proxy :7000 for the balancer, metrics on :9100, -v.
Server start_netecho(const Netns& ns, const std::string& ip, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{netecho_bin(), "serve",        "--tcp-proxy",
                                ip + ":7000",  "--proxy-from", kBalancer,
                                "--metrics",   ip + ":9100",   "-v"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return Server(Process::spawn(ns.wrap(argv)));
}

// One connection from ns to the balancer's port 7000 (opened inside ns).
Socket connect_from(const Netns& ns, std::uint16_t port = 7000) {
  Socket s;
  ns.in([&] { s = Socket::tcp(kBalancer, port); });
  return s;
}

// HAProxy's "show stat" CSV, from its admin socket.
std::string haproxy_stat(const Netns& balancer) {
  std::string out;
  balancer.in([&] { out = http_exchange("127.0.0.1", 9999, "show stat\n"); });
  return out;
}

// The status column of server name's row in HAProxy's stats ("UP", "DOWN", ...), and its
// last check's result ("L7OK", "L4OK", ...).
std::pair<std::string, std::string> server_state(const std::string& stat, const std::string& name) {
  std::istringstream in(stat);
  std::string line;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream cs(line);
    std::string cell;
    while (std::getline(cs, cell, ',')) {
      cells.push_back(cell);
    }
    if (!cells.empty() && cells[0].rfind("# pxname", 0) == 0) {
      cells[0] = "pxname";
      header = cells;
    } else if (cells.size() > 1 && cells[0] == "netecho" && cells[1] == name) {
      std::string status, check;
      for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) {
        if (header[i] == "status") {
          status = cells[i];
        } else if (header[i] == "check_status") {
          check = cells[i];
        }
      }
      return {status, check};
    }
  }
  return {};
}

// Waits (bounded) until HAProxy reports server name with status and check; false on timeout.
bool wait_server_state(const Netns& balancer, const std::string& name, const std::string& status,
                       const std::string& check, Process& haproxy,
                       std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    const auto [s, c] = server_state(haproxy_stat(balancer), name);
    if (s == status && (check.empty() || c == check)) {
      return true;
    }
    if (haproxy.exits_within(std::chrono::milliseconds(50))) {
      return false;
    }
  }
  return false;
}

// HAProxy in the foreground (-db), ready once its admin socket accepts.
Process start_haproxy(const Netns& balancer, const TempFile& config) {
  Process p = Process::spawn(balancer.wrap({"haproxy", "-db", "-f", config.path()}));
  bool up = false;
  balancer.in([&] {
    up = wait_tcp_listening(p, "127.0.0.1", 9999, scaled(std::chrono::milliseconds(10s)));
  });
  EXPECT_TRUE(up) << p.stderr_text();
  return p;
}

// One exact echo of payload through the balancer from ns.
void expect_echo_from(const Netns& ns, const Bytes& payload) {
  Socket s = connect_from(ns);
  EXPECT_TRUE(s.echo_exchange(payload, {4096}, scaled(std::chrono::milliseconds(10s))) == payload);
}

// HAProxy reports both servers UP, their last health check with result check.
void expect_both_up(const Netns& balancer, Process& haproxy, const std::string& check) {
  for (const char* name : {"s1", "s2"}) {
    EXPECT_TRUE(wait_server_state(balancer, name, "UP", check, haproxy,
                                  scaled(std::chrono::milliseconds(10s))))
        << name << "\n"
        << haproxy_stat(balancer) << haproxy.stderr_text();
  }
}

// Four exact echoes through the balancer, from each client in turn.
void echo_from_both_clients(const Lan& lan, std::size_t size, std::uint64_t seed) {
  for (std::uint64_t i = 0; i < 4; ++i) {
    expect_echo_from(i % 2 == 0 ? lan.c1 : lan.c2, random_bytes(size, seed + i));
  }
}

std::string skip_reason() {
  if (auto why = netns_unavailable()) {
    return *why;
  }
  if (!have_command("haproxy")) {
    return "haproxy is not installed (scripts/setup-debian.sh installs it)";
  }
  return {};
}

TEST(Haproxy, SendProxyV2SpreadsKeepsClientsAndDrains) {
  if (const std::string why = skip_reason(); !why.empty()) {
    GTEST_SKIP() << why;
  }
  Lan lan;
  Server s1 = start_netecho(lan.s1, kServer1, {"--max-conns-per-ip", "1"});
  Server s2 = start_netecho(lan.s2, kServer2, {"--max-conns-per-ip", "1"});
  TempFile config("haproxy-v2.cfg", kHaproxyV2);
  Process haproxy = start_haproxy(lan.balancer, config);
  // The health checks (/readyz on the metrics port) pass for both.
  expect_both_up(lan.balancer, haproxy, "L7OK");
  echo_from_both_clients(lan, 50'000, 100);  // spread over both servers

  // The per-IP cap counts the real clients: c1 holds one connection on each server (round
  // robin), so its third is over the cap wherever it lands, while c2 still gets in.
  Socket held1 = connect_from(lan.c1);
  Socket held2 = connect_from(lan.c1);
  for (Socket* s : {&held1, &held2}) {
    s->send_all(to_bytes("held"));
    EXPECT_TRUE(s->recv_exact(4, scaled(std::chrono::milliseconds(5s))) == to_bytes("held"));
  }
  {
    Socket third = connect_from(lan.c1);
    third.send_all(to_bytes("over"));
    Socket::End end{};
    EXPECT_TRUE(third.recv_until_end(end, scaled(std::chrono::milliseconds(5s))).empty());
  }
  expect_echo_from(lan.c2, to_bytes("c2 still served"));
  held2.shutdown_write();
  EXPECT_TRUE(held2.recv_to_eof().empty());

  // Drain: SIGTERM the server that holds held1, while held1 keeps echoing (one small
  // exchange after another, so it is never quiet long enough to be closed as drained).
  // HAProxy sees its /readyz turn 503 and sends new connections to the other; no byte is lost
  // on held1.
  const auto active = [](const Netns& ns, const char* ip) {
    std::string body;
    ns.in([&] { body = http_get(ip, 9100, "/metrics").body; });
    return body.find("netecho_tcp_connections_active{listener=\"tcp://" + std::string(ip) +
                     ":7000\",mode=\"echo\"} 1") != std::string::npos;
  };
  const bool on_s1 = active(lan.s1, kServer1);
  ASSERT_TRUE(on_s1 || active(lan.s2, kServer2));
  Server& draining = on_s1 ? s1 : s2;
  Server& other = on_s1 ? s2 : s1;
  std::atomic<bool> enough{false};
  std::size_t exchanges = 0;
  bool all_exact = true;
  std::thread streaming([&] {
    const auto deadline = Clock::now() + scaled(std::chrono::milliseconds(20s));
    while (!enough.load() && Clock::now() < deadline && all_exact) {
      const Bytes chunk = random_bytes(1000, 1000 + exchanges);
      held1.send_all(chunk);
      all_exact = held1.recv_exact(chunk.size(), scaled(std::chrono::milliseconds(5s))) == chunk;
      ++exchanges;
    }
    held1.shutdown_write();
    all_exact = all_exact && held1.recv_to_eof(scaled(std::chrono::milliseconds(10s))).empty();
  });
  ASSERT_EQ(::kill(draining.process().pid(), SIGTERM), 0);
  EXPECT_TRUE(wait_server_state(lan.balancer, on_s1 ? "s1" : "s2", "DOWN", "", haproxy,
                                scaled(std::chrono::milliseconds(10s))))
      << haproxy_stat(lan.balancer);
  for (int i = 0; i < 3; ++i) {
    expect_echo_from(i % 2 == 0 ? lan.c2 : lan.c1, random_bytes(10'000, 200 + i));
  }
  enough = true;
  streaming.join();
  EXPECT_TRUE(all_exact) << "after " << exchanges << " exchanges";
  EXPECT_EQ(draining.process().wait(scaled(std::chrono::milliseconds(10s))), 0);
  const auto drained = stopped_counters(draining.process().stderr_text());
  EXPECT_EQ(drained.at("tcp_drain_cut"), 0u);
  EXPECT_EQ(other.stop(), 0);
  const auto served = stopped_counters(other.process().stderr_text());
  haproxy.stop(SIGTERM);

  // Both served (spread), the third connection of c1 was refused for its real address, and
  // the servers' logs name the clients, never the balancer.
  EXPECT_GE(drained.at("tcp_accepted"), 2u);
  EXPECT_GE(served.at("tcp_accepted"), 2u + 3u);
  // (HAProxy may retry the refused connection on the other server, refused there too.)
  EXPECT_GE(drained.at("tcp_refused_per_ip") + served.at("tcp_refused_per_ip"), 1u);
  for (Server* s : {&s1, &s2}) {
    const std::string err = s->process().stderr_text();
    EXPECT_NE(err.find(":7000 peer=198.18.2.2"), std::string::npos) << err;
    EXPECT_EQ(err.find(":7000 peer=198.18.2.1:"), std::string::npos) << err;
    for (const auto& line : lines_of(err)) {
      if (line.find("reason=tcp_refused_per_ip") != std::string::npos) {
        EXPECT_NE(line.find("peer=198.18.2.21:"), std::string::npos) << line;  // c1 only
      }
    }
  }
}

TEST(Haproxy, SendProxyV1WithProxyHealthChecks) {
  if (const std::string why = skip_reason(); !why.empty()) {
    GTEST_SKIP() << why;
  }
  Lan lan;
  Server s1 = start_netecho(lan.s1, kServer1);
  Server s2 = start_netecho(lan.s2, kServer2);
  TempFile config("haproxy-v1.cfg", kHaproxyV1);
  Process haproxy = start_haproxy(lan.balancer, config);
  expect_both_up(lan.balancer, haproxy, "L4OK");  // the PROXY health checks pass
  echo_from_both_clients(lan, 20'000, 300);
  haproxy.stop(SIGTERM);
  for (Server* s : {&s1, &s2}) {
    EXPECT_EQ(s->stop(), 0);
    const auto counts = stopped_counters(s->process().stderr_text());
    // The health checks' connections carried a header too: none was refused.
    EXPECT_EQ(counts.at("tcp_proxy_malformed") + counts.at("tcp_proxy_unsupported") +
                  counts.at("tcp_proxy_refused"),
              0u);
    EXPECT_GE(counts.at("tcp_accepted"), 2u);
    EXPECT_NE(s->process().stderr_text().find("peer=198.18.2.2"), std::string::npos);
  }
}

TEST(Nginx, StreamTcpWithProxyProtocolAndPlainUdp) {
  if (auto why = netns_unavailable()) {
    GTEST_SKIP() << *why;
  }
  if (!have_command("nginx")) {
    GTEST_SKIP() << "nginx is not installed (scripts/setup-debian.sh installs it)";
  }
  Lan lan;
  Server server(Process::spawn(
      lan.s1.wrap({netecho_bin(), "serve", "--tcp-proxy", std::string(kServer1) + ":7000",
                   "--proxy-from", kBalancer, "--udp", std::string(kServer1) + ":7001", "-v"})));
  const std::string prefix = "/tmp/netecho-test-nginx-" + std::to_string(::getpid());
  TempFile config("nginx.conf", kNginx);
  // The pid file and logs in a prefix of its own; in the foreground, logging to stderr.
  run({"mkdir", "-p", prefix + "/logs"});
  Process::Options options;
  options.own_group = true;  // the master and its worker go together
  Process nginx =
      Process::spawn(lan.balancer.wrap({"nginx", "-p", prefix, "-c", config.path(), "-e", "stderr",
                                        "-g", "daemon off; pid " + prefix + "/nginx.pid;"}),
                     options);
  bool up = false;
  lan.c1.in([&] {
    up = wait_tcp_listening(nginx, kBalancer, 7000, scaled(std::chrono::milliseconds(10s)));
  });
  ASSERT_TRUE(up) << nginx.stderr_text();
  const Bytes payload = random_bytes(100'000, 41);
  Socket s = connect_from(lan.c1);
  const Bytes echoed =
      s.echo_exchange(payload, {1000, 7000}, scaled(std::chrono::milliseconds(10s)));
  EXPECT_TRUE(echoed == payload) << echoed.size() << " bytes back\n"
                                 << nginx.stderr_text() << server.process().stderr_text();
  std::optional<Bytes> reply;
  lan.c2.in([&] {
    reply = udp_probe(nginx, kBalancer, 7001, to_bytes("datagram through nginx"),
                      scaled(std::chrono::milliseconds(10s)));
  });
  ASSERT_TRUE(reply.has_value());
  EXPECT_TRUE(*reply == to_bytes("datagram through nginx"));
  EXPECT_GE(nginx.stop(SIGTERM), 0);
  run({"rm", "-rf", prefix});
  EXPECT_EQ(server.stop(), 0);
  const std::string err = server.process().stderr_text();
  EXPECT_NE(err.find("connection opened listener=tcp://198.18.2.11:7000 peer=198.18.2.21:"),
            std::string::npos)
      << err;
}

}  // namespace
}  // namespace netecho::test
