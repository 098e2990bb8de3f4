#pragma once
// Errors as values on the I/O path (STYLE rule 4): Result<T> holds a T or a std::error_code.
// std::expected needs C++23, which neither g++ 12 nor clang 14 offer in C++20 mode.

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>
#include <stdexcept>
#include <variant>

namespace netecho::net {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}             // NOLINT(google-explicit-constructor)
  Result(std::error_code error) : v_(error) {}          // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }

  std::error_code error() const noexcept {
    return ok() ? std::error_code{} : std::get<1>(v_);
  }

 private:
  std::variant<T, std::error_code> v_;
};

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
