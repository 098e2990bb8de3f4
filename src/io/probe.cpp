#include "io/probe.hpp"

#include "io/epoll/epoll_backend.hpp"

namespace netecho::io {

BackendChoice choose_backend(BackendKind requested) {
  if (requested == BackendKind::epoll) {
    return {BackendKind::epoll, "requested with --backend epoll"};
  }
  return {BackendKind::epoll, "epoll is the only backend built in"};
}

std::unique_ptr<Backend> make_backend(BackendKind kind) {
  switch (kind) {
    case BackendKind::automatic:
    case BackendKind::epoll:
      break;
  }
  return std::make_unique<EpollBackend>();
}

std::string_view to_string(BackendKind kind) noexcept {
  switch (kind) {
    case BackendKind::automatic:
      return "auto";
    case BackendKind::epoll:
      return "epoll";
  }
  return "?";
}

}  // namespace netecho::io
