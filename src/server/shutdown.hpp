#pragma once
// How the server ends. The main thread waits here, in sigtimedwait, for the signals that
// Server::block_signals() blocked in every thread, and for its workers' notes (SIGUSR1 sent to
// it by pthread_kill), and decides:
//   - SIGHUP: logged, and nothing else (there is nothing to reload). It never kills.
//   - SIGTERM or SIGINT: a graceful stop. Every worker closes its listeners at once; then
//     "draining connections=N timeout_ms=T" is printed on stdout (a machine-readable line, as the
//     "listening" ones); connections finish the echo in flight and close. When none is left the
//     wait ends with `drained` (exit 0).
//   - the drain timeout (--drain-timeout) passes first: `drain_timeout`, and the rest are cut.
//   - a second SIGTERM or SIGINT during the drain: `second_signal`, at once.
//   - a worker failed: `failed`.
// SIGPIPE never kills: block_signals() ignores it, and every send uses MSG_NOSIGNAL anyway.
// Meanwhile the main thread runs the periodic tasks (the guard log's flush, the watchdog's ping),
// each about once per its period, until the wait ends.

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <vector>

namespace netecho::server {

enum class Ending { drained, drain_timeout, second_signal, failed };

// A task the waiting main thread runs once per period, first one period after the wait starts.
// A late wake-up does not make it run twice: the next run is one period after the due time, or
// one period after now when that has passed too.
struct Periodic {
  std::chrono::nanoseconds every{std::chrono::seconds(10)};  // must be positive
  std::function<void()> run;
};

struct ShutdownHooks {
  std::function<void()> begin_drain;       // asks every worker to drain
  std::function<bool()> listeners_closed;  // every worker has closed its listeners
  std::function<bool()> workers_ended;     // every worker has returned from run()
  std::function<bool()> worker_failed;
  std::function<std::size_t()> open_connections;
  std::vector<Periodic> periodic;
};

struct ShutdownTiming {
  std::chrono::nanoseconds drain_timeout{std::chrono::seconds(5)};
};

// Blocks until the server must end, and says why. out receives the "draining" line.
Ending wait_for_shutdown(const ShutdownHooks& hooks, const ShutdownTiming& timing, std::FILE* out);

}  // namespace netecho::server
