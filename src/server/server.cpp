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

namespace netecho::server {
namespace {

std::string mode_name(const ListenerSpec& spec, service::StreamMode stream) {
  if (spec.transport == net::Transport::tcp) {
    return stream == service::StreamMode::once ? "once" : "echo";
  }
  return spec.datagram_mode == service::DatagramMode::reverse ? "reverse" : "echo";
}

std::string describe(const ListenerSpec& spec) {
  const bool v6 = spec.endpoint.host.find(':') != std::string::npos;
  return fmt::format("{} {}{}{}:{}", net::to_string(spec.transport), v6 ? "[" : "",
                     spec.endpoint.host, v6 ? "]" : "", spec.endpoint.port);
}

void raise_open_file_limit() {
  const base::FileLimit lim = base::raise_open_file_limit();
  if (lim.after != lim.before) {
    base::log("open files limit raised from {} to {}", lim.before, lim.after);
  }
}

}  // namespace

unsigned available_cpus() { return base::available_cpus(); }

Server::Server(const ServerConfig& config) : config_(config) {
  backend_ = io::choose_backend(config.backend);
  threads_ = config.threads != 0 ? config.threads : available_cpus();
  for (const auto& spec : config_.listeners) {
    auto resolved = net::resolve(spec.endpoint, spec.transport, /*passive=*/true);
    if (auto* err = std::get_if<std::string>(&resolved)) {
      throw net::ConfigError(fmt::format("cannot listen on {}: {}", describe(spec), *err),
                             net::kExitFailure);
    }
    Bound b{spec, std::get<0>(resolved).front(), {}};
    const auto fail = [&](std::error_code ec) {
      return net::ConfigError(
          fmt::format("cannot listen on {}: {}", describe(spec), ec.message()),
          net::kExitFailure);
    };
    if (b.addr.port() != 0) {
      if (auto ec = net::check_address_free(b.addr, spec.transport)) {
        throw fail(ec);
      }
    }
    for (unsigned w = 0; w < threads_; ++w) {
      auto fd = net::open_listener(b.addr, spec.transport, {});
      if (!fd) {
        throw fail(fd.error());
      }
      if (w == 0 && b.addr.port() == 0) {
        // Port 0: the kernel picked one; every other worker joins the same port.
        auto local = net::local_address(fd->get());
        if (!local) {
          throw fail(local.error());
        }
        b.addr.set_port(local->port());
      }
      b.per_worker.push_back(std::move(fd).value());
    }
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
        sockets.tcp.push_back(std::move(fd));
      } else {
        sockets.udp.emplace_back(std::move(fd), b.spec.datagram_mode, config_.udp_max,
                                 udp_guard_.get(), b.addr.is_wildcard());
      }
    }
    workers_.push_back(std::make_unique<Worker>(
        w, io::make_backend(backend_.kind, config_.backend_options), std::move(sockets),
        service::StreamService(config_.stream_mode), worker_shared()));
  }
  if (config_.user) {
    drop_privileges(*config_.user);  // everything is bound: nothing needs root any more
  }
}

void Server::setup_guards() {
  const std::uint64_t files = open_file_limit();
  const std::size_t max_conns =
      config_.max_conns != 0 ? config_.max_conns
                             : default_max_conns(files, threads_, config_.listeners.size());
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
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int Server::run(std::FILE* out) {
  for (const auto& b : bound_) {
    fmt::print(out, "listening proto={} host={} port={} mode={}\n",
               net::to_string(b.spec.transport), b.addr.host(), b.addr.port(),
               mode_name(b.spec, config_.stream_mode));
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
      workers_ended_.fetch_add(1);
      ::pthread_kill(main_thread, SIGUSR1);
    });
  }
  base::log("serving with {} worker thread(s) on the {} backend ({})", workers_.size(),
            io::to_string(backend_.kind), backend_.reason);
  fmt::print(out, "ready backend={} threads={}\n", io::to_string(backend_.kind), workers_.size());
  std::fflush(out);

  ShutdownHooks hooks;
  hooks.begin_drain = [this] {
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
  hooks.tick = [this] { guard_log_.flush(); };
  const ShutdownTiming timing{config_.drain_timeout, guard_log_.interval()};
  wait_for_shutdown(hooks, timing, out);
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
  return failed.load() || t.tcp_drain_cut != 0 ? net::kExitFailure : 0;
}

CounterTotals Server::totals() const {
  CounterTotals t;
  for (const auto& w : workers_) {
    t.add(w->counters());
  }
  return t;
}

}  // namespace netecho::server
