#include "net/port_owner.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

namespace netecho::net {
namespace {

// A local address as /proc/net/* prints it: the address's 32-bit words as hexadecimal numbers
// of the kernel's byte order (one word for IPv4, four for IPv6), a colon, the port in hex.
struct ProcAddress {
  std::array<std::uint32_t, 4> words{};
  bool v6 = false;
  std::uint16_t port = 0;
};

std::optional<std::uint32_t> hex32(std::string_view s) {
  std::uint32_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc{} || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<ProcAddress> parse_proc_address(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view host = text.substr(0, colon);
  const auto port = hex32(text.substr(colon + 1));
  if (!port || *port > 0xffff || (host.size() != 8 && host.size() != 32)) {
    return std::nullopt;
  }
  ProcAddress a;
  a.v6 = host.size() == 32;
  a.port = static_cast<std::uint16_t>(*port);
  for (std::size_t i = 0; i < host.size() / 8; ++i) {
    const auto w = hex32(host.substr(i * 8, 8));
    if (!w) {
      return std::nullopt;
    }
    a.words[i] = *w;
  }
  return a;
}

// The address as IPv4 (in the kernel's byte order, as s_addr holds it), when it is one: an
// IPv4 address, or an IPv4-mapped IPv6 one.
std::optional<std::uint32_t> as_v4(const ProcAddress& a) {
  if (!a.v6) {
    return a.words[0];
  }
  if (is_v4_mapped(std::span<const std::uint8_t, 16>(
          reinterpret_cast<const std::uint8_t*>(a.words.data()), 16))) {
    return a.words[3];
  }
  return std::nullopt;
}

bool is_any(const ProcAddress& a) {
  return a.words == std::array<std::uint32_t, 4>{};
}

ProcAddress from_sockaddr(const SockAddr& addr) {
  ProcAddress a;
  a.port = addr.port();
  if (addr.family() == AF_INET) {
    a.words[0] = reinterpret_cast<const sockaddr_in*>(addr.get())->sin_addr.s_addr;
  } else {
    a.v6 = true;
    std::memcpy(a.words.data(), &reinterpret_cast<const sockaddr_in6*>(addr.get())->sin6_addr,
                sizeof(a.words));
  }
  return a;
}

// Whether a socket bound to b can stand in the way of a bind to a: same port, and the same
// address, or a wildcard on either side (Linux's dual-stack rules are looser still; erring
// towards "overlaps" only makes us look for an owner we will not find).
bool overlaps(const ProcAddress& a, const ProcAddress& b) {
  if (a.port != b.port) {
    return false;
  }
  if (is_any(a) || is_any(b)) {
    return true;
  }
  const auto a4 = as_v4(a);
  const auto b4 = as_v4(b);
  if (a4 || b4) {
    return a4 && b4 && *a4 == *b4;
  }
  return a.words == b.words;
}

// The inodes of the sockets in one /proc/net table whose local address overlaps want. An
// inode of 0 is a socket without a file (TIME_WAIT, an orphan), which no process can own.
void collect_inodes(const char* path, const ProcAddress& want,
                    std::unordered_set<unsigned long>& inodes) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
    unsigned long inode = 0;
    if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode)) {
      continue;
    }
    const auto address = parse_proc_address(local);
    if (address && inode != 0 && overlaps(want, *address)) {
      inodes.insert(inode);
    }
  }
}

bool all_digits(const char* s) {
  return *s != '\0' && std::strspn(s, "0123456789") == std::strlen(s);
}

std::string command_name(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/comm", pid));
  std::string name;
  std::getline(in, name);
  return name;
}

}  // namespace

PortHolders port_holders(const SockAddr& addr, Transport transport) {
  PortHolders holders;
  const ProcAddress want = from_sockaddr(addr);
  std::unordered_set<unsigned long> inodes;
  if (transport == Transport::tcp) {
    collect_inodes("/proc/net/tcp", want, inodes);
    collect_inodes("/proc/net/tcp6", want, inodes);
  } else {
    collect_inodes("/proc/net/udp", want, inodes);
    collect_inodes("/proc/net/udp6", want, inodes);
  }
  holders.sockets = inodes.size();
  if (inodes.empty()) {
    return holders;
  }
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    holders.some_unreadable = true;
    return holders;
  }
  std::vector<char> target(64);
  while (const dirent* entry = ::readdir(proc)) {
    if (!all_digits(entry->d_name)) {
      continue;
    }
    const std::string fd_dir = fmt::format("/proc/{}/fd", entry->d_name);
    DIR* fds = ::opendir(fd_dir.c_str());
    if (fds == nullptr) {
      holders.some_unreadable = holders.some_unreadable || errno == EACCES;
      continue;  // EACCES: another user's process; ENOENT: it has just exited
    }
    while (const dirent* fd = ::readdir(fds)) {
      const std::string link = fd_dir + "/" + fd->d_name;
      const ssize_t n = ::readlink(link.c_str(), target.data(), target.size() - 1);
      if (n <= 0) {
        continue;
      }
      target[static_cast<std::size_t>(n)] = '\0';
      unsigned long inode = 0;
      if (std::sscanf(target.data(), "socket:[%lu]", &inode) == 1 && inodes.count(inode) != 0) {
        holders.owner = static_cast<pid_t>(std::stol(entry->d_name));
        break;
      }
    }
    ::closedir(fds);
    if (holders.owner) {
      break;
    }
  }
  ::closedir(proc);
  if (holders.owner) {
    holders.owner_name = command_name(*holders.owner);
  }
  return holders;
}

std::string describe_owner(const PortHolders& holders) {
  if (!holders.owner) {
    return "no running process";
  }
  return fmt::format("{}, pid {}", holders.owner_name, *holders.owner);
}

}  // namespace netecho::net
