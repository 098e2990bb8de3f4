#pragma once
// The server's listening sockets, made ready before any worker runs: those it binds itself
// (one socket per worker and listener, joined by SO_REUSEPORT, so the kernel spreads the load)
// and those a supervisor passed (activation.hpp: one socket, which every worker serves through
// a descriptor of its own).

#include <chrono>
#include <string>
#include <vector>

#include "net/address.hpp"
#include "net/fd.hpp"
#include "server/activation.hpp"
#include "server/config.hpp"
#include "server/start_error.hpp"

namespace netecho::server {

struct BoundListener {
  ListenerSpec spec;
  net::SockAddr addr;               // with the real port
  std::vector<net::Fd> per_worker;  // one descriptor per worker
  // Passed by the supervisor, which keeps it (and the connections queued on it) for the next
  // start: the server must never shut it down, only close its own descriptors.
  bool passed = false;
};

// "tcp 127.0.0.1:7", "udp [::1]:7", for messages.
std::string describe(net::Transport transport, const net::SockAddr& addr);

// How long a start waits for a port that only an exited process's sockets still hold.
inline constexpr std::chrono::seconds kHeldPortWait{2};

// Resolves and binds each listener once per worker. Before binding, a plain bind checks that
// no other socket holds the address; when one does, and no running process holds it (the
// kernel still releasing the sockets of a process that has just exited, e.g. io_uring's after
// a crash), says so in one log line and tries again for up to kHeldPortWait. Throws
// StartError naming the listener, the reason, and the process holding the port if one
// can be seen.
std::vector<BoundListener> bind_listeners(const std::vector<ListenerSpec>& specs,
                                          unsigned workers);

// One listener per passed socket, each worker with a duplicate of its descriptor.
std::vector<BoundListener> adopt_passed(std::vector<PassedSocket> sockets, unsigned workers);

}  // namespace netecho::server
