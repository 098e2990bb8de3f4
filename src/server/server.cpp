#include "server/server.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <thread>

#include "base/log.hpp"
#include "net/error.hpp"
#include "net/socket.hpp"

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
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return;
  }
  if (lim.rlim_cur < lim.rlim_max) {
    const rlim_t before = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) == 0) {
      base::log("open files limit raised from {} to {}", before, lim.rlim_max);
    }
  }
}

}  // namespace

unsigned available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    return std::max(1, CPU_COUNT(&set));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

Server::Server(const ServerConfig& config) : config_(config) {
  backend_ = io::choose_backend(config.backend);
  threads_ = config.threads != 0 ? config.threads : available_cpus();
  raise_open_file_limit();
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
  for (unsigned w = 0; w < threads_; ++w) {
    WorkerSockets sockets;
    for (auto& b : bound_) {
      net::Fd fd = std::move(b.per_worker[w]);
      if (b.spec.transport == net::Transport::tcp) {
        sockets.tcp.push_back(std::move(fd));
      } else {
        sockets.udp.emplace_back(std::move(fd), b.spec.datagram_mode, config_.udp_max);
      }
    }
    workers_.push_back(std::make_unique<Worker>(w, io::make_backend(backend_.kind),
                                                std::move(sockets),
                                                service::StreamService(config_.stream_mode)));
  }
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
  std::vector<std::thread> threads;
  threads.reserve(workers_.size());
  for (auto& w : workers_) {
    threads.emplace_back([&failed, main_thread, worker = w.get()] {
      try {
        worker->run();
      } catch (const std::exception& e) {
        base::log("worker failed: {}", e.what());
        failed.store(true);
        ::pthread_kill(main_thread, SIGUSR1);
      }
    });
  }
  base::log("serving with {} worker thread(s) on the {} backend ({})", workers_.size(),
            io::to_string(backend_.kind), backend_.reason);
  fmt::print(out, "ready backend={} threads={}\n", io::to_string(backend_.kind), workers_.size());
  std::fflush(out);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  for (;;) {
    int sig = 0;
    if (::sigwait(&set, &sig) != 0) {
      continue;
    }
    if (sig == SIGHUP) {
      base::log("SIGHUP received: nothing to reload, still serving");
      continue;
    }
    if (sig == SIGUSR1 && !failed.load()) {
      continue;
    }
    if (sig != SIGUSR1) {
      base::log("{} received: closing listeners and connections", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    break;
  }
  for (auto& w : workers_) {
    w->stop();
  }
  for (auto& t : threads) {
    t.join();
  }
  base::log("stopped: {}", totals().to_string());
  return failed.load() ? net::kExitFailure : 0;
}

CounterTotals Server::totals() const {
  CounterTotals t;
  for (const auto& w : workers_) {
    t.add(w->counters());
  }
  return t;
}

}  // namespace netecho::server
