#include "server/metrics/process.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace netecho::server::metrics {
namespace {

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<double> boot_time() {
  const std::string stat = read_file("/proc/stat");
  const auto at = stat.find("\nbtime ");
  if (at == std::string::npos) {
    return std::nullopt;
  }
  return std::stod(stat.substr(at + 7));
}

std::optional<std::uint64_t> count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    return std::nullopt;
  }
  std::uint64_t n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') {
      ++n;
    }
  }
  ::closedir(dir);
  return n - 1;  // the directory's own descriptor, open while it is read
}

}  // namespace

ProcessSnapshot parse_proc_stat(std::string_view stat, long ticks_per_second, long page_size,
                                std::optional<double> boot) {
  ProcessSnapshot p;
  // Field 2, the command, is in parentheses and may hold spaces: count fields after its ')'.
  const auto close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) {
    return p;
  }
  std::int64_t fields[64] = {};
  std::size_t n = 0;
  std::size_t pos = close + 2;  // field 3, the state, is not a number: skip it
  pos = stat.find(' ', pos);
  while (pos != std::string_view::npos && n < 64) {
    ++pos;
    std::int64_t v = 0;  // a few fields (priority, nice) may be negative
    const auto r = std::from_chars(stat.data() + pos, stat.data() + stat.size(), v);
    if (r.ec != std::errc()) {
      break;
    }
    fields[n++] = v;
    pos = stat.find(' ', pos);
  }
  // fields[0] is field 4 (ppid): utime 14, stime 15, starttime 22, vsize 23, rss 24.
  if (n < 21) {
    return p;
  }
  const auto tick = static_cast<double>(ticks_per_second);
  const auto u = [&fields](std::size_t i) { return static_cast<std::uint64_t>(fields[i]); };
  p.cpu_seconds = static_cast<double>(u(10) + u(11)) / tick;
  if (boot) {
    p.start_time_seconds = *boot + static_cast<double>(fields[18]) / tick;
  }
  p.virtual_bytes = u(19);
  p.resident_bytes = u(20) * static_cast<std::uint64_t>(page_size);
  return p;
}

ProcessSnapshot read_process() {
  // The boot time never changes, and /proc/stat is costly to generate (a line per CPU, every
  // interrupt's count: about half of a scrape's CPU time when read each time): read it once.
  static const std::optional<double> boot = boot_time();
  ProcessSnapshot p = parse_proc_stat(read_file("/proc/self/stat"), ::sysconf(_SC_CLK_TCK),
                                      ::sysconf(_SC_PAGESIZE), boot);
  p.open_fds = count_open_fds();
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    p.max_fds = lim.rlim_cur;
  }
  return p;
}

std::optional<double> thread_cpu_seconds(pthread_t thread) {
  clockid_t clock;
  timespec ts{};
  if (::pthread_getcpuclockid(thread, &clock) != 0 || ::clock_gettime(clock, &ts) != 0) {
    return std::nullopt;
  }
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace netecho::server::metrics
