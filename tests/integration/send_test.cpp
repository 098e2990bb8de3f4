// netecho send against netecho serve: payload sources, output formats, UDP and --expect, and
// the result as JSON.
// (The original programs' acceptance check, on the fixed default ports, is acceptance_test.cpp;
// send's failures are in errors_test.cpp.)

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness.hpp"

namespace netecho::test {
namespace {

std::string tcp_target(const Server& server) {
  return "127.0.0.1:" + std::to_string(server.port("tcp"));
}

RunResult send(const std::vector<std::string>& args, std::string_view input = {}) {
  std::vector<std::string> argv{netecho_bin(), "send"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, input);
}

TEST(Send, DefaultPayloadPrintsTheOriginalLine) {
  Server server({"--tcp", "127.0.0.1:0"});
  auto r = send({tcp_target(server)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [0, 1, 2, 3]\n");
  EXPECT_EQ(r.err, "");
}

TEST(Send, TcpSchemeTarget) {
  Server server({"--tcp", "127.0.0.1:0"});
  auto r = send({"tcp://" + tcp_target(server), "--bytes", "7,8"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [7, 8]\n");
}

TEST(Send, TextPayload) {
  Server server({"--tcp", "127.0.0.1:0"});
  auto r = send({tcp_target(server), "--text", "hello"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [104, 101, 108, 108, 111]\n");
}

TEST(Send, HexPayload) {
  Server server({"--tcp", "127.0.0.1:0"});
  auto r = send({tcp_target(server), "--hex", "00ff10"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [0, 255, 16]\n");
}

TEST(Send, BytesPayload) {
  Server server({"--tcp", "127.0.0.1:0"});
  auto r = send({tcp_target(server), "--bytes", "9,0x08,7"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [9, 8, 7]\n");
}

TEST(Send, HexOutput) {
  Server server({"--tcp", "127.0.0.1:0"});
  auto r = send({tcp_target(server), "--text", "AB", "--output", "hex"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "4142\n");
}

TEST(Send, OneMebibyteFromStdinComesBackRawAndExact) {
  Server server({"--tcp", "127.0.0.1:0"});
  const Bytes data = random_bytes(1 << 20, 21);
  const std::string input(reinterpret_cast<const char*>(data.data()), data.size());
  auto r = send({tcp_target(server), "--stdin", "--output", "raw"}, input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.size(), input.size());
  EXPECT_TRUE(r.out == input) << "the raw output differs from the input";
}

TEST(Send, UdpAgainstTheReverseListenerExpectingReverse) {
  Server server({"--udp-reverse", "127.0.0.1:0"});
  const auto target = "udp://127.0.0.1:" + std::to_string(server.port("udp", "reverse"));
  auto r = send({target, "--text", "hello", "--expect", "reverse"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [111, 108, 108, 101, 104]\n");
  // UDP expects nothing in particular by default: the reply is printed as received.
  r = send({target, "--text", "hello"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [111, 108, 108, 101, 104]\n");
}

TEST(Send, UdpEchoListener) {
  Server server({"--udp", "127.0.0.1:0"});
  const auto target = "udp://127.0.0.1:" + std::to_string(server.port("udp", "echo"));
  auto r = send({target, "--expect", "echo"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [0, 1, 2, 3]\n");
}

TEST(Send, ExpectingEchoFromTheReverseListenerFailsNamingTheByte) {
  Server server({"--udp-reverse", "127.0.0.1:0"});
  const auto port = std::to_string(server.port("udp", "reverse"));
  auto r = send({"udp://127.0.0.1:" + port, "--text", "hello", "--expect", "echo"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(line_count(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("127.0.0.1:" + port), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("byte 0"), std::string::npos) << r.err;
  // What did arrive is still shown.
  EXPECT_EQ(r.out, "Received [111, 108, 108, 101, 104]\n");
}

TEST(Send, Ipv6Target) {
  if (!ipv6_loopback_available()) {
    GTEST_SKIP() << "::1 is not configured on this machine, so IPv6 cannot be tested here";
  }
  Server server({"--tcp", "[::1]:0", "--udp", "[::1]:0"});
  auto r = send({"tcp://[::1]:" + std::to_string(server.port("tcp")), "--text", "six"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [115, 105, 120]\n");
  r = send({"udp://[::1]:" + std::to_string(server.port("udp")), "--text", "six"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [115, 105, 120]\n");
}

// The keys of send's JSON document, in order (docs/CLI.md), with ping's and bench's names.
const std::vector<std::string> kJsonKeys = {
    "schema",     "started_at", "target",         "transport", "address", "expect",
    "timeout_ms", "bytes_sent", "bytes_received", "matched",   "rtt_ms",  "first_error"};

nlohmann::ordered_json parse_result(const RunResult& r) {
  const auto doc = nlohmann::ordered_json::parse(r.out);
  std::vector<std::string> keys;
  for (const auto& [key, value] : doc.items()) {
    keys.push_back(key);
  }
  EXPECT_EQ(keys, kJsonKeys) << r.out;
  EXPECT_EQ(doc["schema"], "netecho-send/1");
  EXPECT_EQ(doc["started_at"].get<std::string>().size(), 20u) << doc["started_at"];  // ...T...Z
  return doc;
}

TEST(Send, JsonIsOneDocumentWithTheResult) {
  Server server({"--tcp", "127.0.0.1:0"});
  const auto r = send({"tcp://" + tcp_target(server), "--text", "hello", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const auto doc = parse_result(r);
  EXPECT_EQ(doc["target"], "tcp://" + tcp_target(server));
  EXPECT_EQ(doc["transport"], "tcp");
  EXPECT_EQ(doc["address"], tcp_target(server));
  EXPECT_EQ(doc["expect"], "echo");
  EXPECT_EQ(doc["timeout_ms"], 5000.0);
  EXPECT_EQ(doc["bytes_sent"], 5);
  EXPECT_EQ(doc["bytes_received"], 5);
  EXPECT_EQ(doc["matched"], true);
  ASSERT_TRUE(doc["rtt_ms"].is_number()) << r.out;
  EXPECT_GT(doc["rtt_ms"].get<double>(), 0.0);
  EXPECT_LT(doc["rtt_ms"].get<double>(), 5000.0);
  EXPECT_TRUE(doc["first_error"].is_null()) << r.out;
  // The reply is in the document's figures, not printed beside it; --output does not apply.
  EXPECT_EQ(send({tcp_target(server), "--json", "--output", "hex"}).exit_code, 2);
}

TEST(Send, JsonOfARefusedPortNamesTheReason) {
  // A bound socket that does not listen: the port refuses, and no other process takes it.
  const int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sin);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&sin), len), 0);
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&sin), &len), 0);
  const std::string where = "tcp://127.0.0.1:" + std::to_string(ntohs(sin.sin_port));
  const auto r = send({where, "--json"});
  ::close(holder);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto doc = parse_result(r);
  EXPECT_TRUE(doc["address"].is_null()) << r.out;
  EXPECT_EQ(doc["bytes_sent"], 0);
  EXPECT_EQ(doc["bytes_received"], 0);
  EXPECT_EQ(doc["matched"], false);
  EXPECT_TRUE(doc["rtt_ms"].is_null()) << r.out;
  EXPECT_EQ(doc["first_error"], "cannot connect to " + where + ": Connection refused");
  // Standard error still says it, in one line.
  EXPECT_EQ(r.err, "netecho send: cannot connect to " + where + ": Connection refused\n");
}

}  // namespace
}  // namespace netecho::test
