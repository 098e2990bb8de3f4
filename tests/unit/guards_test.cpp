// The guards' pure parts: option parsers, the per-source key, the connection limits (also under
// concurrent use, for the TSan build), the UDP token buckets on a synthetic clock, the UDP
// guard's verdicts on source and destination addresses (and the packet info they come from),
// the idle tracker's arithmetic and the guard log's throttling.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "server/counters.hpp"
#include "server/guard_log.hpp"
#include "server/idle.hpp"
#include "server/limits.hpp"
#include "server/udp_guard.hpp"

namespace netecho::server {
namespace {

net::SockAddr v4(const char* ip, std::uint16_t port = 1234) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &sin.sin_addr);
  return net::SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
}

net::SockAddr v6(const char* ip, std::uint16_t port = 1234) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  ::inet_pton(AF_INET6, ip, &sin6.sin6_addr);
  return net::SockAddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof(sin6));
}

TEST(PortSet, ParsesRangesListsAndNone) {
  auto parsed = parse_port_set("0-1023,2049");
  ASSERT_TRUE(parsed) << parsed.error();
  const auto& set = *parsed;
  EXPECT_TRUE(set.contains(0));
  EXPECT_TRUE(set.contains(1023));
  EXPECT_FALSE(set.contains(1024));
  EXPECT_TRUE(set.contains(2049));
  EXPECT_FALSE(set.contains(2050));
  EXPECT_EQ(set, PortSet::default_deny());
  EXPECT_EQ(set.to_string(), "0-1023,2049");
  EXPECT_EQ(parse_port_set("7,19,65535")->to_string(), "7,19,65535");
  EXPECT_TRUE(parse_port_set("none")->empty());
  EXPECT_EQ(PortSet().to_string(), "none");
}

TEST(PortSet, RejectsMalformedListsNamingThem) {
  EXPECT_NE(parse_port_set("").error().find("empty"), std::string::npos);
  for (const char* bad : {"5-3", "70000", "1,,2", "a", "-5", "1-", " 1", "1-2-3", "0x10"}) {
    const auto parsed = parse_port_set(bad);
    ASSERT_FALSE(parsed) << "'" << bad << "'";
    EXPECT_NE(parsed.error().find(std::string("'") + bad), std::string::npos) << parsed.error();
  }
}

TEST(Rate, ParsesCountsPerSecondAndNone) {
  EXPECT_EQ(*parse_rate("1000"), 1000u);
  EXPECT_EQ(*parse_rate("1000/s"), 1000u);
  EXPECT_EQ(*parse_rate("none"), 0u);
  EXPECT_EQ(*parse_rate("0"), 0u);
  for (const char* bad : {"fast", "/s", "1e3", "-1", "2000000000", "", "10/m"}) {
    EXPECT_FALSE(parse_rate(bad)) << bad;
  }
}

TEST(SourceKey, GroupsIpv4MappedAndIpv6Prefixes) {
  EXPECT_EQ(SourceKey::from(v4("192.0.2.7")), SourceKey::from(v6("::ffff:192.0.2.7")));
  EXPECT_NE(SourceKey::from(v4("192.0.2.7")), SourceKey::from(v4("192.0.2.8")));
  EXPECT_EQ(SourceKey::from(v6("2001:db8:1:2::1")), SourceKey::from(v6("2001:db8:1:2:ffff::9")));
  EXPECT_NE(SourceKey::from(v6("2001:db8:1:2::1")), SourceKey::from(v6("2001:db8:1:3::1")));
  EXPECT_EQ(SourceKey::from(v4("127.0.0.2")).to_string(), "127.0.0.2");
  EXPECT_EQ(SourceKey::from(v6("2001:db8:1:2::1")).to_string(), "2001:db8:1:2::/64");
  EXPECT_TRUE(SourceKey::from(v4("127.1.2.3")).is_loopback());
  EXPECT_FALSE(SourceKey::from(v4("128.0.0.1")).is_loopback());
}

TEST(ConnectionLimits, GlobalAndPerSourceCaps) {
  ConnectionLimits limits(3, 2);
  const auto a = SourceKey::from(v4("10.0.0.1"));
  const auto b = SourceKey::from(v4("10.0.0.2"));
  EXPECT_EQ(limits.admit(a), Admission::admitted);
  EXPECT_EQ(limits.admit(a), Admission::admitted);
  EXPECT_EQ(limits.admit(a), Admission::over_per_ip);
  EXPECT_EQ(limits.admit(b), Admission::admitted);
  EXPECT_EQ(limits.admit(b), Admission::over_max_conns);
  EXPECT_EQ(limits.open(), 3u);
  limits.release(a);
  EXPECT_EQ(limits.admit(b), Admission::admitted);
  EXPECT_EQ(limits.admit(a), Admission::over_max_conns);
  limits.release(a);
  limits.release(b);
  limits.release(b);
  EXPECT_EQ(limits.open(), 0u);
  EXPECT_EQ(limits.admit(a), Admission::admitted);
}

TEST(ConnectionLimits, ZeroMeansNoLimit) {
  ConnectionLimits limits(0, 0);
  EXPECT_FALSE(limits.tracks_sources());
  const auto a = SourceKey::from(v4("10.0.0.1"));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(limits.admit(a), Admission::admitted);
  }
  EXPECT_EQ(limits.open(), 1000u);
}

TEST(ConnectionLimits, CapsHoldUnderConcurrentAdmitAndRelease) {
  // Four threads admit and release connections from four sources as fast as they can; at no
  // moment may a source hold more than its cap, or all together more than the global one.
  constexpr std::size_t kPerSource = 3;
  constexpr std::size_t kGlobal = 8;
  ConnectionLimits limits(kGlobal, kPerSource);
  std::vector<SourceKey> keys;
  for (const char* ip : {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}) {
    keys.push_back(SourceKey::from(v4(ip)));
  }
  std::atomic<int> live[4] = {};
  std::atomic<int> total{0};
  std::atomic<bool> broken{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<int> held;
      for (int i = 0; i < 20000; ++i) {
        const int k = (i * 7 + t) % 4;
        if (limits.admit(keys[k]) == Admission::admitted) {
          if (live[k].fetch_add(1) + 1 > static_cast<int>(kPerSource) ||
              total.fetch_add(1) + 1 > static_cast<int>(kGlobal)) {
            broken = true;
          }
          held.push_back(k);
        }
        if (held.size() > 2 || (i % 3 == 0 && !held.empty())) {
          const int r = held.front();
          held.erase(held.begin());
          live[r].fetch_sub(1);
          total.fetch_sub(1);
          limits.release(keys[r]);
        }
      }
      for (const int r : held) {
        live[r].fetch_sub(1);
        total.fetch_sub(1);
        limits.release(keys[r]);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_FALSE(broken);
  EXPECT_EQ(limits.open(), 0u);
  for (const auto& k : keys) {
    EXPECT_EQ(limits.admit(k), Admission::admitted) << "a count leaked";
  }
}

TEST(DefaultMaxConns, LeavesRoomBelowTheFileLimit) {
  EXPECT_EQ(default_max_conns(20000, 2, 2), 20000u - (16 + 2 * 6));
  EXPECT_LT(default_max_conns(1024, 16, 4), 1024u);
  EXPECT_GE(default_max_conns(1024, 16, 4), 512u);
  EXPECT_EQ(default_max_conns(64, 2, 2), 64u - 28);
  EXPECT_EQ(default_max_conns(40, 2, 2), 20u);  // tiny limits: half
  EXPECT_EQ(default_max_conns(1, 1, 1), 1u);
}

constexpr std::int64_t kMs = 1'000'000;

TEST(UdpRateLimiter, BurstThenSteadyRatePerSource) {
  UdpRateLimiter limiter(10, 5);  // 10/s: one per 100 ms, after a burst of 5
  const auto a = SourceKey::from(v4("192.0.2.1"));
  const auto b = SourceKey::from(v4("192.0.2.2"));
  std::int64_t t = 1000 * kMs;
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(limiter.allow(a, t)) << i;
  }
  EXPECT_FALSE(limiter.allow(a, t));
  EXPECT_TRUE(limiter.allow(b, t)) << "another source has its own bucket";
  EXPECT_FALSE(limiter.allow(a, t + 99 * kMs));
  EXPECT_TRUE(limiter.allow(a, t + 100 * kMs));
  EXPECT_FALSE(limiter.allow(a, t + 150 * kMs));
  // Over 10 s of continuous asking, one answer per 100 ms: the bucket is empty, and owes
  // 200 ms more for the answer at 100 ms.
  int allowed = 0;
  for (std::int64_t now = t; now < t + 10'000 * kMs; now += kMs) {
    allowed += limiter.allow(a, now);
  }
  EXPECT_EQ(allowed, 98);
  // A quiet second refills the bucket up to the burst, not beyond.
  t += 20'000 * kMs;
  int burst = 0;
  for (int i = 0; i < 20; ++i) {
    burst += limiter.allow(a, t);
  }
  EXPECT_EQ(burst, 5);
}

TEST(UdpRateLimiter, ManySourcesStayBoundedAndServed) {
  // Far more sources than entries: the table does not grow, and a new source is never
  // refused for lack of room (it takes the place of the bucket nearest to full).
  UdpRateLimiter limiter(1000, 10);
  for (std::uint32_t i = 0; i < 100000; ++i) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(0x0a000000u + i);
    const auto key =
        SourceKey::from(net::SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin)));
    ASSERT_TRUE(limiter.allow(key, 5000 * kMs)) << i;
  }
}

TEST(UdpRateLimiter, HashIsSipHash24) {
  // The reference implementation's test vector: key 00..0f, the 16-byte message 00..0f.
  UdpRateLimiter::Secret key{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  SourceKey message;
  for (std::uint8_t i = 0; i < 16; ++i) {
    message.bytes[i] = i;
  }
  EXPECT_EQ(UdpRateLimiter::hash(key, message), 0x3f2acc7f57c29bdbULL);
}

TEST(UdpRateLimiter, WhereABucketLivesDependsOnTheSecret) {
  // Unkeyed, a forger could compute which sources share a victim's entries and evict its
  // bucket; keyed, the places under one secret say nothing of those under another.
  const UdpRateLimiter a(1000, 10, {1, 2});
  const UdpRateLimiter same(1000, 10, {1, 2});
  const UdpRateLimiter b(1000, 10, {3, 4});
  int moved = 0;
  for (std::uint32_t i = 0; i < 256; ++i) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(0xc0000200u + i);  // 192.0.2.0/24
    const auto key =
        SourceKey::from(net::SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin)));
    EXPECT_EQ(a.place(key), same.place(key)) << i;
    moved += a.place(key) != b.place(key) ? 1 : 0;
  }
  EXPECT_GE(moved, 250);  // 8192 places: about one source in 8192 stays put by chance
  EXPECT_NE(UdpRateLimiter::random_secret(), UdpRateLimiter::random_secret());
}

// A datagram from peer as the guard sees it. local: the address packet info gives to reply
// from (none: no packet info); destination: the header's destination, by default local.
net::Datagram datagram(const net::SockAddr& peer, std::optional<net::SockAddr> local = {},
                       std::optional<net::SockAddr> destination = {}) {
  net::Datagram d;
  d.peer = peer;
  d.size = 5;
  if (local) {
    d.has_local = true;
    d.local = *local;
    d.destination = destination ? *destination : *local;
  }
  return d;
}

constexpr std::uint16_t kOwnPort = 7007;

// Everything but the address checks out of the way: no rate limit, and the client ports used
// here (40000) are not on the deny list.
UdpGuardConfig unlimited() {
  UdpGuardConfig config;
  config.rate = 0;
  return config;
}

TEST(UdpGuard, RefusesUnspecifiedSourcesWhateverThePort) {
  GuardLog log;
  UdpGuard guard(unlimited(), {kOwnPort}, log);
  // The review's case: 0.0.0.0:P to 0.0.0.0 (taken as a broadcast); a reply to 0.0.0.0:P
  // would reach 127.0.0.1:P. Refused for its source alone, also with an ordinary destination.
  EXPECT_EQ(guard.check(datagram(v4("0.0.0.0", 40000), v4("127.0.0.1", 0), v4("0.0.0.0", 0)), 5),
            UdpVerdict::denied_address);
  for (const std::uint16_t port : {std::uint16_t{40000}, kOwnPort, std::uint16_t{65535}}) {
    EXPECT_EQ(guard.check(datagram(v4("0.0.0.0", port), v4("127.0.0.1", 0)), 5),
              UdpVerdict::denied_address)
        << port;
    EXPECT_EQ(guard.check(datagram(v4("0.0.0.0", port)), 5), UdpVerdict::denied_address) << port;
  }
  // The rest of 0.0.0.0/8, and the mapped forms on a dual-stack socket.
  EXPECT_EQ(guard.check(datagram(v4("0.1.2.3", 40000), v4("127.0.0.1", 0)), 5),
            UdpVerdict::denied_address);
  EXPECT_EQ(guard.check(datagram(v4("0.255.255.255", 40000), v4("192.0.2.1", 0)), 5),
            UdpVerdict::denied_address);
  EXPECT_EQ(guard.check(datagram(v6("::ffff:0.0.0.0", 40000), v4("127.0.0.1", 0)), 5),
            UdpVerdict::denied_address);
  EXPECT_EQ(guard.check(datagram(v6("::ffff:0.1.2.3", 40000), v6("::ffff:127.0.0.1", 0)), 5),
            UdpVerdict::denied_address);
  // IPv6's unspecified address.
  EXPECT_EQ(guard.check(datagram(v6("::", 40000), v6("::1", 0)), 5), UdpVerdict::denied_address);
  EXPECT_EQ(guard.check(datagram(v6("::", 40000)), 5), UdpVerdict::denied_address);
}

TEST(UdpGuard, RefusesMulticastSources) {
  GuardLog log;
  UdpGuard guard(unlimited(), {kOwnPort}, log);
  for (const char* ip : {"224.0.0.1", "239.255.255.250", "233.252.0.1"}) {
    EXPECT_EQ(guard.check(datagram(v4(ip, 40000), v4("192.0.2.1", 0)), 5),
              UdpVerdict::denied_address)
        << ip;
    const auto mapped = v6((std::string("::ffff:") + ip).c_str(), 40000);
    EXPECT_EQ(guard.check(datagram(mapped, v4("192.0.2.1", 0)), 5), UdpVerdict::denied_address)
        << ip;
  }
  for (const char* ip : {"ff02::1", "ff05::1:3", "ff0e::101"}) {
    EXPECT_EQ(guard.check(datagram(v6(ip, 40000), v6("2001:db8::5", 0)), 5),
              UdpVerdict::denied_address)
        << ip;
  }
}

TEST(UdpGuard, RefusesTheBroadcastSource) {
  GuardLog log;
  UdpGuard guard(unlimited(), {kOwnPort}, log);
  EXPECT_EQ(guard.check(datagram(v4("255.255.255.255", 40000), v4("192.0.2.1", 0)), 5),
            UdpVerdict::denied_address);
  EXPECT_EQ(guard.check(datagram(v4("255.255.255.255", 40000)), 5), UdpVerdict::denied_address);
  EXPECT_EQ(guard.check(datagram(v6("::ffff:255.255.255.255", 40000), v4("192.0.2.1", 0)), 5),
            UdpVerdict::denied_address);
}

TEST(UdpGuard, RefusesDatagramsNotSentToAUnicastAddress) {
  GuardLog log;
  UdpGuard guard(unlimited(), {kOwnPort}, log);
  const auto client = v4("192.0.2.10", 40000);
  // IPv4: the header's destination, with the kernel's reply address (an interface's) as local.
  for (const char* to : {"0.0.0.0", "255.255.255.255", "224.0.0.1", "239.1.2.3"}) {
    EXPECT_EQ(guard.check(datagram(client, v4("192.0.2.1", 0), v4(to, 0)), 5),
              UdpVerdict::denied_address)
        << to;
    // On a dual-stack socket that gave only IPV6_PKTINFO: the mapped form.
    const auto mapped = v6((std::string("::ffff:") + to).c_str(), 0);
    EXPECT_EQ(guard.check(datagram(v6("::ffff:192.0.2.10", 40000), mapped), 5),
              UdpVerdict::denied_address)
        << to;
  }
  // A subnet's broadcast address: only the kernel's reply address tells it apart.
  EXPECT_EQ(guard.check(datagram(client, v4("192.0.2.1", 0), v4("192.0.2.255", 0)), 5),
            UdpVerdict::denied_address);
  // IPv6: multicast groups, and the unspecified address.
  for (const char* to : {"ff02::1", "ff02::1:ff00:5", "ff0e::1", "::"}) {
    EXPECT_EQ(guard.check(datagram(v6("2001:db8::10", 40000), v6(to, 0)), 5),
              UdpVerdict::denied_address)
        << to;
  }
}

TEST(UdpGuard, RefusesAMappedSourceThatDidNotComeOverIpv4) {
  GuardLog log;
  UdpGuard guard(unlimited(), {kOwnPort}, log);
  // A native IPv6 datagram with source ::ffff:127.0.0.1 to a socket bound to a specific IPv6
  // address: Linux would send the reply over IPv4 to 127.0.0.1.
  for (const char* local : {"2001:db8::5", "::1", "fe80::1"}) {
    for (const char* from : {"::ffff:127.0.0.1", "::ffff:192.0.2.10"}) {
      EXPECT_EQ(guard.check(datagram(v6(from, 40000), v6(local, 0)), 5), UdpVerdict::denied_address)
          << from << " to " << local;
    }
  }
  // Without packet info there is no telling how it came: refused too.
  EXPECT_EQ(guard.check(datagram(v6("::ffff:192.0.2.10", 40000)), 5), UdpVerdict::denied_address);
}

TEST(UdpGuard, AnswersLocalClientsOverIpv4Ipv6AndDualStack) {
  GuardLog log;
  UdpGuard guard(unlimited(), {kOwnPort}, log);
  // 127.0.0.1 to a 127.0.0.1 listener.
  EXPECT_EQ(guard.check(datagram(v4("127.0.0.1", 40000), v4("127.0.0.1", 0)), 5),
            UdpVerdict::answer);
  // An IPv4 client on 127.0.0.1 to a dual-stack [::] listener: mapped source, and IP_PKTINFO
  // (AF_INET) or, failing that, IPV6_PKTINFO (mapped) as local.
  EXPECT_EQ(guard.check(datagram(v6("::ffff:127.0.0.1", 40000), v4("127.0.0.1", 0)), 5),
            UdpVerdict::answer);
  EXPECT_EQ(guard.check(datagram(v6("::ffff:127.0.0.1", 40000), v6("::ffff:127.0.0.1", 0)), 5),
            UdpVerdict::answer);
  // ::1 to ::1.
  EXPECT_EQ(guard.check(datagram(v6("::1", 40000), v6("::1", 0)), 5), UdpVerdict::answer);
  // Remote unicast clients, also without packet info.
  EXPECT_EQ(guard.check(datagram(v4("192.0.2.10", 40000), v4("192.0.2.1", 0)), 5),
            UdpVerdict::answer);
  EXPECT_EQ(guard.check(datagram(v4("192.0.2.10", 40000)), 5), UdpVerdict::answer);
  EXPECT_EQ(guard.check(datagram(v6("2001:db8::10", 40000), v6("2001:db8::5", 0)), 5),
            UdpVerdict::answer);
  // The other checks still come after the address ones.
  EXPECT_EQ(guard.check(datagram(v4("127.0.0.1", 53), v4("127.0.0.1", 0)), 5),
            UdpVerdict::denied_port);
  EXPECT_EQ(guard.check(datagram(v4("127.0.0.1", kOwnPort), v4("127.0.0.1", 0)), 5),
            UdpVerdict::denied_self);
}

TEST(UdpGuard, CountsAnAddressRefusalInItsOwnCounter) {
  GuardLog log(std::chrono::hours(1));
  UdpGuard guard(unlimited(), {kOwnPort}, log);
  Counters counters;
  testing::internal::CaptureStderr();
  guard.count(UdpVerdict::denied_address, counters);
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(counters.get(Stat::udp_denied_address), 1u);
  EXPECT_EQ(counters.get(Stat::udp_dropped), 1u);
  EXPECT_NE(out.find("udp_denied_address=1"), std::string::npos) << out;
  CounterTotals totals;
  totals.add(counters);
  EXPECT_NE(totals.to_string().find(" udp_denied_address=1 "), std::string::npos)
      << totals.to_string();
}

// A control buffer holding the given control messages, as recvmsg fills it.
class Control {
 public:
  template <typename T>
  void add(int level, int type, const T& data, std::size_t len = CMSG_LEN(sizeof(T))) {
    cmsghdr* c = reinterpret_cast<cmsghdr*>(buf_ + used_);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = len;
    std::memcpy(CMSG_DATA(c), &data, sizeof(T));
    used_ += CMSG_SPACE(sizeof(T));
  }
  // What read_packet_info() makes of these messages, starting from d.
  net::Datagram read(net::Datagram d = {}) {
    msghdr m{};
    m.msg_control = buf_;
    m.msg_controllen = used_;
    net::read_packet_info(m, d);
    return d;
  }

 private:
  alignas(cmsghdr) unsigned char buf_[256] = {};
  std::size_t used_ = 0;
};

in_pktinfo pktinfo(const char* addr, const char* spec_dst) {
  in_pktinfo info{};
  info.ipi_ifindex = 2;
  ::inet_pton(AF_INET, addr, &info.ipi_addr);
  ::inet_pton(AF_INET, spec_dst, &info.ipi_spec_dst);
  return info;
}

in6_pktinfo pktinfo6(const char* addr) {
  in6_pktinfo info{};
  info.ipi6_ifindex = 3;
  ::inet_pton(AF_INET6, addr, &info.ipi6_addr);
  return info;
}

TEST(ReadPacketInfo, RepliesFromTheKernelsAddressNotTheHeadersDestination) {
  Control control;
  control.add(IPPROTO_IP, IP_PKTINFO, pktinfo("255.255.255.255", "192.0.2.1"));
  const net::Datagram d = control.read();
  ASSERT_TRUE(d.has_local);
  EXPECT_EQ(d.local, v4("192.0.2.1", 0));
  EXPECT_EQ(d.destination, v4("255.255.255.255", 0));
  EXPECT_EQ(d.ifindex, 2);
}

TEST(ReadPacketInfo, PrefersIpv4InfoOnADualStackSocketInEitherOrder) {
  for (const bool v4_first : {false, true}) {
    Control control;
    if (v4_first) {
      control.add(IPPROTO_IP, IP_PKTINFO, pktinfo("127.0.0.1", "127.0.0.1"));
    }
    control.add(IPPROTO_IPV6, IPV6_PKTINFO, pktinfo6("::ffff:127.0.0.1"));
    if (!v4_first) {
      control.add(IPPROTO_IP, IP_PKTINFO, pktinfo("127.0.0.1", "127.0.0.1"));
    }
    const net::Datagram d = control.read();
    ASSERT_TRUE(d.has_local) << v4_first;
    EXPECT_EQ(d.local, v4("127.0.0.1", 0)) << v4_first;
    EXPECT_EQ(d.destination, v4("127.0.0.1", 0)) << v4_first;
  }
  Control v6_only;
  v6_only.add(IPPROTO_IPV6, IPV6_PKTINFO, pktinfo6("2001:db8::5"));
  const net::Datagram d = v6_only.read();
  ASSERT_TRUE(d.has_local);
  EXPECT_EQ(d.local, v6("2001:db8::5", 0));
  EXPECT_EQ(d.destination, v6("2001:db8::5", 0));
  EXPECT_EQ(d.ifindex, 3);
}

TEST(ReadPacketInfo, IgnoresAMessageTooShortForItsPayload) {
  Control control;
  control.add(IPPROTO_IP, IP_PKTINFO, pktinfo("127.0.0.1", "127.0.0.1"),
              CMSG_LEN(sizeof(in_pktinfo) - 4));
  control.add(IPPROTO_IPV6, IPV6_PKTINFO, pktinfo6("::1"), CMSG_LEN(8));
  net::Datagram earlier;
  earlier.has_local = true;  // from an earlier datagram
  EXPECT_FALSE(control.read(earlier).has_local);
}

TEST(IdleTracker, ClosesBetweenTheTimeoutAndNineEighthsOfIt) {
  IdleTracker idle(std::chrono::milliseconds(800));
  EXPECT_TRUE(idle.enabled());
  EXPECT_EQ(idle.period(), std::chrono::milliseconds(100));
  idle.touch(3);
  for (std::uint32_t i = 0; i < IdleTracker::kTicksPerTimeout; ++i) {
    idle.advance();
    EXPECT_FALSE(idle.expired(3)) << "after " << i + 1 << " ticks";
  }
  idle.advance();
  EXPECT_TRUE(idle.expired(3));
  idle.touch(3);
  EXPECT_FALSE(idle.expired(3));
  EXPECT_FALSE(IdleTracker(std::chrono::nanoseconds(0)).enabled());
}

TEST(GuardLog, FirstEventAtOnceThenOneLinePerFlush) {
  GuardLog log(std::chrono::hours(1));
  testing::internal::CaptureStderr();
  log.note(Guard::tcp_refused_per_ip);  // a quiet log writes the first event at once
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log] {
      for (int i = 0; i < 1000; ++i) {
        log.note(Guard::udp_rate_limited);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  log.note_accept_error(EMFILE);
  log.flush();
  log.flush();  // nothing new: no line
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  EXPECT_NE(out.find("netecho: refused or dropped tcp_refused_per_ip=1\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("refused or dropped in_last="), std::string::npos) << out;
  EXPECT_NE(out.find("udp_rate_limited=4000"), std::string::npos) << out;
  EXPECT_NE(out.find("accept_errors=1 accept_error=\"Too many open files\""), std::string::npos)
      << out;
}

}  // namespace
}  // namespace netecho::server
