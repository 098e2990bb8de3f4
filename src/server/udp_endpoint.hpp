#pragma once
// One UDP listener in one worker: every datagram read gets exactly one reply, built by the
// service, never larger than the request.

#include <span>

#include "io/backend.hpp"
#include "net/fd.hpp"
#include "server/counters.hpp"
#include "service/datagram.hpp"

namespace netecho::server {

class UdpEndpoint {
 public:
  UdpEndpoint(net::Fd fd, service::DatagramMode mode, std::size_t limit)
      : fd_(std::move(fd)), mode_(mode), limit_(limit) {}

  int fd() const noexcept { return fd_.get(); }

  // scratch holds the reply while it is sent; it must hold a whole datagram.
  void on_datagram(io::Backend& backend, const io::Completion& c, std::span<std::byte> scratch,
                   Counters& counters) const;

  void close(io::Backend& backend) noexcept;

 private:
  net::Fd fd_;
  service::DatagramMode mode_;
  std::size_t limit_;
};

}  // namespace netecho::server
