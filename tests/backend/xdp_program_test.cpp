// The XDP program (src/io/xdp/echo.bpf.c) run by the kernel on hand-made frames
// (BPF_PROG_TEST_RUN): the verdict, the frame it sends back byte for byte with its checksums
// verified here, and the counter each verdict moves. Needs root (CAP_BPF and CAP_NET_ADMIN)
// and a netecho built with the BPF tools; skips saying which is missing otherwise.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "io/xdp/fast_path.hpp"

namespace netecho::io::xdp {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::optional<std::string> cannot_run() {
  if (!built_in()) {
    return "this netecho was built without XDP (no clang BPF target, bpftool or libbpf)";
  }
  if (::geteuid() != 0) {
    return "loading an XDP program needs root (CAP_BPF and CAP_NET_ADMIN)";
  }
  return std::nullopt;
}

net::SockAddr sockaddr_of(const std::string& host, std::uint16_t port) {
  sockaddr_storage ss{};
  if (host.find(':') == std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &a->sin_addr);
    return net::SockAddr(reinterpret_cast<sockaddr*>(&ss), sizeof(sockaddr_in));
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  ::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
  return net::SockAddr(reinterpret_cast<sockaddr*>(&ss), sizeof(sockaddr_in6));
}

// The listeners of every test: echo on 7000, reverse on 7001 (IPv4 and IPv6 loopback), echo
// on the IPv4 wildcard's 7002. Counter slots in this order.
enum Slot : std::size_t { kEcho4, kEcho6, kReverse4, kReverse6, kWildcard4 };

Config test_config() {
  Config c;
  c.listeners = {{sockaddr_of("127.0.0.1", 7000), false},
                 {sockaddr_of("::1", 7000), false},
                 {sockaddr_of("127.0.0.1", 7001), true},
                 {sockaddr_of("::1", 7001), true},
                 {sockaddr_of("0.0.0.0", 7002), false}};
  c.rate = 0;
  c.max_payload = 1400;
  for (std::size_t p = 0; p < 1024; ++p) {
    c.deny_ports.set(p);
  }
  c.deny_ports.set(2049);
  c.own_ports = {7000, 7001, 7002};
  return c;
}

// A UDP datagram in an Ethernet frame, every checksum right unless the test spoils it.
struct Datagram {
  std::string src = "127.0.0.2";
  std::string dst = "127.0.0.1";
  std::uint16_t sport = 40000;
  std::uint16_t dport = 7000;
  Bytes payload = {'h', 'e', 'l', 'l', 'o', '!'};
  std::uint8_t ttl = 17;
  std::uint8_t dst_mac0 = 0x02;  // 0x01 bit: a group (multicast, broadcast) address

  bool v6() const { return src.find(':') != std::string::npos; }
};

constexpr std::size_t kEth = 14;

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t s = 0) {
  for (std::size_t i = 0; i < n; i += 2) {
    s += static_cast<std::uint32_t>(p[i] << 8) | (i + 1 < n ? p[i + 1] : 0U);
  }
  return s;
}

std::uint16_t fold(std::uint32_t s) {
  while (s >> 16) {
    s = (s & 0xffff) + (s >> 16);
  }
  return static_cast<std::uint16_t>(s);
}

void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

std::size_t ip_header(const Bytes& f) { return f[12] == 0x86 ? 40 : 4U * (f[kEth] & 0x0f); }

// The UDP checksum over the pseudo-header, the header and the payload of frame f, as it would be
// with its checksum field zero.
std::uint16_t udp_checksum(const Bytes& f) {
  const bool v6 = f[12] == 0x86;
  const std::size_t udp = kEth + ip_header(f);
  const std::size_t len = static_cast<std::size_t>(f[udp + 4] << 8 | f[udp + 5]);
  std::uint32_t s = v6 ? sum16(&f[kEth + 8], 32) : sum16(&f[kEth + 12], 8);
  s += 17 + static_cast<std::uint32_t>(len);
  Bytes seg(f.begin() + static_cast<long>(udp), f.begin() + static_cast<long>(udp + len));
  seg[6] = seg[7] = 0;
  const std::uint16_t c = static_cast<std::uint16_t>(~fold(sum16(seg.data(), seg.size(), s)));
  return c == 0 ? 0xffff : c;
}

Bytes make_frame(const Datagram& d) {
  const bool v6 = d.v6();
  const std::size_t ip = v6 ? 40 : 20;
  const std::size_t udp_len = 8 + d.payload.size();
  Bytes f(kEth + ip + udp_len);
  const std::uint8_t dst_mac[6] = {d.dst_mac0, 0, 0, 0, 0, 1};
  const std::uint8_t src_mac[6] = {0x02, 0, 0, 0, 0, 2};
  std::memcpy(&f[0], dst_mac, 6);
  std::memcpy(&f[6], src_mac, 6);
  put16(f, 12, v6 ? 0x86dd : 0x0800);
  const std::size_t h = kEth;
  if (v6) {
    f[h] = 0x60;
    put16(f, h + 4, static_cast<std::uint16_t>(udp_len));
    f[h + 6] = 17;
    f[h + 7] = d.ttl;
    ::inet_pton(AF_INET6, d.src.c_str(), &f[h + 8]);
    ::inet_pton(AF_INET6, d.dst.c_str(), &f[h + 24]);
  } else {
    f[h] = 0x45;
    put16(f, h + 2, static_cast<std::uint16_t>(20 + udp_len));
    f[h + 8] = d.ttl;
    f[h + 9] = 17;
    ::inet_pton(AF_INET, d.src.c_str(), &f[h + 12]);
    ::inet_pton(AF_INET, d.dst.c_str(), &f[h + 16]);
    put16(f, h + 10, static_cast<std::uint16_t>(~fold(sum16(&f[h], 20))));
  }
  const std::size_t u = h + ip;
  put16(f, u, d.sport);
  put16(f, u + 2, d.dport);
  put16(f, u + 4, static_cast<std::uint16_t>(udp_len));
  std::copy(d.payload.begin(), d.payload.end(), f.begin() + static_cast<long>(u + 8));
  put16(f, u + 6, udp_checksum(f));
  return f;
}

// The reply the program should send to d's frame: everything turned around.
Bytes expected_reply(Datagram d, bool reverse) {
  std::swap(d.src, d.dst);
  std::swap(d.sport, d.dport);
  d.ttl = NETECHO_XDP_HOP_LIMIT;
  if (reverse) {
    std::reverse(d.payload.begin(), d.payload.end());
  }
  Bytes f = make_frame(d);
  std::swap_ranges(f.begin(), f.begin() + 6, f.begin() + 6);  // the MACs
  return f;
}

// Checks the reply's checksums from scratch, not by comparison with expected_reply().
void expect_checksums_valid(const Bytes& f) {
  ASSERT_GE(f.size(), kEth + 28);
  if (f[12] == 0x08) {
    EXPECT_EQ(fold(sum16(&f[kEth], 20)), 0xffff) << "IPv4 header checksum";
  }
  const std::size_t u = kEth + ip_header(f);
  const std::uint16_t got = static_cast<std::uint16_t>(f[u + 6] << 8 | f[u + 7]);
  EXPECT_EQ(got, udp_checksum(f)) << "UDP checksum";
}

class Program {
 public:
  explicit Program(const Config& config = test_config()) {
    auto loaded = FastPath::load(config);
    if (!loaded) {
      error_ = loaded.error();
      return;
    }
    path_ = std::move(loaded.value());
  }
  const std::string& error() const { return error_; }
  bool ok() const { return path_ != nullptr; }

  TestRun run(const Bytes& frame) const {
    auto r = path_->test_run(frame);
    EXPECT_TRUE(r) << r.error();
    return r ? *r : TestRun{};
  }
  std::uint64_t count(std::size_t slot, netecho_xdp_counter c) const {
    return path_->read(slot)[c];
  }

 private:
  std::unique_ptr<FastPath> path_;
  std::string error_;
};

// Each test: skip when XDP cannot run here at all; a load that fails otherwise is a failure.
#define NETECHO_LOAD_OR_SKIP(program, ...)     \
  if (const auto why = cannot_run()) {         \
    GTEST_SKIP() << *why;                      \
  }                                            \
  const Program program{__VA_ARGS__};          \
  ASSERT_TRUE(program.ok()) << program.error()

TEST(XdpProgram, Ipv4EchoIsTurnedAroundWithValidChecksums) {
  NETECHO_LOAD_OR_SKIP(p);
  const Datagram d;
  const TestRun r = p.run(make_frame(d));
  EXPECT_EQ(r.verdict, XDP_TX);
  EXPECT_EQ(r.frame, expected_reply(d, false));
  expect_checksums_valid(r.frame);
  EXPECT_EQ(p.count(kEcho4, NETECHO_XDP_ANSWERED), 1U);
  EXPECT_EQ(p.count(kEcho4, NETECHO_XDP_BYTES), d.payload.size());
}

TEST(XdpProgram, Ipv6EchoIsTurnedAroundWithValidChecksums) {
  NETECHO_LOAD_OR_SKIP(p);
  Datagram d;
  d.src = "2001:db8::2";
  d.dst = "::1";
  const TestRun r = p.run(make_frame(d));
  EXPECT_EQ(r.verdict, XDP_TX);
  EXPECT_EQ(r.frame, expected_reply(d, false));
  expect_checksums_valid(r.frame);
  EXPECT_EQ(p.count(kEcho6, NETECHO_XDP_ANSWERED), 1U);
}

TEST(XdpProgram, ReverseKeepsTheChecksumsValidForEvenOddAndLargestPayloads) {
  NETECHO_LOAD_OR_SKIP(p);
  for (const bool v6 : {false, true}) {
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{7},
                                std::size_t{64}, std::size_t{301}, kReverseMax - 1, kReverseMax}) {
      Datagram d;
      if (v6) {
        d.src = "2001:db8::2";
        d.dst = "::1";
      }
      d.dport = 7001;
      d.payload.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        d.payload[i] = static_cast<std::uint8_t>(i * 37 + 11);
      }
      const TestRun r = p.run(make_frame(d));
      EXPECT_EQ(r.verdict, XDP_TX) << "v6=" << v6 << " n=" << n;
      EXPECT_EQ(r.frame, expected_reply(d, true)) << "v6=" << v6 << " n=" << n;
      expect_checksums_valid(r.frame);
    }
  }
  EXPECT_EQ(p.count(kReverse4, NETECHO_XDP_ANSWERED), 8U);
  EXPECT_EQ(p.count(kReverse6, NETECHO_XDP_ANSWERED), 8U);
}

TEST(XdpProgram, Ipv4WithoutUdpChecksumIsAnsweredWithout) {
  NETECHO_LOAD_OR_SKIP(p);
  Datagram d;
  d.dport = 7001;
  Bytes f = make_frame(d);
  put16(f, kEth + 20 + 6, 0);  // IPv4 allows "no checksum"
  const TestRun r = p.run(f);
  EXPECT_EQ(r.verdict, XDP_TX);
  EXPECT_EQ(r.frame[kEth + 20 + 6], 0);
  EXPECT_EQ(r.frame[kEth + 20 + 7], 0);
}

TEST(XdpProgram, ReverseOverItsBoundAndPayloadsOverTheMaximumGoToTheSocketPath) {
  NETECHO_LOAD_OR_SKIP(p);
  Datagram d;
  d.dport = 7001;
  d.payload.assign(kReverseMax + 1, 'x');
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_PASS);
  EXPECT_EQ(p.count(kReverse4, NETECHO_XDP_PASSED), 1U);
  d.dport = 7000;
  d.payload.assign(1401, 'x');  // max_payload is 1400
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_PASS);
  d.payload.assign(1400, 'x');
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_TX);
  EXPECT_EQ(p.count(kEcho4, NETECHO_XDP_PASSED), 1U);
}

TEST(XdpProgram, OtherPortsAndProtocolsPassUncounted) {
  NETECHO_LOAD_OR_SKIP(p);
  Datagram d;
  d.dport = 7003;
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_PASS);
  d.dport = 7000;
  d.dst = "127.0.0.3";  // not the listener's address
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_PASS);
  Bytes tcp = make_frame(Datagram{});
  tcp[kEth + 9] = 6;
  EXPECT_EQ(p.run(tcp).verdict, XDP_PASS);
  for (std::size_t slot = 0; slot < 5; ++slot) {
    EXPECT_EQ(p.count(slot, NETECHO_XDP_PASSED), 0U);
  }
}

TEST(XdpProgram, SourcePortZeroAndDeniedPortsAreDropped) {
  NETECHO_LOAD_OR_SKIP(p);
  for (const std::uint16_t port : {0, 7, 53, 1023, 2049}) {
    Datagram d;
    d.sport = port;
    EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_DROP) << port;
  }
  Datagram d;
  d.sport = 1024;
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_TX);
  EXPECT_EQ(p.count(kEcho4, NETECHO_XDP_DENIED_PORT), 5U);
}

TEST(XdpProgram, NonUnicastSourcesAndDestinationsAreDropped) {
  NETECHO_LOAD_OR_SKIP(p);
  for (const char* src : {"0.0.0.0", "0.1.2.3", "224.0.0.1", "239.1.1.1", "255.255.255.255"}) {
    Datagram d;
    d.src = src;
    EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_DROP) << src;
  }
  for (const char* src : {"::", "ff02::1", "::ffff:127.0.0.1"}) {  // mapped, but over IPv6
    Datagram d;
    d.src = src;
    d.dst = "::1";
    EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_DROP) << src;
  }
  Datagram group;
  group.dst_mac0 = 0x01;  // a multicast MAC
  EXPECT_EQ(p.run(make_frame(group)).verdict, XDP_DROP);
  EXPECT_EQ(p.count(kEcho4, NETECHO_XDP_DENIED_ADDRESS), 6U);
  EXPECT_EQ(p.count(kEcho6, NETECHO_XDP_DENIED_ADDRESS), 3U);
  // A wildcard listener sent to a broadcast or multicast address.
  for (const char* dst : {"255.255.255.255", "224.0.0.1"}) {
    Datagram d;
    d.dst = dst;
    d.dport = 7002;
    EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_DROP) << dst;
  }
  EXPECT_EQ(p.count(kWildcard4, NETECHO_XDP_DENIED_ADDRESS), 2U);
}

TEST(XdpProgram, WildcardAnswersTheHostsAddressesAndPassesTheRest) {
  NETECHO_LOAD_OR_SKIP(p);
  Datagram d;
  d.dport = 7002;
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_TX);  // 127.0.0.1: lo's
  d.dst = "198.18.200.1";                              // on no interface here
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_PASS);
  EXPECT_EQ(p.count(kWildcard4, NETECHO_XDP_ANSWERED), 1U);
  EXPECT_EQ(p.count(kWildcard4, NETECHO_XDP_PASSED), 1U);
}

TEST(XdpProgram, OwnPortsFromTheHostAreDropped) {
  NETECHO_LOAD_OR_SKIP(p);
  Datagram d;
  d.sport = 7001;  // another of the server's listeners, on a host address
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_DROP);
  d.src = "::1";
  d.dst = "::1";
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_DROP);
  d.src = "2001:db8::2";  // the same port on another host is someone else's
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_TX);
  EXPECT_EQ(p.count(kEcho4, NETECHO_XDP_DENIED_SELF), 1U);
  EXPECT_EQ(p.count(kEcho6, NETECHO_XDP_DENIED_SELF), 1U);
}

TEST(XdpProgram, TokenBucketPerSourceIpv4AddressAndIpv6Prefix) {
  if (const auto why = cannot_run()) {
    GTEST_SKIP() << *why;
  }
  Config c = test_config();
  c.rate = 1;  // one per second: the test's replies all fall within the burst's second
  c.burst = 3;
  const Program p(c);
  ASSERT_TRUE(p.ok()) << p.error();
  Datagram d;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_TX) << i;
  }
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_DROP);
  d.sport = 40001;  // another port of the same address: the same bucket
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_DROP);
  d.src = "127.0.0.3";  // another source has its own
  EXPECT_EQ(p.run(make_frame(d)).verdict, XDP_TX);
  EXPECT_EQ(p.count(kEcho4, NETECHO_XDP_RATE_LIMITED), 2U);
  Datagram v6;
  v6.dst = "::1";
  v6.src = "2001:db8:0:1::1";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(p.run(make_frame(v6)).verdict, XDP_TX) << i;
  }
  v6.src = "2001:db8:0:1::ffff";  // the same /64
  EXPECT_EQ(p.run(make_frame(v6)).verdict, XDP_DROP);
  v6.src = "2001:db8:0:2::1";  // the next /64
  EXPECT_EQ(p.run(make_frame(v6)).verdict, XDP_TX);
}

TEST(XdpProgram, VlanTaggedFramesPass) {
  NETECHO_LOAD_OR_SKIP(p);
  for (const std::uint16_t tpid : {0x8100, 0x88a8}) {
    const Bytes plain = make_frame(Datagram{});
    Bytes f(plain.begin(), plain.begin() + 12);
    f.push_back(static_cast<std::uint8_t>(tpid >> 8));
    f.push_back(static_cast<std::uint8_t>(tpid));
    f.push_back(0x00);
    f.push_back(0x05);  // VLAN 5
    f.insert(f.end(), plain.begin() + 12, plain.end());
    EXPECT_EQ(p.run(f).verdict, XDP_PASS) << std::hex << tpid;
  }
  EXPECT_EQ(p.count(kEcho4, NETECHO_XDP_ANSWERED), 0U);
}

TEST(XdpProgram, IpOptionsFragmentsAndExtensionHeadersPass) {
  NETECHO_LOAD_OR_SKIP(p);
  {  // IPv4 with a 4-byte option (NOP x4): IHL 6
    const Bytes plain = make_frame(Datagram{});
    Bytes f(plain.begin(), plain.begin() + kEth + 20);
    f[kEth] = 0x46;
    put16(f, kEth + 2, static_cast<std::uint16_t>(plain.size() - kEth + 4));
    f.insert(f.end(), {1, 1, 1, 1});
    f.insert(f.end(), plain.begin() + kEth + 20, plain.end());
    EXPECT_EQ(p.run(f).verdict, XDP_PASS);
  }
  for (const std::uint16_t frag : {0x2000, 0x0001, 0x2010}) {  // MF, an offset, both
    Bytes f = make_frame(Datagram{});
    put16(f, kEth + 6, frag);
    EXPECT_EQ(p.run(f).verdict, XDP_PASS) << frag;
  }
  {  // IPv6 with a hop-by-hop options header before UDP
    Datagram d;
    d.src = "2001:db8::2";
    d.dst = "::1";
    const Bytes plain = make_frame(d);
    Bytes f(plain.begin(), plain.begin() + kEth + 40);
    f[kEth + 6] = 0;  // hop-by-hop
    put16(f, kEth + 4, static_cast<std::uint16_t>(plain.size() - kEth - 40 + 8));
    f.insert(f.end(), {17, 0, 1, 4, 0, 0, 0, 0});  // next: UDP; PadN
    f.insert(f.end(), plain.begin() + kEth + 40, plain.end());
    EXPECT_EQ(p.run(f).verdict, XDP_PASS);
  }
  EXPECT_EQ(p.count(kEcho4, NETECHO_XDP_ANSWERED), 0U);
  EXPECT_EQ(p.count(kEcho6, NETECHO_XDP_ANSWERED), 0U);
}

TEST(XdpProgram, TruncatedAndMalformedHeadersPass) {
  NETECHO_LOAD_OR_SKIP(p);
  for (const bool v6 : {false, true}) {
    Datagram d;
    if (v6) {
      d.src = "2001:db8::2";
      d.dst = "::1";
    }
    const Bytes whole = make_frame(d);
    const std::size_t ip = v6 ? 40 : 20;
    // Cut in the IP header, in the UDP header, and one byte short of the payload.
    for (const std::size_t size : {kEth, kEth + ip - 1, kEth + ip + 7, whole.size() - 1}) {
      const Bytes f(whole.begin(), whole.begin() + static_cast<long>(size));
      EXPECT_EQ(p.run(f).verdict, XDP_PASS) << "v6=" << v6 << " size=" << size;
    }
    Bytes f = whole;
    put16(f, kEth + ip + 4, 7);  // a UDP length shorter than its header
    EXPECT_EQ(p.run(f).verdict, XDP_PASS) << "v6=" << v6;
    f = whole;
    put16(f, kEth + ip + 4, static_cast<std::uint16_t>(8 + d.payload.size() - 1));  // IP disagrees
    EXPECT_EQ(p.run(f).verdict, XDP_PASS) << "v6=" << v6;
    f = whole;
    f[kEth] = v6 ? 0x40 : 0x65;  // wrong version
    EXPECT_EQ(p.run(f).verdict, XDP_PASS) << "v6=" << v6;
  }
  Datagram d;
  d.src = "2001:db8::2";
  d.dst = "::1";
  Bytes f = make_frame(d);
  put16(f, kEth + 40 + 6, 0);  // no checksum: invalid over IPv6
  EXPECT_EQ(p.run(f).verdict, XDP_PASS);
  EXPECT_EQ(p.count(kEcho4, NETECHO_XDP_ANSWERED), 0U);
  EXPECT_EQ(p.count(kEcho6, NETECHO_XDP_ANSWERED), 0U);
}

TEST(XdpProgram, MoreListenersThanTheProgramServesIsAnError) {
  if (!built_in()) {
    GTEST_SKIP() << "this netecho was built without XDP (no clang BPF target, bpftool or libbpf)";
  }
  Config c = test_config();
  c.listeners.resize(kMaxListeners + 1, c.listeners.front());
  const auto loaded = FastPath::load(c);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().find("at most 16"), std::string::npos) << loaded.error();
}

}  // namespace
}  // namespace netecho::io::xdp
