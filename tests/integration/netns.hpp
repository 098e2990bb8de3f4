#pragma once
// Network namespaces for tests that need more than loopback: several hosts with distinct
// addresses (clients behind a balancer, servers behind it), built with iproute2's `ip` as root
// and torn down by RAII, also when the test fails. Addresses are from the benchmarking range
// 198.18.0.0/15 (RFC 2544) and exist only inside these namespaces.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netecho::test {

// Why namespaces cannot be used here (not root, or `ip netns add` fails: its exact error), or
// nullopt when they can. Asked once per test process. A test that needs them skips with it:
//   if (auto why = netns_unavailable()) GTEST_SKIP() << *why;
std::optional<std::string> netns_unavailable();

// One network namespace with `lo` up. The name carries this process's pid, a counter and the
// role, so tests running in parallel (ctest -j) never collide. The destructor kills whatever
// still runs in it (a test that failed half-way) and deletes it, which deletes its interfaces
// and so the veth pairs they belong to.
class Netns {
 public:
  explicit Netns(std::string_view role);
  ~Netns();
  Netns(Netns&& o) noexcept;
  Netns& operator=(Netns&& o) noexcept;
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  const std::string& name() const { return name_; }
  // argv prefixed with `nsenter --net=/run/netns/NAME --`, to start a process inside
  // (Process::spawn).
  std::vector<std::string> wrap(const std::vector<std::string>& argv) const;
  // Runs argv inside the namespace to completion; throws, with the command and its stderr,
  // when it fails. For set-up commands (ip addr, ip link, sysctl).
  void run(const std::vector<std::string>& argv) const;
  // Runs f on a thread of its own that has joined the namespace, and waits for it: the
  // sockets f opens belong to the namespace, also when used from other threads afterwards.
  // What f throws is rethrown here.
  void in(const std::function<void()>& f) const;

 private:
  void destroy() noexcept;
  std::string name_;
};

// The interfaces a link() made, one in each namespace.
struct VethPair {
  std::string a_if;
  std::string b_if;
};

// A veth pair between a and b, up, with a_cidr on a's end and b_cidr on b's (say
// "198.18.0.1/24" and "198.18.0.2/24"). Both ends live in the namespaces from the start, so
// nothing is ever left in the host's namespace; deleting either namespace deletes the pair.
VethPair link(const Netns& a, std::string_view a_cidr, const Netns& b, std::string_view b_cidr);

// A small L2 segment several namespaces share: a bridge in a namespace of its own, each host
// attached by a veth pair. Hosts reach each other directly (one subnet, no routing).
class Segment {
 public:
  explicit Segment(std::string_view role);
  // Attaches host with cidr (in 198.18.0.0/15) on a new interface; returns its name in host.
  std::string attach(const Netns& host, std::string_view cidr);
  const Netns& bridge_ns() const { return bridge_; }

 private:
  Netns bridge_;
};

}  // namespace netecho::test
