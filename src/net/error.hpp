#pragma once
// Errors as values on the I/O path (STYLE rule 4): Result<T> (base/result.hpp) holds a T or a
// std::error_code.

#include <cerrno>
#include <system_error>

#include "base/result.hpp"

namespace netecho::net {

using base::Result;

// The error code for an errno value (the current errno by default).
inline std::error_code errno_code(int e = errno) noexcept {
  return {e, std::system_category()};
}

}  // namespace netecho::net
