#include "server/activation.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "net/error.hpp"
#include "net/socket.hpp"
#include "server/start_error.hpp"

namespace netecho::server {
namespace {

// Whole decimal numbers only, as systemd writes them.
std::optional<long> parse_number(std::string_view text) {
  long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::string_view> env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::optional<std::string_view>(value) : std::nullopt;
}

int socket_option(int fd, int name) {
  int value = 0;
  socklen_t len = sizeof(value);
  if (::getsockopt(fd, SOL_SOCKET, name, &value, &len) != 0) {
    return -1;
  }
  return value;
}

[[noreturn]] void reject(const PassedSocket& s, std::string_view why) {
  throw StartError(
      fmt::format("LISTEN_FDS: descriptor {}{}: {}", s.number,
                  s.name.empty() ? std::string() : fmt::format(" ('{}')", s.name), why));
}

// Checks what the descriptor is, and fills in its transport, address and mode.
void inspect(PassedSocket& s, service::StreamMode stream_default) {
  const int fd = s.fd.get();
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    reject(s, fmt::format("not open ({})", net::errno_code().message()));
  }
  if (!S_ISSOCK(st.st_mode)) {
    reject(s, "not a socket");
  }
  const int domain = socket_option(fd, SO_DOMAIN);
  if (domain != AF_INET && domain != AF_INET6) {
    reject(s, domain == AF_UNIX ? "a unix socket; netecho serves IPv4 and IPv6 sockets only"
                                : "not an IPv4 or IPv6 socket");
  }
  const int type = socket_option(fd, SO_TYPE);
  const int protocol = socket_option(fd, SO_PROTOCOL);
  if (type == SOCK_STREAM && protocol == IPPROTO_TCP) {
    s.transport = net::Transport::tcp;
    if (socket_option(fd, SO_ACCEPTCONN) != 1) {
      reject(s, "a TCP socket that is not listening");
    }
  } else if (type == SOCK_DGRAM && protocol == IPPROTO_UDP) {
    s.transport = net::Transport::udp;
  } else {
    reject(s, "neither a TCP stream nor a UDP datagram socket");
  }
  auto local = net::local_address(fd);
  if (!local) {
    reject(s, fmt::format("getsockname: {}", local.error().message()));
  }
  s.addr = *local;
  if (s.addr.port() == 0) {
    reject(s, "not bound to a port");
  }
  s.stream_mode = stream_default;
  if (s.name == "echo") {
    s.stream_mode = service::StreamMode::echo;
  } else if (s.name == "reverse") {
    if (s.transport == net::Transport::tcp) {
      reject(s, "named 'reverse', a UDP mode, but it is a TCP socket");
    }
    s.datagram_mode = service::DatagramMode::reverse;
  } else if (s.name == "once") {
    if (s.transport == net::Transport::udp) {
      reject(s, "named 'once', a TCP mode, but it is a UDP socket");
    }
    s.stream_mode = service::StreamMode::once;
  }
  // The supervisor may hand over blocking sockets; every worker waits on them in its loop.
  // The flags belong to the shared open file, which is the supervisor's too: it never reads
  // from the socket itself, so non-blocking is harmless there.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
      ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    reject(s, fmt::format("fcntl: {}", net::errno_code().message()));
  }
  if (s.transport == net::Transport::udp) {
    if (auto ec = net::enable_packet_info(fd, domain)) {
      reject(s, fmt::format("enabling packet info: {}", ec.message()));
    }
  }
}

}  // namespace

net::Parsed<ListenEnv> parse_listen_env(int pid, std::optional<std::string_view> listen_pid,
                                        std::optional<std::string_view> listen_fds,
                                        std::optional<std::string_view> listen_fdnames) {
  ListenEnv result;
  if (!listen_fds) {
    return result;
  }
  if (!listen_pid) {
    return std::string("LISTEN_FDS is set without LISTEN_PID");
  }
  const auto owner = parse_number(*listen_pid);
  if (!owner || *owner <= 0) {
    return fmt::format("LISTEN_PID: '{}' is not a process id", *listen_pid);
  }
  if (*owner != pid) {
    return result;  // for another process (our parent's, say): not ours to take
  }
  const auto count = parse_number(*listen_fds);
  if (!count || *count < 0 || *count > 65536) {
    return fmt::format("LISTEN_FDS: '{}' is not a number of descriptors", *listen_fds);
  }
  result.count = static_cast<int>(*count);
  result.names.assign(static_cast<std::size_t>(result.count), "");
  if (listen_fdnames && result.count != 0) {  // with none, systemd may pass an empty list
    std::vector<std::string> names;
    std::string_view rest = *listen_fdnames;
    for (;;) {
      const auto colon = rest.find(':');
      names.emplace_back(rest.substr(0, colon));
      if (colon == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(colon + 1);
    }
    if (names.size() != static_cast<std::size_t>(result.count)) {
      return fmt::format("LISTEN_FDNAMES: {} name(s) for {} descriptor(s) in '{}'", names.size(),
                         result.count, *listen_fdnames);
    }
    result.names = std::move(names);
  }
  return result;
}

std::vector<PassedSocket> take_passed_sockets(service::StreamMode stream_default) {
  auto parsed = parse_listen_env(static_cast<int>(::getpid()), env("LISTEN_PID"),
                                 env("LISTEN_FDS"), env("LISTEN_FDNAMES"));
  // Read once, by this process only: a child must not believe the sockets are its own.
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!parsed) {
    throw StartError(parsed.error());
  }
  const ListenEnv& listen = *parsed;
  std::vector<PassedSocket> sockets(static_cast<std::size_t>(listen.count));
  // Owned from the start, so that a rejected one and those after it are closed too.
  for (int i = 0; i < listen.count; ++i) {
    PassedSocket& s = sockets[static_cast<std::size_t>(i)];
    s.number = kListenFdsStart + i;
    s.fd = net::Fd(s.number);
    s.name = listen.names[static_cast<std::size_t>(i)];
  }
  for (PassedSocket& s : sockets) {
    inspect(s, stream_default);
  }
  return sockets;
}

}  // namespace netecho::server
