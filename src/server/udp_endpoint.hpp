#pragma once
// One UDP listener in one worker: every datagram read gets exactly one reply, built by the
// service, never larger than the request.

#include <memory>
#include <span>
#include <string>

#include "io/backend.hpp"
#include "net/fd.hpp"
#include "server/counters.hpp"
#include "server/udp_guard.hpp"
#include "service/datagram.hpp"
#include "service/stamp.hpp"
#include "stamp/packet.hpp"

namespace netecho::server {

class UdpEndpoint {
 public:
  // guard (shared by every endpoint, may be null: no guard but the refusal of source port 0)
  // decides which datagrams are answered; it must outlive the endpoint.
  // wildcard: the socket is bound to 0.0.0.0 or ::, so a reply must name its source (the
  // address the datagram was sent to); a socket bound to one address replies from it anyway.
  // name: how the log names it ("udp://127.0.0.1:7").
  UdpEndpoint(net::Fd fd, service::DatagramMode mode, std::size_t limit, UdpGuard* guard = nullptr,
              bool wildcard = true, std::string name = {})
      : fd_(std::move(fd)),
        mode_(mode),
        limit_(limit),
        guard_(guard),
        wildcard_(wildcard),
        name_(std::move(name)) {}

  int fd() const noexcept { return fd_.get(); }

  // Makes this a STAMP reflector (mode stamp): each datagram that passes the guard is answered
  // by a service::StampReflector of its own (a stateful one keeps its sessions here, in this
  // worker: SO_REUSEPORT sends a session's datagrams to one socket).
  void reflect_stamp(const service::StampConfig& config) {
    stamp_ = std::make_unique<service::StampReflector>(config);
  }

  // scratch holds the reply while it is sent; it must hold a whole datagram.
  void on_datagram(io::Backend& backend, const io::Completion& c, std::span<std::byte> scratch,
                   Counters& counters);

  void close(io::Backend& backend) noexcept;

 private:
  // The STAMP reply into scratch: its length, or 0 when the request is dropped (and counted).
  std::size_t reflect(const io::Completion& c, std::span<std::byte> scratch, Counters& counters);

  net::Fd fd_;
  service::DatagramMode mode_;
  std::size_t limit_;
  UdpGuard* guard_;
  bool wildcard_;
  std::string name_;
  std::unique_ptr<service::StampReflector> stamp_;
  // This host's clock as STAMP states it (S, error), read again once a second.
  stamp::ErrorEstimate clock_;
  std::int64_t clock_read_ns_ = 0;
};

}  // namespace netecho::server
