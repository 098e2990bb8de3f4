#pragma once
// Per-worker counters. Only the owning worker writes them (relaxed atomics, no contention);
// reporters on other threads read and sum them.

#include <atomic>
#include <cstdint>
#include <string>

namespace netecho::server {

struct Counters {
  std::atomic<std::uint64_t> tcp_accepted{0};
  std::atomic<std::uint64_t> tcp_closed{0};
  std::atomic<std::uint64_t> tcp_bytes_in{0};
  std::atomic<std::uint64_t> tcp_bytes_out{0};
  std::atomic<std::uint64_t> tcp_resets{0};       // connections ended by an error (RST, ...)
  std::atomic<std::uint64_t> accept_errors{0};    // EMFILE, ENFILE, ENOBUFS, ENOMEM
  std::atomic<std::uint64_t> udp_in{0};
  std::atomic<std::uint64_t> udp_out{0};
  std::atomic<std::uint64_t> udp_bytes_in{0};
  std::atomic<std::uint64_t> udp_bytes_out{0};
  std::atomic<std::uint64_t> udp_dropped{0};      // not answered: send failed or refused source

  void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

// A plain snapshot, summed over workers.
struct CounterTotals {
  std::uint64_t tcp_accepted = 0, tcp_closed = 0, tcp_bytes_in = 0, tcp_bytes_out = 0,
                tcp_resets = 0, accept_errors = 0, udp_in = 0, udp_out = 0, udp_bytes_in = 0,
                udp_bytes_out = 0, udp_dropped = 0;
  void add(const Counters& c) noexcept;
  std::string to_string() const;  // "key=value ..." on one line
};

}  // namespace netecho::server
