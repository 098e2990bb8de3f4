#pragma once
// Helpers shared by the subcommands: turning option text into values or usage errors.

#include <chrono>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "io/probe.hpp"
#include "net/address.hpp"

namespace netecho::cli {

// Throws net::ConfigError (exit 2) naming the flag and the bad input.
net::Endpoint parse_endpoint_or_throw(std::string_view text, std::string_view flag);
net::Target parse_target_or_throw(std::string_view text, std::string_view what);
std::chrono::nanoseconds parse_duration_or_throw(std::string_view text, std::string_view flag);

// --backend auto|epoll|io_uring: declared here once for every subcommand that runs an event loop.
CLI::Option* add_backend_option(CLI::App& cmd, std::string& backend);
io::BackendKind parse_backend_or_throw(std::string_view name);

}  // namespace netecho::cli
