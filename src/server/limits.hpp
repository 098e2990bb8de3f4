#pragma once
// Connection limits shared by every worker: a global cap (--max-conns) and an exact cap per
// source address (--max-conns-per-ip), in the manner of xinetd's instances and per_source.
//
// Why this is shared state, against the rule that workers share nothing: with SO_REUSEPORT the
// kernel spreads the connections of one source over every worker, so per-worker tables would let
// a source hold up to threads x max-conns-per-ip connections, and a per-worker global cap would
// strand capacity in idle workers. The counts are touched only when a connection is accepted or
// closed, never on the data path. The global count is one relaxed atomic (compare and undo); the
// per-source counts live in 16 mutex-protected shards chosen by a hash of the source, so two
// workers admitting different sources rarely meet on a lock, and each critical section is one
// hash-map lookup. A lock-free table would buy nothing measurable at accept rates, whose cost is
// dominated by the accept and close system calls themselves.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "net/address.hpp"

namespace netecho::server {

// What a per-source limit counts by: an IPv4 address (also when it arrives v4-mapped on a
// dual-stack socket), or an IPv6 /64 prefix, the smallest block a single subscriber is usually
// given, so that one host cannot escape its limit by rotating through the addresses of its own
// prefix. Stored as 16 bytes in IPv6 form (IPv4 as ::ffff:a.b.c.d).
struct SourceKey {
  std::array<std::uint8_t, 16> bytes{};

  static SourceKey from(const net::SockAddr& addr) noexcept;
  bool is_loopback() const noexcept;
  std::string to_string() const;  // "127.0.0.2" or "2001:db8::/64"
  bool operator==(const SourceKey&) const = default;
};

struct SourceKeyHash {
  std::size_t operator()(const SourceKey& k) const noexcept;
};

enum class Admission : std::uint8_t { admitted, over_max_conns, over_per_ip };

class ConnectionLimits {
 public:
  // max_conns: connections open at once over all workers; max_per_source: per SourceKey. Zero
  // means no limit.
  ConnectionLimits(std::size_t max_conns, std::size_t max_per_source) noexcept
      : max_conns_(max_conns), max_per_source_(max_per_source) {}
  ConnectionLimits(const ConnectionLimits&) = delete;
  ConnectionLimits& operator=(const ConnectionLimits&) = delete;

  // Whether admit() looks at the source at all (if not, callers need not find it out).
  bool tracks_sources() const noexcept { return max_per_source_ != 0; }

  // Counts one more connection from source, or refuses it and leaves every count unchanged.
  // Thread-safe. Every admitted connection must be released exactly once.
  Admission admit(const SourceKey& source);
  void release(const SourceKey& source) noexcept;

  // admit() in two steps, for a connection whose source is known only later (a PROXY header):
  // admit_unknown() counts it against --max-conns at once, so a connection waiting for its
  // header holds a descriptor within the cap; admit_known() then counts its source, or refuses
  // it (and leaves the global count to release_unknown()). Admitted by both, it is released by
  // release() like any other.
  Admission admit_unknown();
  Admission admit_known(const SourceKey& source);
  void release_unknown() noexcept;

  std::size_t open() const noexcept { return open_.load(std::memory_order_relaxed); }
  std::size_t max_conns() const noexcept { return max_conns_; }
  std::size_t max_per_source() const noexcept { return max_per_source_; }

 private:
  static constexpr std::size_t kShards = 16;
  struct alignas(64) Shard {
    std::mutex mutex;
    std::unordered_map<SourceKey, std::uint32_t, SourceKeyHash> counts;  // no zero entries
  };

  Shard& shard(const SourceKey& source) noexcept;

  const std::size_t max_conns_;
  const std::size_t max_per_source_;
  alignas(64) std::atomic<std::size_t> open_{0};
  std::array<Shard, kShards> shards_;
};

// The soft RLIMIT_NOFILE of this process now (0 if it cannot be read).
std::uint64_t open_file_limit() noexcept;

// The --max-conns used when none is given: the open-file limit less what the process needs
// besides connections (standard streams, listeners and each worker's event descriptors) and a
// margin, so the cap is met before EMFILE and a refused connection can still be accepted and
// closed cleanly. At least 1.
std::size_t default_max_conns(std::uint64_t file_limit, unsigned threads,
                              std::size_t listeners) noexcept;

}  // namespace netecho::server
