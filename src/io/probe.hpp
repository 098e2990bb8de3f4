#pragma once
// Which backends work on this machine, and the factory that builds one per worker thread.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/backend.hpp"

namespace netecho::io {

enum class BackendKind { automatic, epoll };

struct BackendChoice {
  BackendKind kind;
  std::string reason;  // one line for the log: why this backend runs
};

// Resolves "auto" to a concrete backend that works here. Throws net::ConfigError when an
// explicitly requested backend cannot run.
BackendChoice choose_backend(BackendKind requested);

std::unique_ptr<Backend> make_backend(BackendKind kind);

std::string_view to_string(BackendKind kind) noexcept;

}  // namespace netecho::io
