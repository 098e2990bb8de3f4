// netecho send against netecho serve: payload sources, output formats, UDP and --expect.
// (The original programs' acceptance check, on the fixed default ports, is acceptance_test.cpp;
// send's failures are in errors_test.cpp.)

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace netecho::test
