#include "net/interfaces.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

namespace netecho::net {

std::vector<SockAddr> host_addresses() {
  std::vector<SockAddr> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return out;
  }
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr ||
        (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)) {
      continue;
    }
    const socklen_t len =
        i->ifa_addr->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    out.emplace_back(i->ifa_addr, len);
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace netecho::net
