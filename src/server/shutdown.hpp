#pragma once
// How the server ends. The main thread runs an event loop (io::Loop) until then: the signals
// that Server::block_signals() blocked in every thread arrive through an io::SignalFd, the
// workers' notes as wake-ups of the loop (Server passes them on: io::Backend::wake() is
// thread-safe), and the drain timeout and the periodic tasks are the loop's timers. It decides:
//   - SIGHUP: logged, and nothing else (there is nothing to reload). It never kills.
//   - SIGUSR1: the counters so far, one line on stderr, as `dd` does; serving goes on.
//   - SIGTERM or SIGINT: a graceful stop. Every worker closes its listeners at once; then
//     "draining connections=N timeout_ms=T" is printed on stdout (a machine-readable line, as the
//     "listening" ones); connections finish the echo in flight and close. When none is left the
//     wait ends with `drained` (exit 0).
//   - the drain timeout (--drain-timeout) passes first: `drain_timeout`, and the rest are cut.
//   - a second SIGTERM or SIGINT during the drain: `second_signal`, at once.
//   - a worker failed: `failed`.
// SIGPIPE never kills: block_signals() ignores it, and every send uses MSG_NOSIGNAL anyway.
// The loop may carry other work of the main thread (the metrics listener): every completion
// that is not the signals' goes to the handler given for it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <vector>

#include "io/loop.hpp"

namespace netecho::server {

enum class Ending { drained, drain_timeout, second_signal, failed };

// A task the main loop runs once per period, first one period after the wait starts. A late
// wake-up does not make it run twice: the next run is one period after the due time, or one
// period after now when that has passed too.
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
  std::function<void()> report;  // SIGUSR1: logs the counters so far
  std::vector<Periodic> periodic;
};

struct ShutdownTiming {
  std::chrono::nanoseconds drain_timeout{std::chrono::seconds(5)};
};

// The token of the signals' descriptor in the main loop: the other handler must not use its slot.
inline constexpr io::Token kSignalToken{std::numeric_limits<std::uint32_t>::max(), 0};

// Turns loop until the server must end, and says why. out receives the "draining" line; other
// (may be null) receives the loop's completions that are not the signals'. The loop's timers
// armed here refer to this call: do not turn the loop again afterwards. Throws
// std::system_error when the signals cannot be set up.
Ending run_until_shutdown(io::Loop& loop, io::Handler* other, const ShutdownHooks& hooks,
                          const ShutdownTiming& timing, std::FILE* out);

}  // namespace netecho::server
