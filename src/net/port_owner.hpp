#pragma once
// Who holds a local address: the sockets bound to it, read from /proc/net/{tcp,tcp6,udp,udp6}
// as `ss` reads them, and the running processes whose descriptor tables hold one of them
// (/proc/PID/fd). A bind that fails with EADDRINUSE asks this to tell a live process's port,
// which must stay a start-up error, from a socket that no process holds any more: one the
// kernel is still releasing for a process that has exited (io_uring's ring teardown after a
// crash, for instance), which frees itself within moments.

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>

#include "net/address.hpp"

namespace netecho::net {

struct PortHolders {
  std::size_t sockets = 0;         // sockets whose bound address overlaps addr (with a file)
  std::optional<pid_t> owner;      // a running process that holds one of them
  std::string owner_name;          // its command name, from /proc/PID/comm
  bool some_unreadable = false;    // the descriptors of some process could not be read
};

PortHolders port_holders(const SockAddr& addr, Transport transport);

// "socat, pid 1234", for messages.
std::string describe_owner(const PortHolders& holders);

}  // namespace netecho::net
