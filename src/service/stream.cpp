#include "service/stream.hpp"

#include <algorithm>

namespace netecho::service {

StreamReply StreamService::on_data(std::span<const std::byte> in) const noexcept {
  if (mode_ == StreamMode::once) {
    return {in.first(std::min(in.size(), kOnceReadSize)), true};
  }
  return {in, false};
}

}  // namespace netecho::service
