// Behind a VIP: a UDP server bound to 0.0.0.0 in a namespace with two addresses on one
// interface answers each datagram from the address it was sent to (serve reads the datagram's
// destination with IP_PKTINFO and sends from it). Were the reply to leave from the other
// address, or from the one the routing table picks, a client behind a balancer or a NAT would
// drop it. The client is python3 with an unconnected socket, so it sees the source of the
// reply as it is instead of the kernel filtering it.

#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"
#include "netns.hpp"

namespace netecho::test {
namespace {

class UdpVip : public BackendTest {};

TEST_P(UdpVip, RepliesLeaveFromTheAddressEachDatagramWasSentTo) {
  if (auto why = netns_unavailable()) {
    GTEST_SKIP() << *why;
  }
  Netns srv("vip");
  Netns cli("cli");
  const VethPair pair = link(srv, "198.18.4.1/24", cli, "198.18.4.11/24");
  srv.run({"ip", "addr", "add", "198.18.4.2/24", "dev", pair.a_if});
  Server server(Process::spawn(srv.wrap(
      {netecho_bin(), "serve", "--udp", "0.0.0.0:0", "--udp-rate", "none", "--backend",
       backend()})));
  const std::string port = std::to_string(server.port("udp"));
  // Each address twice, interleaved, so that a server answering from the last address it saw
  // would be caught as well as one answering from a fixed address.
  const std::string script =
      "import socket, sys\n"
      "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      "s.settimeout(5)\n"
      "for addr in sys.argv[2:]:\n"
      "    s.sendto(b'vip', (addr, int(sys.argv[1])))\n"
      "    data, src = s.recvfrom(100)\n"
      "    print(addr, src[0], data.decode())\n";
  const RunResult r = run(cli.wrap({"python3", "-c", script, port, "198.18.4.1", "198.18.4.2",
                                    "198.18.4.2", "198.18.4.1"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "198.18.4.1 198.18.4.1 vip\n"
            "198.18.4.2 198.18.4.2 vip\n"
            "198.18.4.2 198.18.4.2 vip\n"
            "198.18.4.1 198.18.4.1 vip\n");
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, UdpVip, ::testing::ValuesIn(backend_names()),
                         backend_test_name);

}  // namespace
}  // namespace netecho::test
