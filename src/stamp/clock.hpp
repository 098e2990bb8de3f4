#pragma once
// What this host's clock can honestly say about its timestamps (RFC 4656's Error Estimate): the
// kernel's view through adjtimex(2), which a time daemon (chrony, ntpd, systemd-timesyncd)
// keeps up to date.

#include "stamp/packet.hpp"

namespace netecho::stamp {

// S set only when the kernel says the clock is synchronized (adjtimex returns no TIME_ERROR and
// STA_UNSYNC is clear); the error is its estimated error (esterror) when synchronized, else its
// maximum error (maxerror). One system call: callers cache it (once a second is plenty; the
// kernel updates these once a second too).
ErrorEstimate local_error_estimate(TimestampFormat f) noexcept;

// CLOCK_REALTIME in nanoseconds since the Unix epoch.
std::int64_t realtime_ns() noexcept;

}  // namespace netecho::stamp
