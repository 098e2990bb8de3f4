#pragma once
// `netecho ping`: ping for TCP and UDP echo services. Probes go out on a fixed schedule (probe k
// at start + k * interval, so the schedule never drifts), each carries a probe frame (sequence
// number, send time, session) and every reply is checked byte for byte. One line per reply or
// timeout, and ping's summary at the end or on the stop signal.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>

#include "client/outcome.hpp"
#include "io/probe.hpp"
#include "net/address.hpp"

namespace netecho::client {

enum class PingOutput : std::uint8_t { text, json, json_lines };

struct PingOptions {
  net::Target target{net::Transport::tcp, {"127.0.0.1", 12345}};
  net::SockAddr peer;  // the target, resolved (by the caller): the address probed
  std::optional<std::uint64_t> count;  // unset: until stopped or the deadline
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  std::size_t size = 64;  // bytes per probe, header included (at least kProbeHeaderSize)
  std::chrono::nanoseconds timeout = std::chrono::seconds(1);  // per probe
  std::optional<std::chrono::nanoseconds> deadline;            // for the whole run
  bool quiet = false;
  net::Family family = net::Family::any;
  bool connect_per_probe = false;  // TCP: a new connection for every probe
  bool reverse = false;            // UDP: the server answers with the bytes reversed
  PingOutput output = PingOutput::text;
  io::BackendChoice backend;  // chosen by the command layer
  // The run ends (summary printed, exit code by the usual rule) once this descriptor turns
  // readable, e.g. an io::SignalFd for SIGINT. -1: none. The descriptor is not read.
  int stop_fd = -1;
};

// Probes options.peer. Writes reply lines and the summary (or JSON) to out, diagnostics to err.
// The outcome follows ping: ok when at least one probe was answered in time (with both count
// and deadline set: when count probes were), failed otherwise, error when the run could not
// start. A write to out that fails (EPIPE: `netecho ping ... | head -2`) ends the run at once,
// with no summary, failed, as a write error ends a GNU tool (SIGPIPE is ignored, so ping is
// not killed by it as iputils ping is).
Outcome run_ping(const PingOptions& options, std::FILE* out, std::FILE* err);

}  // namespace netecho::client
