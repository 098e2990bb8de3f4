#include "netns.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <thread>
#include <utility>

#include "harness.hpp"

namespace netecho::test {
namespace {

// One counter for namespace and interface names alike: every name this process makes is new.
unsigned next_serial() {
  static std::atomic<unsigned> serial{0};
  return serial++;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    out += (out.empty() ? "" : " ") + a;
  }
  return out;
}

// Runs a command in the host's namespace; throws with its stderr when it fails.
void must_run(const std::vector<std::string>& argv) {
  const RunResult r = run(argv, {}, 30s);
  if (r.exit_code != 0) {
    throw std::runtime_error("`" + joined(argv) + "` failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.err);
  }
}

// Throws unless cidr is an IPv4 address with a prefix length inside 198.18.0.0/15, the only
// addresses these tests may put on an interface.
void check_test_cidr(std::string_view cidr) {
  const auto slash = cidr.find('/');
  in_addr addr{};
  const std::string host(cidr.substr(0, slash));
  if (slash == std::string_view::npos || ::inet_pton(AF_INET, host.c_str(), &addr) != 1 ||
      (ntohl(addr.s_addr) & 0xfffe0000u) != 0xc6120000u) {
    throw std::invalid_argument("test address " + std::string(cidr) +
                                " is not ADDRESS/PREFIX inside 198.18.0.0/15");
  }
}

// A new interface name, unique in this process and across processes (the pid), within
// IFNAMSIZ - 1 = 15 characters: "v" + pid (at most 7 digits) + "_" + serial + side.
std::string veth_name(unsigned serial, char side) {
  std::string name = "v" + std::to_string(::getpid()) + "_" + std::to_string(serial) + side;
  if (name.size() > 15) {
    throw std::length_error("interface name " + name + " is longer than IFNAMSIZ allows");
  }
  return name;
}

void configure(const Netns& ns, const std::string& ifname, std::string_view cidr) {
  ns.run({"ip", "addr", "add", std::string(cidr), "dev", ifname});
  ns.run({"ip", "link", "set", ifname, "up"});
}

}  // namespace

std::optional<std::string> netns_unavailable() {
  static const std::optional<std::string> why = []() -> std::optional<std::string> {
    if (::geteuid() != 0) {
      return "network namespaces need root (euid " + std::to_string(::geteuid()) + ")";
    }
    if (!have_command("ip")) {
      return std::string("iproute2's `ip` is not installed");
    }
    const std::string probe = "netecho-probe-" + std::to_string(::getpid());
    const RunResult r = run({"ip", "netns", "add", probe}, {}, 30s);
    if (r.exit_code != 0) {
      return "`ip netns add " + probe + "` failed: " + r.err;
    }
    run({"ip", "netns", "delete", probe}, {}, 30s);
    return std::nullopt;
  }();
  return why;
}

// ---------------------------------------------------------------- Netns

Netns::Netns(std::string_view role)
    : name_("netecho-" + std::to_string(::getpid()) + "-" + std::to_string(next_serial()) + "-" +
            std::string(role)) {
  must_run({"ip", "netns", "add", name_});
  try {
    run({"ip", "link", "set", "lo", "up"});
  } catch (...) {
    destroy();
    throw;
  }
}

Netns::~Netns() { destroy(); }

Netns::Netns(Netns&& o) noexcept : name_(std::exchange(o.name_, {})) {}

Netns& Netns::operator=(Netns&& o) noexcept {
  if (this != &o) {
    destroy();
    name_ = std::exchange(o.name_, {});
  }
  return *this;
}

void Netns::destroy() noexcept {
  if (name_.empty()) {
    return;
  }
  try {
    // A process still inside (its test failed before stopping it) would keep the namespace,
    // and its interfaces, alive after the delete: end it first. The Process owning it, if
    // any, still reaps it.
    const RunResult pids = test::run({"ip", "netns", "pids", name_}, {}, 30s);
    for (const auto& line : lines_of(pids.out)) {
      if (!line.empty()) {
        ::kill(static_cast<pid_t>(std::stol(line)), SIGKILL);
      }
    }
    test::run({"ip", "netns", "delete", name_}, {}, 30s);
  } catch (...) {
    // A destructor cannot report more: `ip netns list` in the test shows a leftover.
  }
  name_.clear();
}

// nsenter, not `ip netns exec`: that also makes a mount namespace and remounts /sys, which
// fails where / is not a mount point (a chroot, such as a fresh Debian root made with
// debootstrap), and nothing here needs more than the network namespace.
std::vector<std::string> Netns::wrap(const std::vector<std::string>& argv) const {
  std::vector<std::string> out{"nsenter", "--net=/run/netns/" + name_, "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

void Netns::run(const std::vector<std::string>& argv) const { must_run(wrap(argv)); }

void Netns::in(const std::function<void()>& f) const {
  std::exception_ptr failure;
  std::thread t([&] {
    try {
      const int fd = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
        const int err = errno;
        if (fd >= 0) {
          ::close(fd);
        }
        throw std::runtime_error("joining network namespace " + name_ + ": " + std::strerror(err));
      }
      ::close(fd);
      f();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  t.join();
  if (failure) {
    std::rethrow_exception(failure);
  }
}

// ---------------------------------------------------------------- links

VethPair link(const Netns& a, std::string_view a_cidr, const Netns& b, std::string_view b_cidr) {
  check_test_cidr(a_cidr);
  check_test_cidr(b_cidr);
  const unsigned serial = next_serial();
  VethPair pair{veth_name(serial, 'a'), veth_name(serial, 'b')};
  // Made inside a, with the peer sent straight into b.
  a.run({"ip", "link", "add", pair.a_if, "type", "veth", "peer", "name", pair.b_if, "netns",
         b.name()});
  configure(a, pair.a_if, a_cidr);
  configure(b, pair.b_if, b_cidr);
  return pair;
}

Segment::Segment(std::string_view role) : bridge_(std::string(role) + "-br") {
  bridge_.run({"ip", "link", "add", "br0", "type", "bridge"});
  bridge_.run({"ip", "link", "set", "br0", "up"});
}

std::string Segment::attach(const Netns& host, std::string_view cidr) {
  check_test_cidr(cidr);
  const unsigned serial = next_serial();
  const std::string port = veth_name(serial, 'p');
  const std::string ifname = veth_name(serial, 'h');
  bridge_.run(
      {"ip", "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", host.name()});
  bridge_.run({"ip", "link", "set", port, "master", "br0", "up"});
  configure(host, ifname, cidr);
  return ifname;
}

}  // namespace netecho::test
