#include "server/privileges.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.hpp"
#include "server/start_error.hpp"

namespace netecho::server {
namespace {

[[noreturn]] void fail(const RunAs& r, std::string_view step, int err) {
  throw StartError(fmt::format("--user {}: cannot drop privileges: {} failed: {}", r.name,
                                     step, std::strerror(err)));
}

[[noreturn]] void fail_check(const RunAs& r, std::string_view what) {
  throw StartError(
      fmt::format("--user {}: privileges not dropped for good: {}", r.name, what));
}

bool has_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) {
    return true;  // cannot tell: assume the worst
  }
  return std::any_of(std::begin(data), std::end(data),
                     [](const auto& d) { return d.effective != 0 || d.permitted != 0; });
}

}  // namespace

RunAs lookup_user(std::string_view name) {
  const std::string n(name);
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<std::size_t>(size) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc = ::getpwnam_r(n.c_str(), &pw, buf.data(), buf.size(), &found);
  if (found == nullptr && !n.empty() &&
      std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      n.size() <= 10) {
    rc = ::getpwuid_r(static_cast<uid_t>(std::stoul(n)), &pw, buf.data(), buf.size(), &found);
  }
  if (found == nullptr) {
    throw StartError(
        rc != 0 ? fmt::format("--user {}: cannot look the user up: {}", name, std::strerror(rc))
                : fmt::format("--user {}: no such user", name));
  }
  RunAs r{n, pw.pw_uid, pw.pw_gid};
  if (::geteuid() != 0 && (r.uid != ::geteuid() || r.uid != ::getuid())) {
    throw StartError(fmt::format("--user {}: switching to another user needs root (this "
                                       "process runs as uid {})",
                                       name, ::geteuid()));
  }
  return r;
}

void drop_privileges(const RunAs& r) {
  if (::geteuid() != 0) {
    return;  // lookup_user() made sure this is already the user: there is nothing to drop
  }
  if (::setgroups(0, nullptr) != 0) {
    fail(r, "setgroups", errno);
  }
  if (::setresgid(r.gid, r.gid, r.gid) != 0) {
    fail(r, "setresgid", errno);
  }
  if (::setresuid(r.uid, r.uid, r.uid) != 0) {
    fail(r, "setresuid", errno);
  }
  // Verify, as POS37-C asks: nothing may be regained.
  uid_t ru = 0, eu = 0, su = 0;
  gid_t rg = 0, eg = 0, sg = 0;
  if (::getresuid(&ru, &eu, &su) != 0 || ru != r.uid || eu != r.uid || su != r.uid) {
    fail_check(r, "a user id differs");
  }
  if (::getresgid(&rg, &eg, &sg) != 0 || rg != r.gid || eg != r.gid || sg != r.gid) {
    fail_check(r, "a group id differs");
  }
  if (::getgroups(0, nullptr) != 0) {
    fail_check(r, "supplementary groups remain");
  }
  if (r.uid != 0) {
    if (::setuid(0) == 0 || ::seteuid(0) == 0) {
      fail_check(r, "uid 0 can be regained");
    }
    if (r.gid != 0 && (::setgid(0) == 0 || ::setegid(0) == 0)) {
      fail_check(r, "gid 0 can be regained");
    }
    if (has_capabilities()) {
      fail_check(r, "capabilities remain");
    }
  }
  base::log_event(base::Level::info, "running as another user, no supplementary groups",
                  {{"user", r.name}, {"uid", r.uid}, {"gid", r.gid}});
}

}  // namespace netecho::server
