// Every error path of serve and send: one line naming the bad input, the right exit code.

#include <gtest/gtest.h>

#include "harness.hpp"

namespace netecho::test {
namespace {

TEST(Errors, PortOutOfRangeIsAUsageError) {
  auto r = run({netecho_bin(), "serve", "--tcp", "127.0.0.1:70000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("70000"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace netecho::test
