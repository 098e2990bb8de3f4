#include "service/datagram.hpp"

#include <algorithm>
#include <cstring>

namespace netecho::service {

std::size_t datagram_reply(DatagramMode mode, std::span<const std::byte> in, std::size_t limit,
                           std::span<std::byte> out) noexcept {
  std::size_t n = limit != 0 ? std::min(in.size(), limit) : in.size();
  n = std::min(n, out.size());
  if (mode == DatagramMode::reverse) {
    std::reverse_copy(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n), out.begin());
  } else if (n != 0) {
    std::memmove(out.data(), in.data(), n);
  }
  return n;
}

}  // namespace netecho::service
