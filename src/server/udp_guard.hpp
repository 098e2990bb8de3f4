#pragma once
// UdpGuard: which datagrams the server answers. UDP echo is a classic reflection and packet-loop
// vector (CVE-1999-0103, CERT CA-1996-01): a forged source address turns the server into a
// weapon against a third party, or against another echo, chargen or daytime server, which
// answers back forever. So a datagram gets no reply when
//   - it is larger than the receive buffer (--udp-buffer): it is never answered short;
//   - its source port is 0, or on the deny list (--udp-deny-ports, by default every port below
//     1024, where echo, chargen, daytime, DNS and NTP servers live, and 2049, NFS);
//   - it comes from one of the server's own UDP ports on one of this host's addresses (a
//     datagram forged to come from the server itself, or from another of its listeners);
//   - whatever its port, its source address is unspecified (0.0.0.0/8, ::), multicast
//     (224.0.0.0/4, ff00::/8) or the limited broadcast 255.255.255.255 (also ::ffff:-mapped):
//     a reply to 0.0.0.0:P reaches 127.0.0.1:P, a loopback-only service;
//   - it was sent to an address that is not one of this host's unicast ones (0.0.0.0, a
//     broadcast, a multicast group, ::): one datagram would make every server around answer;
//   - its source is IPv4-mapped (::ffff:a.b.c.d) but it did not come over IPv4 (it came over
//     IPv6 to a socket bound to a specific IPv6 address): the reply would go over IPv4 to
//     a.b.c.d, e.g. 127.0.0.1;
//   - its source address has used up its token bucket (--udp-rate, --udp-burst): at most
//     `rate` replies per second per source, after a burst. A dropped datagram also breaks a
//     ping-pong loop between two servers, so loops die within a burst.
// And a reply is never larger than its request (the service guarantees it; bandwidth
// amplification factor at most 1).

#include <array>
#include <bitset>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.hpp"
#include "net/socket.hpp"
#include "server/counters.hpp"
#include "server/guard_log.hpp"
#include "server/limits.hpp"

namespace netecho::server {

// A set of UDP ports.
class PortSet {
 public:
  bool contains(std::uint16_t port) const noexcept { return bits_.test(port); }
  void add(std::uint16_t first, std::uint16_t last) noexcept;
  bool empty() const noexcept { return bits_.none(); }
  // Ranges as parse_port_set() reads them: "0-1023,2049", or "none".
  std::string to_string() const;
  bool operator==(const PortSet&) const = default;

  // Ports below 1024 and 2049: the servers a reflected echo reply would hurt most.
  static PortSet default_deny();

 private:
  std::bitset<65536> bits_;
};

inline constexpr std::string_view kDefaultUdpDenyPorts = "0-1023,2049";

// "0-1023,2049", "7,19", "none" (the empty set). Ranges are inclusive; spaces are not allowed.
net::Parsed<PortSet> parse_port_set(std::string_view text);

// "1000", "1000/s", or "0" / "none" (no limit, returned as 0): datagrams per second.
net::Parsed<std::uint32_t> parse_rate(std::string_view text);

struct UdpGuardConfig {
  PortSet deny_ports = PortSet::default_deny();  // source port 0 is refused whatever this says
  std::uint32_t rate = 1000;   // replies per second per source address; 0: no limit
  std::uint32_t burst = 0;     // replies a quiet source may get at once; 0: the same as rate
  std::size_t buffer = 65536;  // largest datagram answered; larger ones are dropped
};

// Per-source token buckets shared by every worker, so a source spreading its datagrams over
// many source ports (and so, through SO_REUSEPORT, over every worker) still gets `rate` in
// total. Each bucket is one "theoretical arrival time" (the GCRA form of a token bucket: a reply
// is allowed when the bucket's time is at most (burst - 1) intervals ahead of now; each reply
// moves it one interval on). The table has a fixed size (64 shards of 128 entries, 256 KiB), so
// a flood of forged sources cannot grow it: a new source takes a free or full-bucket entry, else
// the fullest one nearby, which forgives that source part of its debt. The lock of a shard is held
// for a few comparisons; datagrams from different sources rarely share a shard.
//
// Where a source's bucket lives is a keyed hash (SipHash-2-4) of its address under a secret
// drawn per process (getrandom): with a public hash, someone forging sources could pick ones
// that land beside a victim's bucket and evict it, handing the victim a fresh burst whenever
// they like. Under a secret they cannot tell which sources those are.
class UdpRateLimiter {
 public:
  using Secret = std::array<std::uint64_t, 2>;
  // 16 bytes from getrandom(2) (std::random_device where that fails).
  static Secret random_secret();

  UdpRateLimiter(std::uint32_t rate, std::uint32_t burst, Secret secret = random_secret());
  UdpRateLimiter(const UdpRateLimiter&) = delete;
  UdpRateLimiter& operator=(const UdpRateLimiter&) = delete;

  // Takes a token from source's bucket at time now_ns (a monotonic clock): false when empty.
  bool allow(const SourceKey& source, std::int64_t now_ns) noexcept;

  // Where source's bucket is looked for first: shard * entries per shard + entry. For tests.
  std::size_t place(const SourceKey& source) const noexcept;
  // SipHash-2-4 of source's 16 bytes under key.
  static std::uint64_t hash(const Secret& key, const SourceKey& source) noexcept;

 private:
  static constexpr std::size_t kShards = 64;
  static constexpr std::size_t kEntries = 128;  // per shard
  static constexpr std::size_t kProbe = 8;      // entries looked at per lookup

  struct Entry {
    SourceKey key;
    std::int64_t tat = 0;  // theoretical arrival time, ns; <= now means a full bucket
    bool used = false;
  };
  struct alignas(64) Shard {
    std::mutex mutex;
    std::vector<Entry> entries;
  };

  Secret secret_;
  std::int64_t interval_ns_;   // between replies at the steady rate
  std::int64_t tolerance_ns_;  // (burst - 1) intervals
  std::unique_ptr<Shard[]> shards_;
};

enum class UdpVerdict : std::uint8_t {
  answer,
  oversize,
  denied_port,
  denied_self,
  denied_address,  // source or destination not unicast, or a mapped source not over IPv4
  rate_limited,
};

class UdpGuard {
 public:
  // own_ports: the ports the server's UDP listeners are bound to. The host's addresses are read
  // once here (getifaddrs); the whole of 127.0.0.0/8 and ::1 count as the host's too.
  UdpGuard(const UdpGuardConfig& config, std::vector<std::uint16_t> own_ports, GuardLog& log);

  // The verdict on a datagram of size bytes as received (truncated: cut by the receive
  // buffer). d.has_local, d.local and d.destination come from packet info, which every UDP
  // listener turns on; without them an IPv4-mapped source is refused. An answer costs its
  // source a token. Thread-safe.
  UdpVerdict check(const net::Datagram& d, std::size_t size) noexcept;

  // Counts a refusal in counters (udp_dropped and its own counter) and in the guard log.
  // Returns the guard that refused it.
  Guard count(UdpVerdict verdict, Counters& counters) noexcept;
  GuardLog& log() noexcept { return log_; }

  const UdpGuardConfig& config() const noexcept { return config_; }

  // The address part of check(), which needs no state: whether d's source is a unicast address
  // that may be answered and d was sent to this host alone (see the list at the top of this
  // file).
  static bool is_unicast_exchange(const net::Datagram& d) noexcept;

 private:
  bool is_own_address(const net::Datagram& d) const noexcept;

  UdpGuardConfig config_;
  std::vector<std::uint16_t> own_ports_;
  std::vector<SourceKey> host_addresses_;    // exact addresses, not /64 prefixes
  std::unique_ptr<UdpRateLimiter> limiter_;  // null: no rate limit
  GuardLog& log_;
};

}  // namespace netecho::server
