#pragma once
// The command layer's errors and exit statuses: only cli/ decides how netecho exits. Lower
// layers return errors as values (base/result.hpp), report a run's outcome (client/outcome.hpp,
// server::Server::run) or throw server::StartError; cli/ maps each to a status.

#include <stdexcept>
#include <string>
#include <utility>

namespace netecho::cli {

inline constexpr int kExitUsage = 2;    // bad options or values
inline constexpr int kExitFailure = 1;  // a run-time failure: port in use, unknown host, ...

// A bad option or value, or a failure found while turning options into a run, with a message
// that names the bad input and the exit status it ends with.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string message, int exit_code)
      : std::runtime_error(std::move(message)), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace netecho::cli
