#pragma once
// One bench thread: its own event loop and its own flows, from connect to drain. Threads meet
// once, at a barrier after connecting, so that every flow starts sending at the same moment and
// the connect phase is kept out of the measurement.

#include <pthread.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <memory>
#include <queue>
#include <vector>

#include "client/bench/bench.hpp"
#include "client/bench/flow.hpp"
#include "io/loop.hpp"

namespace netecho::client {

// The process's CPU time so far (getrusage), in seconds.
struct CpuTimes {
  double user = 0;
  double system = 0;
};
CpuTimes process_cpu_seconds() noexcept;

// What the main thread and the workers share for one run. Written by the main thread: stop.
// Written by the barrier's completion step (on whichever worker arrives last, before any worker
// passes the barrier): abort, start_ns, cpu_start. Everything else is counted by the workers.
struct RunControl {
  struct OnStart {
    RunControl* control;
    void operator()() noexcept;
  };

  RunControl(std::ptrdiff_t workers, pthread_t main_thread)
      : main(main_thread), barrier(workers, OnStart{this}) {}

  // 0: run; 1: stop sending and drain for at most a second (first Ctrl-C); 2: stop now.
  std::atomic<int> stop{0};
  std::atomic<std::uint32_t> connected{0};  // flows connected, summed before the barrier
  std::atomic<bool> started{false};         // the barrier was passed: start_ns is valid
  std::atomic<std::int64_t> start_ns{0};
  std::atomic<unsigned> finished{0};  // workers whose run() returned
  bool abort = false;                 // no flow connected: nothing to run
  CpuTimes cpu_start;
  pthread_t main;  // told with SIGUSR1 when a worker finishes
  std::barrier<OnStart> barrier;
};

class BenchWorker final : private io::Handler {
 public:
  // flow_ids: the run-wide indexes of this worker's flows; quotas: their message counts (or
  // Flow::kUnlimited), one per flow.
  BenchWorker(const BenchOptions& options, const std::vector<net::SockAddr>& addresses,
              const std::vector<std::uint32_t>& flow_ids, const std::vector<std::uint64_t>& quotas,
              std::unique_ptr<io::Backend> backend, bool live);

  // The thread body. Arrives at control.barrier exactly once, and counts itself in
  // control.finished before returning.
  void run(RunControl& control);
  bool arrived() const noexcept { return arrived_; }

  // Thread-safe: makes a wait in progress return, to notice control.stop.
  void wake() noexcept { loop_.backend().wake(); }

  const WorkerStats& stats() const noexcept { return stats_; }
  io::BackendStats backend_stats() const noexcept { return loop_.backend().stats(); }
  // Valid once run() returned.
  const FlowContext& context() const noexcept { return ctx_; }
  bool interrupted() const noexcept { return interrupted_; }
  std::int64_t stopped_ns() const noexcept { return stopped_ns_; }  // when sending stopped

 private:
  struct Due {
    std::int64_t ns;
    std::uint32_t slot;
    bool operator>(const Due& o) const noexcept { return ns > o.ns; }
  };

  void on_completion(const io::Completion& c) override;
  void connect_phase(const RunControl& control);
  void run_phase(RunControl& control);
  void schedule(std::uint32_t slot);
  void scan_timeouts();

  const BenchOptions& options_;
  io::Loop loop_;
  WorkerStats stats_;
  FlowContext ctx_;
  std::vector<std::unique_ptr<Flow>> flows_;
  // Open loop: flows waiting for the clock, earliest due first; queued_ avoids duplicates.
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  std::vector<bool> queued_;
  std::chrono::nanoseconds scan_every_;
  bool arrived_ = false;
  bool interrupted_ = false;
  std::int64_t stopped_ns_ = 0;
};

}  // namespace netecho::client
