#include "client/bench/merge.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "client/bench/report.hpp"
#include "net/address.hpp"

namespace netecho::client {
namespace {

using json = nlohmann::json;

// A figure the document must hold: missing or of another type, it names itself.
template <typename T>
T field(const json& doc, const char* pointer) {
  const json::json_pointer at(pointer);
  if (!doc.contains(at)) {
    throw std::invalid_argument(fmt::format("no {}", pointer + 1));
  }
  try {
    return doc.at(at).get<T>();
  } catch (const json::exception&) {
    throw std::invalid_argument(fmt::format("{} is not {}", pointer + 1, doc.at(at).dump()));
  }
}

// A figure that is null where there is nothing to report (an empty histogram's mean).
template <typename T>
T field_or(const json& doc, const char* pointer, T fallback) {
  const json::json_pointer at(pointer);
  return doc.contains(at) && doc.at(at).is_null() ? fallback : field<T>(doc, pointer);
}

std::chrono::nanoseconds seconds_field(const json& doc, const char* pointer) {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(field<double>(doc, pointer) * 1e9));
}

Histogram histogram_field(const json& doc, const std::string& at) {
  const auto p = [&at](const char* name) { return at + "/" + name; };
  const Histogram::Summary summary{
      field<std::uint64_t>(doc, p("count").c_str()),
      field<std::uint64_t>(doc, p("saturated").c_str()),
      field_or<std::uint64_t>(doc, p("min").c_str(), 0),
      field_or<std::uint64_t>(doc, p("max").c_str(), 0),
      field_or<double>(doc, p("mean").c_str(), 0),
      field_or<double>(doc, p("stddev").c_str(), 0),
  };
  const auto buckets =
      field<std::vector<std::pair<std::uint64_t, std::uint64_t>>>(doc, p("buckets").c_str());
  try {
    return Histogram::rebuild(buckets, summary);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("{}: {}", at.substr(1), e.what()));
  }
}

void read_errors(const json& doc, const std::string& at, std::uint64_t (&errors)[kErrorKinds]) {
  for (std::size_t k = 0; k < kErrorKinds; ++k) {
    const std::string name = at + "/" + std::string(error_name(static_cast<ErrorKind>(k)));
    errors[k] = field<std::uint64_t>(doc, name.c_str());
  }
}

BenchResult read_document(const json& doc, const std::string& name) {
  BenchResult r;
  BenchOptions& o = r.options;
  const std::string target = field<std::string>(doc, "/parameters/target");
  auto parsed = net::parse_target(target);
  if (!parsed) {
    throw std::invalid_argument("parameters.target: " + parsed.error());
  }
  o.target = *parsed;
  o.connections = field<std::uint32_t>(doc, "/parameters/connections");
  o.message_size = field<std::size_t>(doc, "/parameters/message_size");
  o.pipeline = field<std::uint32_t>(doc, "/parameters/pipeline");
  o.rate = field_or<double>(doc, "/parameters/rate", 0);
  if ((field<std::string>(doc, "/parameters/mode") == "open") != (o.rate > 0)) {
    throw std::invalid_argument("parameters.mode disagrees with parameters.rate");
  }
  o.messages = field_or<std::uint64_t>(doc, "/parameters/messages", 0);
  if (o.messages == 0) {
    o.duration = seconds_field(doc, "/parameters/duration_s");
  }
  o.warmup = seconds_field(doc, "/parameters/warmup_s");
  o.connect_timeout = seconds_field(doc, "/parameters/connect_timeout_s");
  o.timeout = seconds_field(doc, "/parameters/timeout_s");

  r.address = field_or<std::string>(doc, "/parameters/address", "");
  r.backend = field<std::string>(doc, "/parameters/backend");
  r.threads = field<unsigned>(doc, "/parameters/threads");
  r.started_at = field<std::string>(doc, "/started_at");
  r.started_unix_ns = field<std::int64_t>(doc, "/started_unix_ns");
  r.elapsed = seconds_field(doc, "/run/elapsed_s");
  r.interrupted = field<bool>(doc, "/run/interrupted");
  r.connected = field<std::uint32_t>(doc, "/run/connected");
  r.buffer_exhaustions = field<std::uint64_t>(doc, "/run/buffer_exhaustions");
  r.messages = field<std::uint64_t>(doc, "/throughput/messages");
  r.latency = histogram_field(doc, "/latency_ns");
  r.connect = histogram_field(doc, "/connect_ns");
  read_errors(doc, "/errors", r.errors);
  r.first_error = field_or<std::string>(doc, "/first_error", "");
  r.reordered = field<std::uint64_t>(doc, "/udp/reordered");
  r.late = field<std::uint64_t>(doc, "/udp/late");
  r.messages_sent = field<std::uint64_t>(doc, "/wire/messages_sent");
  r.messages_received = field<std::uint64_t>(doc, "/wire/messages_received");
  r.bytes_sent = field<std::uint64_t>(doc, "/wire/bytes_sent");
  r.bytes_received = field<std::uint64_t>(doc, "/wire/bytes_received");
  r.warmup_messages = field<std::uint64_t>(doc, "/wire/warmup_messages");
  r.abandoned = field<std::uint64_t>(doc, "/wire/abandoned");
  r.unsent = field<std::uint64_t>(doc, "/wire/unsent");
  r.cpu_user_s = field<double>(doc, "/cpu/user_s");
  r.cpu_system_s = field<double>(doc, "/cpu/system_s");

  // A document that is itself a merge brings its sources along; a run is its own source.
  const json& sources = doc.contains("sources") ? doc["sources"] : json::array();
  if (!sources.is_array()) {
    throw std::invalid_argument("sources is not an array");
  }
  if (sources.empty()) {
    BenchSource& s = r.sources.emplace_back();
    s.name = name;
    s.address = r.address;
    s.started_at = r.started_at;
    std::copy(std::begin(r.errors), std::end(r.errors), std::begin(s.errors));
    s.first_error = r.first_error;
  }
  for (const json& entry : sources) {
    BenchSource& s = r.sources.emplace_back();
    s.name = field<std::string>(entry, "/source");
    s.address = field_or<std::string>(entry, "/address", "");
    s.started_at = field<std::string>(entry, "/started_at");
    read_errors(entry, "/errors", s.errors);
    s.first_error = field_or<std::string>(entry, "/first_error", "");
  }
  return r;
}

// The length of the union of the measured windows [start, start + elapsed]: runs that overlap
// count their common time once, and a gap between runs is no part of any rate.
std::chrono::nanoseconds union_of_windows(const std::vector<BenchResult>& runs) {
  std::vector<std::pair<std::int64_t, std::int64_t>> windows;
  for (const BenchResult& r : runs) {
    windows.emplace_back(r.started_unix_ns, r.started_unix_ns + r.elapsed.count());
  }
  std::sort(windows.begin(), windows.end());
  std::int64_t total = 0;
  std::int64_t covered_to = windows.front().first;
  for (const auto& [begin, end] : windows) {
    const std::int64_t from = std::max(begin, covered_to);
    if (end > from) {
      total += end - from;
      covered_to = end;
    }
  }
  return std::chrono::nanoseconds(total);
}

// "a, b": the distinct values, in order of first appearance.
void add_distinct(std::string& list, const std::string& value, const char* separator) {
  if (value.empty()) return;
  std::size_t at = 0;
  while (at <= list.size()) {
    const std::size_t end = std::min(list.find(separator, at), list.size());
    if (list.compare(at, end - at, value) == 0 && end - at == value.size()) return;
    at = end + std::strlen(separator);
  }
  list += list.empty() ? value : separator + value;
}

}  // namespace

base::Parsed<BenchResult> read_bench_document(std::string_view text, const std::string& name) {
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return fmt::format("{}: not a JSON document", name);
  }
  if (!doc.is_object() || !doc.contains("schema") || !doc["schema"].is_string() ||
      !doc["schema"].get<std::string>().starts_with("netecho-bench/")) {
    return fmt::format("{}: not a netecho bench document (no \"schema\": \"{}\")", name,
                       kBenchSchema);
  }
  if (const auto schema = doc["schema"].get<std::string>(); schema != kBenchSchema) {
    return fmt::format("{}: schema {} cannot be merged: it must be {} (a run of this version "
                       "of netecho bench writes it)",
                       name, schema, kBenchSchema);
  }
  try {
    return read_document(doc, name);
  } catch (const std::invalid_argument& e) {
    return fmt::format("{}: {}", name, e.what());
  }
}

base::Parsed<BenchResult> merge_bench_results(const std::vector<BenchResult>& runs) {
  if (runs.empty()) {
    return std::string("nothing to merge");
  }
  BenchResult m;
  m.options = runs.front().options;
  BenchOptions& o = m.options;
  o.connections = 0;
  o.rate = 0;
  o.messages = 0;
  m.started_unix_ns = runs.front().started_unix_ns;
  m.started_at = runs.front().started_at;
  m.warmup_only = true;
  for (const BenchResult& r : runs) {
    const BenchOptions& ro = r.options;
    const std::string& name = r.sources.front().name;
    const std::string& first = runs.front().sources.front().name;
    if (ro.target.transport != o.target.transport) {
      return fmt::format("{} measured {} and {} measured {}: a merge needs one transport", first,
                         net::to_string(o.target.transport), name,
                         net::to_string(ro.target.transport));
    }
    if (ro.message_size != o.message_size) {
      return fmt::format("{} sent {}-byte messages and {} sent {}-byte ones: a merge needs one "
                         "message size",
                         first, o.message_size, name, ro.message_size);
    }
    if ((ro.rate > 0) != (runs.front().options.rate > 0)) {
      const auto loop = [](const BenchOptions& x) { return x.rate > 0 ? "an open" : "a closed"; };
      return fmt::format("{} ran {} loop and {} {} loop: their latencies count from different "
                         "instants and do not merge",
                         first, loop(runs.front().options), name, loop(ro));
    }
    o.connections += ro.connections;
    o.rate += ro.rate;
    o.messages += ro.messages;
    o.duration = std::max(o.duration, ro.duration);
    add_distinct(m.address, r.address, ", ");
    add_distinct(m.backend, r.backend, "+");
    m.threads += r.threads;
    if (r.started_unix_ns < m.started_unix_ns) {
      m.started_unix_ns = r.started_unix_ns;
      m.started_at = r.started_at;
    }
    m.interrupted = m.interrupted || r.interrupted;
    m.warmup_only = m.warmup_only && r.warmup_only;
    m.connected += r.connected;
    m.messages += r.messages;
    m.latency.merge(r.latency);
    m.connect.merge(r.connect);
    for (std::size_t k = 0; k < kErrorKinds; ++k) {
      m.errors[k] += r.errors[k];
    }
    m.reordered += r.reordered;
    m.late += r.late;
    m.abandoned += r.abandoned;
    m.unsent += r.unsent;
    m.messages_sent += r.messages_sent;
    m.messages_received += r.messages_received;
    m.bytes_sent += r.bytes_sent;
    m.bytes_received += r.bytes_received;
    m.warmup_messages += r.warmup_messages;
    m.cpu_user_s += r.cpu_user_s;
    m.cpu_system_s += r.cpu_system_s;
    m.buffer_exhaustions += r.buffer_exhaustions;
    m.sources.insert(m.sources.end(), r.sources.begin(), r.sources.end());
  }
  for (const BenchSource& s : m.sources) {
    if (!s.first_error.empty()) {
      m.first_error = fmt::format("{}: {}", s.name, s.first_error);
      break;
    }
  }
  m.elapsed = union_of_windows(runs);
  return m;
}

Outcome run_bench_merge(const BenchMergeOptions& options, std::FILE* out, std::FILE* err) {
  std::vector<BenchResult> runs;
  for (const std::string& input : options.inputs) {
    std::string text;
    if (input == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      std::ifstream file(input, std::ios::binary);
      if (!file) {
        fmt::print(err, "netecho bench merge: cannot read {}: {}\n", input, std::strerror(errno));
        return Outcome::failed;
      }
      std::ostringstream buffer;
      buffer << file.rdbuf();
      text = buffer.str();
    }
    auto run = read_bench_document(text, input);
    if (!run) {
      fmt::print(err, "netecho bench merge: {}\n", run.error());
      return Outcome::failed;
    }
    runs.push_back(std::move(*run));
  }
  auto merged = merge_bench_results(runs);
  if (!merged) {
    fmt::print(err, "netecho bench merge: {}\n", merged.error());
    return Outcome::failed;
  }
  auto outputs = open_report_outputs(options.json_path, options.plot_path, "", out, err);
  if (!outputs) {
    return Outcome::failed;
  }
  return write_report(*merged, *outputs, out, err);
}

}  // namespace netecho::client
