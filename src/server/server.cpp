#include "server/server.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "base/duration.hpp"
#include "base/log.hpp"
#include "base/system.hpp"
#include "base/version.hpp"
#include "server/metrics/process.hpp"
#include "net/error.hpp"
#include "net/socket.hpp"
#include "server/shutdown.hpp"
#include "server/supervisor.hpp"

namespace netecho::server {
namespace {

std::string mode_name(const ListenerSpec& spec) {
  if (spec.transport == net::Transport::tcp) {
    return spec.stream_mode == service::StreamMode::once ? "once" : "echo";
  }
  switch (spec.datagram_mode) {
    case service::DatagramMode::reverse:
      return "reverse";
    case service::DatagramMode::stamp:
      return "stamp";
    case service::DatagramMode::echo:
      break;
  }
  return "echo";
}

// How the log and /metrics name a listener: "tcp://127.0.0.1:7", as a client tool's target is
// written.
std::string listener_name(const BoundListener& b) {
  return fmt::format("{}://{}", net::to_string(b.spec.transport), b.addr.to_string());
}

void raise_open_file_limit() {
  const base::FileLimit lim = base::raise_open_file_limit();
  if (lim.after != lim.before) {
    base::log_event(base::Level::info, "open files limit raised",
                    {{"before", lim.before}, {"after", lim.after}});
  }
}

}  // namespace

unsigned available_cpus() { return base::available_cpus(); }

Server::Server(const ServerConfig& config, std::vector<PassedSocket> passed)
    : config_(config), control_(io::make_backend(io::BackendKind::epoll)) {
  backend_ = config.backend;
  threads_ = config.threads != 0 ? config.threads : available_cpus();
  if (config_.listeners.empty() && passed.empty()) {
    config_.listeners = default_listeners();
  }
  for (auto& spec : config_.listeners) {
    spec.stream_mode = config_.stream_mode;
  }
  bound_ = adopt_passed(std::move(passed), threads_);
  for (auto& b : bind_listeners(config_.listeners, threads_)) {
    bound_.push_back(std::move(b));
  }
  if (config_.metrics) {
    ListenerSpec spec;
    spec.endpoint = *config_.metrics;
    auto bound = bind_listeners({spec}, 1);
    metrics_listener_ = std::move(bound.front());
    metrics_ = std::make_unique<metrics::Responder>(
        std::move(metrics_listener_->per_worker.front()),
        metrics::Sources{[this] { return metrics_snapshot(); },
                         [this] { return stalled_workers(); },
                         [this] { return unready_reason(); }});
  }
  // Only now, so that a failure to bind stays the one line on stderr (this one logs).
  raise_open_file_limit();
  setup_guards();
  std::size_t tcp = 0;
  std::size_t udp = 0;
  for (const auto& b : bound_) {
    const bool is_tcp = b.spec.transport == net::Transport::tcp;
    listeners_.push_back({listener_name(b), mode_name(b.spec), b.spec.transport,
                          is_tcp ? tcp++ : udp++});
  }
  for (unsigned w = 0; w < threads_; ++w) {
    WorkerSockets sockets;
    for (auto& b : bound_) {
      net::Fd fd = std::move(b.per_worker[w]);
      if (b.spec.transport == net::Transport::tcp) {
        sockets.tcp.push_back({std::move(fd), service::StreamService(b.spec.stream_mode), b.passed,
                               listener_name(b), b.spec.proxy});
      } else {
        const bool stamp = b.spec.datagram_mode == service::DatagramMode::stamp;
        if (stamp) {
          // T2 and the sender's TTL come with each datagram (docs/STAMP.md).
          if (auto ec = net::enable_receive_stamps(fd.get(), b.addr.family())) {
            throw StartError(fmt::format("cannot listen on {}: receive timestamps: {}",
                                         describe(b.spec.transport, b.addr), ec.message()));
          }
        }
        sockets.udp.emplace_back(std::move(fd), b.spec.datagram_mode, config_.udp_max,
                                 udp_guard_.get(), b.addr.is_wildcard(), listener_name(b));
        if (stamp) {
          sockets.udp.back().reflect_stamp(config_.stamp);
        }
      }
    }
    workers_.push_back(std::make_unique<Worker>(
        w, io::make_backend(backend_.kind, config_.backend_options), std::move(sockets),
        worker_shared()));
  }
  if (!config_.xdp.empty()) {  // before the privileges go: attaching needs them
    xdp_ = XdpPath::start(config_.xdp, bound_, config_.udp_guard, config_.udp_max);
  }
  if (config_.user) {
    drop_privileges(*config_.user);  // everything is bound: nothing needs root any more
  }
}

void Server::setup_guards() {
  const std::uint64_t files = open_file_limit();
  const std::size_t max_conns =
      config_.max_conns != 0 ? config_.max_conns
                             : default_max_conns(files, threads_, bound_.size());
  limits_ = std::make_unique<ConnectionLimits>(max_conns, config_.max_conns_per_ip);
  std::vector<std::uint16_t> udp_ports;
  for (const auto& b : bound_) {
    if (b.spec.transport == net::Transport::udp) {
      udp_ports.push_back(b.addr.port());
    }
  }
  udp_guard_ = std::make_unique<UdpGuard>(config_.udp_guard, std::move(udp_ports), guard_log_);
  const auto& u = config_.udp_guard;
  const auto off_or = [](auto value, const std::string& text) {
    return value == 0 ? std::string("off") : text;
  };
  // Named as the options are, so that the line reads as the command line that would give it.
  base::log_event(
      base::Level::info, "guards",
      {{"max_conns", max_conns},
       {"open_files", files},
       {"max_conns_per_ip",
        off_or(config_.max_conns_per_ip, std::to_string(config_.max_conns_per_ip))},
       {"idle_timeout",
        off_or(config_.idle_timeout.count(), base::format_duration(config_.idle_timeout))},
       {"drain_timeout", base::format_duration(config_.drain_timeout)},
       {"udp_deny_ports", u.deny_ports.to_string()},
       {"udp_rate", off_or(u.rate, fmt::format("{}/s", u.rate))},
       {"udp_burst", u.burst != 0 ? u.burst : u.rate},
       {"udp_buffer", u.buffer}});
}

WorkerShared Server::worker_shared() {
  return WorkerShared{*limits_, guard_log_, config_.idle_timeout,
                      [this] { control_.backend().wake(); }, &config_.proxy_from,
                      config_.proxy_timeout};
}

Server::~Server() = default;

void Server::block_signals() {
  base::ignore_sigpipe();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

bool Server::run(std::FILE* out) {
  // First, while this is the only thread: it reads and unsets the manager's variables.
  Supervisor supervisor(Notifier::from_environment());
  // The watchdog's period, or /healthz's if that is shorter (or the only one).
  auto beat = supervisor.beat_every();
  if (metrics_) {
    beat = beat.count() == 0 ? kHealthBeat : std::min<std::chrono::nanoseconds>(beat, kHealthBeat);
  }
  for (auto& w : workers_) {
    supervisor.watch(w->heartbeat());
    w->beat_every(beat);
    w->heartbeat().beat(Heartbeat::Clock::now());  // alive from the start, before its first turn
  }
  if (config_.test_stall && !workers_.empty()) {
    workers_.front()->stall_for_test(config_.test_stall->after, config_.test_stall->length);
  }
  for (const auto& b : bound_) {
    // A PROXY listener says so: a client must send the header first.
    fmt::print(out, "listening proto={} host={} port={} mode={}{}\n",
               net::to_string(b.spec.transport), b.addr.host(), b.addr.port(),
               mode_name(b.spec), b.spec.proxy ? " proxy=required" : "");
  }
  if (metrics_listener_) {
    fmt::print(out, "listening proto=http host={} port={} mode=metrics\n",
               metrics_listener_->addr.host(), metrics_listener_->addr.port());
    metrics_->start(control_);
  }
  std::fflush(out);  // the listeners already queue connections: say so at once
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  threads.reserve(workers_.size());
  for (auto& w : workers_) {
    threads.emplace_back([this, &failed, worker = w.get()] {
      try {
        worker->run();
      } catch (const std::exception& e) {
        base::log_event(base::Level::error, "worker failed", {{"error", e.what()}});
        failed.store(true);
      }
      worker->heartbeat().retire();  // ended, not stuck: the others' pings go on
      workers_ended_.fetch_add(1);
      control_.backend().wake();
    });
    worker_threads_.push_back(threads.back().native_handle());
  }
  busy_seconds_.assign(workers_.size(), 0.0);
  base::log_event(base::Level::info, "serving",
                  {{"threads", workers_.size()},
                   {"backend", io::to_string(backend_.kind)},
                   {"backend_reason", backend_.reason}});
  fmt::print(out, "ready backend={} threads={}\n", io::to_string(backend_.kind), workers_.size());
  std::fflush(out);
  supervisor.ready(bound_.size(), limits_->open());

  ShutdownHooks hooks;
  hooks.begin_drain = [this, &supervisor] {
    draining_ = true;
    supervisor.draining(limits_->open());
    for (auto& w : workers_) {
      w->drain();
    }
  };
  hooks.listeners_closed = [this] {
    return std::all_of(workers_.begin(), workers_.end(),
                       [](const auto& w) { return w->listeners_closed(); });
  };
  hooks.workers_ended = [this] { return workers_ended_.load() == workers_.size(); };
  hooks.worker_failed = [this, &failed] {
    failed_ = failed.load();
    return failed_;
  };
  hooks.open_connections = [this] { return limits_->open(); };
  hooks.report = [this] { base::log_event(base::Level::info, "counters", totals().fields()); };
  // The manager's STATUS= rides on ticks the main thread has anyway: the watchdog's when there
  // is one, else the guard log's.
  const bool watchdog = supervisor.ping_every().count() > 0;
  hooks.periodic.push_back({guard_log_.interval(), [this, &supervisor, watchdog] {
                              guard_log_.flush();
                              if (!watchdog) {
                                supervisor.refresh(limits_->open());
                              }
                            }});
  if (watchdog) {
    hooks.periodic.push_back({supervisor.ping_every(), [this, &supervisor] {
                                supervisor.ping(Heartbeat::Clock::now());
                                supervisor.refresh(limits_->open());
                              }});
  }
  const ShutdownTiming timing{config_.drain_timeout};
  try {
    run_until_shutdown(control_, metrics_.get(), hooks, timing, out);
  } catch (const std::exception& e) {
    base::log("{}", e.what());  // the workers still run: stop them, as for a failed one
    failed.store(true);
  }
  // Said when the drain began; otherwise (a worker failed) now.
  supervisor.stopping(failed.load() ? "stopping: a worker failed" : "stopping");
  for (auto& w : workers_) {
    w->stop();
  }
  for (auto& t : threads) {
    t.join();
  }
  guard_log_.flush();
  const CounterTotals t = totals();
  base::log_event(base::Level::info, "stopped", t.fields());
  if (backend_.kind == io::BackendKind::io_uring) {
    // Once for the process, not once per worker thread: per worker they are in /metrics.
    io::BackendStats b;
    for (const auto& w : workers_) {
      b.buffer_exhaustions += w->backend_stats().buffer_exhaustions;
      b.rearms += w->backend_stats().rearms;
    }
    base::log_event(base::Level::info, "io_uring receive buffers",
                    {{"buffer_exhaustions", b.buffer_exhaustions}, {"rearms", b.rearms}});
  }
  // The ending alone does not decide: a drain cut short may have found nothing left to cut.
  return !failed.load() && t[Stat::tcp_drain_cut] == 0;
}

metrics::Snapshot Server::metrics_snapshot() {
  metrics::Snapshot s;
  for (const auto& l : listeners_) {
    s.listeners.push_back({l.url, l.mode, l.transport, listener_totals(l)});
  }
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    // Read from this thread: nothing on the worker's hot path pays for it. A thread that has
    // ended keeps its last figure.
    if (w < worker_threads_.size()) {
      if (const auto busy = metrics::thread_cpu_seconds(worker_threads_[w])) {
        busy_seconds_[w] = *busy;
      }
    }
    const io::BackendStats b = workers_[w]->backend_stats();
    s.workers.push_back({w < busy_seconds_.size() ? busy_seconds_[w] : 0.0,
                         b.buffer_exhaustions, b.rearms});
  }
  s.version = base::kVersion;
  s.backend = std::string(io::to_string(backend_.kind));
  s.draining = draining_;
  s.process = metrics::read_process();
  return s;
}

std::string Server::stalled_workers() const {
  std::vector<const Heartbeat*> beats;
  for (const auto& w : workers_) {
    beats.push_back(&w->heartbeat());
  }
  const auto stuck = stuck_loops(beats, Heartbeat::Clock::now(), kHealthStale);
  if (stuck.empty()) {
    return {};
  }
  return fmt::format("stalled: the loop of worker(s) {} has not turned for over {}",
                     fmt::join(stuck, ","), base::format_duration(kHealthStale));
}

std::string Server::unready_reason() const {
  if (draining_) {
    return "not ready: draining";
  }
  if (failed_ || workers_ended_.load() != 0) {
    return "not ready: a worker has ended";
  }
  return {};
}

CounterTotals Server::listener_totals(const ListenerInfo& l) const {
  CounterTotals t;
  for (const auto& w : workers_) {
    t.add(l.transport == net::Transport::tcp ? w->tcp_counters(l.index) : w->udp_counters(l.index));
  }
  if (xdp_ && l.transport == net::Transport::udp) {
    xdp_->add_to(t, l.index);
  }
  return t;
}

CounterTotals Server::totals() const {
  CounterTotals t;
  for (const auto& l : listeners_) {
    const CounterTotals one = listener_totals(l);
    for (std::size_t i = 0; i < t.values.size(); ++i) {
      t.values[i] += one.values[i];
    }
  }
  return t;
}

}  // namespace netecho::server
