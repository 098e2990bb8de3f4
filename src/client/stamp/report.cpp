#include "client/stamp/report.hpp"

#include <fmt/format.h>

#include "base/duration.hpp"
#include "client/json_document.hpp"
#include "client/text_wrap.hpp"

namespace netecho::client {
namespace {

using Json = JsonDocument;

std::string_view padding_name(StampPadding p) {
  switch (p) {
    case StampPadding::none:
      return "none";
    case StampPadding::zeros:
      return "zeros";
    case StampPadding::tlv:
      return "tlv";
  }
  return "none";
}

std::string_view kind_name(ReflectorKind k) {
  switch (k) {
    case ReflectorKind::unknown:
      return "unknown";
    case ReflectorKind::stateless:
      return "stateless";
    case ReflectorKind::stateful:
      return "stateful";
  }
  return "unknown";
}

Json optional_count(std::optional<std::uint64_t> v) { return v ? Json(*v) : Json(nullptr); }

Json optional_ms(std::optional<std::chrono::nanoseconds> v) {
  return v ? Json(to_ms(*v)) : Json(nullptr);
}

// Why the one-way delays are not shown: the clocks that do not say they are synchronized.
std::string unsynchronized_reason(const StampStats& s) {
  if (s.local_unsynchronized && s.reflector_unsynchronized) {
    return "neither this host's clock nor the reflector's";
  }
  return s.local_unsynchronized ? "this host's clock is not" : "the reflector's clock is not";
}

}  // namespace

StampRunInfo run_info(const StampOptions& o) {
  StampRunInfo info;
  info.target = net::to_string(o.endpoint);
  info.address = o.peer.to_string();
  info.size = packet_size(o);
  info.padding = padding_of(o);
  info.authenticated = o.key.has_value();
  info.ssid = o.ssid;
  info.format = o.format;
  info.interval = o.interval;
  info.timeout = o.timeout;
  return info;
}

std::string stamp_header_line(const StampRunInfo& info) {
  std::string padding;
  if (info.padding == StampPadding::zeros) {
    padding = ", zero padding";
  } else if (info.padding == StampPadding::tlv) {
    // Authenticated: the HMAC TLV first, then Extra Padding when there is room (stamp.hpp).
    const std::size_t tlvs = info.size - stamp::base_size(info.authenticated
                                                              ? stamp::Auth::authenticated
                                                              : stamp::Auth::none);
    padding = !info.authenticated       ? ", Extra Padding TLV"
              : tlvs == kHmacTlvSize ? ", HMAC TLV"
                                     : ", HMAC TLV and Extra Padding TLV";
  }
  return wrap_text(fmt::format("STAMP {} ({}): {} bytes{}{}{}, {} timestamps", info.target,
                               info.address, info.size, info.authenticated ? ", authenticated" : "",
                               info.ssid ? fmt::format(", SSID {}", *info.ssid) : std::string(),
                               padding, info.format == stamp::TimestampFormat::ntp ? "NTP" : "PTP"),
                   kContinuationIndent);
}

namespace {

EventBasics basics(const StampEvent& e) {
  return {e.type, e.seq, e.bytes, e.from, e.at, e.reordered, e.message};
}

}  // namespace

std::string stamp_event_line(const StampEvent& e, const StampRunInfo& info) {
  std::string figures;
  if (e.reflector_seq && e.seq && *e.reflector_seq != *e.seq) {
    figures += fmt::format("reflector_seq={} ", *e.reflector_seq);
  }
  if (e.delays) {
    figures += fmt::format("time={} ms reflector={} ms", format_rtt(e.delays->round_trip),
                           format_rtt(e.delays->reflector));
    if (e.delays->far_end && e.delays->near_end) {
      figures += fmt::format(" far={} ms near={} ms", format_rtt(*e.delays->far_end),
                             format_rtt(*e.delays->near_end));
    }
  }
  if (e.ttl) {
    figures += fmt::format(" ttl={}", *e.ttl);
  }
  return event_line(basics(e), figures, info.timeout);
}

std::string stamp_event_json(const StampEvent& e) {
  return event_json(basics(e), [&](Json& j) {
           if (e.delays) {
             j["rtt_ms"] = to_ms(e.delays->round_trip);
             j["reflector_ms"] = to_ms(e.delays->reflector);
             j["far_end_ms"] = optional_ms(e.delays->far_end);
             j["near_end_ms"] = optional_ms(e.delays->near_end);
           }
           if (e.reflector_seq) {
             j["reflector_seq"] = *e.reflector_seq;
           }
           if (e.ttl) {
             j["ttl"] = *e.ttl;
           }
         })
      .dump();
}

std::string stamp_summary_text(const StampRunInfo& info, const StampStats& stats,
                               std::chrono::nanoseconds elapsed) {
  const PingStats& p = stats.probes;
  std::string out = fmt::format("--- {} stamp statistics ---\n", info.target);
  out += counts_text(p, "packets", elapsed) + "\n";
  if (p.errors != 0) {
    out += fmt::format("errors: {} malformed, {} bad HMAC, {} of another session\n",
                       stats.malformed, stats.bad_hmac, stats.other_session);
  }
  switch (stats.directions.kind()) {
    case ReflectorKind::stateful:
      out += fmt::format(
          "reflector stateful: {} lost on the way there, {} on the way back, {} after the last "
          "reply (either way)\n",
          *stats.directions.forward_lost(), *stats.directions.backward_lost(p.received),
          *stats.directions.unknown_lost(p.transmitted));
      break;
    case ReflectorKind::stateless:
      out += "loss by direction not known: the reflector's sequence numbers are ours (stateless, "
             "or stateful and nothing lost on the way there)\n";
      break;
    case ReflectorKind::unknown:
      break;
  }
  append_delay_lines(out, "rtt", p.rtt);
  if (const auto j = stats.jitter.value()) {
    out += fmt::format("rtt jitter = {} ms (RFC 3550)\n", format_ms3(static_cast<double>(j->count())));
  }
  append_delay_lines(out, "reflector", stats.reflector);
  append_delay_lines(out, "far-end", stats.far_end);
  append_delay_lines(out, "near-end", stats.near_end);
  if (stats.unsynchronized != 0) {
    out += fmt::format("one-way delays not shown: clocks not synchronized ({} synchronized)\n",
                       unsynchronized_reason(stats));
  }
  return wrap_text(out, kContinuationIndent);
}

std::string stamp_summary_json(const StampRunInfo& info, const StampStats& stats,
                               std::chrono::nanoseconds elapsed, bool interrupted,
                               bool type_field, int indent) {
  const PingStats& p = stats.probes;
  Json j;
  if (type_field) {
    j["type"] = "summary";
  }
  j.update(json_document(
      "netecho-stamp/1",
      base::format_utc(std::chrono::system_clock::now() -
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed))));
  j["target"] = info.target;
  j["address"] = info.address;
  j["size"] = info.size;
  j["padding"] = padding_name(info.padding);
  j["authenticated"] = info.authenticated;
  j["ssid"] = info.ssid ? Json(*info.ssid) : Json(nullptr);
  j["timestamp_format"] = stamp::to_string(info.format);
  j["interval_ms"] = to_ms(info.interval);
  j["timeout_ms"] = to_ms(info.timeout);
  add_count_fields(j, p);
  j["malformed"] = stats.malformed;
  j["bad_hmac"] = stats.bad_hmac;
  j["other_session"] = stats.other_session;
  j["first_error"] = p.first_error.empty() ? Json(nullptr) : Json(p.first_error);
  j["loss_percent"] = p.loss_percent();
  const auto kind = stats.directions.kind();
  j["reflector_mode"] = kind == ReflectorKind::unknown ? Json(nullptr) : Json(kind_name(kind));
  j["forward_lost"] = optional_count(stats.directions.forward_lost());
  j["backward_lost"] = optional_count(stats.directions.backward_lost(p.received));
  j["unknown_direction_lost"] = optional_count(stats.directions.unknown_lost(p.transmitted));
  j["time_ms"] = to_ms(elapsed);
  j["interrupted"] = interrupted;
  j["clocks_synchronized"] = p.received == 0 ? Json(nullptr) : Json(stats.unsynchronized == 0);
  j["rtt_ms"] = delay_json(p.rtt);
  j["jitter_ms"] = optional_ms(stats.jitter.value());
  j["reflector_ms"] = delay_json(stats.reflector);
  j["far_end_ms"] = delay_json(stats.far_end);
  j["near_end_ms"] = delay_json(stats.near_end);
  return j.dump(indent);
}

}  // namespace netecho::client
