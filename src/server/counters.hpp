#pragma once
// The server's counters, each declared once, in kStats: its name (in the exit summary
// "stopped: tcp_accepted=... ...", in that order) and a one-line help text (for metrics and the
// docs). Adding a counter is one enumerator and one table row.
//
// Per worker: only the owning worker writes its Counters (base::Counter: relaxed, no
// contention); reporters on other threads read and sum them into CounterTotals.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/counter.hpp"
#include "base/log.hpp"

namespace netecho::server {

enum class Stat : std::uint8_t {
  tcp_accepted,
  tcp_closed,
  tcp_bytes_in,
  tcp_bytes_out,
  tcp_resets,
  accept_errors,
  udp_in,
  udp_out,
  udp_bytes_in,
  udp_bytes_out,
  udp_dropped,
  // The guards (docs/SECURITY.md): one counter each.
  tcp_refused_max,
  tcp_refused_per_ip,
  tcp_idle_closed,
  tcp_drain_cut,
  udp_truncated,
  udp_denied_port,
  udp_denied_self,
  udp_denied_address,
  udp_rate_limited,
};

inline constexpr std::array<base::Named<Stat>, 20> kStats{{
    {Stat::tcp_accepted, "tcp_accepted", "TCP connections accepted and served"},
    {Stat::tcp_closed, "tcp_closed", "TCP connections closed, for any reason"},
    {Stat::tcp_bytes_in, "tcp_bytes_in", "bytes received on TCP connections"},
    {Stat::tcp_bytes_out, "tcp_bytes_out", "bytes sent on TCP connections"},
    {Stat::tcp_resets, "tcp_resets", "TCP connections ended by an error (a reset, ...)"},
    {Stat::accept_errors, "accept_errors",
     "accepts that failed (EMFILE, ENFILE, ENOBUFS, ENOMEM): accepting paused briefly"},
    {Stat::udp_in, "udp_in", "datagrams received"},
    {Stat::udp_out, "udp_out", "datagrams answered"},
    {Stat::udp_bytes_in, "udp_bytes_in", "bytes received in datagrams"},
    {Stat::udp_bytes_out, "udp_bytes_out", "bytes sent in datagram replies"},
    {Stat::udp_dropped, "udp_dropped",
     "datagrams not answered: refused by a guard below, or the reply failed"},
    {Stat::tcp_refused_max, "tcp_refused_max", "connections over --max-conns: reset at once"},
    {Stat::tcp_refused_per_ip, "tcp_refused_per_ip",
     "connections over --max-conns-per-ip: reset at once"},
    {Stat::tcp_idle_closed, "tcp_idle_closed", "connections closed by --idle-timeout"},
    {Stat::tcp_drain_cut, "tcp_drain_cut", "connections still owed echo when the drain ended"},
    {Stat::udp_truncated, "udp_truncated", "datagrams larger than --udp-buffer: dropped"},
    {Stat::udp_denied_port, "udp_denied_port",
     "datagrams from source port 0 or a port on --udp-deny-ports"},
    {Stat::udp_denied_self, "udp_denied_self", "datagrams from one of the server's own UDP ports"},
    {Stat::udp_denied_address, "udp_denied_address",
     "datagrams whose source or destination is not unicast, or a mapped source not over IPv4"},
    {Stat::udp_rate_limited, "udp_rate_limited", "datagrams over --udp-rate for their source"},
}};
static_assert(base::is_enum_table(kStats, Stat::udp_rate_limited));

constexpr std::string_view to_string(Stat s) noexcept { return kStats[base::index_of(s)].name; }

// One worker's counters.
using Counters = base::CounterArray<Stat, kStats.size()>;

// A plain snapshot, summed over workers.
struct CounterTotals {
  std::array<std::uint64_t, kStats.size()> values{};

  std::uint64_t operator[](Stat s) const noexcept { return values[base::index_of(s)]; }
  void add(const Counters& c) noexcept;
  std::string to_string() const;  // "key=value ..." on one line, in kStats's order
  std::vector<base::LogField> fields() const;  // the same, as log fields
};

}  // namespace netecho::server
