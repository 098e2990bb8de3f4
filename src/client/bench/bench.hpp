#pragma once
// `netecho bench`: a load generator for any RFC 862 echo server whose figures can be trusted.
//
// One worker thread per core, each with its own event loop (io::Loop over the backend that
// io::make_backend picks) and its own share of the connections ("flows"); nothing is shared on
// the hot path but single-writer relaxed counters. Each flow keeps up to `pipeline` messages in
// flight. Closed loop (no rate): a flow sends its next message as soon as an echo frees a slot,
// and latency counts from the send. Open loop (--rate): each flow follows a Pacer schedule and
// latency counts from the intended send time, as wrk2 does, so a stalled server shows in the
// tail. Every echoed byte is checked: TCP against a per-flow deterministic stream (Pattern),
// UDP against probe frames (sequence number, send time, fill), with loss, duplicates and
// reordering counted.
//
// A run: resolve; connect every flow (timed, in parallel); start all threads together; warm up
// (echoes not measured); measure for the duration or until the message count is reached; stop
// sending and drain what is in flight (up to --timeout; unanswered messages are timeouts or
// losses); report. SIGINT or SIGTERM ends the run early (drain at most 1 s) and the report
// covers what was measured; a second signal skips the drain.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "client/bench/stats.hpp"
#include "client/histogram.hpp"
#include "client/outcome.hpp"
#include "io/probe.hpp"
#include "net/address.hpp"

namespace netecho::client {

struct BenchOptions {
  net::Target target{net::Transport::tcp, {"127.0.0.1", 12345}};
  std::vector<net::SockAddr> addresses;  // the target, resolved (by the caller), tried in order
  std::uint32_t connections = 10;
  // Measured time after the warm-up. Ignored when messages is set.
  std::chrono::nanoseconds duration = std::chrono::seconds(10);
  // Measured messages in all (spread evenly over connections); 0: run for duration.
  std::uint64_t messages = 0;
  std::size_t message_size = 64;
  bool reverse = false;  // UDP: the server answers with the datagram's bytes reversed
  std::uint32_t pipeline = 1;  // messages in flight per connection
  unsigned threads = 0;        // 0: one per available CPU; never more than connections
  double rate = 0;             // total messages per second, open loop; 0: closed loop
  std::chrono::nanoseconds warmup{0};
  std::chrono::nanoseconds connect_timeout = std::chrono::seconds(5);
  // A message not answered this long after it was sent is a timeout (TCP) or lost (UDP).
  std::chrono::nanoseconds timeout = std::chrono::seconds(2);
  io::BackendChoice backend;  // chosen by the command layer
  std::string json_path;  // empty: no JSON; "-": standard output (the text report then goes to err)
  std::string plot_path;  // empty: no plot
  std::string hdr_log_path;  // empty: no HdrHistogram interval log
  std::optional<bool> live;  // the per-second line; unset: only when out is a terminal
};

// The smallest message bench can verify: TCP any size; UDP needs a probe header.
std::size_t min_message_size(net::Transport transport) noexcept;
// The largest: one UDP datagram, or 64 MiB on TCP.
std::size_t max_message_size(net::Transport transport) noexcept;

// One run's errors inside a merged result (`netecho bench merge`), named by where it came from.
struct BenchSource {
  std::string name;  // the document's file name
  std::string address;
  std::string started_at;
  std::uint64_t errors[kErrorKinds] = {};
  std::string first_error;
};

// Everything a report needs, merged over the worker threads (or, by `netecho bench merge`, over
// several runs).
struct BenchResult {
  BenchOptions options;
  std::string address;  // the address the first connection used ("127.0.0.1:7")
  std::string backend;  // "epoll", "io_uring"
  unsigned threads = 0;
  std::string started_at;    // UTC, ISO 8601, when the measurement began
  std::int64_t started_unix_ns = 0;  // the same, in nanoseconds since the epoch
  bool interrupted = false;  // ended early by a signal
  bool warmup_only = false;  // interrupted before the measured window began

  std::uint32_t connected = 0;          // connections established
  std::chrono::nanoseconds elapsed{0};  // the measured window
  std::uint64_t messages = 0;           // echoes measured (sent in the window, answered intact)
  Histogram latency;                    // their latencies
  Histogram connect;                    // connect times of every connection

  std::uint64_t errors[kErrorKinds] = {};
  std::uint64_t reordered = 0;  // UDP: replies that arrived after a later datagram's reply
  std::uint64_t late = 0;       // UDP: replies that arrived after their datagram counted as lost
  std::uint64_t abandoned = 0;  // in flight at the end, sent less than --timeout before it
  std::uint64_t unsent = 0;     // open loop: fell due in the measured window, never sent
  std::string first_error;      // the first error's details, if any
  std::vector<BenchSource> sources;  // merged runs only: each run's own errors

  // Everything on the wire, warm-up and drain included: compare with the server's counters.
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t warmup_messages = 0;

  double cpu_user_s = 0;  // bench's CPU time from the start of sending to the end of the drain
  double cpu_system_s = 0;
  // io_uring: times a connection's receives found the buffer ring empty (io/backend.hpp).
  std::uint64_t buffer_exhaustions = 0;

  std::uint64_t error_total() const noexcept;
  double messages_per_second() const noexcept;
  double megabytes_per_second() const noexcept;  // echoed payload, one direction, 10^6 B
  double cpu_per_message_us() const noexcept;    // over messages_received
  // Why a run measured nothing ("interrupted during the warm-up", "no message came back
  // intact"); empty when it measured something.
  std::string measured_nothing() const;
  // What the errors suggest, when they suggest something ("the server may be rate-limiting
  // ..."); empty otherwise.
  std::string hint() const;
};

// Runs the benchmark, prints the live line (when enabled) and the report to out, one-line
// failures to err, and writes the JSON and SVG files asked for. ok for a run without errors,
// failed for a run with errors or one that could not start (closed port, unwritable output
// file). Blocks SIGINT, SIGTERM and SIGUSR1 in the calling thread while it
// runs; call it before any other thread is started.
Outcome run_bench(const BenchOptions& options, std::FILE* out, std::FILE* err);

}  // namespace netecho::client
