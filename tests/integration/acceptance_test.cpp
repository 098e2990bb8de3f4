// The original programs as acceptance: a bare `netecho serve` listens where the original server
// did (TCP echo on 0.0.0.0:12345, UDP reverse on 127.0.0.1:34254), a bare `netecho send` prints
// the original client's line, and "hello" over UDP comes back "olleh".
//
// The only test on fixed ports. It is a separate executable so that CTest can run it with
// RUN_SERIAL (see tests/CMakeLists.txt): nothing else runs meanwhile, so nothing of this suite
// holds those ports. If something else on the machine does, the test fails and says so: a skip
// would hide that the defaults were never checked.

#include <gtest/gtest.h>
#include <signal.h>

#include <stdexcept>
#include <string>

#include "harness.hpp"

namespace netecho::test {
namespace {

TEST(Acceptance, DefaultServeAndSendBehaveAsTheOriginalPrograms) {
  std::optional<Server> server;
  try {
    server.emplace(std::vector<std::string>{});
  } catch (const std::exception& e) {
    FAIL() << "the default `netecho serve` needs TCP 0.0.0.0:12345 and UDP 127.0.0.1:34254 "
              "free; it did not start: "
           << e.what();
  }
  ASSERT_EQ(server->listeners().size(), 2u);
  const auto& tcp = server->listeners()[0];
  EXPECT_EQ(tcp.proto, "tcp");
  EXPECT_EQ(tcp.host, "0.0.0.0");
  EXPECT_EQ(tcp.port, 12345);
  EXPECT_EQ(tcp.mode, "echo");
  const auto& udp = server->listeners()[1];
  EXPECT_EQ(udp.proto, "udp");
  EXPECT_EQ(udp.host, "127.0.0.1");
  EXPECT_EQ(udp.port, 34254);
  EXPECT_EQ(udp.mode, "reverse");

  const auto r = run({netecho_bin(), "send"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [0, 1, 2, 3]\n");

  auto sock = Socket::udp("127.0.0.1", 34254);
  std::optional<Bytes> reply;
  for (int attempt = 0; attempt < 3 && !reply; ++attempt) {
    reply = sock.udp_roundtrip(to_bytes("hello"), 2s);
  }
  ASSERT_TRUE(reply.has_value()) << "no reply from 127.0.0.1:34254";
  EXPECT_EQ(*reply, to_bytes("olleh"));

  EXPECT_EQ(server->stop(SIGTERM), 0) << server->process().stderr_text();
}

}  // namespace
}  // namespace netecho::test
