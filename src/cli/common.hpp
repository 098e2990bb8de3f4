#pragma once
// Helpers shared by the subcommands: turning option text into values or usage errors.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "client/outcome.hpp"
#include "io/probe.hpp"
#include "io/signal_fd.hpp"
#include "net/address.hpp"

namespace netecho::cli {

// Throws cli::ConfigError (exit 2) naming the flag and the bad input.
net::Endpoint parse_endpoint_or_throw(std::string_view text, std::string_view flag);
net::Target parse_target_or_throw(std::string_view text, std::string_view what);
std::chrono::nanoseconds parse_duration_or_throw(std::string_view text, std::string_view flag);
// The probing tools' (ping, stamp) schedule and patience, as ping(8) takes them:
// -i/--interval, 1 ms at least, and -W/--timeout, more than 0.
std::chrono::nanoseconds parse_interval_or_throw(std::string_view text);
std::chrono::nanoseconds parse_probe_timeout_or_throw(std::string_view text);
// SIGINT and SIGTERM as a descriptor a probing run watches, so that they end it in order (the
// summary printed, the exit code by the usual rule); kept open for the run.
io::SignalFd open_stop_signals_or_throw();
// Bytes, with binary multiples: "64", "1k", "16KiB", "1M", "1MiB" (bench -s, ping -s).
std::size_t parse_size_or_throw(std::string_view text, std::string_view flag);

// A client tool's target, resolved: the addresses in the resolver's order of preference. An
// unknown host is handled one way by every tool: cli::ConfigError with the resolver's message
// ("cannot resolve host 'x': reason") and the exit code the tool documents (ping: 2, as
// ping(8); send and bench: 1, a run-time failure).
std::vector<net::SockAddr> resolve_target_or_throw(const net::Target& target, net::Family family,
                                                   int exit_code);

// Bound checks for number options, with errors in the user's terms and the real bounds
// ("--count: 0 is out of range: at least 1 probe"), unlike CLI::Range and CLI::PositiveNumber,
// which print bounds as doubles (a 309-digit maximum). They add nothing to --help: the help
// text states the range in words where it matters. unit: the plural noun after the bound.
// Whole numbers from lo to hi (hi = UINT64_MAX: no upper bound).
CLI::Validator whole_range(std::uint64_t lo, std::uint64_t hi, std::string_view unit);
// A number greater than 0 (a rate).
CLI::Validator more_than_zero(std::string_view unit);

// The positional TARGET of a client tool. A word that starts with '-' is no target: CLI11
// takes "-4" or "-5" for a negative number, hence a positional, when no such option exists;
// the check names it as the unknown option it is.
CLI::Option* add_target_option(CLI::App& cmd, std::string& target, const std::string& help);

// -4 and -6 (IPv4 or IPv6 only), declared once for every client tool, as ping(8) has them.
struct FamilyFlags {
  bool v4 = false;
  bool v6 = false;
  net::Family family() const noexcept {
    return v4 ? net::Family::v4 : v6 ? net::Family::v6 : net::Family::any;
  }
};
void add_family_flags(CLI::App& cmd, FamilyFlags& flags);

// --expect echo|reverse: declared once for the tools that check UDP replies as probe frames
// (ping, bench). reverse answers netecho serve's reverse listener.
CLI::Option* add_expect_option(CLI::App& cmd, std::string& expect);
// Whether --expect asks for reversed replies; a usage error for a TCP target, whose stream
// netecho serve never reverses.
bool expect_reverse_or_throw(std::string_view expect, net::Transport transport);

// The exit status of a client tool's run: 0 ok, 1 failed, 2 error (ping's "other error").
int exit_code(client::Outcome outcome) noexcept;

// --backend auto|epoll|io_uring: declared here once for every subcommand that runs an event loop.
CLI::Option* add_backend_option(CLI::App& cmd, std::string& backend);
// The backend a command runs on, chosen once, here: an unknown name is a usage error (exit 2),
// a backend that cannot run here a run-time failure (exit 1).
io::BackendChoice choose_backend_or_throw(std::string_view name);

}  // namespace netecho::cli
