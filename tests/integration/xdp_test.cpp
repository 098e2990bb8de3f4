// serve --xdp (docs/XDP.md) with the real binary in network namespaces the tests make: native
// XDP on a veth pair, generic XDP on lo; exact echo and reverse, the guards in the fast path, the
// fallback to sockets when attaching fails, and the program gone when the server ends, also by
// SIGKILL. The counters come from the server's exit summary (the "stopped" line).

#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "harness.hpp"
#include "netns.hpp"

namespace netecho::test {
namespace {

std::optional<std::string> xdp_unavailable() {
#ifndef NETECHO_XDP_PASS_OBJECT
  return std::string("this netecho was built without XDP (no clang BPF target, bpftool or libbpf)");
#else
  return netns_unavailable();
#endif
}

// The value of key=N in the server's exit summary ("stopped ... key=N ..."), or -1.
long summary(const std::string& log, const std::string& key) {
  for (const auto& line : lines_of(log)) {
    if (line.find("netecho: stopped ") == std::string::npos) {
      continue;
    }
    const auto at = line.find(" " + key + "=");
    if (at != std::string::npos) {
      return std::stol(line.substr(at + key.size() + 2));
    }
  }
  return -1;
}

bool has_xdp(const Netns& ns, const std::string& ifname) {
  const RunResult r = run(ns.wrap({"ip", "link", "show", "dev", ifname}));
  return r.out.find("prog/xdp") != std::string::npos;
}

// From src:sport to dst:dport, prints how many of count datagrams came back exactly. "burst":
// all sent at once, then the echoes counted until half a second passes without one. "pingpong":
// one at a time, each sent up to three times until its echo comes within 0.3 s (a frame lost in
// a full veth ring is not a refusal).
constexpr const char* kUdpProbe = R"(
import socket, sys
src, sport, dst, dport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
count, mode = int(sys.argv[5]), sys.argv[6]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind((src, sport))
payload = b"netecho xdp probe"
def echoed(timeout):
    s.settimeout(timeout)
    try:
        return s.recvfrom(2048)[0] == payload
    except socket.timeout:
        return False
got = 0
if mode == "burst":
    for _ in range(count):
        s.sendto(payload, (dst, dport))
    while got < count and echoed(0.5):
        got += 1
else:
    for _ in range(count):
        for _ in range(3):
            s.sendto(payload, (dst, dport))
            if echoed(0.3):
                got += 1
                break
print(got)
)";

std::vector<std::string> probe_argv(const Netns& ns, const std::string& src, int sport,
                                    const std::string& dst, std::uint16_t dport, int count,
                                    const std::string& mode) {
  return ns.wrap({"python3", "-c", kUdpProbe, src, std::to_string(sport), dst,
                  std::to_string(dport), std::to_string(count), mode});
}

// A server namespace and a client namespace joined by a veth pair (198.18.9.1 and .2, and .3
// on the client too, a second source), the client's end ready to receive XDP_TX frames: an
// XDP program of its own, and no TX checksum offload (veth would otherwise leave the UDP
// checksum partial in the frame the server's program turns around, and the reply would fail it).
struct VethHosts {
  Netns srv{"xdp-srv"};
  Netns cli{"xdp-cli"};
  VethPair pair = link(srv, "198.18.9.1/24", cli, "198.18.9.2/24");

  VethHosts() {
#ifdef NETECHO_XDP_PASS_OBJECT
    cli.run({"ip", "link", "set", "dev", pair.b_if, "xdpdrv", "obj", NETECHO_XDP_PASS_OBJECT,
             "sec", "xdp"});
#endif
    cli.run({"ethtool", "-K", pair.b_if, "tx", "off"});
    cli.run({"ip", "addr", "add", "198.18.9.3/24", "dev", pair.b_if});
  }

  Server serve(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{netecho_bin(), "serve", "--xdp", pair.a_if};
    argv.insert(argv.end(), args.begin(), args.end());
    return Server(Process::spawn(srv.wrap(argv)));
  }

  RunResult send(std::uint16_t port, const std::string& text) const {
    return run(cli.wrap({netecho_bin(), "send", "udp://198.18.9.1:" + std::to_string(port),
                         "--text", text}));
  }
};

std::string received(const std::string& text) {
  std::string out = "Received [";
  for (std::size_t i = 0; i < text.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(static_cast<unsigned char>(text[i]));
  }
  return out + "]\n";
}

TEST(Xdp, NativeOnVethAnswersEchoAndReverseExactly) {
  if (auto why = xdp_unavailable()) {
    GTEST_SKIP() << *why;
  }
  const VethHosts hosts;
  Server server = hosts.serve({"--udp", "198.18.9.1:0", "--udp-reverse", "198.18.9.1:0"});
  EXPECT_NE(server.process().stderr_text().find("xdp attached interface=" + hosts.pair.a_if +
                                                " mode=native listeners=2"),
            std::string::npos)
      << server.process().stderr_text();
  EXPECT_TRUE(has_xdp(hosts.srv, hosts.pair.a_if));
  const std::uint16_t echo = server.port("udp", "echo");
  const std::uint16_t reverse = server.port("udp", "reverse");
  for (const std::string& text :
       std::vector<std::string>{"a", "hello", "an odd number", std::string(1400, 'e')}) {
    const RunResult r = hosts.send(echo, text);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, received(text));
  }
  std::string ascending;
  for (int i = 0; i < 200; ++i) {
    ascending += static_cast<char>('!' + i % 90);
  }
  for (const std::string& text : std::vector<std::string>{"ab", "abc", ascending}) {
    const RunResult r = hosts.send(reverse, text);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, received(std::string(text.rbegin(), text.rend())));
  }
  // Over the program's reverse bound: answered by the socket behind it, reversed all the same.
  const std::string big(700, 'x');
  const std::string big_text = big + "y";
  const RunResult r = hosts.send(reverse, big_text);
  EXPECT_EQ(r.out, received(std::string(big_text.rbegin(), big_text.rend()))) << r.err;
  ASSERT_EQ(server.stop(), 0);
  const std::string log = server.process().stderr_text();
  EXPECT_EQ(summary(log, "udp_xdp_answered"), 7) << log;
  EXPECT_EQ(summary(log, "udp_xdp_passed"), 1) << log;
  EXPECT_EQ(summary(log, "udp_out"), 8) << log;
  EXPECT_FALSE(has_xdp(hosts.srv, hosts.pair.a_if));
}

TEST(Xdp, GuardsHoldInTheFastPathAndAFloodDoesNotStarveOthers) {
  if (auto why = xdp_unavailable()) {
    GTEST_SKIP() << *why;
  }
  const VethHosts hosts;
  Server server = hosts.serve({"--udp", "198.18.9.1:0", "--udp-rate", "50/s", "--udp-burst",
                               "10"});
  const std::uint16_t port = server.port("udp");
  // A denied source port (DNS's): no answer at all.
  RunResult r = run(probe_argv(hosts.cli, "198.18.9.2", 53, "198.18.9.1", port, 3, "burst"));
  EXPECT_EQ(r.out, "0\n") << r.err;
  // One source floods while another asks for its ten, one at a time: the flood gets its burst
  // and the rate, far from all it asked, the other all ten.
  Process flood = Process::spawn(
      probe_argv(hosts.cli, "198.18.9.2", 40000, "198.18.9.1", port, 20000, "burst"));
  r = run(probe_argv(hosts.cli, "198.18.9.3", 40001, "198.18.9.1", port, 10, "pingpong"));
  EXPECT_EQ(r.out, "10\n") << r.err;
  const auto flood_got = flood.read_line(scaled(std::chrono::seconds(30)));
  ASSERT_TRUE(flood_got);
  EXPECT_EQ(flood.wait(), 0);
  EXPECT_LT(std::stol(*flood_got), 2000);
  ASSERT_EQ(server.stop(), 0);
  const std::string log = server.process().stderr_text();
  EXPECT_EQ(summary(log, "udp_denied_port"), 3) << log;
  EXPECT_GT(summary(log, "udp_rate_limited"), 0) << log;
  // Every answer came from the program, none from the socket (an answer may still be lost on
  // its way back in a full veth ring, so at least what arrived).
  EXPECT_EQ(summary(log, "udp_xdp_answered"), summary(log, "udp_out")) << log;
  EXPECT_GE(summary(log, "udp_out"), 10 + std::stol(*flood_got)) << log;
}

TEST(Xdp, WhenAttachingFailsTheSocketsServeAlone) {
  if (auto why = xdp_unavailable()) {
    GTEST_SKIP() << *why;
  }
  const VethHosts hosts;
  {  // no such interface
    Server server(Process::spawn(hosts.srv.wrap(
        {netecho_bin(), "serve", "--udp", "198.18.9.1:0", "--xdp", "nosuch0"})));
    const std::string log = server.process().stderr_text();
    EXPECT_NE(log.find("xdp not used: serving UDP by socket alone interface=nosuch0 "
                       "reason=\"no network interface 'nosuch0'\""),
              std::string::npos)
        << log;
    const RunResult r = hosts.send(server.port("udp"), "still here");
    EXPECT_EQ(r.out, received("still here")) << r.err;
    EXPECT_EQ(server.stop(), 0);
  }
  {  // another XDP program holds the interface
#ifdef NETECHO_XDP_PASS_OBJECT
    hosts.srv.run({"ip", "link", "set", "dev", hosts.pair.a_if, "xdpdrv", "obj",
                   NETECHO_XDP_PASS_OBJECT, "sec", "xdp"});
#endif
    Server server = hosts.serve({"--udp", "198.18.9.1:0"});
    const std::string log = server.process().stderr_text();
    EXPECT_NE(log.find("xdp not used"), std::string::npos) << log;
    EXPECT_NE(log.find("another XDP program holds the interface"), std::string::npos) << log;
    const RunResult r = hosts.send(server.port("udp"), "by socket");
    EXPECT_EQ(r.out, received("by socket")) << r.err;
    EXPECT_EQ(server.stop(), 0);
    EXPECT_EQ(summary(server.process().stderr_text(), "udp_xdp_answered"), 0);
  }
}

TEST(Xdp, TheProgramGoesWithTheProcessEvenKilled) {
  if (auto why = xdp_unavailable()) {
    GTEST_SKIP() << *why;
  }
  const VethHosts hosts;
  for (const int sig : {SIGTERM, SIGKILL}) {
    Server server = hosts.serve({"--udp", "198.18.9.1:0"});
    EXPECT_TRUE(has_xdp(hosts.srv, hosts.pair.a_if)) << sig;
    server.stop(sig);
    // A link is released when its last descriptor closes, which the kernel does as the
    // process exits, before a parent can reap it.
    EXPECT_FALSE(has_xdp(hosts.srv, hosts.pair.a_if)) << sig;
    // And the interface takes a new program at once.
    Server again = hosts.serve({"--udp", "198.18.9.1:0"});
    EXPECT_NE(again.process().stderr_text().find("mode=native"), std::string::npos) << sig;
    EXPECT_EQ(again.stop(), 0);
  }
}

TEST(Xdp, GenericOnLoInAFreshNamespace) {
  if (auto why = xdp_unavailable()) {
    GTEST_SKIP() << *why;
  }
  const Netns ns("xdp-lo");
  Server server(Process::spawn(ns.wrap(
      {netecho_bin(), "serve", "--udp", "127.0.0.1:0", "--udp-reverse", "127.0.0.1:0", "--xdp",
       "lo"})));
  EXPECT_NE(server.process().stderr_text().find("xdp attached interface=lo mode=generic"),
            std::string::npos)
      << server.process().stderr_text();
  for (const auto& [mode, text, expected] :
       {std::tuple<std::string, std::string, std::string>{"echo", "over lo", "over lo"},
        {"reverse", "over lo", "ol revo"}}) {
    const RunResult r = run(ns.wrap({netecho_bin(), "send",
                                     "udp://127.0.0.1:" + std::to_string(server.port("udp", mode)),
                                     "--text", text}));
    EXPECT_EQ(r.out, received(expected)) << r.err;
  }
  ASSERT_EQ(server.stop(), 0);
  EXPECT_EQ(summary(server.process().stderr_text(), "udp_xdp_answered"), 2)
      << server.process().stderr_text();
}

}  // namespace
}  // namespace netecho::test
