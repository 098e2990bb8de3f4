#pragma once
// The figures of the standard process_* metrics, read from /proc/self and getrlimit, and a
// thread's CPU time read from another thread (pthread_getcpuclockid): what /metrics reports
// without the workers doing anything for it.

#include <pthread.h>

#include <optional>
#include <string_view>

#include "server/metrics/exposition.hpp"

namespace netecho::server::metrics {

ProcessSnapshot read_process();

// Parses the text of /proc/self/stat (with the values of sysconf(_SC_CLK_TCK), the page size
// and the boot time from /proc/stat's btime) into the snapshot's figures. Pure, for the tests.
ProcessSnapshot parse_proc_stat(std::string_view stat, long ticks_per_second, long page_size,
                                std::optional<double> boot_time);

// The CPU time of a running thread of this process, in seconds; nullopt once it has exited.
std::optional<double> thread_cpu_seconds(pthread_t thread);

}  // namespace netecho::server::metrics
