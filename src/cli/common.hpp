#pragma once
// Helpers shared by the subcommands: turning option text into values or usage errors.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "client/outcome.hpp"
#include "io/probe.hpp"
#include "net/address.hpp"

namespace netecho::cli {

// Throws net::ConfigError (exit 2) naming the flag and the bad input.
net::Endpoint parse_endpoint_or_throw(std::string_view text, std::string_view flag);
net::Target parse_target_or_throw(std::string_view text, std::string_view what);
std::chrono::nanoseconds parse_duration_or_throw(std::string_view text, std::string_view flag);

// A client tool's target, resolved: the addresses in the resolver's order of preference. An
// unknown host is handled one way by every tool: net::ConfigError with the resolver's message
// ("cannot resolve host 'x': reason") and the exit code the tool documents (ping: 2, as
// ping(8); send and bench: 1, a run-time failure).
std::vector<net::SockAddr> resolve_target_or_throw(const net::Target& target, net::Family family,
                                                   int exit_code);

// The exit status of a client tool's run: 0 ok, 1 failed, 2 error (ping's "other error").
int exit_code(client::Outcome outcome) noexcept;

// --backend auto|epoll|io_uring: declared here once for every subcommand that runs an event loop.
CLI::Option* add_backend_option(CLI::App& cmd, std::string& backend);
// The backend a command runs on, chosen once, here: an unknown name is a usage error (exit 2),
// a backend that cannot run here a run-time failure (exit 1).
io::BackendChoice choose_backend_or_throw(std::string_view name);

}  // namespace netecho::cli
