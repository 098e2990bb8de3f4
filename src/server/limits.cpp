#include "server/limits.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>

namespace netecho::server {

SourceKey SourceKey::from(const net::SockAddr& addr) noexcept {
  SourceKey key;
  if (addr.family() == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(addr.get());
    key.bytes[10] = 0xff;
    key.bytes[11] = 0xff;
    std::memcpy(key.bytes.data() + 12, &sin->sin_addr, 4);
  } else if (addr.family() == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(addr.get());
    std::memcpy(key.bytes.data(), &sin6->sin6_addr, 16);
    if (!net::is_v4_mapped(key.bytes)) {
      std::memset(key.bytes.data() + 8, 0, 8);  // the /64 prefix
    }
  }
  return key;
}

bool SourceKey::is_loopback() const noexcept {
  static constexpr std::array<std::uint8_t, 16> kV6LoopbackPrefix{};
  if (net::is_v4_mapped(bytes)) {
    return bytes[12] == 127;  // 127.0.0.0/8
  }
  // ::1 is kept as its /64, which is ::/64 (nothing else routable lives there).
  return bytes == kV6LoopbackPrefix;
}

std::string SourceKey::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (net::is_v4_mapped(bytes)) {
    inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof(buf));
    return buf;
  }
  inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  return fmt::format("{}/64", buf);
}

std::size_t SourceKeyHash::operator()(const SourceKey& k) const noexcept {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  std::memcpy(&hi, k.bytes.data(), 8);
  std::memcpy(&lo, k.bytes.data() + 8, 8);
  // A 64-bit mix (from splitmix64): sources differing in one bit land in unrelated shards.
  std::uint64_t x = hi * 0x9e3779b97f4a7c15ULL ^ lo;
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return static_cast<std::size_t>(x);
}

ConnectionLimits::Shard& ConnectionLimits::shard(const SourceKey& source) noexcept {
  return shards_[(SourceKeyHash{}(source) >> 8) % kShards];
}

Admission ConnectionLimits::admit(const SourceKey& source) {
  if (admit_unknown() != Admission::admitted) {
    return Admission::over_max_conns;
  }
  const Admission a = admit_known(source);
  if (a != Admission::admitted) {
    release_unknown();
  }
  return a;
}

Admission ConnectionLimits::admit_unknown() {
  const std::size_t before = open_.fetch_add(1, std::memory_order_relaxed);
  if (max_conns_ != 0 && before >= max_conns_) {
    open_.fetch_sub(1, std::memory_order_relaxed);
    return Admission::over_max_conns;
  }
  return Admission::admitted;
}

Admission ConnectionLimits::admit_known(const SourceKey& source) {
  if (max_per_source_ != 0) {
    Shard& s = shard(source);
    const std::lock_guard lock(s.mutex);
    auto& count = s.counts[source];  // a new entry starts at 0, below any limit
    if (count >= max_per_source_) {
      return Admission::over_per_ip;
    }
    ++count;
  }
  return Admission::admitted;
}

void ConnectionLimits::release_unknown() noexcept { open_.fetch_sub(1, std::memory_order_relaxed); }

void ConnectionLimits::release(const SourceKey& source) noexcept {
  release_unknown();
  if (max_per_source_ != 0) {
    Shard& s = shard(source);
    const std::lock_guard lock(s.mutex);
    const auto it = s.counts.find(source);
    if (it != s.counts.end() && --it->second == 0) {
      s.counts.erase(it);
    }
  }
}

std::uint64_t open_file_limit() noexcept {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) {
    return lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : 0;
  }
  return lim.rlim_cur;
}

std::size_t default_max_conns(std::uint64_t file_limit, unsigned threads,
                              std::size_t listeners) noexcept {
  // Standard streams, logs and the spare needed to accept-and-refuse: 16. Per worker: its own
  // socket per listener, the event engine (epoll or ring, plus a wake-up eventfd): 4 more.
  const std::uint64_t reserve = 16 + std::uint64_t{threads} * (listeners + 4);
  if (file_limit == 0 || file_limit <= 2 * reserve) {
    return static_cast<std::size_t>(std::max<std::uint64_t>(1, file_limit / 2));
  }
  return static_cast<std::size_t>(
      std::min<std::uint64_t>(file_limit - reserve, std::uint64_t{1} << 40));
}

}  // namespace netecho::server
