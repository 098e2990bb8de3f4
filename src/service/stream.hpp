#pragma once
// What a TCP connection gets back. Pure logic, no I/O: the server feeds it each chunk it reads
// and sends what it returns.

#include <cstddef>
#include <cstdint>
#include <span>

namespace netecho::service {

enum class StreamMode : std::uint8_t {
  echo,  // RFC 862: every byte back, in order, until the client half-closes
  once,  // the original server: one read of up to 4096 bytes, written back, then close
};

inline constexpr std::size_t kOnceReadSize = 4096;

struct StreamReply {
  std::span<const std::byte> bytes;  // to send back (a view into the input)
  bool close_after = false;          // close once these bytes are sent; read nothing more
};

class StreamService {
 public:
  explicit StreamService(StreamMode mode) noexcept : mode_(mode) {}
  StreamReply on_data(std::span<const std::byte> in) const noexcept;
  StreamMode mode() const noexcept { return mode_; }

 private:
  StreamMode mode_;
};

}  // namespace netecho::service
