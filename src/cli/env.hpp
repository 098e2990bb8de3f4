#pragma once
// Options from the environment: NETECHO_<OPTION> for every visible option of a subcommand,
// named from the option's long name in one place, so that no option is forgotten (serve's
// options, for containers and unit files). A flag given on the command line wins.

#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace netecho::cli {

// "--drain-timeout" -> "NETECHO_DRAIN_TIMEOUT".
std::string env_name(std::string_view long_name);

// Gives every visible, named option of `cmd` (registered before this call) its variable, and
// says so in the footer. Repeatable options take a comma-separated list, in the environment
// and on the command line alike. Hidden options (test and tuning knobs) get none.
void add_env_names(CLI::App& cmd);

// `message` is an error about the options of `cmd`. Where it names an option whose value came
// from its environment variable (set and not empty, and the option not on the command line,
// args = the words after the program name), the variable is named instead, so the one-line
// error points at what to fix: "--threads: ..." becomes "NETECHO_THREADS: ...".
std::string name_env_source(const CLI::App& cmd, std::string message, int argc,
                            const char* const* argv);

}  // namespace netecho::cli
