#pragma once
// Which backends work on this machine, and the factory that builds one per worker thread.
//
// io_uring is often refused (seccomp in containers, kernel.io_uring_disabled, old kernels), so
// the choice is made at run time: the probe creates a real ring and tries the operations the
// backend uses. `auto` takes io_uring where that works and falls back to epoll otherwise, with
// the reason; an explicit request for a backend that cannot run is an error. Setting
// NETECHO_IO_URING=0 in the environment makes the probe report io_uring as unusable (as libuv's
// UV_USE_IO_URING=0 does), to force the fallback.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "io/backend.hpp"

namespace netecho::io {

enum class BackendKind : std::uint8_t { automatic, epoll, io_uring };

// Tuning of the io_uring backend. Zero means the default, which suits the server; the tests
// shrink the buffer ring to make it run dry.
struct BackendOptions {
  std::uint32_t uring_buffers = 0;      // provided receive buffers per thread, a power of two
  std::uint32_t uring_buffer_size = 0;  // bytes in each
};

// A concrete backend (never automatic) and why it runs.
struct BackendChoice {
  BackendKind kind = BackendKind::epoll;
  std::string reason;  // one line for the log: why this backend runs
};

// One backend built into netecho and whether it can run here: detail says what was checked
// when it can, and why not when it cannot.
struct BackendStatus {
  BackendKind kind;
  bool usable;
  std::string detail;
};

// Every backend built in, epoll first, each probed for real.
std::vector<BackendStatus> probe_backends();

// Resolves "auto" to a concrete backend that works here. An explicitly requested backend that
// cannot run is an error, a message naming the reason: the command layer decides what it means
// for the exit status.
base::Result<BackendChoice, std::string> choose_backend(BackendKind requested);

// Throws std::system_error when the kernel refuses what the backend needs.
std::unique_ptr<Backend> make_backend(BackendKind kind, const BackendOptions& options = {});

std::string_view to_string(BackendKind kind) noexcept;
// "auto", "epoll" or "io_uring".
std::optional<BackendKind> parse_backend(std::string_view name) noexcept;

}  // namespace netecho::io
