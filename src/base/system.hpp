#pragma once
// Facts about the process's environment that several layers need: how many CPUs it may run on,
// and how many descriptors it may open.

#include <cstdint>

namespace netecho::base {

// CPUs this process may run on (sched_getaffinity, so taskset is honoured), at least 1.
unsigned available_cpus() noexcept;

struct FileLimit {
  std::uint64_t before = 0;  // the soft RLIMIT_NOFILE found
  std::uint64_t after = 0;   // the soft limit now (the hard limit when raising worked)
};

// Makes a write to a closed socket or pipe fail with EPIPE instead of killing the process. Every
// entry point that writes to peers calls it once, before starting threads.
void ignore_sigpipe() noexcept;

// Raises the soft open-file limit to the hard limit. Never fails: when the limit cannot be read
// or raised, after == before.
FileLimit raise_open_file_limit() noexcept;

}  // namespace netecho::base
