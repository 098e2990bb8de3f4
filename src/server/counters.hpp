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
  std::atomic<std::uint64_t> udp_dropped{0};      // not answered: any reason below, or send failed
  // The guards (docs/SECURITY.md): one counter each.
  std::atomic<std::uint64_t> tcp_refused_max{0};     // over --max-conns: reset at once, no echo
  std::atomic<std::uint64_t> tcp_refused_per_ip{0};  // over --max-conns-per-ip: likewise
  std::atomic<std::uint64_t> tcp_idle_closed{0};     // closed by --idle-timeout
  std::atomic<std::uint64_t> tcp_drain_cut{0};       // still open when the drain ended: cut
  std::atomic<std::uint64_t> udp_truncated{0};       // larger than --udp-buffer: dropped
  std::atomic<std::uint64_t> udp_denied_port{0};     // source port 0 or on --udp-deny-ports
  std::atomic<std::uint64_t> udp_denied_self{0};     // from one of the server's own UDP ports
  std::atomic<std::uint64_t> udp_denied_address{0};  // source or destination not unicast, or
                                                     // a mapped source not over IPv4
  std::atomic<std::uint64_t> udp_rate_limited{0};    // over --udp-rate for its source

  void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

// A plain snapshot, summed over workers.
struct CounterTotals {
  std::uint64_t tcp_accepted = 0, tcp_closed = 0, tcp_bytes_in = 0, tcp_bytes_out = 0,
                tcp_resets = 0, accept_errors = 0, udp_in = 0, udp_out = 0, udp_bytes_in = 0,
                udp_bytes_out = 0, udp_dropped = 0;
  std::uint64_t tcp_refused_max = 0, tcp_refused_per_ip = 0, tcp_idle_closed = 0, tcp_drain_cut = 0,
                udp_truncated = 0, udp_denied_port = 0, udp_denied_self = 0, udp_denied_address = 0,
                udp_rate_limited = 0;
  void add(const Counters& c) noexcept;
  std::string to_string() const;  // "key=value ..." on one line
};

}  // namespace netecho::server
