#pragma once
// Helpers shared by the subcommands: turning option text into values or usage errors.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

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

// --expect echo|reverse: declared once for the tools that check UDP replies as probe frames
// (ping, bench). reverse answers netecho serve's reverse listener.
CLI::Option* add_expect_option(CLI::App& cmd, std::string& expect);
// Whether --expect asks for reversed replies; a usage error for a TCP target, whose stream
// netecho serve never reverses.
bool expect_reverse_or_throw(std::string_view expect, net::Transport transport);

// --backend auto|epoll|io_uring: declared here once for every subcommand that runs an event loop.
CLI::Option* add_backend_option(CLI::App& cmd, std::string& backend);
io::BackendKind parse_backend_or_throw(std::string_view name);

}  // namespace netecho::cli
