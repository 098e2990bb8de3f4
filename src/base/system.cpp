#include "base/system.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <thread>

namespace netecho::base {

unsigned available_cpus() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    return static_cast<unsigned>(std::max(1, CPU_COUNT(&set)));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

void ignore_sigpipe() noexcept { ::signal(SIGPIPE, SIG_IGN); }

FileLimit raise_open_file_limit() noexcept {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return {};
  }
  FileLimit result{lim.rlim_cur, lim.rlim_cur};
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) == 0) {
      result.after = lim.rlim_max;
    }
  }
  return result;
}

}  // namespace netecho::base
