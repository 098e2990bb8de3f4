// netecho send against netecho serve, including the original programs' acceptance checks.

#include <gtest/gtest.h>

#include "harness.hpp"

namespace netecho::test {
namespace {

TEST(Send, DefaultPayloadPrintsTheOriginalLine) {
  Server server({"--tcp", "127.0.0.1:0"});
  auto r = run({netecho_bin(), "send", "127.0.0.1:" + std::to_string(server.port("tcp"))});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [0, 1, 2, 3]\n");
}

}  // namespace
}  // namespace netecho::test
