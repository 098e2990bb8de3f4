#include "io/probe.hpp"

#include <fmt/format.h>

#include "io/epoll/epoll_backend.hpp"
#include "io/uring/uring_probe.hpp"

namespace netecho::io {

std::vector<BackendStatus> probe_backends() {
  std::vector<BackendStatus> out;
  out.push_back({BackendKind::epoll, true, "readiness with epoll_pwait2, level-triggered"});
  UringSupport uring = probe_uring();
  out.push_back({BackendKind::io_uring, uring.usable, std::move(uring.detail)});
  return out;
}

base::Result<BackendChoice, std::string> choose_backend(BackendKind requested) {
  switch (requested) {
    case BackendKind::epoll:
      return BackendChoice{BackendKind::epoll, "requested with --backend epoll"};
    case BackendKind::io_uring: {
      UringSupport uring = probe_uring();
      if (!uring.usable) {
        return fmt::format("--backend io_uring: io_uring cannot run here: {}", uring.detail);
      }
      return BackendChoice{BackendKind::io_uring,
                           "requested with --backend io_uring; " + uring.detail};
    }
    case BackendKind::automatic:
      break;
  }
  UringSupport uring = probe_uring();
  if (uring.usable) {
    return BackendChoice{BackendKind::io_uring, "auto: io_uring works here; " + uring.detail};
  }
  return BackendChoice{BackendKind::epoll,
                       "auto: io_uring is not usable (" + uring.detail + "), falling back to epoll"};
}

std::unique_ptr<Backend> make_backend(BackendKind kind, const BackendOptions& options) {
  if (kind == BackendKind::io_uring) {
    return make_uring_backend(options);
  }
  return std::make_unique<EpollBackend>();
}

std::string_view to_string(BackendKind kind) noexcept {
  switch (kind) {
    case BackendKind::automatic:
      return "auto";
    case BackendKind::epoll:
      return "epoll";
    case BackendKind::io_uring:
      return "io_uring";
  }
  return "?";
}

std::optional<BackendKind> parse_backend(std::string_view name) noexcept {
  for (const BackendKind k : {BackendKind::automatic, BackendKind::epoll, BackendKind::io_uring}) {
    if (name == to_string(k)) {
      return k;
    }
  }
  return std::nullopt;
}

}  // namespace netecho::io
