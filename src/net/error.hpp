#pragma once
// Errors as values on the I/O path (STYLE rule 4): Result<T> (base/result.hpp) holds a T or a
// std::error_code.

#include <cerrno>
#include <string>
#include <system_error>
#include <stdexcept>
#include <utility>

#include "base/result.hpp"

namespace netecho::net {

using base::Result;

// The error code for an errno value (the current errno by default).
inline std::error_code errno_code(int e = errno) noexcept {
  return {e, std::system_category()};
}

// A failure at start-up or configuration, with a message that names the bad input. Only the
// command layer catches it; the I/O path never throws.
class ConfigError : public std::runtime_error {
 public:
  // exit_code 2 is a usage error, 1 a run-time failure (port in use, unknown host, ...).
  ConfigError(std::string message, int exit_code)
      : std::runtime_error(std::move(message)), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

inline constexpr int kExitUsage = 2;
inline constexpr int kExitFailure = 1;

}  // namespace netecho::net
