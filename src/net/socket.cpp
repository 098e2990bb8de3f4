#include "net/socket.hpp"

#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace netecho::net {
namespace {

int set_int_option(int fd, int level, int name, int value) {
  return ::setsockopt(fd, level, name, &value, sizeof(value));
}

Result<Fd> new_socket(int family, Transport transport) {
  const int type = (transport == Transport::tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK |
                   SOCK_CLOEXEC;
  Fd fd(::socket(family, type, 0));
  if (!fd) {
    return errno_code();
  }
  return fd;
}

// A UDP socket bound to one IPv4 loopback address (127.0.0.1; not lo's network or broadcast
// address) receives only unicast datagrams from this host: the kernel delivers it no broadcast
// or multicast, and drops a datagram from 0.0.0.0 to a unicast address as martian. Packet info
// would tell the guard nothing there and costs about 5 % of the server's CPU per datagram.
bool needs_packet_info(const SockAddr& addr) noexcept {
  if (addr.family() != AF_INET) {
    return true;
  }
  const std::uint32_t a = ntohl(reinterpret_cast<const sockaddr_in*>(addr.get())->sin_addr.s_addr);
  const std::uint32_t host = a & 0x00ffffffu;
  return (a >> 24) != 127 || host == 0 || host == 0x00ffffffu;
}

}  // namespace

Result<Fd> open_listener(const SockAddr& addr, Transport transport, const ListenOptions& opts) {
  auto sock = new_socket(addr.family(), transport);
  if (!sock) {
    return sock.error();
  }
  Fd fd = std::move(sock).value();
  if (transport == Transport::tcp && set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1) != 0) {
    return errno_code();
  }
  if (opts.reuse_port && set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1) != 0) {
    return errno_code();
  }
  if (::bind(fd.get(), addr.get(), addr.size()) != 0) {
    return errno_code();
  }
  if (transport == Transport::tcp) {
    if (::listen(fd.get(), opts.backlog) != 0) {
      return errno_code();
    }
  } else if (needs_packet_info(addr)) {
    // Also for a specific address: the UDP guard needs to know how each datagram arrived (an
    // IPv4-mapped source is genuine only over IPv4) and to whom it was sent (never answer a
    // broadcast or multicast).
    if (auto ec = enable_packet_info(fd.get(), addr.family())) {
      return ec;
    }
  }
  return fd;
}

std::error_code check_address_free(const SockAddr& addr, Transport transport) {
  auto sock = new_socket(addr.family(), transport);
  if (!sock) {
    return sock.error();
  }
  // TCP needs SO_REUSEADDR so that connections in TIME_WAIT do not count as "in use"; Linux
  // still refuses a bind next to a listening socket. UDP must not set it: there it would
  // allow sharing.
  if (transport == Transport::tcp) {
    set_int_option(sock->get(), SOL_SOCKET, SO_REUSEADDR, 1);
  }
  if (::bind(sock->get(), addr.get(), addr.size()) != 0) {
    return errno_code();
  }
  return {};
}

Result<SockAddr> local_address(int fd) {
  SockAddr addr;
  *addr.size_ptr() = SockAddr::capacity();
  if (::getsockname(fd, addr.get(), addr.size_ptr()) != 0) {
    return errno_code();
  }
  return addr;
}

Result<Fd> start_connect(const SockAddr& addr, Transport transport) {
  auto sock = new_socket(addr.family(), transport);
  if (!sock) {
    return sock.error();
  }
  Fd fd = std::move(sock).value();
  // A connect interrupted by a signal goes on in the background (EINTR here means the same as
  // EINPROGRESS), so it is not retried.
  if (::connect(fd.get(), addr.get(), addr.size()) != 0 && errno != EINPROGRESS &&
      errno != EINTR) {
    return errno_code();
  }
  return fd;
}

std::error_code finish_connect(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    return errno_code();
  }
  return err == 0 ? std::error_code{} : errno_code(err);
}

std::error_code set_no_delay(int fd) {
  return set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1) == 0 ? std::error_code{}
                                                               : errno_code();
}

std::error_code enable_error_queue(int fd, int family) {
  const int rc = family == AF_INET6 ? set_int_option(fd, IPPROTO_IPV6, IPV6_RECVERR, 1)
                                    : set_int_option(fd, IPPROTO_IP, IP_RECVERR, 1);
  return rc == 0 ? std::error_code{} : errno_code();
}

Result<QueuedError> receive_queued_error(int fd, std::span<std::byte> buf) noexcept {
  alignas(cmsghdr) char control[512];
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return errno_code();
  }
  QueuedError out{static_cast<std::size_t>(n), {}};
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
        (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
      sock_extended_err ee;
      std::memcpy(&ee, CMSG_DATA(c), sizeof(ee));
      out.error = errno_code(static_cast<int>(ee.ee_errno));
    }
  }
  return out;
}

Result<Fd> connect_blocking(const SockAddr& addr, Transport transport, int timeout_ms) {
  auto sock = start_connect(addr, transport);
  if (!sock) {
    return sock.error();
  }
  Fd fd = std::move(sock).value();
  pollfd p{fd.get(), POLLOUT, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) {
    return errno_code(ETIMEDOUT);
  }
  if (auto ec = finish_connect(fd.get())) {
    return ec;
  }
  return fd;
}

std::error_code enable_packet_info(int fd, int family) {
  const int rc = family == AF_INET6 ? set_int_option(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
                                    : set_int_option(fd, IPPROTO_IP, IP_PKTINFO, 1);
  // A dual-stack IPv6 socket also receives IPv4 datagrams; ask for their info too.
  if (rc == 0 && family == AF_INET6) {
    set_int_option(fd, IPPROTO_IP, IP_PKTINFO, 1);
  }
  return rc == 0 ? std::error_code{} : errno_code();
}

std::error_code enable_receive_stamps(int fd, int family) {
  int rc = set_int_option(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
  if (rc == 0 && family == AF_INET6) {
    rc = set_int_option(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
    set_int_option(fd, IPPROTO_IP, IP_RECVTTL, 1);  // IPv4-mapped: fails on a v6-only socket
  } else if (rc == 0) {
    rc = set_int_option(fd, IPPROTO_IP, IP_RECVTTL, 1);
  }
  return rc == 0 ? std::error_code{} : errno_code();
}

void read_packet_info(msghdr& msg, Datagram& out) noexcept {
  out.has_local = false;
  out.receive_ns = 0;
  out.ttl = -1;
  bool have_v4 = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
        c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
      out.receive_ns = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    } else if (((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
                (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) &&
               c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      std::memcpy(&out.ttl, CMSG_DATA(c), sizeof(int));
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_addr = info.ipi_addr;
      out.destination = SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
      // Reply from the address the kernel would (ipi_spec_dst), not from the header's
      // destination, which may be a broadcast address; 0 (never seen) means "unknown".
      if (info.ipi_spec_dst.s_addr != 0) {
        sin.sin_addr = info.ipi_spec_dst;
      }
      out.local = SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
      out.ifindex = info.ipi_ifindex;
      out.has_local = true;
      have_v4 = true;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
               c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo)) && !have_v4) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      sockaddr_in6 sin6{};
      sin6.sin6_family = AF_INET6;
      sin6.sin6_addr = info.ipi6_addr;
      out.local = SockAddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof(sin6));
      out.destination = out.local;
      out.ifindex = static_cast<int>(info.ipi6_ifindex);
      out.has_local = true;
    }
  }
}

int receive_datagram(int fd, std::span<std::byte> buf, Datagram& out) noexcept {
  // Room for every control message asked for: packet info of both families, a timestamp and
  // a TTL or hop limit (enable_receive_stamps).
  alignas(cmsghdr) char control[256];
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_name = out.peer.get();
  msg.msg_namelen = SockAddr::capacity();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return -errno;
  }
  *out.peer.size_ptr() = msg.msg_namelen;
  out.truncated = (msg.msg_flags & MSG_TRUNC) != 0 || static_cast<std::size_t>(n) > buf.size();
  out.size = out.truncated ? buf.size() : static_cast<std::size_t>(n);
  read_packet_info(msg, out);
  return static_cast<int>(n);
}

Result<std::size_t> send_datagram(int fd, std::span<const std::byte> data,
                                  const Datagram& d) noexcept {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  iovec iov{const_cast<std::byte*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr*>(d.peer.get());
  msg.msg_namelen = d.peer.size();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (d.has_local) {
    msg.msg_control = control;
    cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
    if (d.local.family() == AF_INET) {
      in_pktinfo info{};
      info.ipi_spec_dst = reinterpret_cast<const sockaddr_in*>(d.local.get())->sin_addr;
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(info));
      std::memcpy(CMSG_DATA(c), &info, sizeof(info));
      msg.msg_controllen = CMSG_SPACE(sizeof(info));
    } else {
      in6_pktinfo info{};
      info.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(d.local.get())->sin6_addr;
      info.ipi6_ifindex = static_cast<unsigned>(d.ifindex);
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(info));
      std::memcpy(CMSG_DATA(c), &info, sizeof(info));
      msg.msg_controllen = CMSG_SPACE(sizeof(info));
    }
  }
  ssize_t n;
  do {
    n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return errno_code();
  }
  return static_cast<std::size_t>(n);
}

Result<SockAddr> peer_address(int fd) {
  SockAddr addr;
  *addr.size_ptr() = SockAddr::capacity();
  if (::getpeername(fd, addr.get(), addr.size_ptr()) != 0) {
    return errno_code();
  }
  return addr;
}

long unread_bytes(int fd) noexcept {
  int n = 0;
  if (::ioctl(fd, SIOCINQ, &n) != 0) {
    return -errno;
  }
  return n;
}

std::chrono::microseconds smoothed_rtt(int fd) noexcept {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
    return std::chrono::microseconds{0};
  }
  return std::chrono::microseconds{info.tcpi_rtt};
}

void stop_listening(int fd) noexcept { ::shutdown(fd, SHUT_RDWR); }

void close_with_reset(int fd) noexcept {
  const linger off{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof(off));
  ::close(fd);
}

}  // namespace netecho::net
