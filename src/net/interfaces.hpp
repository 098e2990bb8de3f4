#pragma once
// The host's own addresses, as the guards against answering oneself need them.

#include <vector>

#include "net/address.hpp"

namespace netecho::net {

// Every IPv4 and IPv6 address of every interface, read once now (getifaddrs); empty when the
// kernel will not say. Ports are 0.
std::vector<SockAddr> host_addresses();

}  // namespace netecho::net
