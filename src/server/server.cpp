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
  return spec.datagram_mode == service::DatagramMode::reverse ? "reverse" : "echo";
}

void raise_open_file_limit() {
  const base::FileLimit lim = base::raise_open_file_limit();
  if (lim.after != lim.before) {
    base::log("open files limit raised from {} to {}", lim.before, lim.after);
  }
}

}  // namespace

unsigned available_cpus() { return base::available_cpus(); }

Server::Server(const ServerConfig& config, std::vector<PassedSocket> passed) : config_(config) {
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
  // Only now, so that a failure to bind stays the one line on stderr (this one logs).
  raise_open_file_limit();
  setup_guards();
  for (unsigned w = 0; w < threads_; ++w) {
    WorkerSockets sockets;
    for (auto& b : bound_) {
      net::Fd fd = std::move(b.per_worker[w]);
      if (b.spec.transport == net::Transport::tcp) {
        sockets.tcp.push_back({std::move(fd), service::StreamService(b.spec.stream_mode), b.passed});
      } else {
        sockets.udp.emplace_back(std::move(fd), b.spec.datagram_mode, config_.udp_max,
                                 udp_guard_.get(), b.addr.is_wildcard());
      }
    }
    workers_.push_back(std::make_unique<Worker>(
        w, io::make_backend(backend_.kind, config_.backend_options), std::move(sockets),
        worker_shared()));
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
  base::log(
      "guards: max-conns {} (open files {}), max-conns-per-ip {}, idle-timeout {}, "
      "drain-timeout {}, udp-deny-ports {}, udp-rate {}, udp-buffer {} bytes",
      max_conns, files, off_or(config_.max_conns_per_ip, std::to_string(config_.max_conns_per_ip)),
      off_or(config_.idle_timeout.count(), base::format_duration(config_.idle_timeout)),
      base::format_duration(config_.drain_timeout), u.deny_ports.to_string(),
      off_or(u.rate, fmt::format("{}/s burst {}", u.rate, u.burst != 0 ? u.burst : u.rate)),
      u.buffer);
}

WorkerShared Server::worker_shared() {
  return WorkerShared{*limits_, guard_log_, config_.idle_timeout, [this] {
                        ::pthread_kill(main_thread_, SIGUSR1);
                      }};
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

int Server::run(std::FILE* out) {
  // First, while this is the only thread: it reads and unsets the manager's variables.
  Supervisor supervisor(Notifier::from_environment());
  for (auto& w : workers_) {
    supervisor.watch(w->heartbeat());
    w->beat_every(supervisor.beat_every());
  }
  if (config_.test_stall && !workers_.empty()) {
    workers_.front()->stall_for_test(config_.test_stall->after, config_.test_stall->length);
  }
  for (const auto& b : bound_) {
    fmt::print(out, "listening proto={} host={} port={} mode={}\n",
               net::to_string(b.spec.transport), b.addr.host(), b.addr.port(),
               mode_name(b.spec));
  }
  std::fflush(out);  // the listeners already queue connections: say so at once
  std::atomic<bool> failed{false};
  const pthread_t main_thread = ::pthread_self();
  main_thread_ = main_thread;
  std::vector<std::thread> threads;
  threads.reserve(workers_.size());
  for (auto& w : workers_) {
    threads.emplace_back([this, &failed, main_thread, worker = w.get()] {
      try {
        worker->run();
      } catch (const std::exception& e) {
        base::log("worker failed: {}", e.what());
        failed.store(true);
      }
      worker->heartbeat().retire();  // ended, not stuck: the others' pings go on
      workers_ended_.fetch_add(1);
      ::pthread_kill(main_thread, SIGUSR1);
    });
  }
  base::log("serving with {} worker thread(s) on the {} backend ({})", workers_.size(),
            io::to_string(backend_.kind), backend_.reason);
  fmt::print(out, "ready backend={} threads={}\n", io::to_string(backend_.kind), workers_.size());
  std::fflush(out);
  supervisor.ready(bound_.size(), limits_->open());

  ShutdownHooks hooks;
  hooks.begin_drain = [this, &supervisor] {
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
  hooks.worker_failed = [&failed] { return failed.load(); };
  hooks.open_connections = [this] { return limits_->open(); };
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
  wait_for_shutdown(hooks, timing, out);
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
  base::log("stopped: {}", t.to_string());
  // The ending alone does not decide: a drain cut short may have found nothing left to cut.
  return failed.load() || t[Stat::tcp_drain_cut] != 0 ? net::kExitFailure : 0;
}

CounterTotals Server::totals() const {
  CounterTotals t;
  for (const auto& w : workers_) {
    t.add(w->counters());
  }
  return t;
}

}  // namespace netecho::server
