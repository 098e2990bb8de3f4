// serve --metrics: the real binary on port 0, real traffic, then /metrics, /healthz and /readyz
// asked over real HTTP; hostile clients on the metrics port while echo runs; and the output
// checked by Debian's promtool.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "server/counters.hpp"

namespace netecho::test {
namespace {

using Clock = std::chrono::steady_clock;

std::uint16_t metrics_port(const Server& server) {
  return server.port("http", "metrics");
}

// One request as written, the whole response as read (until the server closes).
std::string http(std::uint16_t port, const std::string& request) {
  return http_exchange("127.0.0.1", port, request, scaled(10s));
}

std::string get(std::uint16_t port, const std::string& path) {
  return http(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
}

int status_of(const std::string& response) { return parse_http_reply(response).status; }

std::string body_of(const std::string& response) { return parse_http_reply(response).body; }

// Every sample of the exposition: "name{labels}" -> value.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const auto sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

std::string series(std::string_view family, const std::string& listener, std::string_view mode,
                   std::string_view reason = {}) {
  std::string s = std::string(family) + "{listener=\"" + listener + "\",mode=\"" +
                  std::string(mode) + "\"";
  if (!reason.empty()) {
    s += ",reason=\"" + std::string(reason) + "\"";
  }
  return s + "}";
}

// Scrapes until pred holds of the samples (the workers count as they go: what a client has
// seen is counted, but maybe not yet when the scrape asks), or the deadline passes.
template <typename Pred>
std::map<std::string, double> scrape_until(Server& server, Pred pred) {
  const auto deadline = Clock::now() + scaled(10s);
  std::map<std::string, double> m;
  for (int i = 0; i < 1000; ++i) {
    m = samples(body_of(get(metrics_port(server), "/metrics")));
    if (pred(m) || Clock::now() >= deadline) {
      break;
    }
    server.process().exits_within(20ms);
  }
  return m;
}

class Metrics : public BackendTest {};
INSTANTIATE_TEST_SUITE_P(Backends, Metrics, ::testing::ValuesIn(backend_names()),
                         backend_test_name);

TEST_P(Metrics, KnownTrafficIsCountedExactlyPerListener) {
  // A client socket whose port the server is told to deny, bound before the server starts.
  sockaddr_in denied_addr{};
  Socket denied(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  denied_addr.sin_family = AF_INET;
  denied_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(denied_addr);
  ASSERT_EQ(::bind(denied.fd(), reinterpret_cast<sockaddr*>(&denied_addr), sizeof(denied_addr)), 0);
  ASSERT_EQ(::getsockname(denied.fd(), reinterpret_cast<sockaddr*>(&denied_addr), &len), 0);
  const std::string denied_port = std::to_string(ntohs(denied_addr.sin_port));

  Server server(serve_args({"--tcp", "127.0.0.1:0", "--tcp", "127.0.0.1:0", "--udp",
                            "127.0.0.1:0", "--threads", "2", "--max-conns", "3",
                            "--udp-deny-ports", denied_port, "--metrics", "127.0.0.1:0"}));
  ASSERT_EQ(server.listeners().size(), 4u);
  const std::uint16_t tcp_port = server.listeners()[0].port;
  const std::uint16_t other_port = server.listeners()[1].port;
  const std::uint16_t udp_port = server.port("udp");
  const std::string tcp = "tcp://127.0.0.1:" + std::to_string(tcp_port);
  const std::string other = "tcp://127.0.0.1:" + std::to_string(other_port);
  const std::string udp = "udp://127.0.0.1:" + std::to_string(udp_port);

  // Three connections held open, each echoing a known number of bytes; the fourth is over
  // --max-conns and refused with a reset.
  const std::size_t sizes[] = {1000, 20000, 300000};
  std::vector<Socket> held;
  std::uint64_t tcp_bytes = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    held.push_back(Socket::tcp("127.0.0.1", tcp_port));
    const Bytes data = random_bytes(sizes[i], i);
    held.back().send_all(data);
    ASSERT_EQ(held.back().recv_exact(data.size()), data);
    tcp_bytes += sizes[i];
  }
  auto refused = Socket::tcp("127.0.0.1", tcp_port);
  Socket::End end{};
  refused.recv_until_end(end, scaled(10s));
  ASSERT_EQ(end, Socket::End::reset);

  // Five datagrams answered, one denied by its source port.
  const Bytes datagram = random_bytes(100, 7);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(udp_port);
  ASSERT_EQ(::sendto(denied.fd(), datagram.data(), 33, 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof(to)),
            33);
  auto client = Socket::udp("127.0.0.1", udp_port);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(client.udp_roundtrip(datagram), datagram);
  }

  // A send is counted once it returns (epoll) or completes (io_uring), either of which may come
  // after the client has the bytes: wait for the sent counters too.
  const auto m = scrape_until(server, [&](const auto& s) {
    const auto udp_in = s.find(series("netecho_udp_datagrams_received_total", udp, "echo"));
    const auto udp_out = s.find(series("netecho_udp_datagrams_sent_total", udp, "echo"));
    const auto tcp_out = s.find(series("netecho_tcp_sent_bytes_total", tcp, "echo"));
    return udp_in != s.end() && udp_in->second == 6 && udp_out != s.end() &&
           udp_out->second == 5 && tcp_out != s.end() &&
           tcp_out->second == static_cast<double>(tcp_bytes);
  });
  const auto at = [&m](const std::string& key) {
    const auto it = m.find(key);
    return it == m.end() ? -1.0 : it->second;
  };
  EXPECT_EQ(at(series("netecho_tcp_connections_accepted_total", tcp, "echo")), 3);
  EXPECT_EQ(at(series("netecho_tcp_connections_active", tcp, "echo")), 3);
  EXPECT_EQ(at(series("netecho_tcp_connections_closed_total", tcp, "echo")), 0);
  EXPECT_EQ(at(series("netecho_tcp_connections_refused_total", tcp, "echo", "max_conns")), 1);
  EXPECT_EQ(at(series("netecho_tcp_connections_refused_total", tcp, "echo", "max_conns_per_ip")),
            0);
  EXPECT_EQ(at(series("netecho_tcp_received_bytes_total", tcp, "echo")), tcp_bytes);
  EXPECT_EQ(at(series("netecho_tcp_sent_bytes_total", tcp, "echo")), tcp_bytes);
  // The other TCP listener saw nothing.
  EXPECT_EQ(at(series("netecho_tcp_connections_accepted_total", other, "echo")), 0);
  EXPECT_EQ(at(series("netecho_tcp_received_bytes_total", other, "echo")), 0);
  EXPECT_EQ(at(series("netecho_udp_datagrams_received_total", udp, "echo")), 6);
  EXPECT_EQ(at(series("netecho_udp_datagrams_sent_total", udp, "echo")), 5);
  EXPECT_EQ(at(series("netecho_udp_received_bytes_total", udp, "echo")), 5 * 100 + 33);
  EXPECT_EQ(at(series("netecho_udp_sent_bytes_total", udp, "echo")), 5 * 100);
  EXPECT_EQ(at(series("netecho_udp_datagrams_dropped_total", udp, "echo", "denied_port")), 1);
  double drops = 0;
  for (const auto& row : server::kStats) {
    if (row.family == "netecho_udp_datagrams_dropped_total" && !row.reason.empty()) {
      drops += at(series(row.family, udp, "echo", row.reason));
    }
  }
  EXPECT_EQ(drops, 1);  // the reasons add up: every other one is 0
  EXPECT_EQ(at("netecho_draining"), 0);
  EXPECT_EQ(at("netecho_build_info{version=\"0.1.0\",backend=\"" + backend() + "\"}"), 1);
  EXPECT_GE(at("netecho_worker_busy_seconds_total{worker=\"1\"}"), 0);
  EXPECT_GT(at("process_open_fds"), 0);
  EXPECT_GT(at("process_resident_memory_bytes"), 0);
  held.clear();
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.process().stderr_text();
}

TEST_P(Metrics, EveryCounterOfTheTableIsInTheOutputAndTheOperationsDoc) {
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--metrics",
                            "127.0.0.1:0"}));
  const std::string text = body_of(get(metrics_port(server), "/metrics"));
  std::ifstream doc_file(std::string(NETECHO_SOURCE_DIR) + "/docs/OPERATIONS.md");
  std::stringstream doc;
  doc << doc_file.rdbuf();
  for (const auto& row : server::kStats) {
    const std::string family(row.family);
    EXPECT_NE(text.find("# TYPE " + family + " counter\n"), std::string::npos) << row.name;
    EXPECT_NE(doc.str().find("`" + family + "`"), std::string::npos)
        << row.name << ": its family is not in docs/OPERATIONS.md";
    if (row.exported == server::Export::series) {
      const std::string sample =
          row.reason.empty() ? family + "{" : "reason=\"" + std::string(row.reason) + "\"} ";
      EXPECT_NE(text.find(sample), std::string::npos) << row.name << ": no series";
      if (!row.reason.empty()) {
        EXPECT_NE(doc.str().find("`" + std::string(row.reason) + "`"), std::string::npos)
            << row.name << ": its reason is not in docs/OPERATIONS.md";
      }
    }
  }
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(MetricsTools, PromtoolAcceptsTheRealOutput) {
  ASSERT_TRUE(have_command("promtool"))
      << "promtool (Debian package prometheus) is missing: scripts/setup-debian.sh installs it";
  Server server({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--udp-reverse", "127.0.0.1:0",
                 "--threads", "2", "--metrics", "127.0.0.1:0"});
  auto c = Socket::tcp("127.0.0.1", server.port("tcp"));
  const Bytes data = random_bytes(5000, 3);
  EXPECT_EQ(c.echo_exchange(data, {1000}), data);
  const std::string response = get(metrics_port(server), "/metrics");
  ASSERT_EQ(status_of(response), 200) << response;
  EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos);
  const RunResult r = run({"promtool", "check", "metrics"}, body_of(response));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out + r.err, "");  // no lint warning either
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST_P(Metrics, ReadyzFailsOnceTheDrainStartsWhileHealthzAndMetricsGoOn) {
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--drain-timeout", "30s", "--metrics",
                            "127.0.0.1:0"}));
  const std::uint16_t mport = metrics_port(server);
  EXPECT_EQ(status_of(get(mport, "/readyz")), 200);
  EXPECT_EQ(status_of(get(mport, "/healthz")), 200);
  // A client that sends and never reads: the server owes it echo, so the drain lasts.
  auto hog = Socket::tcp("127.0.0.1", server.port("tcp"));
  int small = 4096;
  ::setsockopt(hog.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  const Bytes chunk = random_bytes(64 * 1024, 5);
  for (int i = 0; i < 8; ++i) {
    ::send(hog.fd(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  ASSERT_EQ(::kill(server.process().pid(), SIGTERM), 0);
  const auto line = server.process().read_line(scaled(10s));
  ASSERT_TRUE(line && line->starts_with("draining")) << line.value_or("(none)");
  const std::string readyz = get(mport, "/readyz");
  EXPECT_EQ(status_of(readyz), 503) << readyz;
  EXPECT_EQ(body_of(readyz), "not ready: draining\n");
  EXPECT_EQ(status_of(get(mport, "/healthz")), 200);
  EXPECT_NE(body_of(get(mport, "/metrics")).find("\nnetecho_draining 1\n"), std::string::npos);
  hog.reset();
  server.process().wait(scaled(10s));
}

TEST_P(Metrics, AStalledWorkerMakesHealthzFailNamingItThenRecover) {
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--threads", "2", "--metrics", "127.0.0.1:0",
                            "--test-stall-worker", "200ms,4s"}));
  const std::uint16_t mport = metrics_port(server);
  const auto deadline = Clock::now() + scaled(10s);
  std::string h;
  while (status_of(h = get(mport, "/healthz")) != 503 && Clock::now() < deadline) {
    server.process().exits_within(50ms);
  }
  ASSERT_EQ(status_of(h), 503) << h;
  EXPECT_NE(body_of(h).find("worker(s) 0 "), std::string::npos) << h;
  while (status_of(h = get(mport, "/healthz")) != 200 && Clock::now() < deadline + 5s) {
    server.process().exits_within(50ms);
  }
  EXPECT_EQ(status_of(h), 200) << h;
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST_P(Metrics, HostileClientsOnTheMetricsPortNeverDelayEcho) {
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--threads", "2", "--metrics",
                            "127.0.0.1:0"}));
  const std::uint16_t mport = metrics_port(server);
  // The echo client runs throughout, in its own thread.
  const Bytes payload = random_bytes(4 * 1024 * 1024, 21);
  Bytes echoed;
  std::thread echo([&] {
    auto c = Socket::tcp("127.0.0.1", server.port("tcp"));
    echoed = c.echo_exchange(payload, {1460, 16384}, scaled(60s));
  });
  const auto started = Clock::now();
  auto loris = Socket::tcp("127.0.0.1", mport);  // sends nothing
  const std::string huge = "GET /" + std::string(100 * 1024, 'a') + " HTTP/1.1\r\n\r\n";
  const std::string too_large = http(mport, huge);
  EXPECT_EQ(status_of(too_large), 431) << too_large.substr(0, 200);
  // 200 at once: the responder keeps 64 (the slow client and 63 of these) and closes the rest
  // at once, unread. The last one is surely of the rest: it ends long before any timeout.
  std::vector<Socket> crowd;
  for (int i = 0; i < 200; ++i) {
    crowd.push_back(Socket::tcp("127.0.0.1", mport));
  }
  Socket::End end{};
  const auto refused_at = Clock::now();
  EXPECT_TRUE(crowd.back().recv_until_end(end, scaled(10s)).empty());
  EXPECT_NE(end, Socket::End::timeout);
  EXPECT_LT(Clock::now() - refused_at, 2s);
  crowd.clear();  // their closes free the responder's places, as soon as it has seen them
  // Until it has, a new connection may still be closed at the cap: ask again then (bounded).
  const auto ask = [&](const std::string& request) {
    std::string r;
    for (int i = 0; i < 100 && (r = http(mport, request)).empty(); ++i) {
      server.process().exits_within(20ms);
    }
    return r;
  };
  EXPECT_EQ(status_of(ask("\x16\x03\x01 garbage\r\n\r\n")), 400);
  EXPECT_EQ(status_of(ask("GET /nope HTTP/1.1\r\n\r\n")), 404);
  const std::string post = ask("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(status_of(post), 405);
  EXPECT_NE(post.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos) << post;
  const std::string head = ask("HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_of(head), 200);
  EXPECT_EQ(body_of(head), "");
  echo.join();
  EXPECT_TRUE(echoed == payload) << echoed.size() << " of " << payload.size() << " bytes back";
  // The slow client is answered 408 once its time is up, and closed.
  const Bytes got = loris.recv_to_eof(scaled(15s));
  const std::string timeout(reinterpret_cast<const char*>(got.data()), got.size());
  EXPECT_EQ(status_of(timeout), 408) << timeout;
  EXPECT_GE(Clock::now() - started, 4s);
  EXPECT_EQ(status_of(ask("GET /metrics HTTP/1.1\r\n\r\n")), 200);
  EXPECT_TRUE(server.process().running());
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.process().stderr_text();
}

}  // namespace
}  // namespace netecho::test
