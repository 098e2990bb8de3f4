// The network-namespace harness (netns.hpp): a real netecho serve in one namespace answers a
// real netecho send from another, over a veth pair and over a shared bridge segment, and
// every namespace is gone once its Netns object is.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.hpp"
#include "netns.hpp"

namespace netecho::test {
namespace {

bool netns_listed(const std::string& name) {
  const RunResult r = run({"ip", "netns", "list"});
  for (const auto& line : lines_of(r.out)) {
    // `ip netns list` prints "NAME" or "NAME (id: N)".
    if (line == name || line.rfind(name + " ", 0) == 0) {
      return true;
    }
  }
  return false;
}

RunResult send_from(const Netns& ns, const std::string& target, const std::string& text) {
  return run(ns.wrap({netecho_bin(), "send", target, "--text", text}));
}

TEST(Netns, EchoOverAVethPairAndNothingLeftAfter) {
  if (auto why = netns_unavailable()) {
    GTEST_SKIP() << *why;
  }
  std::string server_ns, client_ns;
  {
    Netns a("srv");
    Netns b("cli");
    server_ns = a.name();
    client_ns = b.name();
    EXPECT_TRUE(netns_listed(server_ns));
    link(a, "198.18.0.1/24", b, "198.18.0.2/24");
    Server server(Process::spawn(a.wrap({netecho_bin(), "serve", "--tcp", "198.18.0.1:0"})));
    const RunResult r =
        send_from(b, "198.18.0.1:" + std::to_string(server.port("tcp")), "across");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "Received [97, 99, 114, 111, 115, 115]\n");
    EXPECT_EQ(server.stop(), 0);
  }
  EXPECT_FALSE(netns_listed(server_ns));
  EXPECT_FALSE(netns_listed(client_ns));
}

TEST(Netns, HostsOnASegmentReachEachOther) {
  if (auto why = netns_unavailable()) {
    GTEST_SKIP() << *why;
  }
  std::string bridge_ns;
  {
    Netns srv("srv");
    Netns c1("c1");
    Netns c2("c2");
    Segment seg("lan");
    bridge_ns = seg.bridge_ns().name();
    seg.attach(srv, "198.18.1.1/24");
    seg.attach(c1, "198.18.1.11/24");
    seg.attach(c2, "198.18.1.12/24");
    Server server(Process::spawn(srv.wrap({netecho_bin(), "serve", "--tcp", "198.18.1.1:0"})));
    const std::string target = "198.18.1.1:" + std::to_string(server.port("tcp"));
    for (const Netns* ns : {&c1, &c2}) {
      const RunResult r = send_from(*ns, target, "ok");
      EXPECT_EQ(r.exit_code, 0) << ns->name() << ": " << r.err;
      EXPECT_EQ(r.out, "Received [111, 107]\n") << ns->name();
    }
    EXPECT_EQ(server.stop(), 0);
  }
  EXPECT_FALSE(netns_listed(bridge_ns));
}

TEST(Netns, AProcessLeftInsideEndsWithTheNamespace) {
  if (auto why = netns_unavailable()) {
    GTEST_SKIP() << *why;
  }
  Process left;
  {
    Netns ns("left");
    left = Process::spawn(ns.wrap({"sleep", "600"}));
    ASSERT_TRUE(left.running());
  }
  // Killed by the Netns destructor (SIGKILL: 128 + 9), long before sleep would end.
  EXPECT_EQ(left.wait(scaled(10s)), 128 + 9);
}

TEST(Netns, RefusesAddressesOutsideTheTestRange) {
  if (auto why = netns_unavailable()) {
    GTEST_SKIP() << *why;
  }
  Netns a("a");
  Netns b("b");
  EXPECT_THROW(link(a, "10.0.0.1/24", b, "198.18.0.2/24"), std::invalid_argument);
  EXPECT_THROW(link(a, "198.20.0.1/24", b, "198.18.0.2/24"), std::invalid_argument);
  EXPECT_THROW(link(a, "198.18.0.1", b, "198.18.0.2/24"), std::invalid_argument);
}

}  // namespace
}  // namespace netecho::test
