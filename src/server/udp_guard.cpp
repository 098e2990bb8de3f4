#include "server/udp_guard.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>
#include <random>

#include "net/interfaces.hpp"

namespace netecho::server {
namespace {

// The whole address in IPv6 form (IPv4 as ::ffff:a.b.c.d), unlike SourceKey::from, which keeps
// only the /64 of an IPv6 address.
SourceKey exact_address(const net::SockAddr& addr) noexcept {
  SourceKey key = SourceKey::from(addr);
  if (addr.family() == AF_INET6) {
    std::memcpy(key.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(addr.get())->sin6_addr,
                16);
  }
  return key;
}

bool is_loopback_address(const SourceKey& k) noexcept {
  static constexpr std::array<std::uint8_t, 16> kV6Loopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                            0, 0, 0, 0, 0, 0, 0, 1};
  return k.bytes == kV6Loopback || (k.is_loopback() && k.bytes[10] == 0xff);  // ::1, 127/8
}

bool is_ipv4(const SourceKey& k) noexcept {  // ::ffff:a.b.c.d, the form IPv4 takes here
  return net::is_v4_mapped(k.bytes);
}

// Whether an address can be one host's: not unspecified (0.0.0.0/8, ::), multicast
// (224.0.0.0/4, ff00::/8) or the limited broadcast 255.255.255.255 (IPv4 also in its ::ffff:
// form). A reply to 0.0.0.0 reaches 127.0.0.1, one to a broadcast or multicast address every
// listener around.
bool is_unicast_address(const SourceKey& k) noexcept {
  if (is_ipv4(k)) {
    const std::uint8_t first = k.bytes[12];
    const bool broadcast =
        std::all_of(k.bytes.begin() + 12, k.bytes.end(), [](auto b) { return b == 0xff; });
    return first != 0 && (first & 0xf0) != 0xe0 && !broadcast;
  }
  return k.bytes[0] != 0xff && k.bytes != SourceKey{}.bytes;
}

// Digits only, at most max: the number, or nullopt.
std::optional<std::uint64_t> parse_number(std::string_view text, std::uint64_t max) {
  if (text.empty() || text.size() > 10 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

void PortSet::add(std::uint16_t first, std::uint16_t last) noexcept {
  for (std::uint32_t p = first; p <= last; ++p) {
    bits_.set(p);
  }
}

PortSet PortSet::default_deny() {
  PortSet set;
  set.add(0, 1023);
  set.add(2049, 2049);
  return set;
}

std::string PortSet::to_string() const {
  std::string out;
  std::uint32_t p = 0;
  while (p < 65536) {
    if (!bits_.test(p)) {
      ++p;
      continue;
    }
    std::uint32_t end = p;
    while (end + 1 < 65536 && bits_.test(end + 1)) {
      ++end;
    }
    if (!out.empty()) {
      out.push_back(',');
    }
    out += end == p ? fmt::format("{}", p) : fmt::format("{}-{}", p, end);
    p = end + 1;
  }
  return out.empty() ? "none" : out;
}

net::Parsed<PortSet> parse_port_set(std::string_view text) {
  PortSet set;
  if (text == "none") {
    return set;
  }
  if (text.empty()) {
    return std::string("empty port list (expected e.g. 0-1023,2049 or none)");
  }
  std::size_t start = 0;
  for (;;) {
    const auto comma = text.find(',', start);
    const auto item = text.substr(start, comma == text.npos ? text.npos : comma - start);
    const auto dash = item.find('-');
    const auto first = parse_number(item.substr(0, dash), 65535);
    const auto last = dash == item.npos ? first : parse_number(item.substr(dash + 1), 65535);
    if (!first || !last) {
      return fmt::format("invalid port or range '{}' in '{}' (expected e.g. 0-1023,2049 or none)",
                         item, text);
    }
    if (*first > *last) {
      return fmt::format("empty range '{}' in '{}' (the first port must not exceed the last)", item,
                         text);
    }
    set.add(static_cast<std::uint16_t>(*first), static_cast<std::uint16_t>(*last));
    if (comma == text.npos) {
      return set;
    }
    start = comma + 1;
  }
}

net::Parsed<std::uint32_t> parse_rate(std::string_view text) {
  if (text == "none" || text == "off") {
    return std::uint32_t{0};
  }
  std::string_view digits = text;
  if (digits.size() > 2 && digits.substr(digits.size() - 2) == "/s") {
    digits.remove_suffix(2);
  }
  const auto value = parse_number(digits, 1'000'000'000);
  if (!value) {
    return fmt::format(
        "invalid rate '{}' (expected datagrams per second, e.g. 1000/s, at most "
        "1000000000/s, or none)",
        text);
  }
  return static_cast<std::uint32_t>(*value);
}

// SipHash-2-4 (Aumasson and Bernstein, 2012) of an address's 16 bytes under a 128-bit key: two
// message words, then the length block; two compression and four finalization rounds.
std::uint64_t UdpRateLimiter::hash(const Secret& key, const SourceKey& source) noexcept {
  const std::uint8_t* bytes = source.bytes.data();
  const auto rotl = [](std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); };
  std::uint64_t v0 = key[0] ^ 0x736f6d6570736575ULL;
  std::uint64_t v1 = key[1] ^ 0x646f72616e646f6dULL;
  std::uint64_t v2 = key[0] ^ 0x6c7967656e657261ULL;
  std::uint64_t v3 = key[1] ^ 0x7465646279746573ULL;
  const auto round = [&] {
    v0 += v1;
    v1 = rotl(v1, 13) ^ v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16) ^ v2;
    v0 += v3;
    v3 = rotl(v3, 21) ^ v0;
    v2 += v1;
    v1 = rotl(v1, 17) ^ v2;
    v2 = rotl(v2, 32);
  };
  const auto absorb = [&](std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  };
  for (int i = 0; i < 2; ++i) {
    std::uint64_t m = 0;
    for (int b = 0; b < 8; ++b) {  // little-endian, as the reference
      m |= std::uint64_t{bytes[i * 8 + b]} << (8 * b);
    }
    absorb(m);
  }
  absorb(std::uint64_t{16} << 56);  // the length, 16 bytes, in the last block's top byte
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) {
    round();
  }
  return v0 ^ v1 ^ v2 ^ v3;
}

UdpRateLimiter::Secret UdpRateLimiter::random_secret() {
  Secret secret{};
  if (::getrandom(secret.data(), sizeof secret, 0) != static_cast<ssize_t>(sizeof secret)) {
    std::random_device device;
    for (auto& word : secret) {
      word = (std::uint64_t{device()} << 32) | device();
    }
  }
  return secret;
}

UdpRateLimiter::UdpRateLimiter(std::uint32_t rate, std::uint32_t burst, Secret secret)
    : secret_(secret),
      interval_ns_(1'000'000'000 / std::max<std::int64_t>(rate, 1)),
      tolerance_ns_(interval_ns_ * (std::max<std::int64_t>(burst, 1) - 1)),
      shards_(std::make_unique<Shard[]>(kShards)) {
  for (std::size_t i = 0; i < kShards; ++i) {
    shards_[i].entries.resize(kEntries);
  }
}

std::size_t UdpRateLimiter::place(const SourceKey& source) const noexcept {
  const std::uint64_t h = hash(secret_, source);
  return static_cast<std::size_t>((h % kShards) * kEntries + (h / kShards) % kEntries);
}

bool UdpRateLimiter::allow(const SourceKey& source, std::int64_t now_ns) noexcept {
  const std::size_t at = place(source);
  Shard& shard = shards_[at / kEntries];
  const std::size_t base = at % kEntries;
  const std::lock_guard lock(shard.mutex);
  Entry* found = nullptr;
  Entry* spare = nullptr;  // the best entry to take over if source has none
  for (std::size_t i = 0; i < kProbe; ++i) {
    Entry& e = shard.entries[(base + i) % kEntries];
    if (e.used && e.key == source) {
      found = &e;
      break;
    }
    // Free entries and full buckets (tat in the past) hold nothing worth keeping; otherwise the
    // bucket nearest to full (the earliest tat) loses least when it is forgotten.
    const auto keep = [now_ns](const Entry& x) {
      return (!x.used || x.tat <= now_ns) ? std::numeric_limits<std::int64_t>::min() : x.tat;
    };
    if (spare == nullptr || keep(e) < keep(*spare)) {
      spare = &e;
    }
  }
  if (found == nullptr) {
    found = spare;
    found->used = true;
    found->key = source;
    found->tat = now_ns;
  }
  const std::int64_t tat = std::max(found->tat, now_ns);
  if (tat - now_ns > tolerance_ns_) {
    return false;
  }
  found->tat = tat + interval_ns_;
  return true;
}

UdpGuard::UdpGuard(const UdpGuardConfig& config, std::vector<std::uint16_t> own_ports,
                   GuardLog& log)
    : config_(config), own_ports_(std::move(own_ports)), log_(log) {
  if (config_.rate != 0) {
    limiter_ = std::make_unique<UdpRateLimiter>(config_.rate,
                                                config_.burst != 0 ? config_.burst : config_.rate);
  }
  for (const auto& addr : net::host_addresses()) {
    host_addresses_.push_back(exact_address(addr));
  }
}

bool UdpGuard::is_own_address(const net::Datagram& d) const noexcept {
  if (std::find(own_ports_.begin(), own_ports_.end(), d.peer.port()) == own_ports_.end()) {
    return false;
  }
  const SourceKey peer = exact_address(d.peer);
  if (is_loopback_address(peer) || (d.has_local && exact_address(d.local) == peer)) {
    return true;
  }
  return std::find(host_addresses_.begin(), host_addresses_.end(), peer) != host_addresses_.end();
}

bool UdpGuard::is_unicast_exchange(const net::Datagram& d) noexcept {
  const SourceKey peer = exact_address(d.peer);
  if (!is_unicast_address(peer)) {
    return false;
  }
  if (d.has_local) {
    const SourceKey destination = exact_address(d.destination);
    if (!is_unicast_address(destination)) {
      return false;
    }
    // For IPv4 the kernel's reply address (ipi_spec_dst) is the header's destination exactly
    // when that is one of this host's unicast addresses; it differs for a broadcast (also a
    // subnet's, 192.0.2.255) and for a multicast group.
    if (d.destination.family() == AF_INET && d.local.family() == AF_INET &&
        !(exact_address(d.local) == destination)) {
      return false;
    }
  }
  // An IPv4-mapped source is genuine only on a datagram that came over IPv4 (to a dual-stack
  // socket). Sent natively over IPv6 to a socket bound to a specific IPv6 address, it is a
  // forgery, and Linux would send the reply over IPv4: to 127.0.0.1, say.
  if (d.peer.family() == AF_INET6 && is_ipv4(peer)) {
    return d.has_local &&
           (d.destination.family() == AF_INET || is_ipv4(exact_address(d.destination)));
  }
  return true;
}

UdpVerdict UdpGuard::check(const net::Datagram& d, std::size_t size) noexcept {
  if (d.truncated || size > config_.buffer) {
    return UdpVerdict::oversize;
  }
  if (!is_unicast_exchange(d)) {
    return UdpVerdict::denied_address;
  }
  const std::uint16_t port = d.peer.port();
  if (port == 0 || config_.deny_ports.contains(port)) {
    return UdpVerdict::denied_port;
  }
  if (is_own_address(d)) {
    return UdpVerdict::denied_self;
  }
  if (limiter_) {
    const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now().time_since_epoch());
    if (!limiter_->allow(SourceKey::from(d.peer), now.count())) {
      return UdpVerdict::rate_limited;
    }
  }
  return UdpVerdict::answer;
}

Guard UdpGuard::count(UdpVerdict verdict, Counters& counters) noexcept {
  Guard kind = Guard::udp_truncated;
  switch (verdict) {
    case UdpVerdict::answer:
      return kind;  // not a refusal: nothing counted
    case UdpVerdict::oversize:
      kind = Guard::udp_truncated;
      break;
    case UdpVerdict::denied_port:
      kind = Guard::udp_denied_port;
      break;
    case UdpVerdict::denied_self:
      kind = Guard::udp_denied_self;
      break;
    case UdpVerdict::denied_address:
      kind = Guard::udp_denied_address;
      break;
    case UdpVerdict::rate_limited:
      kind = Guard::udp_rate_limited;
      break;
  }
  counters.add(counter_of(kind));
  counters.add(Stat::udp_dropped);
  log_.note(kind);
  return kind;
}

}  // namespace netecho::server
