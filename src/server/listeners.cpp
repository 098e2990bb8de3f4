#include "server/listeners.hpp"

#include <fcntl.h>

#include <system_error>
#include <thread>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "base/log.hpp"
#include "net/error.hpp"
#include "net/port_owner.hpp"
#include "net/socket.hpp"
#include "server/start_error.hpp"

namespace netecho::server {
namespace {

constexpr auto kHeldPortRetry = std::chrono::milliseconds(10);

std::string describe_spec(const ListenerSpec& spec) {
  return fmt::format("{} {}", net::to_string(spec.transport), net::to_string(spec.endpoint));
}

StartError cannot_listen(const ListenerSpec& spec, const std::string& why) {
  return StartError(fmt::format("cannot listen on {}: {}", describe_spec(spec), why));
}

// Returns once nothing but our own sockets will stand in the way of binding addr; throws when
// something does and will not go away.
void wait_until_free(const ListenerSpec& spec, const net::SockAddr& addr) {
  std::error_code ec = net::check_address_free(addr, spec.transport);
  if (!ec) {
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + kHeldPortWait;
  bool said = false;
  while (ec == std::errc::address_in_use) {
    const net::PortHolders holders = net::port_holders(addr, spec.transport);
    if (holders.owner) {
      throw cannot_listen(spec, fmt::format("{} (held by {})", ec.message(),
                                            net::describe_owner(holders)));
    }
    // Not a live process's port, as far as can be seen: a socket on its way out.
    if (std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    if (!said) {
      base::warn("{}: in use by a socket that no running process{} holds (the kernel is still "
                "releasing the sockets of a process that has exited); retrying for up to {}",
                describe(spec.transport, addr), holders.some_unreadable ? " this user can see" : "",
                base::format_duration(kHeldPortWait));
      said = true;
    }
    std::this_thread::sleep_for(kHeldPortRetry);
    ec = net::check_address_free(addr, spec.transport);
  }
  if (ec) {
    throw cannot_listen(spec, ec.message());
  }
  if (said) {
    base::log("{}: free again", describe(spec.transport, addr));
  }
}

}  // namespace

std::string describe(net::Transport transport, const net::SockAddr& addr) {
  return fmt::format("{} {}", net::to_string(transport), addr.to_string());
}

std::vector<BoundListener> bind_listeners(const std::vector<ListenerSpec>& specs,
                                          unsigned workers) {
  std::vector<BoundListener> bound;
  for (const auto& spec : specs) {
    auto resolved = net::resolve(spec.endpoint, spec.transport, /*passive=*/true);
    if (!resolved) {
      throw cannot_listen(spec, resolved.error());
    }
    BoundListener b{spec, resolved->front(), {}, false};
    if (b.addr.port() != 0) {
      wait_until_free(spec, b.addr);
    }
    for (unsigned w = 0; w < workers; ++w) {
      auto fd = net::open_listener(b.addr, spec.transport, {});
      if (!fd) {
        throw cannot_listen(spec, fd.error().message());
      }
      if (w == 0 && b.addr.port() == 0) {
        // Port 0: the kernel picked one; every other worker joins the same port.
        auto local = net::local_address(fd->get());
        if (!local) {
          throw cannot_listen(spec, local.error().message());
        }
        b.addr.set_port(local->port());
      }
      b.per_worker.push_back(std::move(fd).value());
    }
    bound.push_back(std::move(b));
  }
  return bound;
}

std::vector<BoundListener> adopt_passed(std::vector<PassedSocket> sockets, unsigned workers) {
  std::vector<BoundListener> bound;
  for (PassedSocket& s : sockets) {
    BoundListener b;
    b.spec.transport = s.transport;
    b.spec.endpoint = {s.addr.host(), s.addr.port()};
    b.spec.stream_mode = s.stream_mode;
    b.spec.datagram_mode = s.datagram_mode;
    b.addr = s.addr;
    b.passed = true;
    base::log("socket activation: descriptor {}{} is {}", s.number,
              s.name.empty() ? std::string() : fmt::format(" ('{}')", s.name),
              describe(s.transport, s.addr));
    for (unsigned w = 1; w < workers; ++w) {
      net::Fd dup(::fcntl(s.fd.get(), F_DUPFD_CLOEXEC, 0));
      if (!dup) {
        throw StartError(fmt::format("LISTEN_FDS: descriptor {}: cannot duplicate it: {}",
                                           s.number, net::errno_code().message()));
      }
      b.per_worker.push_back(std::move(dup));
    }
    b.per_worker.insert(b.per_worker.begin(), std::move(s.fd));
    bound.push_back(std::move(b));
  }
  return bound;
}

}  // namespace netecho::server
