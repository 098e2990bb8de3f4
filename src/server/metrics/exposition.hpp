#pragma once
// The Prometheus text exposition (format 0.0.4) of a snapshot of the server: a pure function, so
// that what /metrics says is tested without a socket. The families and their help come from the
// counter table (server/counters.hpp); the names are docs/OPERATIONS.md's "Metrics" table.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.hpp"
#include "server/counters.hpp"

namespace netecho::server::metrics {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

struct ListenerSnapshot {
  std::string url;   // the label listener="tcp://0.0.0.0:7"
  std::string mode;  // echo | once | reverse
  net::Transport transport = net::Transport::tcp;
  CounterTotals counters;  // summed over the workers
};

struct WorkerSnapshot {
  double busy_seconds = 0;  // the worker thread's CPU time
  std::uint64_t buffer_exhaustions = 0;
  std::uint64_t rearms = 0;
};

// The standard process_* metrics; a figure the system would not give is left out.
struct ProcessSnapshot {
  std::optional<double> cpu_seconds;
  std::optional<std::uint64_t> resident_bytes;
  std::optional<std::uint64_t> virtual_bytes;
  std::optional<std::uint64_t> open_fds;
  std::optional<std::uint64_t> max_fds;
  std::optional<double> start_time_seconds;  // since the Unix epoch
};

struct Snapshot {
  std::vector<ListenerSnapshot> listeners;
  std::vector<WorkerSnapshot> workers;
  std::string version;
  std::string backend;
  bool draining = false;
  ProcessSnapshot process;
};

// A label value with \, " and newline escaped, as the format requires.
std::string escape_label(std::string_view value);

std::string render(const Snapshot& s);

}  // namespace netecho::server::metrics
