#pragma once
// The bookkeeping of `netecho stamp` beyond ping's (client/probe_stats.hpp), free of I/O: what
// the four timestamps of a reply say, which kind of reflector answers, the loss of each
// direction, and the run's counters.

#include <chrono>
#include <cstdint>
#include <optional>

#include "client/histogram.hpp"
#include "client/probe_stats.hpp"

namespace netecho::client {

// A reply's four times, ns since the Unix epoch: T1 the sender sent, T2 the reflector received,
// T3 the reflector sent, T4 the sender received.
struct StampTimes {
  std::int64_t t1 = 0, t2 = 0, t3 = 0, t4 = 0;
};

struct StampDelays {
  std::chrono::nanoseconds round_trip{};  // (T4 - T1) - (T3 - T2): without the reflector's time
  std::chrono::nanoseconds reflector{};   // T3 - T2
  // Only when both clocks say they are synchronized: a one-way delay across two unsynchronized
  // clocks is their offset as much as a delay, a number that means nothing.
  std::optional<std::chrono::nanoseconds> far_end;   // T2 - T1, the way there
  std::optional<std::chrono::nanoseconds> near_end;  // T4 - T3, the way back
};

StampDelays delays_of(const StampTimes& t, bool clocks_synchronized) noexcept;

enum class ReflectorKind : std::uint8_t {
  unknown,    // no reply yet
  stateless,  // every reply's sequence number is the request's (RFC 8762 §4.2.1)
  stateful,   // some differ: the reflector counts what it received (§4.3)
};

// Tells the kinds of reflector apart from the first replies, and, with a stateful one, splits
// the loss by direction. The reflector's count r for our packet s says how many of our packets
// 0..s it received (r + 1), so up to the highest s answered, s - r were lost on the way there
// and the rest of the missing replies on the way back; what was sent after it and never
// answered was lost one way or the other, which no packet tells.
//
// A stateful reflector that lost nothing on the way there answers with our own sequence
// numbers, so it looks stateless: no loss on the way there is then all one can say, and the
// summary says "stateless" for both.
class DirectionLoss {
 public:
  void on_reply(std::uint32_t sender_seq, std::uint32_t reflector_seq) noexcept;

  ReflectorKind kind() const noexcept;
  // Stateful only (nullopt otherwise). received: the first replies in time (PingStats).
  std::optional<std::uint64_t> forward_lost() const noexcept;
  std::optional<std::uint64_t> backward_lost(std::uint64_t received) const noexcept;
  std::optional<std::uint64_t> unknown_lost(std::uint64_t transmitted) const noexcept;

 private:
  bool any_ = false;
  bool differs_ = false;
  std::uint32_t max_sender_ = 0;
  std::uint32_t reflector_at_max_ = 0;
};

// The run's counters: ping's, whose rtt is the round trip without the reflector's delay, and
// STAMP's own.
struct StampStats {
  PingStats probes;
  Histogram reflector;  // T3 - T2
  Histogram far_end;    // T2 - T1, only replies with both clocks synchronized
  Histogram near_end;   // T4 - T3
  Jitter jitter;        // of the round trip, in the order the replies arrive
  DirectionLoss directions;
  // Replies counted in probes.errors and otherwise ignored, by reason.
  std::uint64_t malformed = 0;      // shorter than the base packet, or cut by the socket
  std::uint64_t bad_hmac = 0;       // authenticated: the HMAC does not match the key
  std::uint64_t other_session = 0;  // a sequence, T1 or SSID this run did not send
  // Replies whose one-way delays were not shown, and why (the first reply's reason).
  std::uint64_t unsynchronized = 0;
  bool local_unsynchronized = false;
  bool reflector_unsynchronized = false;
};

}  // namespace netecho::client
