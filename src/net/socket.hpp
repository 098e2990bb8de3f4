#pragma once
// Socket set-up and the few system calls the rest of netecho makes on sockets. Every call
// retries EINTR and returns errors as values.

#include <chrono>
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

// Starts a non-blocking connect and returns the socket with the connection in progress (or
// already made: loopback and UDP often complete at once). The socket turns writable when the
// attempt ends; finish_connect() then tells how it ended.
Result<Fd> start_connect(const SockAddr& addr, Transport transport);

// The outcome of a connect started by start_connect(), read once the socket is writable
// (SO_ERROR): no error when connected.
std::error_code finish_connect(int fd);

// Turns off Nagle's algorithm (TCP_NODELAY), for small request/response exchanges.
std::error_code set_no_delay(int fd);

// Asks the kernel to queue the ICMP errors a UDP socket receives together with the start of
// the datagram that caused each one (IP_RECVERR, IPV6_RECVERR), for receive_queued_error(). The
// socket then reports POLLERR while an error is queued.
std::error_code enable_error_queue(int fd, int family);

// One error read from a socket's error queue.
struct QueuedError {
  std::size_t size = 0;   // bytes of the offending datagram copied into buf (as many as quoted)
  std::error_code error;  // what it means: ECONNREFUSED for port unreachable, EHOSTUNREACH, ...
};

// Reads one queued error (MSG_ERRQUEUE); fails with EAGAIN when the queue is empty.
Result<QueuedError> receive_queued_error(int fd, std::span<std::byte> buf) noexcept;

// Turns on delivery of the destination address of each datagram (IP_PKTINFO,
// IPV6_RECVPKTINFO), so replies from a wildcard socket leave from the address the client used,
// and the UDP guard can tell how a datagram arrived (open_listener turns it on for every UDP
// socket). On an IPv6 socket it asks for IP_PKTINFO too, for the IPv4 datagrams of dual stack.
std::error_code enable_packet_info(int fd, int family);
// Asks for each datagram's kernel receive time (SO_TIMESTAMPNS) and its IP TTL or hop limit
// (IP_RECVTTL, IPV6_RECVHOPLIMIT; on an IPv6 socket both, for its IPv4-mapped datagrams), as
// control messages that read_packet_info() reads. For STAMP (service/stamp.hpp).
std::error_code enable_receive_stamps(int fd, int family);

// One received datagram: its length, whether it was cut, where it came from and, when
// packet info is on, the address it was sent to and the one to reply from.
struct Datagram {
  std::size_t size = 0;
  bool truncated = false;
  SockAddr peer;
  bool has_local = false;  // whether local and destination are known
  // The address to reply from (only the address; port unset): for IPv4 the kernel's choice,
  // ipi_spec_dst, which for a datagram to a broadcast or multicast address is an address of
  // the receiving interface; for IPv6, ipi6_addr. AF_INET for an IPv4 datagram, also on a
  // dual-stack IPv6 socket.
  SockAddr local;
  // The destination address in the datagram's header (ipi_addr, ipi6_addr): may be broadcast or
  // multicast, unlike local. AF_INET, or IPv4-mapped IPv6, exactly when the datagram came over
  // IPv4.
  SockAddr destination;
  int ifindex = 0;
  // On a socket set up by enable_receive_stamps() (STAMP), else left as they are: when the
  // kernel received the datagram (SO_TIMESTAMPNS: CLOCK_REALTIME, ns since the Unix epoch;
  // 0: no timestamp came), and its IP header's TTL or hop limit (-1: none came).
  std::int64_t receive_ns = 0;
  int ttl = -1;
};

// Sets out.local, out.destination, out.ifindex and out.has_local from the IP_PKTINFO or
// IPV6_PKTINFO control message of a received datagram, if msg (a recvmsg header: only its
// control fields are read) carries one, and out.receive_ns and out.ttl from SO_TIMESTAMPNS and
// IP_TTL or IPV6_HOPLIMIT. When both come (an IPv4 datagram on a dual-stack IPv6
// socket), IP_PKTINFO wins: it has the reply address. A message too short for its payload is
// ignored.
void read_packet_info(msghdr& msg, Datagram& out) noexcept;

// recvmsg into buf; a negative errno on failure (-EAGAIN when nothing is queued).
int receive_datagram(int fd, std::span<std::byte> buf, Datagram& out) noexcept;

// sendmsg of data to d.peer, from d.local when it is set: the bytes sent.
Result<std::size_t> send_datagram(int fd, std::span<const std::byte> data,
                                  const Datagram& d) noexcept;

// The address of the peer of a connected socket (getpeername).
Result<SockAddr> peer_address(int fd);

// Bytes received on a socket and not yet read (SIOCINQ), or a negative errno.
long unread_bytes(int fd) noexcept;

// The kernel's smoothed round-trip time of a TCP connection (TCP_INFO), or zero when it cannot
// tell.
std::chrono::microseconds smoothed_rtt(int fd) noexcept;

// Makes a listening socket refuse new connections now (shutdown(SHUT_RDWR) takes it out of the
// listening state), even while an asynchronous accept still holds a reference to it, as an
// io_uring one does until its cancellation completes. Errors are ignored: the socket is about to
// be closed anyway.
void stop_listening(int fd) noexcept;

// Closes fd at once with a reset (SO_LINGER 0): for a connection that is refused, so that no
// TIME_WAIT state is left behind on this side.
void close_with_reset(int fd) noexcept;

}  // namespace netecho::net
