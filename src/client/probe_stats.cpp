#include "client/probe_stats.hpp"

#include <cassert>
#include <cmath>

namespace netecho::client {

ProbeTracker::ProbeTracker(std::chrono::nanoseconds timeout, std::size_t history)
    : timeout_(timeout), history_(history) {}

ProbeTracker::Entry* ProbeTracker::find(std::uint64_t seq) {
  if (entries_.empty() || seq < first_seq_ || seq - first_seq_ >= entries_.size()) {
    return nullptr;
  }
  return &entries_[seq - first_seq_];
}

const ProbeTracker::Entry* ProbeTracker::find(std::uint64_t seq) const {
  return const_cast<ProbeTracker*>(this)->find(seq);
}

void ProbeTracker::on_sent(std::uint64_t seq, PingClock::time_point t) {
  if (entries_.empty()) {
    first_seq_ = seq;
  }
  assert(seq == first_seq_ + entries_.size());
  entries_.push_back({t, State::pending});
  pending_.push_back(seq);
  trim();
}

void ProbeTracker::settle(std::uint64_t seq, Entry& e, State state) {
  e.state = state;
  // Probes are settled mostly in order; when one in the middle settles first it stays in
  // pending_ until the ones before it are gone, and is skipped then.
  if (!pending_.empty() && pending_.front() == seq) {
    pending_.pop_front();
    while (!pending_.empty() && find(pending_.front())->state != State::pending) {
      pending_.pop_front();
    }
  }
  trim();
}

void ProbeTracker::trim() {
  while (entries_.size() > history_ && entries_.front().state != State::pending) {
    entries_.pop_front();
    ++first_seq_;
  }
}

ReplyMatch ProbeTracker::on_reply(std::uint64_t seq) {
  Entry* e = find(seq);
  if (e == nullptr) {
    return {};
  }
  ReplyMatch m{ReplyStatus::reply, e->sent, false};
  switch (e->state) {
    case State::pending:
      m.reordered = highest_answered_ && *highest_answered_ > seq;
      if (!highest_answered_ || seq > *highest_answered_) {
        highest_answered_ = seq;
      }
      settle(seq, *e, State::answered);
      break;
    case State::answered:
      m.status = ReplyStatus::duplicate;
      break;
    case State::timed_out:
    case State::failed:
      m.status = ReplyStatus::late;
      break;
  }
  return m;
}

bool ProbeTracker::fail(std::uint64_t seq) {
  Entry* e = find(seq);
  if (e == nullptr || e->state != State::pending) {
    return false;
  }
  settle(seq, *e, State::failed);
  return true;
}

std::optional<std::uint64_t> ProbeTracker::pop_expired(PingClock::time_point now) {
  // pending_ may hold settled seqs behind its front; skip them first.
  while (!pending_.empty() && find(pending_.front())->state != State::pending) {
    pending_.pop_front();
  }
  if (pending_.empty()) {
    return std::nullopt;
  }
  const std::uint64_t seq = pending_.front();
  Entry* e = find(seq);
  if (e->sent + timeout_ > now) {
    return std::nullopt;
  }
  settle(seq, *e, State::timed_out);
  return seq;
}

std::optional<PingClock::time_point> ProbeTracker::next_deadline() const {
  // The front of pending_ is always pending (settle() keeps it so).
  if (pending_.empty()) {
    return std::nullopt;
  }
  return find(pending_.front())->sent + timeout_;
}

bool ProbeTracker::is_pending(std::uint64_t seq) const {
  const Entry* e = find(seq);
  return e != nullptr && e->state == State::pending;
}

std::optional<PingClock::time_point> ProbeTracker::sent_at(std::uint64_t seq) const {
  const Entry* e = find(seq);
  return e == nullptr ? std::nullopt : std::optional(e->sent);
}

std::optional<RttSummary> summarize(const Histogram& h) {
  if (h.count() == 0) {
    return std::nullopt;
  }
  RttSummary s;
  s.min = static_cast<double>(h.min());
  s.avg = h.mean();
  s.max = static_cast<double>(h.max());
  s.mdev = h.stddev();
  s.p50 = static_cast<double>(h.percentile(50));
  s.p90 = static_cast<double>(h.percentile(90));
  s.p99 = static_cast<double>(h.percentile(99));
  return s;
}

double PingStats::loss_percent() const noexcept {
  if (transmitted == 0) {
    return 0;
  }
  const std::uint64_t lost = transmitted > received ? transmitted - received : 0;
  return 100.0 * static_cast<double>(lost) / static_cast<double>(transmitted);
}

Outcome probe_outcome(const PingStats& stats, std::optional<std::uint64_t> count,
                      bool deadline) noexcept {
  if (count && deadline) {
    return stats.received >= *count ? Outcome::ok : Outcome::failed;
  }
  return stats.received > 0 ? Outcome::ok : Outcome::failed;
}

void Jitter::add(std::chrono::nanoseconds delay) noexcept {
  if (last_) {
    const double d = std::abs(static_cast<double>((delay - *last_).count()));
    jitter_ns_ += (d - jitter_ns_) / 16;
    has_value_ = true;
  }
  last_ = delay;
}

std::optional<std::chrono::nanoseconds> Jitter::value() const noexcept {
  if (!has_value_) {
    return std::nullopt;
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(jitter_ns_));
}

}  // namespace netecho::client
