// netecho serve against real sockets: exact echo, half-close, concurrency, backpressure,
// resets, UDP modes, IPv6.

#include <gtest/gtest.h>

#include "harness.hpp"

namespace netecho::test {
namespace {

TEST(Serve, EchoesOneMebibyteThroughOddSizedWrites) {
  Server server({"--tcp", "127.0.0.1:0"});
  auto sock = Socket::tcp("127.0.0.1", server.port("tcp"));
  const Bytes data = random_bytes(1 << 20, 1);
  EXPECT_EQ(sock.echo_exchange(data, {1, 7, 1460, 4093, 65537, 13}), data);
}

}  // namespace
}  // namespace netecho::test
