#include "server/guard_log.hpp"

#include <fmt/format.h>

#include <system_error>
#include <vector>

#include "base/duration.hpp"
#include "base/log.hpp"

namespace netecho::server {

void GuardLog::note(Guard g) noexcept {
  pending_[static_cast<std::size_t>(g)].fetch_add(1, std::memory_order_relaxed);
  // Only the first event after a quiet spell pays for more than the add: it writes a line at
  // once, unless a line was written less than an interval ago (then the next flush() will).
  if (!quiet_.load(std::memory_order_relaxed) || !quiet_.exchange(false)) {
    return;
  }
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return;
  }
  const auto now = Clock::now();
  if (!wrote_any_ || now - last_line_ >= interval_) {
    write_pending(now);
  }
}

void GuardLog::note_accept_error(int err) noexcept {
  last_errno_.store(err, std::memory_order_relaxed);
  note(Guard::accept_errors);
}

void GuardLog::flush() noexcept {
  const std::lock_guard lock(mutex_);
  write_pending(Clock::now());
}

bool GuardLog::detail_due(Guard g) noexcept {
  if (!base::enabled(base::Level::debug)) {
    return false;
  }
  auto& next = next_detail_[static_cast<std::size_t>(g)];
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count();
  std::int64_t due = next.load(std::memory_order_relaxed);
  // Of the threads that find it due, one wins the exchange and writes the line.
  return now >= due && next.compare_exchange_strong(due, now + interval_.count(),
                                                    std::memory_order_relaxed);
}

void GuardLog::write_pending(Clock::time_point now) noexcept try {
  std::vector<base::LogField> fields;
  const std::string since = base::format_duration(now - last_line_);
  if (wrote_any_) {
    fields.emplace_back("in_last", since);
  }
  std::string accept_error;
  for (std::size_t i = 0; i < kGuardKinds; ++i) {
    const std::uint64_t n = pending_[i].exchange(0, std::memory_order_relaxed);
    if (n == 0) {
      continue;
    }
    fields.emplace_back(to_string(static_cast<Guard>(i)), n);
    if (static_cast<Guard>(i) == Guard::accept_errors) {
      accept_error =
          std::system_category().message(last_errno_.load(std::memory_order_relaxed));
      fields.emplace_back("accept_error", accept_error);
    }
  }
  if (fields.size() == (wrote_any_ ? 1u : 0u)) {
    // Nothing since the last line: the next event is the start of a new spell.
    quiet_.store(true, std::memory_order_relaxed);
    return;
  }
  base::log_event(base::Level::warn, "refused or dropped", fields);
  last_line_ = now;
  wrote_any_ = true;
} catch (...) {
  // Out of memory: this line is lost; the counters keep the exact totals.
}

}  // namespace netecho::server
