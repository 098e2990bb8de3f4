#include "server/guard_log.hpp"

#include <fmt/format.h>

#include <system_error>

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

void GuardLog::write_pending(Clock::time_point now) noexcept {
  std::string line;
  for (std::size_t i = 0; i < kGuardKinds; ++i) {
    const std::uint64_t n = pending_[i].exchange(0, std::memory_order_relaxed);
    if (n == 0) {
      continue;
    }
    line += fmt::format(" {}={}", to_string(static_cast<Guard>(i)), n);
    if (static_cast<Guard>(i) == Guard::accept_errors) {
      line += fmt::format(
          " ({})", std::system_category().message(last_errno_.load(std::memory_order_relaxed)));
    }
  }
  if (line.empty()) {
    // Nothing since the last line: the next event is the start of a new spell.
    quiet_.store(true, std::memory_order_relaxed);
    return;
  }
  if (wrote_any_) {
    base::log("refused or dropped in the last {}:{}", base::format_duration(now - last_line_),
              line);
  } else {
    base::log("refused or dropped:{}", line);
  }
  last_line_ = now;
  wrote_any_ = true;
}

}  // namespace netecho::server
