#pragma once
// --help as a person reads it in an 80-column terminal: every line wrapped to 80 columns; an
// option shows its names and the kind of value it takes ("--timeout DURATION"), and its
// description ends with its default and environment variable. CLI11's own layout printed the
// validators' descriptions ("N:UINT in [0 - 1099511627776]", ":{echo,reverse}"), "Excludes:"
// lists and "TEXT=5s", and never wrapped.

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

namespace netecho::cli {

inline constexpr std::size_t kHelpWidth = 80;

// An option's value as --help names it: its type name without the ":{a,b}" that a
// CLI::IsMember check appends (the range checks of cli/common append nothing).
std::string value_name(std::string type_name);

// Set on the top-level app before the subcommands are added: they inherit it.
std::shared_ptr<CLI::Formatter> make_help_formatter();

}  // namespace netecho::cli
