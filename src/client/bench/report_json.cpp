// bench's JSON document (schema in docs/BENCH.md): every figure and the percentile
// distribution.

#include "client/bench/report.hpp"
#include "client/json_document.hpp"
#include "net/address.hpp"

namespace netecho::client {
namespace {

using json = JsonDocument;  // keys in the documented order

// The non-empty buckets as [lowest_ns, count] pairs: with the exact figures beside them, all
// that `netecho bench merge` needs to rebuild the histogram (Histogram::rebuild).
json buckets(const Histogram& h) {
  json out = json::array();
  h.for_each_bucket([&out](const Histogram::Bucket& b) { out.push_back({b.lowest_ns, b.count}); });
  return out;
}

json error_counts(const std::uint64_t (&counts)[kErrorKinds]) {
  std::uint64_t total = 0;
  for (const std::uint64_t n : counts) total += n;
  json errors = {{"total", total}};
  for (std::size_t k = 0; k < kErrorKinds; ++k) {
    errors[error_name(static_cast<ErrorKind>(k))] = counts[k];
  }
  return errors;
}

}  // namespace

std::string report_json(const BenchResult& r) {
  const BenchOptions& o = r.options;
  json parameters = {
      {"target", net::to_string(o.target)},
      {"transport", std::string(net::to_string(o.target.transport))},
      {"address", r.address.empty() ? json(nullptr) : json(r.address)},
      {"backend", r.backend},
      {"connections", o.connections},
      {"threads", r.threads},
      {"message_size", o.message_size},
      {"pipeline", o.pipeline},
      {"mode", o.rate > 0 ? "open" : "closed"},
      {"rate", o.rate > 0 ? json(o.rate) : json(nullptr)},
      {"duration_s", o.messages == 0 ? json(as_seconds(o.duration)) : json(nullptr)},
      {"messages", o.messages != 0 ? json(o.messages) : json(nullptr)},
      {"warmup_s", as_seconds(o.warmup)},
      {"connect_timeout_s", as_seconds(o.connect_timeout)},
      {"timeout_s", as_seconds(o.timeout)},
  };
  const Histogram& h = r.latency;
  // An empty histogram has no minimum or percentile: null, not a latency of 0.
  const auto figure = [&h](auto value) { return h.count() != 0 ? json(value) : json(nullptr); };
  json lat = {{"count", h.count()},          {"min", figure(h.min())}, {"mean", figure(h.mean())},
              {"stddev", figure(h.stddev())}, {"max", figure(h.max())}, {"saturated", h.saturated()}};
  for (const auto& p : kReportPercentiles) {
    lat[p.json_name] = figure(h.percentile(p.percentile));
  }
  lat["buckets"] = buckets(h);
  json distribution = json::array();
  for (const auto& point : h.distribution()) {
    distribution.push_back({{"percentile", point.percentile},
                            {"latency_ns", point.value_ns},
                            {"count", point.cumulative_count}});
  }
  const Histogram& c = r.connect;
  json connect = {{"count", c.count()},      {"min", c.min()},          {"mean", c.mean()},
                  {"p50", c.percentile(50)}, {"p90", c.percentile(90)}, {"p99", c.percentile(99)},
                  {"max", c.max()},          {"stddev", c.stddev()},    {"saturated", c.saturated()},
                  {"buckets", buckets(c)}};
  json sources = json::array();
  for (const BenchSource& s : r.sources) {
    sources.push_back({{"source", s.name},
                       {"address", s.address.empty() ? json(nullptr) : json(s.address)},
                       {"started_at", s.started_at},
                       {"errors", error_counts(s.errors)},
                       {"first_error", s.first_error.empty() ? json(nullptr) : json(s.first_error)}});
  }
  json doc = json_document(kBenchSchema, r.started_at);
  doc.update(json{
      {"started_unix_ns", r.started_unix_ns},
      {"parameters", parameters},
      {"run",
       {{"elapsed_s", as_seconds(r.elapsed)},
        {"interrupted", r.interrupted},
        {"connected", r.connected},
        {"buffer_exhaustions", r.buffer_exhaustions}}},
      {"throughput",
       {{"messages", r.messages},
        {"messages_per_s", r.messages_per_second()},
        {"bytes", r.messages * o.message_size},
        {"megabytes_per_s", r.megabytes_per_second()}}},
      {"latency_ns", lat},
      {"latency_distribution", distribution},
      {"connect_ns", connect},
      {"errors", error_counts(r.errors)},
      {"first_error", r.first_error.empty() ? json(nullptr) : json(r.first_error)},
      {"sources", sources},
      {"udp", {{"reordered", r.reordered}, {"late", r.late}}},
      {"wire",
       {{"messages_sent", r.messages_sent},
        {"messages_received", r.messages_received},
        {"bytes_sent", r.bytes_sent},
        {"bytes_received", r.bytes_received},
        {"warmup_messages", r.warmup_messages},
        {"abandoned", r.abandoned},
        {"unsent", r.unsent}}},
      {"cpu",
       {{"user_s", r.cpu_user_s},
        {"system_s", r.cpu_system_s},
        {"per_message_us", r.cpu_per_message_us()}}},
  });
  return doc.dump(2) + "\n";
}

}  // namespace netecho::client
