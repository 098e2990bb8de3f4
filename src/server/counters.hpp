#pragma once
// The server's counters, each declared once, in kStats: its name (in the exit summary
// "stopped: tcp_accepted=... ...", in that order), a one-line help text (for metrics and the
// docs) and its Prometheus family and reason label (for /metrics). Adding a counter is one
// enumerator and one table row.
//
// Per listener per worker: only the owning worker writes its Counters (base::Counter: relaxed,
// no contention); reporters on other threads read and sum them into CounterTotals (per
// listener for /metrics, over every listener for the exit summary).

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
  // Not a guard: the reply could not be sent (a full socket buffer: UDP never queues).
  udp_send_failed,
  // PROXY listeners (serve --tcp-proxy): connections refused for their source, and headers
  // refused, by reason. Each closes its connection.
  tcp_proxy_refused,
  tcp_proxy_malformed,
  tcp_proxy_oversized,
  tcp_proxy_unsupported,
  tcp_proxy_timeout,
  // The XDP fast path (serve --xdp, server/xdp_path.hpp): its answers are in udp_out too.
  udp_xdp_answered,
  udp_xdp_passed,
  // STAMP listeners (docs/STAMP.md): test packets too short to answer, and authenticated ones
  // whose HMAC does not match.
  stamp_malformed,
  stamp_bad_hmac,
};

// How a counter appears in /metrics (server/metrics/exposition.hpp).
enum class Export : std::uint8_t {
  // A series of its family (per listener), labelled reason="..." when the row has a reason.
  series,
  // The sum of its family's reasons: in the exit summary only. Exported as well, it would
  // count every drop twice in a sum() over the family.
  reasons_total,
};

// One counter: the Named fields (its exit-summary key and help text) and how it is exported.
// The family's name follows Prometheus's conventions (netecho_ prefix, base units, _total); its
// HELP line is the help of the family's first row, or family_help when the family has reasons
// (set on the family's first row only: every row's help then says what its reason means).
struct StatRow {
  Stat id;
  std::string_view name;
  std::string_view help;
  std::string_view family;
  std::string_view reason = {};
  Export exported = Export::series;
  std::string_view family_help = {};
};

inline constexpr std::array<StatRow, 30> kStats{{
    {Stat::tcp_accepted, "tcp_accepted", "TCP connections accepted and served",
     "netecho_tcp_connections_accepted_total"},
    {Stat::tcp_closed, "tcp_closed", "TCP connections closed, for any reason",
     "netecho_tcp_connections_closed_total"},
    {Stat::tcp_bytes_in, "tcp_bytes_in", "bytes received on TCP connections",
     "netecho_tcp_received_bytes_total"},
    {Stat::tcp_bytes_out, "tcp_bytes_out", "bytes sent on TCP connections",
     "netecho_tcp_sent_bytes_total"},
    {Stat::tcp_resets, "tcp_resets", "TCP connections ended by an error (a reset, ...)",
     "netecho_tcp_connections_reset_total"},
    {Stat::accept_errors, "accept_errors",
     "accepts that failed (EMFILE, ENFILE, ENOBUFS, ENOMEM): accepting paused briefly",
     "netecho_tcp_accept_errors_total"},
    {Stat::udp_in, "udp_in", "datagrams received", "netecho_udp_datagrams_received_total"},
    {Stat::udp_out, "udp_out", "datagrams answered", "netecho_udp_datagrams_sent_total"},
    {Stat::udp_bytes_in, "udp_bytes_in", "bytes received in datagrams",
     "netecho_udp_received_bytes_total"},
    {Stat::udp_bytes_out, "udp_bytes_out", "bytes sent in datagram replies",
     "netecho_udp_sent_bytes_total"},
    {Stat::udp_dropped, "udp_dropped",
     "datagrams not answered: refused by a guard below, or the reply failed (the sum of the "
     "reasons)",
     "netecho_udp_datagrams_dropped_total", {}, Export::reasons_total},
    {Stat::tcp_refused_max, "tcp_refused_max", "connections over --max-conns: reset at once",
     "netecho_tcp_connections_refused_total", "max_conns", Export::series,
     "TCP connections refused by a guard (reset at once), by reason"},
    {Stat::tcp_refused_per_ip, "tcp_refused_per_ip",
     "connections over --max-conns-per-ip: reset at once", "netecho_tcp_connections_refused_total",
     "max_conns_per_ip"},
    {Stat::tcp_idle_closed, "tcp_idle_closed", "connections closed by --idle-timeout",
     "netecho_tcp_connections_idle_closed_total"},
    {Stat::tcp_drain_cut, "tcp_drain_cut", "connections still owed echo when the drain ended",
     "netecho_tcp_connections_drain_cut_total"},
    {Stat::udp_truncated, "udp_truncated", "datagrams larger than --udp-buffer: dropped",
     "netecho_udp_datagrams_dropped_total", "truncated", Export::series,
     "datagrams not answered, by reason (the reasons add up to every drop)"},
    {Stat::udp_denied_port, "udp_denied_port",
     "datagrams from source port 0 or a port on --udp-deny-ports",
     "netecho_udp_datagrams_dropped_total", "denied_port"},
    {Stat::udp_denied_self, "udp_denied_self", "datagrams from one of the server's own UDP ports",
     "netecho_udp_datagrams_dropped_total", "denied_self"},
    {Stat::udp_denied_address, "udp_denied_address",
     "datagrams whose source or destination is not unicast, or a mapped source not over IPv4",
     "netecho_udp_datagrams_dropped_total", "denied_address"},
    {Stat::udp_rate_limited, "udp_rate_limited", "datagrams over --udp-rate for their source",
     "netecho_udp_datagrams_dropped_total", "rate_limited"},
    {Stat::udp_send_failed, "udp_send_failed",
     "datagrams whose reply could not be sent (the socket buffer was full)",
     "netecho_udp_datagrams_dropped_total", "send_failed"},
    {Stat::tcp_proxy_refused, "tcp_proxy_refused",
     "connections to a PROXY listener from outside --proxy-from: reset at once",
     "netecho_tcp_connections_refused_total", "proxy_source"},
    {Stat::tcp_proxy_malformed, "tcp_proxy_malformed",
     "PROXY headers malformed, or the connection ended before its header did",
     "netecho_tcp_proxy_headers_refused_total", "malformed", Export::series,
     "PROXY protocol headers refused (the connection closed), by reason"},
    {Stat::tcp_proxy_oversized, "tcp_proxy_oversized",
     "PROXY headers over the limit (v1: 107 bytes; v2: 1040 bytes)",
     "netecho_tcp_proxy_headers_refused_total", "oversized"},
    {Stat::tcp_proxy_unsupported, "tcp_proxy_unsupported",
     "PROXY v2 headers of another version or command, or not TCP over IPv4 or IPv6",
     "netecho_tcp_proxy_headers_refused_total", "unsupported"},
    {Stat::tcp_proxy_timeout, "tcp_proxy_timeout",
     "connections whose PROXY header had not arrived within --proxy-timeout",
     "netecho_tcp_proxy_headers_refused_total", "timeout"},
    {Stat::udp_xdp_answered, "udp_xdp_answered",
     "datagrams answered by the XDP program before any socket (counted in udp_out too)",
     "netecho_udp_xdp_answered_total"},
    {Stat::udp_xdp_passed, "udp_xdp_passed",
     "datagrams for a listener that the XDP program left to the socket path (too large, "
     "or to an address it does not know)",
     "netecho_udp_xdp_passed_total"},
    {Stat::stamp_malformed, "stamp_malformed",
     "STAMP test packets too short to answer: under 41 bytes (TWAMP-Light's), authenticated 112",
     "netecho_udp_datagrams_dropped_total", "stamp_malformed"},
    {Stat::stamp_bad_hmac, "stamp_bad_hmac",
     "authenticated STAMP test packets whose HMAC does not match --stamp-auth-key",
     "netecho_udp_datagrams_dropped_total", "stamp_bad_hmac"},
}};
static_assert(base::is_enum_table(kStats, Stat::stamp_bad_hmac));

// Whether every row has a family; in a family with reasons, every series row has one, one row
// has family_help and a reasons_total row has none; a family without reasons has neither
// family_help nor a reasons_total row.
template <std::size_t N>
constexpr bool is_export_table(const std::array<StatRow, N>& t) noexcept {
  for (const StatRow& row : t) {
    if (row.family.empty()) {
      return false;
    }
    bool has_reasons = false;
    int helps = 0;
    for (const StatRow& other : t) {
      if (other.family == row.family) {
        has_reasons = has_reasons || !other.reason.empty();
        helps += other.family_help.empty() ? 0 : 1;
      }
    }
    const bool total = row.exported == Export::reasons_total;
    if (helps != (has_reasons ? 1 : 0) || (total && (!has_reasons || !row.reason.empty())) ||
        (!total && row.reason.empty() == has_reasons)) {
      return false;
    }
  }
  return true;
}
static_assert(is_export_table(kStats));

constexpr std::string_view to_string(Stat s) noexcept { return kStats[base::index_of(s)].name; }

// One listener's counters in one worker.
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
