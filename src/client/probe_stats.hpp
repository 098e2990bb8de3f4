#pragma once
// The bookkeeping behind the probing tools (`netecho ping`, `netecho stamp`), free of I/O so it
// can be tested alone: which probes are in flight, what a reply means (answer, duplicate, late,
// out of order), when a probe has timed out, and the run's counters and round-trip statistics.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "client/histogram.hpp"
#include "client/outcome.hpp"

namespace netecho::client {

using PingClock = std::chrono::steady_clock;

enum class ReplyStatus : std::uint8_t {
  reply,       // the first reply to a probe still waiting for one
  duplicate,   // a further reply to a probe already answered
  late,        // a reply to a probe that already timed out or failed
  unexpected,  // a sequence number this run never sent, or too old to remember
};

struct ReplyMatch {
  ReplyStatus status = ReplyStatus::unexpected;
  PingClock::time_point sent{};  // when the probe was registered; unset for unexpected
  bool reordered = false;        // reply only: a later probe was answered first
};

// Follows every probe from registration to its reply, timeout or failure. Sequence numbers are
// registered consecutively, in increasing order, with non-decreasing times, so deadlines come
// due in sequence order. Memory is bounded: a probe is forgotten once it is settled and more
// than `history` newer probes exist; probes in flight are always kept.
class ProbeTracker {
 public:
  explicit ProbeTracker(std::chrono::nanoseconds timeout, std::size_t history = 4096);

  // Registers probe seq, sent (or due) at t; its deadline is t + timeout. The first call may
  // use any seq; each later call must use the previous seq + 1.
  void on_sent(std::uint64_t seq, PingClock::time_point t);

  // Classifies a reply carrying seq and settles the probe when it is the first answer.
  ReplyMatch on_reply(std::uint64_t seq);

  // Settles a pending probe that can no longer be answered (its connection failed). Returns
  // false when seq was not pending. A reply arriving later counts as late.
  bool fail(std::uint64_t seq);

  // Settles and returns the oldest pending probe whose deadline is at or before now; nullopt
  // when none is due. Call repeatedly to collect every timeout.
  std::optional<std::uint64_t> pop_expired(PingClock::time_point now);

  // The earliest deadline of a pending probe.
  std::optional<PingClock::time_point> next_deadline() const;

  bool is_pending(std::uint64_t seq) const;
  // When probe seq was registered, while it is remembered.
  std::optional<PingClock::time_point> sent_at(std::uint64_t seq) const;
  std::size_t in_flight() const noexcept { return pending_.size(); }

 private:
  enum class State : std::uint8_t { pending, answered, timed_out, failed };
  struct Entry {
    PingClock::time_point sent;
    State state;
  };

  Entry* find(std::uint64_t seq);
  const Entry* find(std::uint64_t seq) const;
  void settle(std::uint64_t seq, Entry& e, State state);
  void trim();

  std::chrono::nanoseconds timeout_;
  std::size_t history_;
  std::deque<Entry> entries_;  // entries_[i] is probe first_seq_ + i
  std::uint64_t first_seq_ = 0;
  std::deque<std::uint64_t> pending_;  // pending seqs, ascending (and so by deadline)
  std::optional<std::uint64_t> highest_answered_;
};

// Round-trip figures in nanoseconds, as ping prints them (mdev is the population standard
// deviation) plus three percentiles from the histogram.
struct RttSummary {
  double min = 0, avg = 0, max = 0, mdev = 0;
  double p50 = 0, p90 = 0, p99 = 0;
};

// nullopt when the histogram is empty.
std::optional<RttSummary> summarize(const Histogram& h);

// The run's counters. transmitted counts every probe the run started; received counts probes
// answered within their timeout (duplicates and late replies are counted apart, not in it).
struct PingStats {
  std::uint64_t transmitted = 0;
  std::uint64_t received = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t late = 0;
  std::uint64_t reordered = 0;   // received, but after a later probe's reply
  std::uint64_t errors = 0;      // corrupt replies, refused/reset connections, failed sends
  std::uint64_t connects = 0;    // TCP connections established
  std::uint64_t reconnects = 0;  // TCP: connections re-opened after one was lost
  std::string first_error;  // the first error event's line ("error from ...: seq=1 ..."), if any
  Histogram rtt;
  Histogram connect;  // TCP --connect: time to establish each connection

  // (transmitted - received) / transmitted in percent; 0 when nothing was sent.
  double loss_percent() const noexcept;
};

// ping(8)'s outcome, which every probing tool follows: ok when at least one probe was answered
// in time (with both a count and a deadline: when count probes were), failed otherwise.
Outcome probe_outcome(const PingStats& stats, std::optional<std::uint64_t> count,
                      bool deadline) noexcept;

// Interarrival jitter as RFC 3550 §6.4.1 estimates it: J += (|D| - J) / 16, where D is the
// difference between the delays of two replies in a row (in the order they arrive).
class Jitter {
 public:
  void add(std::chrono::nanoseconds delay) noexcept;
  // nullopt before a second delay came.
  std::optional<std::chrono::nanoseconds> value() const noexcept;

 private:
  std::optional<std::chrono::nanoseconds> last_;
  double jitter_ns_ = 0;
  bool has_value_ = false;
};

}  // namespace netecho::client
