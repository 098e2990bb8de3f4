#pragma once
// What a bench thread counts, and how the reporting thread reads it without locks.
//
// Each worker thread owns one WorkerStats. Only that thread writes it, with relaxed atomic
// stores of load + n (a plain add on x86, no lock prefix); the main thread reads it at any time
// for the live line and, after joining the worker, for the final report. The same goes for
// LiveHistogram, whose buckets mirror Histogram's so that the main thread can rebuild the
// latency distribution of each second from the difference of two snapshots.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/counter.hpp"
#include "client/histogram.hpp"

namespace netecho::client {

// Single-writer counter: relaxed load and store, readable from any thread.
using Counter = base::Counter;

// Every way a message or a connection can fail. Each one makes the run exit non-zero.
enum class ErrorKind : std::uint8_t {
  connect,          // connect() refused or failed
  connect_timeout,  // no connection within --connect-timeout
  mismatch,         // an echoed byte or datagram differs from what was sent
  reset,            // the connection was reset, or a send or receive failed
  closed,           // the server closed the connection while messages were owed
  timeout,          // TCP: a message not answered within --timeout
  lost,             // UDP: a datagram not answered within --timeout
  duplicate,        // UDP: a reply to a datagram already answered
  refused,          // UDP: the port is unreachable (ICMP port unreachable)
};
inline constexpr std::array<base::Named<ErrorKind>, 9> kErrorTable{{
    {ErrorKind::connect, "connect", "connect() refused or failed"},
    {ErrorKind::connect_timeout, "connect_timeout", "no connection within --connect-timeout"},
    {ErrorKind::mismatch, "mismatch", "an echoed byte or datagram differs from what was sent"},
    {ErrorKind::reset, "reset", "the connection was reset, or a send or receive failed"},
    {ErrorKind::closed, "closed", "the server closed the connection while messages were owed"},
    {ErrorKind::timeout, "timeout", "TCP: a message not answered within --timeout"},
    {ErrorKind::lost, "lost", "UDP: a datagram not answered within --timeout"},
    {ErrorKind::duplicate, "duplicate", "UDP: a reply to a datagram already answered"},
    {ErrorKind::refused, "refused", "UDP: the port is unreachable (ICMP port unreachable)"},
}};
static_assert(base::is_enum_table(kErrorTable, ErrorKind::refused));
inline constexpr std::size_t kErrorKinds = kErrorTable.size();

// The name used in reports and JSON ("connect_timeout").
constexpr std::string_view error_name(ErrorKind kind) noexcept {
  return kErrorTable[base::index_of(kind)].name;
}

// Per-second latency buckets with the same layout as Histogram's.
class LiveHistogram {
 public:
  LiveHistogram() : counts_(std::make_unique<Counter[]>(Histogram::kBucketCount)) {}
  void record(std::uint64_t ns) noexcept { counts_[Histogram::bucket_index(ns)].add(); }
  // Copies the bucket counts into out (resized to kBucketCount).
  void snapshot(std::vector<std::uint64_t>& out) const;

 private:
  std::unique_ptr<Counter[]> counts_;
};

struct alignas(64) WorkerStats {
  Counter messages;        // echoes received complete and intact (warm-up included)
  Counter bytes_sent;      // written to sockets
  Counter bytes_received;  // read from sockets
  Counter errors;          // sum of errors_by_kind
  Counter errors_by_kind[kErrorKinds];
  LiveHistogram live;  // latencies of every echo, for the live line

  void error(ErrorKind kind, std::uint64_t n = 1) noexcept {
    errors_by_kind[static_cast<std::size_t>(kind)].add(n);
    errors.add(n);
  }
};

}  // namespace netecho::client
