#include "stamp/clock.hpp"

#include <sys/timex.h>
#include <time.h>

namespace netecho::stamp {

ErrorEstimate local_error_estimate(TimestampFormat f) noexcept {
  timex tx{};
  const int state = ::adjtimex(&tx);
  const bool synchronized = state >= 0 && state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
  if (state < 0) {
    // Unknown: claim no synchronization and the largest error the field can hold.
    ErrorEstimate e;
    e.format = f;
    e.scale = 63;
    e.multiplier = 255;
    return e;
  }
  const long micros = synchronized ? tx.esterror : tx.maxerror;
  return ErrorEstimate::from_error(std::chrono::microseconds(micros), synchronized, f);
}

std::int64_t realtime_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace netecho::stamp
