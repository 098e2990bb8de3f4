#include "server/metrics/exposition.hpp"

#include <fmt/format.h>

#include <iterator>

namespace netecho::server::metrics {
namespace {

using Out = std::back_insert_iterator<std::string>;

void family_head(Out out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(out, "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

bool is_tcp_family(std::string_view family) { return family.starts_with("netecho_tcp_"); }

// The rows of the family whose first row is first, as the exposition writes them.
void counter_family(Out out, const Snapshot& s, std::size_t first) {
  const StatRow& head = kStats[first];
  std::string_view help = head.help;
  for (const StatRow& row : kStats) {
    if (row.family == head.family && !row.family_help.empty()) {
      help = row.family_help;
    }
  }
  family_head(out, head.family, "counter", help);
  const auto transport = is_tcp_family(head.family) ? net::Transport::tcp : net::Transport::udp;
  for (const ListenerSnapshot& l : s.listeners) {
    if (l.transport != transport) {
      continue;
    }
    for (const StatRow& row : kStats) {
      if (row.family != head.family || row.exported != Export::series) {
        continue;
      }
      fmt::format_to(out, "{}{{listener=\"{}\",mode=\"{}\"", row.family, escape_label(l.url),
                     escape_label(l.mode));
      if (!row.reason.empty()) {
        fmt::format_to(out, ",reason=\"{}\"", row.reason);
      }
      fmt::format_to(out, "}} {}\n", l.counters[row.id]);
    }
  }
}

void active_connections(Out out, const Snapshot& s) {
  family_head(out, "netecho_tcp_connections_active", "gauge",
              "TCP connections open now (accepted and not yet closed)");
  for (const ListenerSnapshot& l : s.listeners) {
    if (l.transport == net::Transport::tcp) {
      const std::uint64_t accepted = l.counters[Stat::tcp_accepted];
      const std::uint64_t closed = l.counters[Stat::tcp_closed];
      fmt::format_to(out, "netecho_tcp_connections_active{{listener=\"{}\",mode=\"{}\"}} {}\n",
                     escape_label(l.url), escape_label(l.mode),
                     accepted > closed ? accepted - closed : 0);
    }
  }
}

template <typename Value>
void per_worker(Out out, const Snapshot& s, std::string_view name, std::string_view help,
                Value value) {
  family_head(out, name, "counter", help);
  for (std::size_t w = 0; w < s.workers.size(); ++w) {
    fmt::format_to(out, "{}{{worker=\"{}\"}} {}\n", name, w, value(s.workers[w]));
  }
}

template <typename T>
void process_metric(Out out, std::string_view name, std::string_view type, std::string_view help,
                    const std::optional<T>& value) {
  if (value) {
    family_head(out, name, type, help);
    fmt::format_to(out, "{} {}\n", name, *value);
  }
}

}  // namespace

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string render(const Snapshot& s) {
  std::string text;
  const Out out(text);
  for (std::size_t i = 0; i < kStats.size(); ++i) {
    bool seen = false;
    for (std::size_t j = 0; j < i; ++j) {
      seen = seen || kStats[j].family == kStats[i].family;
    }
    if (!seen) {
      counter_family(out, s, i);
    }
    if (kStats[i].id == Stat::tcp_closed) {
      active_connections(out, s);  // beside the two counters it is the difference of
    }
  }
  per_worker(out, s, "netecho_worker_busy_seconds_total",
             "CPU time of the worker thread (user and system)",
             [](const WorkerSnapshot& w) { return w.busy_seconds; });
  per_worker(out, s, "netecho_worker_uring_buffer_exhaustions_total",
             "io_uring: receives that found the provided-buffer ring empty (0 on epoll)",
             [](const WorkerSnapshot& w) { return w.buffer_exhaustions; });
  per_worker(out, s, "netecho_worker_uring_rearms_total",
             "io_uring: multishot reads the kernel ended and the worker armed again (0 on epoll)",
             [](const WorkerSnapshot& w) { return w.rearms; });
  family_head(out, "netecho_build_info", "gauge", "the running build: always 1");
  fmt::format_to(out, "netecho_build_info{{version=\"{}\",backend=\"{}\"}} 1\n",
                 escape_label(s.version), escape_label(s.backend));
  family_head(out, "netecho_draining", "gauge",
              "1 once a drain (SIGTERM, SIGINT) has started, else 0");
  fmt::format_to(out, "netecho_draining {}\n", s.draining ? 1 : 0);
  const ProcessSnapshot& p = s.process;
  process_metric(out, "process_cpu_seconds_total", "counter",
                 "Total user and system CPU time spent in seconds.", p.cpu_seconds);
  process_metric(out, "process_resident_memory_bytes", "gauge",
                 "Resident memory size in bytes.", p.resident_bytes);
  process_metric(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                 p.virtual_bytes);
  process_metric(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                 p.open_fds);
  process_metric(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                 p.max_fds);
  process_metric(out, "process_start_time_seconds", "gauge",
                 "Start time of the process since unix epoch in seconds.", p.start_time_seconds);
  return text;
}

}  // namespace netecho::server::metrics
