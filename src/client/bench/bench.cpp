#include "client/bench/bench.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/system.hpp"
#include "base/duration.hpp"
#include "client/bench/hdr_log.hpp"
#include "client/bench/output_file.hpp"
#include "client/bench/report.hpp"
#include "client/bench/worker.hpp"
#include "client/probe_frame.hpp"
#include "io/signal_fd.hpp"
#include "net/error.hpp"
#include "service/datagram.hpp"

namespace netecho::client {
namespace {

using namespace std::chrono_literals;

// One message on standard error, wrapped to 80 columns as the report is.
void complain(std::FILE* err, std::string_view message) {
  std::fputs(bench_message(message).c_str(), err);
}

// Opens an output file before the run, so that a bad path fails at once, not after it. An
// empty path or "-" needs no file: the result then holds none. No result: the file could not
// be created (the reason is written to err).
std::optional<std::optional<OutputFile>> open_output(const std::string& path, const char* flag,
                                                     std::FILE* err) {
  if (path.empty() || path == "-") {
    return std::optional<OutputFile>();
  }
  std::string error;
  auto file = OutputFile::create(path, &error);
  if (!file) {
    complain(err, fmt::format("{} {}", flag, error));
    return std::nullopt;
  }
  return file;
}

// The text to standard output ("-") or, whole, to its file.
bool write_output(const std::string& text, const std::string& path,
                  std::optional<OutputFile>& file, std::FILE* out, std::FILE* err) {
  if (!file) {
    if (std::fwrite(text.data(), 1, text.size(), out) != text.size() || std::fflush(out) != 0) {
      complain(err, fmt::format("cannot write {}: {}", path, std::strerror(errno)));
      return false;
    }
    return true;
  }
  if (auto error = file->commit(text)) {
    complain(err, *error);
    return false;
  }
  return true;
}

// The per-second line: rates since the previous tick and the latency distribution of echoes
// received in between, rebuilt from the workers' live bucket counters.
class LiveLine {
 public:
  explicit LiveLine(std::size_t workers) : previous_(workers), current_(workers) {}

  std::string tick(const std::vector<std::unique_ptr<BenchWorker>>& workers,
                   std::uint64_t elapsed_s, double seconds, std::size_t message_size, bool warmup) {
    std::uint64_t messages = 0;
    std::uint64_t errors = 0;
    Histogram second;
    for (std::size_t w = 0; w < workers.size(); ++w) {
      const WorkerStats& st = workers[w]->stats();
      messages += st.messages.get();
      errors += st.errors.get();
      st.live.snapshot(current_[w]);
      if (previous_[w].empty()) {
        previous_[w].assign(Histogram::kBucketCount, 0);
      }
      for (std::size_t i = 0; i < Histogram::kBucketCount; ++i) {
        const std::uint64_t d = current_[w][i] - previous_[w][i];
        if (d != 0) {
          const std::uint64_t lo = Histogram::bucket_lowest(i);
          const std::uint64_t hi = Histogram::bucket_highest(i);
          second.record_n(lo + (hi - lo + 1) / 2, d);
        }
      }
      std::swap(previous_[w], current_[w]);
    }
    const double rate = seconds > 0 ? static_cast<double>(messages - messages_) / seconds : 0;
    messages_ = messages;
    return format_live_line(elapsed_s, rate, rate * static_cast<double>(message_size) / 1e6, second,
                            errors, warmup) +
           "\n";
  }

 private:
  std::vector<std::vector<std::uint64_t>> previous_;
  std::vector<std::vector<std::uint64_t>> current_;
  std::uint64_t messages_ = 0;
};

}  // namespace

std::size_t min_message_size(net::Transport transport) noexcept {
  return transport == net::Transport::udp ? kProbeHeaderSize : 1;
}

std::size_t max_message_size(net::Transport transport) noexcept {
  return transport == net::Transport::udp ? service::kMaxDatagram : std::size_t{64} << 20;
}

namespace {

// ------------------------------------------------------------------------------------- plan

// What a run needs before it starts: how many threads on which backend, which flows
// on which thread, and the output files (opened first, so that a bad path fails at once).
struct Plan {
  unsigned threads = 0;
  io::BackendChoice backend;
  // Flow i runs on worker i % threads; in count mode the messages are shared out evenly.
  std::vector<std::vector<std::uint32_t>> ids;
  std::vector<std::vector<std::uint64_t>> quotas;
  ReportOutputs outputs;
  bool live = false;
};

// The plan, or nothing when the run cannot start (the reason is written to err). The target
// comes resolved, in the options.
std::optional<Plan> plan_run(const BenchOptions& o, std::FILE* out, std::FILE* err) {
  Plan p;
  auto outputs = open_report_outputs(o.json_path, o.plot_path, o.hdr_log_path, out, err);
  if (!outputs) {
    return std::nullopt;
  }
  p.outputs = std::move(*outputs);
  p.live = o.live.value_or(::isatty(::fileno(p.outputs.report_out)) != 0 && o.json_path != "-");

  const base::FileLimit files = base::raise_open_file_limit();
  if (files.after < std::uint64_t{o.connections} + 32) {
    complain(err, fmt::format("{} connections need more open files than the limit of {} "
                              "(raise it with ulimit -n)",
                              o.connections, files.after));
    return std::nullopt;
  }
  p.threads =
      std::min<unsigned>(o.threads != 0 ? o.threads : base::available_cpus(), o.connections);
  p.backend = o.backend;
  p.ids.resize(p.threads);
  p.quotas.resize(p.threads);
  for (std::uint32_t i = 0; i < o.connections; ++i) {
    std::uint64_t quota = Flow::kUnlimited;
    if (o.messages != 0) {
      quota = o.messages / o.connections + (i < o.messages % o.connections ? 1 : 0);
    }
    p.ids[i % p.threads].push_back(i);
    p.quotas[i % p.threads].push_back(quota);
  }
  return p;
}

// -------------------------------------------------------------------------------------- run

// A finished run: the workers (their figures), the shared control, and what went wrong.
struct Run {
  explicit Run(unsigned threads)
      : control(static_cast<std::ptrdiff_t>(threads), ::pthread_self()), failures(threads) {}

  std::vector<std::unique_ptr<BenchWorker>> workers;
  RunControl control;
  std::vector<std::string> failures;  // per worker: why its thread failed, if it did
  CpuTimes cpu_end;
};

// Starts one thread per worker, then waits for them in this thread: for the signals that stop
// the run, and for the tick of the live line. Signals arrive as ping's do, through an
// io::SignalFd: SIGINT and SIGTERM stop the run, SIGUSR1 is a worker's note that it failed.
void run_workers(const BenchOptions& o, const Plan& p, Run& run) {
  for (unsigned t = 0; t < p.threads; ++t) {
    run.workers.push_back(std::make_unique<BenchWorker>(o, o.addresses, p.ids[t], p.quotas[t],
                                                        io::make_backend(p.backend.kind),
                                                        p.live));
  }
  RunControl& control = run.control;
  auto& workers = run.workers;

  // The workers inherit the blocked mask; only this thread takes the signals, from the
  // descriptor. (SIGPIPE is ignored for the whole process by main.)
  auto signals = io::SignalFd::open({SIGINT, SIGTERM, SIGUSR1});
  if (!signals) {
    throw std::system_error(signals.error(), "cannot set up signal handling");
  }

  std::vector<std::thread> pool;
  pool.reserve(p.threads);
  for (unsigned t = 0; t < p.threads; ++t) {
    pool.emplace_back([&, t] {
      BenchWorker& w = *workers[t];
      try {
        w.run(control);
      } catch (const std::exception& e) {
        run.failures[t] = e.what();
        if (!w.arrived()) {
          control.barrier.arrive_and_drop();
        }
        control.stop.store(2);
        for (auto& other : workers) {
          other->wake();
        }
        control.finished.fetch_add(1);
        ::pthread_kill(control.main, SIGUSR1);
      }
    });
  }

  int stop = 0;
  LiveLine line(p.threads);
  std::int64_t next_tick_ns = 0;
  std::uint64_t tick_index = 0;
  while (control.finished.load() < p.threads) {
    std::int64_t wait_ns = 1'000'000'000;
    const std::int64_t now_ns = to_ns(BenchClock::now());
    if (p.live && control.started.load()) {
      if (next_tick_ns == 0) {
        next_tick_ns = control.start_ns.load() + 1'000'000'000;
      }
      wait_ns = std::max<std::int64_t>(0, next_tick_ns - now_ns);
    }
    const timespec ts = base::to_timespec(std::chrono::nanoseconds(wait_ns));
    pollfd ready{signals->fd(), POLLIN, 0};
    if (::ppoll(&ready, 1, &ts, nullptr) > 0) {
      while (const int sig = signals->take()) {
        if (sig == SIGINT || sig == SIGTERM) {
          stop = std::min(stop + 1, 2);
          control.stop.store(stop);
          for (auto& w : workers) {
            w->wake();
          }
        }
      }
    }
    if (next_tick_ns != 0 && to_ns(BenchClock::now()) >= next_tick_ns &&
        control.finished.load() < p.threads) {
      ++tick_index;
      const bool warming = next_tick_ns <= control.start_ns.load() + o.warmup.count();
      const std::string text = line.tick(workers, tick_index, 1.0, o.message_size, warming);
      std::fputs(text.c_str(), p.outputs.report_out);
      std::fflush(p.outputs.report_out);
      next_tick_ns += 1'000'000'000;
    }
  }
  for (auto& t : pool) {
    t.join();
  }
  run.cpu_end = process_cpu_seconds();
  // Leaving, the SignalFd consumes the signals that arrived too late to matter and restores
  // the caller's mask.
}

// ------------------------------------------------------------------------------------ merge

// Every worker's figures in one result.
BenchResult merge_results(const BenchOptions& o, const Plan& p, const Run& run) {
  BenchResult r;
  r.options = o;
  r.backend = std::string(io::to_string(p.backend.kind));
  r.threads = p.threads;
  std::int64_t stopped_ns = 0;
  std::int64_t last_measured_ns = 0;
  for (const auto& w : run.workers) {
    const FlowContext& ctx = w->context();
    r.latency.merge(ctx.latency);
    r.connect.merge(ctx.connect);
    r.connected += ctx.connected;
    r.messages += ctx.measured;
    r.warmup_messages += ctx.warmup;
    r.messages_sent += ctx.issued;
    r.messages_received += ctx.received;
    r.reordered += ctx.reordered;
    r.late += ctx.late;
    r.abandoned += ctx.abandoned;
    r.unsent += ctx.unsent;
    r.interrupted = r.interrupted || w->interrupted();
    if (r.first_error.empty()) {
      r.first_error = ctx.first_error;
    }
    if (r.address.empty()) {
      r.address = ctx.first_address;
    }
    const WorkerStats& st = w->stats();
    r.buffer_exhaustions += w->backend_stats().buffer_exhaustions;
    r.bytes_sent += st.bytes_sent.get();
    r.bytes_received += st.bytes_received.get();
    for (std::size_t k = 0; k < kErrorKinds; ++k) {
      r.errors[k] += st.errors_by_kind[k].get();
    }
    stopped_ns = std::max(stopped_ns, w->stopped_ns());
    last_measured_ns = std::max(last_measured_ns, ctx.last_measured_ns);
  }
  const std::int64_t measure_start = run.control.start_ns.load() + o.warmup.count();
  // Up to the last measured echo: an open loop that fell behind sends its backlog during the
  // drain, and a rate over the window alone would count those echoes in too little time.
  const std::int64_t end =
      o.messages != 0 ? last_measured_ns : std::max(stopped_ns, last_measured_ns);
  r.elapsed = std::chrono::nanoseconds(std::max<std::int64_t>(0, end - measure_start));
  r.warmup_only = r.interrupted && stopped_ns < measure_start;
  const auto since_start = std::chrono::nanoseconds(to_ns(BenchClock::now()) - measure_start);
  const auto started = std::chrono::system_clock::now() -
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(since_start);
  r.started_at = base::format_utc(started);
  r.started_unix_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(started.time_since_epoch()).count();
  r.cpu_user_s = run.cpu_end.user - run.control.cpu_start.user;
  r.cpu_system_s = run.cpu_end.system - run.control.cpu_start.system;
  return r;
}

}  // namespace

Outcome run_bench(const BenchOptions& o, std::FILE* out, std::FILE* err) {
  std::optional<Plan> plan = plan_run(o, out, err);
  if (!plan) {
    return Outcome::failed;
  }
  Run run(plan->threads);
  run_workers(o, *plan, run);
  for (const auto& f : run.failures) {
    if (!f.empty()) {
      complain(err, fmt::format("a worker thread failed: {}", f));
      return Outcome::failed;
    }
  }
  const BenchResult r = merge_results(o, *plan, run);
  if (run.control.abort) {
    complain(err, r.first_error.empty() ? "no connection could be made" : r.first_error);
    return Outcome::failed;
  }
  return write_report(r, plan->outputs, out, err);
}

std::optional<ReportOutputs> open_report_outputs(const std::string& json_path,
                                                const std::string& plot_path,
                                                const std::string& hdr_log_path, std::FILE* out,
                                                std::FILE* err) {
  auto json_file = open_output(json_path, "--json", err);
  auto plot_file = json_file ? open_output(plot_path, "--plot", err) : std::nullopt;
  auto hdr_log_file = plot_file ? open_output(hdr_log_path, "--hdr-log", err) : std::nullopt;
  if (!json_file || !plot_file || !hdr_log_file) {
    return std::nullopt;
  }
  ReportOutputs outputs;
  outputs.json_path = json_path;
  outputs.plot_path = plot_path;
  outputs.hdr_log_path = hdr_log_path;
  outputs.json_file = std::move(*json_file);
  outputs.plot_file = std::move(*plot_file);
  outputs.hdr_log_file = std::move(*hdr_log_file);
  // With the JSON on standard output, the human report moves to standard error.
  outputs.report_out = json_path == "-" ? err : out;
  return outputs;
}

Outcome write_report(const BenchResult& r, ReportOutputs& p, std::FILE* out, std::FILE* err) {
  const BenchOptions& o = r.options;
  if (r.interrupted && ::isatty(::fileno(p.report_out)) != 0) {
    // The terminal has echoed "^C" where the cursor was: start the report on a line of its own.
    std::fputs("\n", p.report_out);
  }
  print_report(r, p.report_out);
  bool written = true;
  if (!p.json_path.empty()) {
    written = write_output(report_json(r), p.json_path, p.json_file, out, err) && written;
  }
  if (!p.plot_path.empty()) {
    written = write_output(report_svg(r), p.plot_path, p.plot_file, out, err) && written;
  }
  if (!p.hdr_log_path.empty()) {
    written =
        write_output(hdr_interval_log(r), p.hdr_log_path, p.hdr_log_file, out, err) && written;
  }
  if (r.error_total() != 0) {
    complain(err, fmt::format("{} error(s); the first: {}", group_digits(r.error_total()),
                              r.first_error));
    if (const std::string hint = r.hint(); !hint.empty()) {
      complain(err, hint);
    }
    return Outcome::failed;
  }
  if (const std::string why = r.measured_nothing(); !why.empty()) {
    complain(err, fmt::format("measured nothing: {}", why));
    return Outcome::failed;
  }
  if (r.unsent != 0) {
    // An open loop that fell behind measured a lighter load than was asked for, and its
    // latencies leave out the latest messages of all: not a run to take figures from.
    complain(err,
             fmt::format("--rate {} was not reached: {} message(s) fell due but were never "
                         "sent",
                         group_digits(static_cast<std::uint64_t>(o.rate)), group_digits(r.unsent)));
    return Outcome::failed;
  }
  return written ? Outcome::ok : Outcome::failed;
}

}  // namespace netecho::client
