#pragma once
// Server: binds every listener once per worker, announces each on stdout, runs the workers and
// waits for a signal to stop.

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <cstdio>
#include <memory>
#include <vector>

#include "io/loop.hpp"
#include "server/config.hpp"
#include "server/counters.hpp"
#include "server/guard_log.hpp"
#include "server/limits.hpp"
#include "server/listeners.hpp"
#include "server/metrics/responder.hpp"
#include "server/start_error.hpp"
#include "server/udp_guard.hpp"
#include "server/worker.hpp"
#include "server/xdp_path.hpp"

namespace netecho::server {

class Server {
 public:
  // Resolves and binds every listener of config in every worker's name, takes over the
  // sockets a supervisor passed (activation.hpp), and raises the open-file limit. With neither
  // listeners nor passed sockets, binds default_listeners(). Throws StartError naming
  // the listener and the system's reason on failure.
  explicit Server(const ServerConfig& config, std::vector<PassedSocket> passed = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Prints one line per bound listener to out:
  //   listening proto=tcp host=127.0.0.1 port=41234 mode=echo
  // then "ready ..." once the workers run, and serves until SIGINT or SIGTERM, then drains
  // (shutdown.hpp). Returns true after a drain that cut no connection; false when the drain
  // timeout or a second signal cut some, or a worker failed (cli/ makes that exit status 1). The signals must be blocked
  // in every thread, which block_signals() does. A service manager that set $NOTIFY_SOCKET is
  // told READY=1 with the "ready" line, STATUS= as connections come and go, STOPPING=1 when the
  // drain starts, and WATCHDOG=1 while every worker's loop turns (supervisor.hpp). run() reads
  // and unsets those variables before it starts the workers, so call it from the only thread.
  bool run(std::FILE* out);

  // Blocks SIGINT, SIGTERM, SIGHUP and SIGUSR1 in the calling thread (and so in the threads it
  // starts: only the main loop takes them, from a signalfd) and ignores SIGPIPE. Call before
  // starting any thread.
  static void block_signals();

  // Over every listener and worker: the exit summary's figures.
  CounterTotals totals() const;

  // A listener as /metrics labels it, and where its counters are in each worker.
  struct ListenerInfo {
    std::string url;   // "tcp://0.0.0.0:7", "udp://[::1]:7": the real bound address
    std::string mode;  // echo | once | reverse
    net::Transport transport = net::Transport::tcp;
    std::size_t index = 0;  // in each worker's TCP listeners or UDP endpoints
  };
  const std::vector<ListenerInfo>& listeners() const noexcept { return listeners_; }
  // One listener's counters, summed over the workers.
  CounterTotals listener_totals(const ListenerInfo& l) const;

 private:
  void setup_guards();
  WorkerShared worker_shared();
  metrics::Snapshot metrics_snapshot();
  std::string stalled_workers() const;
  std::string unready_reason() const;

  // How often the workers stamp their heartbeats for /healthz, and how old a stamp may be before
  // /healthz names its worker: four missed stamps, so that a busy turn is not a stall.
  static constexpr auto kHealthBeat = std::chrono::milliseconds(500);
  static constexpr auto kHealthStale = std::chrono::seconds(2);

  ServerConfig config_;
  io::BackendChoice backend_;
  unsigned threads_ = 1;
  std::vector<BoundListener> bound_;
  std::vector<ListenerInfo> listeners_;  // in bound_'s order
  // Shared by the workers, so declared (and built) before them and destroyed after them.
  GuardLog guard_log_;
  std::unique_ptr<ConnectionLimits> limits_;
  std::unique_ptr<UdpGuard> udp_guard_;
  std::unique_ptr<XdpPath> xdp_;  // null: no --xdp, or it could not run (the log says why)
  std::atomic<unsigned> workers_ended_{0};
  // The main thread's loop (run()): signals, the drain and periodic timers, the workers' notes
  // (wake-ups) and the metrics listener. epoll: a handful of descriptors, no buffer rings.
  io::Loop control_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<pthread_t> worker_threads_;  // for their CPU clocks, once run() started them
  std::vector<double> busy_seconds_;       // last read per worker: kept once its thread ends
  bool draining_ = false;                  // main thread only
  bool failed_ = false;                    // main thread's copy, for /readyz
  std::optional<BoundListener> metrics_listener_;
  std::unique_ptr<metrics::Responder> metrics_;
};

// CPUs this process may run on (sched_getaffinity), at least 1.
unsigned available_cpus();

}  // namespace netecho::server
