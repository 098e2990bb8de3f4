#pragma once
// Socket set-up and the few system calls the rest of netecho makes on sockets. Every call
// retries EINTR and returns errors as values.

#include <cstddef>
#include <span>

#include "net/address.hpp"
#include "net/error.hpp"
#include "net/fd.hpp"

namespace netecho::net {

struct ListenOptions {
  bool reuse_port = true;  // one socket per worker, the kernel spreads the load (SO_REUSEPORT)
  int backlog = 4096;
};

// A bound (and for TCP listening) non-blocking socket.
Result<Fd> open_listener(const SockAddr& addr, Transport transport, const ListenOptions& opts);

// Binds a plain socket (no SO_REUSEPORT) to addr and closes it, to tell whether some other
// socket holds the address: with SO_REUSEPORT alone, a second process of the same user
// would silently share the port instead of failing.
std::error_code check_address_free(const SockAddr& addr, Transport transport);

// The address a socket is bound to (getsockname).
Result<SockAddr> local_address(int fd);

Result<Fd> connect_blocking(const SockAddr& addr, Transport transport, int timeout_ms);

// Turns on delivery of the destination address of each datagram (IP_PKTINFO,
// IPV6_RECVPKTINFO), so replies from a wildcard socket leave from the address the client used.
std::error_code enable_packet_info(int fd, int family);

// One received datagram: its length, whether it was cut, where it came from and, when
// packet info is on, the local address it was sent to.
struct Datagram {
  std::size_t size = 0;
  bool truncated = false;
  SockAddr peer;
  bool has_local = false;
  SockAddr local;  // only the address; port unset
  int ifindex = 0;
};

// recvmsg into buf; a negative errno on failure (-EAGAIN when nothing is queued).
int receive_datagram(int fd, std::span<std::byte> buf, Datagram& out) noexcept;

// sendmsg of data to d.peer, from d.local when it is set. Returns bytes or a negative errno.
long send_datagram(int fd, std::span<const std::byte> data, const Datagram& d) noexcept;

}  // namespace netecho::net
