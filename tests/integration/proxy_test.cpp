// serve --tcp-proxy over loopback, on every backend: headers written by the test (a client that
// writes the header itself, as a balancer would), whole and split, then exact echo; LOCAL; the
// refusals, each closing its connection and counted by reason; the per-IP cap applied to the
// client the header names. The balancers themselves (HAProxy, nginx) are in balancer_test.cpp.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.hpp"

namespace netecho::test {
namespace {

class ProxyTest : public BackendTest {
 protected:
  // serve with one PROXY listener on 127.0.0.1, accepting headers from loopback, plus args.
  Server start(std::vector<std::string> args = {}) {
    std::vector<std::string> all{"--tcp-proxy", "127.0.0.1:0", "--proxy-from", "127.0.0.0/8"};
    all.insert(all.end(), args.begin(), args.end());
    return Server(serve_args(all));
  }
  static std::uint16_t proxy_port(const Server& s) {
    for (const auto& l : s.listeners()) {
      if (l.proxy) {
        return l.port;
      }
    }
    ADD_FAILURE() << "no listener says proxy=required";
    return 0;
  }
  // The counters of the exit summary, once the server has stopped.
  static std::map<std::string, std::uint64_t> stop_and_count(Server& s) {
    EXPECT_EQ(s.stop(), 0);
    return stopped_counters(s.process().stderr_text());
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, ProxyTest, ::testing::ValuesIn(backend_names()),
                         backend_test_name);

const std::string kV1 = "PROXY TCP4 198.18.0.7 198.18.0.1 40000 7\r\n";

// A v2 header: LOCAL (command 0), or PROXY (1) for the client 198.18.0.CLIENT:40000.
std::string v2_header(unsigned command, unsigned char client = 7) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += static_cast<char>(0x20 | command);
  if (command == 0) {
    return h + std::string("\x00\x00\x00", 3);  // LOCAL, UNSPEC, no block
  }
  // TCP over IPv4 to 198.18.0.1:7, then a NOOP TLV of 3 bytes to skip.
  const std::string block = std::string("\xc6\x12\x00", 3) + static_cast<char>(client) +
                            std::string("\xc6\x12\x00\x01\x9c\x40\x00\x07", 8) +
                            std::string("\x04\x00\x03xyz", 6);
  h += '\x11';
  h += static_cast<char>(block.size() >> 8);
  h += static_cast<char>(block.size() & 0xff);
  return h + block;
}

Bytes concat(const std::string& header, const Bytes& payload) {
  Bytes out = to_bytes(header);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

TEST_P(ProxyTest, V1AndV2HeadersWholeOrSplitThenExactEcho) {
  Server server = start();
  const Bytes payload = random_bytes(200'000, 17);
  // Whole, byte at a time through the header, and pieces that cut it anywhere: the bytes
  // after the header in the same read are echoed too.
  const std::vector<std::vector<std::size_t>> splits = {{1 << 20}, {1}, {5, 13, 64 * 1024}};
  for (const std::string& header : {kV1, v2_header(1)}) {
    for (const auto& sizes : splits) {
      Socket s = Socket::tcp("127.0.0.1", proxy_port(server));
      const Bytes echoed =
          s.echo_exchange(concat(header, payload), sizes, scaled(std::chrono::milliseconds(30s)));
      EXPECT_TRUE(echoed == payload) << "header of " << header.size() << " bytes, first write "
                                     << sizes.front() << ": " << echoed.size() << " bytes back";
    }
  }
  const auto counts = stop_and_count(server);
  EXPECT_EQ(counts.at("tcp_accepted"), 6u);
  EXPECT_EQ(counts.at("tcp_proxy_malformed"), 0u);
}

TEST_P(ProxyTest, LocalIsServedAsTheProxysOwnConnection) {
  // The cap of 1 per address would refuse a second connection counted against 127.0.0.1.
  Server server = start({"--max-conns-per-ip", "1", "-v"});
  Socket local = Socket::tcp("127.0.0.1", proxy_port(server));
  local.send_all(concat(v2_header(0), to_bytes("ping")));
  EXPECT_TRUE(local.recv_exact(4, scaled(std::chrono::milliseconds(5s))) == to_bytes("ping"));
  Socket second = Socket::tcp("127.0.0.1", proxy_port(server));
  second.send_all(concat(v2_header(0), to_bytes("x")));
  Socket::End end{};
  EXPECT_TRUE(second.recv_until_end(end, scaled(std::chrono::milliseconds(5s))).empty());
  EXPECT_EQ(end, Socket::End::reset);
  local.shutdown_write();
  EXPECT_TRUE(local.recv_to_eof(scaled(std::chrono::milliseconds(5s))).empty());
  const auto counts = stop_and_count(server);
  EXPECT_EQ(counts.at("tcp_refused_per_ip"), 1u);
  EXPECT_NE(
      server.process().stderr_text().find("connection opened listener=tcp://127.0.0.1:" +
                                          std::to_string(proxy_port(server)) + " peer=127.0.0.1:"),
      std::string::npos);
}

TEST_P(ProxyTest, PerIpCapCountsTheRealClients) {
  Server server = start({"--max-conns-per-ip", "1", "-v"});
  const std::uint16_t port = proxy_port(server);
  // Two clients behind one proxy address: each has its own place.
  Socket a = Socket::tcp("127.0.0.1", port);
  a.send_all(to_bytes("PROXY TCP4 198.18.0.7 198.18.0.1 40000 7\r\nA"));
  EXPECT_TRUE(a.recv_exact(1, scaled(std::chrono::milliseconds(5s))) == to_bytes("A"));
  Socket b = Socket::tcp("127.0.0.1", port);
  b.send_all(concat(v2_header(1, 8), to_bytes("B")));
  EXPECT_TRUE(b.recv_exact(1, scaled(std::chrono::milliseconds(5s))) == to_bytes("B"));
  // A second connection of the first client is over its cap.
  Socket again = Socket::tcp("127.0.0.1", port);
  again.send_all(to_bytes("PROXY TCP4 198.18.0.7 198.18.0.1 40001 7\r\nC"));
  Socket::End end{};
  EXPECT_TRUE(again.recv_until_end(end, scaled(std::chrono::milliseconds(5s))).empty());
  EXPECT_EQ(end, Socket::End::reset);
  a.shutdown_write();
  b.shutdown_write();
  EXPECT_TRUE(a.recv_to_eof().empty());
  EXPECT_TRUE(b.recv_to_eof().empty());
  const auto counts = stop_and_count(server);
  EXPECT_EQ(counts.at("tcp_accepted"), 2u);
  EXPECT_EQ(counts.at("tcp_refused_per_ip"), 1u);
  // The log names the real clients, not the proxy.
  const std::string err = server.process().stderr_text();
  EXPECT_NE(err.find("connection opened listener=tcp://127.0.0.1:" + std::to_string(port) +
                     " peer=198.18.0.7:40000"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("peer=198.18.0.8:40000"), std::string::npos) << err;
  EXPECT_NE(err.find("connection refused listener=tcp://127.0.0.1:" + std::to_string(port) +
                     " peer=198.18.0.7:40001"),
            std::string::npos)
      << err;
}

// A connection waiting for its header holds a descriptor: it counts against --max-conns from
// its accept, so balancers that open connections and send nothing cannot pass the cap.
TEST_P(ProxyTest, ConnectionsWaitingForTheirHeaderCountAgainstMaxConns) {
  // One worker: connections are accepted in the order they were made.
  Server server = start({"--max-conns", "2", "--threads", "1", "--proxy-timeout", "60s"});
  const std::uint16_t port = proxy_port(server);
  Socket first = Socket::tcp("127.0.0.1", port);
  first.send_all(to_bytes("PROXY "));  // begun, never ended
  Socket second = Socket::tcp("127.0.0.1", port);
  // The cap is full: the third is reset at once, before a byte is read (admitted, it would
  // wait for its header for the whole --proxy-timeout instead).
  Socket third = Socket::tcp("127.0.0.1", port);
  Socket::End end{};
  EXPECT_TRUE(third.recv_until_end(end, scaled(std::chrono::milliseconds(5s))).empty());
  EXPECT_EQ(end, Socket::End::reset);
  // A waiting connection that ends gives its place back.
  first.shutdown_write();
  EXPECT_TRUE(first.recv_to_eof().empty());
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    Socket next = Socket::tcp("127.0.0.1", port);
    try {
      next.send_all(to_bytes(kV1 + "D"));
    } catch (const std::exception&) {
      continue;  // refused (reset) before the send: the place is not back yet
    }
    served = next.recv_exact(1, scaled(std::chrono::milliseconds(5s))) == to_bytes("D");
  }
  EXPECT_TRUE(served);
  second.shutdown_write();  // else the drain would wait for its header
  EXPECT_TRUE(second.recv_to_eof().empty());
  const auto counts = stop_and_count(server);
  EXPECT_GE(counts.at("tcp_refused_max"), 1u);
  EXPECT_EQ(counts.at("tcp_accepted"), 1u);
}

// Sends bytes as the start of a connection and expects it closed without a byte of echo.
void expect_closed_unechoed(std::uint16_t port, const std::string& bytes) {
  Socket s = Socket::tcp("127.0.0.1", port);
  s.send_all(to_bytes(bytes));
  Socket::End end{};
  const Bytes got = s.recv_until_end(end, scaled(std::chrono::milliseconds(5s)));
  EXPECT_TRUE(got.empty()) << got.size() << " bytes came back";
  EXPECT_NE(end, Socket::End::timeout);
}

TEST_P(ProxyTest, BadHeadersCloseTheConnectionAndAreCountedByReason) {
  Server server = start();
  const std::uint16_t port = proxy_port(server);
  expect_closed_unechoed(port, "GET / HTTP/1.0\r\n\r\n");                   // no header
  expect_closed_unechoed(port, "PROXY TCP4 198.18.0.7 198.18.0.1 7\r\nx");  // malformed
  expect_closed_unechoed(port, "PROXY UNKNOWN " + std::string(100, 'x'));   // oversized
  std::string v3 = v2_header(1);
  v3[12] = '\x31';                   // version 3
  expect_closed_unechoed(port, v3);  // unsupported
  // A client that sends nothing: the header timeout (default 3 s) ends it; the others above
  // have ended meanwhile.
  const auto counts = [&] {
    Socket silent = Socket::tcp("127.0.0.1", port);
    Socket::End end{};
    EXPECT_TRUE(silent.recv_until_end(end, scaled(std::chrono::milliseconds(10s))).empty());
    EXPECT_NE(end, Socket::End::timeout);
    return stop_and_count(server);
  }();
  EXPECT_EQ(counts.at("tcp_proxy_malformed"), 2u);
  EXPECT_EQ(counts.at("tcp_proxy_oversized"), 1u);
  EXPECT_EQ(counts.at("tcp_proxy_unsupported"), 1u);
  EXPECT_EQ(counts.at("tcp_proxy_timeout"), 1u);
  EXPECT_EQ(counts.at("tcp_accepted"), 0u);
}

TEST_P(ProxyTest, HeaderTimeoutIsTheOptionsAndCountedInMetrics) {
  Server server = start({"--proxy-timeout", "200ms", "--metrics", "127.0.0.1:0"});
  const auto started = std::chrono::steady_clock::now();
  Socket silent = Socket::tcp("127.0.0.1", proxy_port(server));
  silent.send_all(to_bytes("PROXY "));  // a header begun, never ended
  Socket::End end{};
  EXPECT_TRUE(silent.recv_until_end(end, scaled(std::chrono::milliseconds(5s))).empty());
  EXPECT_NE(end, Socket::End::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(190));
  const HttpReply m = http_get("127.0.0.1", server.port("http"), "/metrics");
  EXPECT_NE(
      m.body.find("netecho_tcp_proxy_headers_refused_total{listener=\"tcp://127.0.0.1:" +
                  std::to_string(proxy_port(server)) + "\",mode=\"echo\",reason=\"timeout\"} 1"),
      std::string::npos)
      << m.body;
  EXPECT_EQ(stop_and_count(server).at("tcp_proxy_timeout"), 1u);
}

TEST_P(ProxyTest, SourceOutsideProxyFromIsRefusedAndCounted) {
  Server server(serve_args({"--tcp-proxy", "127.0.0.1:0", "--proxy-from", "198.18.0.0/15"}));
  // Reset at once, before a byte is read: sending might already fail.
  Socket s = Socket::tcp("127.0.0.1", proxy_port(server));
  Socket::End end{};
  EXPECT_TRUE(s.recv_until_end(end, scaled(std::chrono::milliseconds(5s))).empty());
  EXPECT_EQ(end, Socket::End::reset);
  const auto counts = stop_and_count(server);
  EXPECT_EQ(counts.at("tcp_proxy_refused"), 1u);
  EXPECT_EQ(counts.at("tcp_accepted"), 0u);
}

TEST(ProxyOptions, AListenerWithoutProxyFromIsAUsageError) {
  RunResult r = run({netecho_bin(), "serve", "--tcp-proxy", "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "netecho: --tcp-proxy: needs --proxy-from, the balancers allowed to send the PROXY "
            "header\n");
  r = run({netecho_bin(), "serve", "--tcp-proxy", "127.0.0.1:0", "--proxy-from", "10.0.0.1/8"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--proxy-from: invalid network '10.0.0.1/8'"), std::string::npos) << r.err;
  EXPECT_EQ(line_count(r.err), 1u);
  r = run({netecho_bin(), "serve", "--tcp-proxy", "127.0.0.1:0", "--proxy-from", "127.0.0.1",
           "--proxy-timeout", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "netecho: --proxy-timeout: must be longer than 0\n");
}

}  // namespace
}  // namespace netecho::test
