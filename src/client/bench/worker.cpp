#include "client/bench/worker.hpp"

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <limits>

namespace netecho::client {
namespace {

constexpr std::size_t kScratchSize = 64 * 1024;
// After an interrupt, what is in flight gets at most this long to come back.
constexpr auto kInterruptDrain = std::chrono::seconds(1);

double seconds(const timeval& tv) noexcept {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

}  // namespace

CpuTimes process_cpu_seconds() noexcept {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return {seconds(ru.ru_utime), seconds(ru.ru_stime)};
}

void RunControl::OnStart::operator()() noexcept {
  control->abort = control->connected.load() == 0;
  control->cpu_start = process_cpu_seconds();
  control->start_ns.store(to_ns(BenchClock::now()));
  control->started.store(true);
}

BenchWorker::BenchWorker(const BenchOptions& options, const std::vector<net::SockAddr>& addresses,
                         const std::vector<std::uint32_t>& flow_ids,
                         const std::vector<std::uint64_t>& quotas,
                         std::unique_ptr<io::Backend> backend, bool live)
    : options_(options),
      loop_(std::move(backend)),
      queued_(flow_ids.size(), false),
      scan_every_(std::clamp<std::chrono::nanoseconds>(
          options.timeout / 4, std::chrono::milliseconds(1), std::chrono::milliseconds(100))) {
  ctx_.backend = &loop_.backend();
  ctx_.options = &options_;
  ctx_.addresses = &addresses;
  ctx_.stats = &stats_;
  ctx_.live = live;
  ctx_.scratch.resize(std::max(kScratchSize, options.message_size));
  flows_.reserve(flow_ids.size());
  for (std::size_t i = 0; i < flow_ids.size(); ++i) {
    const auto slot = static_cast<std::uint32_t>(i);
    if (options.target.transport == net::Transport::tcp) {
      flows_.push_back(std::make_unique<TcpFlow>(flow_ids[i], slot, quotas[i], options.pipeline));
    } else {
      flows_.push_back(std::make_unique<UdpFlow>(flow_ids[i], slot, quotas[i], options.pipeline));
    }
  }
}

void BenchWorker::run(RunControl& control) {
  connect_phase(control);
  control.connected.fetch_add(ctx_.connected);
  arrived_ = true;
  control.barrier.arrive_and_wait();
  if (!control.abort && control.stop.load() == 0) {
    run_phase(control);
  } else {
    interrupted_ = control.stop.load() != 0;
    for (auto& f : flows_) {
      f->finish(ctx_, /*interrupted=*/true);
    }
  }
  control.finished.fetch_add(1);
  ::pthread_kill(control.main, SIGUSR1);
}

void BenchWorker::connect_phase(const RunControl& control) {
  auto now = BenchClock::now();
  const auto deadline = now + options_.connect_timeout;
  // Each connect is timed from its own start, and the loop looks for completions every few
  // starts, so a connect time does not include the setting up of thousands of other sockets.
  constexpr std::size_t kConnectsPerLook = 16;
  for (std::size_t i = 0; i < flows_.size(); ++i) {
    flows_[i]->start_connect(ctx_, BenchClock::now());
    if ((i + 1) % kConnectsPerLook == 0) {
      loop_.run_once(*this, std::chrono::nanoseconds{0});
    }
  }
  while (ctx_.connecting > 0 && control.stop.load(std::memory_order_relaxed) == 0) {
    now = BenchClock::now();
    if (now >= deadline) {
      break;
    }
    loop_.run_once(*this, deadline - now);
  }
  const bool stopped = control.stop.load() != 0;
  for (auto& f : flows_) {
    f->abort_connect(ctx_, /*count_as_error=*/!stopped);
  }
}

void BenchWorker::schedule(std::uint32_t slot) {
  const auto next = flows_[slot]->issue(ctx_);
  if (next && !queued_[slot]) {
    due_.push({to_ns(*next), slot});
    queued_[slot] = true;
  }
}

void BenchWorker::scan_timeouts() {
  const auto now = BenchClock::now();
  const std::int64_t now_ns = to_ns(now);
  for (std::uint32_t slot = 0; slot < flows_.size(); ++slot) {
    const std::uint32_t before = flows_[slot]->in_flight();
    flows_[slot]->check_timeouts(ctx_, now_ns);
    if (ctx_.issuing && flows_[slot]->in_flight() < before) {
      schedule(slot);  // a UDP loss freed a slot in the pipeline
    }
  }
  loop_.add_timer(now + scan_every_, [this] { scan_timeouts(); });
}

void BenchWorker::run_phase(RunControl& control) {
  const BenchClock::time_point start{std::chrono::nanoseconds(control.start_ns.load())};
  const bool counting = options_.messages != 0;
  ctx_.measure_start_ns = to_ns(start + options_.warmup);
  ctx_.issue_end_ns = counting ? std::numeric_limits<std::int64_t>::max()
                               : to_ns(start + options_.warmup + options_.duration);
  ctx_.issuing = true;
  for (auto& f : flows_) {
    f->begin(ctx_, options_.rate > 0
                       ? Pacer::for_flow(start, options_.rate, f->id(), options_.connections)
                       : Pacer());
  }
  auto now = BenchClock::now();
  for (std::uint32_t slot = 0; slot < flows_.size(); ++slot) {
    schedule(slot);
  }
  loop_.add_timer(now + scan_every_, [this] { scan_timeouts(); });

  // Where the run is. sending: until the duration, the message count or the last flow ends
  // it. draining: the run ended; what is in flight may answer until --timeout (and an open loop
  // still sends the backlog that fell due before the end). draining_interrupted: the first
  // SIGINT or SIGTERM; nothing more is sent, and the drain lasts at most kInterruptDrain. A
  // second signal (stop 2) ends the phase at once, whichever it is.
  enum class Phase : std::uint8_t { sending, draining, draining_interrupted };
  Phase phase = Phase::sending;
  std::int64_t drain_deadline = 0;
  for (;;) {
    now = BenchClock::now();
    const std::int64_t now_ns = to_ns(now);
    const int stop = control.stop.load(std::memory_order_relaxed);
    if (stop >= 2) {
      interrupted_ = true;
      if (phase == Phase::sending) {
        stopped_ns_ = now_ns;
      }
      break;
    }
    if (phase == Phase::sending) {
      const bool ended = stop == 1 || now_ns >= ctx_.issue_end_ns || ctx_.alive == 0 ||
                         (counting && ctx_.with_quota_left == 0);
      if (ended) {
        // Open loop: messages that fell due before the end but are still queued behind a slow
        // server go out during the drain, so a stall at the very end shows in the tail too.
        // Flow::issue() refuses anything due at or after issue_end, so a closed loop sends
        // nothing more. An interrupt stops sending outright.
        phase = stop == 1 ? Phase::draining_interrupted : Phase::draining;
        interrupted_ = phase == Phase::draining_interrupted;
        ctx_.issuing = !interrupted_;
        stopped_ns_ = std::min(now_ns, ctx_.issue_end_ns);
        const std::chrono::nanoseconds grace =
            interrupted_ ? std::min<std::chrono::nanoseconds>(options_.timeout, kInterruptDrain)
                         : options_.timeout;
        drain_deadline = now_ns + grace.count();
      }
    } else if (phase == Phase::draining && stop == 1) {
      phase = Phase::draining_interrupted;
      interrupted_ = true;
      ctx_.issuing = false;
      drain_deadline =
          std::min(drain_deadline, now_ns + std::chrono::nanoseconds(kInterruptDrain).count());
    }
    if (ctx_.issuing) {
      while (!due_.empty() && due_.top().ns <= now_ns) {
        const std::uint32_t slot = due_.top().slot;
        due_.pop();
        queued_[slot] = false;
        schedule(slot);
      }
    }
    const bool draining = phase != Phase::sending;
    if (draining && (ctx_.in_flight == 0 || now_ns >= drain_deadline)) {
      break;
    }
    std::int64_t next = draining ? drain_deadline : ctx_.issue_end_ns;
    if (ctx_.issuing && !due_.empty()) {
      next = std::min(next, due_.top().ns);
    }
    loop_.run_once(*this, std::chrono::nanoseconds(std::max<std::int64_t>(0, next - now_ns)));
  }
  if (!counting) {
    // Open loop: what fell due before the end (or the interrupt) and never went out.
    for (auto& f : flows_) {
      ctx_.unsent += f->unsent(ctx_.measure_start_ns, stopped_ns_);
    }
  }
  if (!interrupted_) {
    // Messages overdue at the end are errors; the rest (an open loop's backlog, sent during
    // the drain less than --timeout before it ended) are only abandoned.
    const std::int64_t end_ns = to_ns(BenchClock::now());
    for (auto& f : flows_) {
      f->check_timeouts(ctx_, end_ns);
    }
  }
  for (auto& f : flows_) {
    f->finish(ctx_, /*abandon_in_flight=*/true);
  }
}

void BenchWorker::on_completion(const io::Completion& c) {
  if (c.token.slot >= flows_.size()) {
    return;
  }
  Flow& flow = *flows_[c.token.slot];
  if (flow.gen() != c.token.gen) {
    return;  // for a socket already closed
  }
  const auto now = BenchClock::now();
  switch (c.op) {
    case io::Op::connect:
      flow.on_connect(ctx_, c.res, now);
      return;
    case io::Op::recv:
    case io::Op::recv_from:
      flow.on_recv(ctx_, c, to_ns(now));
      break;
    case io::Op::send:
      flow.on_send(ctx_, c.res);
      break;
    case io::Op::accept:
    case io::Op::readable:
      return;  // bench accepts nothing and watches no other descriptor
  }
  if (ctx_.issuing) {
    schedule(c.token.slot);
  }
}

}  // namespace netecho::client
