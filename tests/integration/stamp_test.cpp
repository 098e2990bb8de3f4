// `netecho serve --stamp` against an independent STAMP implementation: packets built and
// replies read with Scapy's layer (python3-scapy), by stamp_scapy.py, field by field; the drops
// counted in /metrics. On every backend: the timestamps and the TTL come from control messages,
// which each backend must deliver.

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness.hpp"
#include "key_file.hpp"

namespace netecho::test {
namespace {

const std::string kScript = std::string(NETECHO_SOURCE_DIR) + "/tests/integration/stamp_scapy.py";

// Runs one case of stamp_scapy.py against host:port; the test fails with its output when a
// check does.
void run_case(const std::string& which, const std::string& host, std::uint16_t port,
              const std::vector<std::string>& more = {}) {
  // Debian's python3, where python3-scapy is installed, whatever python3 PATH finds first.
  std::vector<std::string> argv = {"/usr/bin/python3", kScript, which, host,
                                   std::to_string(port)};
  argv.insert(argv.end(), more.begin(), more.end());
  const auto r = run(argv, {}, scaled(60s));
  EXPECT_EQ(r.exit_code, 0) << which << ":\n" << r.out << r.err;
  EXPECT_NE(r.out.find("done\n"), std::string::npos) << r.out;
}

// The value of one series of /metrics, by its exact name and labels text; -1 when absent.
long metric(Server& server, const std::string& series) {
  const auto reply = http_get("127.0.0.1", server.port("http"), "/metrics");
  for (const auto& line : lines_of(reply.body)) {
    if (line.rfind(series + " ", 0) == 0) {
      return std::stol(line.substr(series.size() + 1));
    }
  }
  return -1;
}

std::string dropped(const std::string& port, const std::string& reason) {
  return "netecho_udp_datagrams_dropped_total{listener=\"udp://127.0.0.1:" + port +
         "\",mode=\"stamp\",reason=\"" + reason + "\"}";
}

class StampBackend : public BackendTest {};

TEST_P(StampBackend, StatelessRepliesFieldByField) {
  Server server(serve_args({"--stamp", "127.0.0.1:0"}));
  EXPECT_EQ(server.listeners().front().mode, "stamp");
  run_case("stateless", "127.0.0.1", server.port("udp", "stamp"));
}

TEST_P(StampBackend, StatefulCountsItsOwnSequence) {
  Server server(serve_args({"--stamp", "127.0.0.1:0", "--stamp-mode", "stateful"}));
  run_case("stateful", "127.0.0.1", server.port("udp", "stamp"));
}

TEST_P(StampBackend, TlvsReflectedWithUnknownTypesMarked) {
  Server server(serve_args({"--stamp", "127.0.0.1:0"}));
  run_case("tlvs", "127.0.0.1", server.port("udp", "stamp"));
}

TEST_P(StampBackend, Ipv6) {
  if (!ipv6_loopback_available()) {
    GTEST_SKIP() << "::1 is not configured here";
  }
  Server server(serve_args({"--stamp", "[::1]:0"}));
  run_case("stateless", "::1", server.port("udp", "stamp"));
}

INSTANTIATE_TEST_SUITE_P(Backends, StampBackend, ::testing::ValuesIn(backend_names()),
                         backend_test_name);

// A reflector in authenticated mode with its key file and /metrics, for one test.
struct AuthenticatedReflector {
  KeyFile key{"a shared secret\n"};
  Server server{{"--stamp", "127.0.0.1:0", "--stamp-auth-key", key.path(), "--metrics",
                 "127.0.0.1:0"}};
  std::uint16_t port = server.port("udp", "stamp");

  long dropped_for(const std::string& reason) {
    return metric(server, dropped(std::to_string(port), reason));
  }
};

TEST(Stamp, AuthenticatedWrongHmacDroppedAndCounted) {
  AuthenticatedReflector r;
  run_case("authenticated", "127.0.0.1", r.port, {r.key.path()});
  EXPECT_EQ(r.dropped_for("stamp_bad_hmac"), 2);
  EXPECT_EQ(r.dropped_for("stamp_malformed"), 0);
}

// RFC 8972 §4.8: the TLVs' own HMAC, checked and answered with the reflector's own; a wrong one
// is answered with the I flag, not dropped.
TEST(Stamp, AuthenticatedHmacTlvCheckedAndSigned) {
  AuthenticatedReflector r;
  run_case("hmac-tlv", "127.0.0.1", r.port, {r.key.path()});
  EXPECT_EQ(r.dropped_for("stamp_bad_hmac"), 0);
}

TEST(Stamp, TruncatedDroppedAndCounted) {
  Server server({"--stamp", "127.0.0.1:0", "--metrics", "127.0.0.1:0"});
  const auto port = server.port("udp", "stamp");
  run_case("truncated", "127.0.0.1", port);
  EXPECT_EQ(metric(server, dropped(std::to_string(port), "stamp_malformed")), 2);
}

TEST(Stamp, UnauthenticatedPacketToAnAuthenticatedReflectorIsMalformed) {
  AuthenticatedReflector r;
  Socket s = Socket::udp("127.0.0.1", r.port);
  EXPECT_FALSE(s.udp_roundtrip(Bytes(44), 300ms));
  EXPECT_EQ(r.dropped_for("stamp_malformed"), 1);
}

TEST(Stamp, TwampLightSenderGetsAReplyItReads) {
  Server server({"--stamp", "127.0.0.1:0"});
  run_case("twamp-light", "127.0.0.1", server.port("udp", "stamp"));
}

TEST(Stamp, UdpGuardsApply) {
  // The per-source rate limit of every UDP listener: 2 replies, then drops, counted as such.
  Server server({"--stamp", "127.0.0.1:0", "--udp-rate", "1/s", "--udp-burst", "2", "--metrics",
                 "127.0.0.1:0"});
  const auto port = server.port("udp", "stamp");
  Socket s = Socket::udp("127.0.0.1", port);
  int replies = 0;
  for (int i = 0; i < 5; ++i) {
    replies += s.udp_roundtrip(Bytes(44), 300ms) ? 1 : 0;
  }
  EXPECT_EQ(replies, 2);
  EXPECT_EQ(metric(server, dropped(std::to_string(port), "rate_limited")), 3);
}

TEST(Stamp, BadKeyFileIsAUsageError) {
  const auto r = run({netecho_bin(), "serve", "--stamp", "127.0.0.1:0", "--stamp-auth-key",
                      "/nonexistent/key"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--stamp-auth-key: cannot read the STAMP key file '/nonexistent/key'"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace netecho::test
