#include "cli/env.hpp"

#include <cctype>
#include <cstdlib>

namespace netecho::cli {
namespace {

bool on_command_line(std::string_view long_name, int argc, const char* const* argv) {
  const std::string flag = "--" + std::string(long_name);
  for (int i = 1; i < argc; ++i) {
    const std::string_view word = argv[i];
    if (word == "--") {
      break;
    }
    if (word == flag || (word.starts_with(flag) && word.size() > flag.size() &&
                         word[flag.size()] == '=')) {
      return true;
    }
  }
  return false;
}

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

// Replaces each whole-word `from` in `text` by `to`.
void replace_word(std::string& text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    const std::size_t end = at + from.size();
    const bool starts = at == 0 || !is_name_char(text[at - 1]);
    const bool ends = end == text.size() || !is_name_char(text[end]);
    if (starts && ends) {
      text.replace(at, from.size(), to);
      at += to.size();
    } else {
      at = end;
    }
  }
}

}  // namespace

std::string env_name(std::string_view long_name) {
  std::string name = "NETECHO_";
  for (const char c : long_name) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

void add_env_names(CLI::App& cmd) {
  const CLI::Option* help = cmd.get_help_ptr();
  for (CLI::Option* opt : cmd.get_options()) {
    if (opt == help || opt->get_positional() || opt->get_lnames().empty() ||
        opt->get_group().empty()) {
      continue;
    }
    opt->envname(env_name(opt->get_lnames().front()));
    if (opt->get_items_expected_max() > 1) {
      opt->delimiter(',');
    }
  }
  cmd.footer(cmd.get_footer() +
             "\n\nEnvironment: every option above can also come from a variable, NETECHO_ and "
             "the option's\nname in capitals with '-' as '_' (shown as (env NAME) beside it), e.g. "
             "NETECHO_TCP=0.0.0.0:7 or\nNETECHO_DRAIN_TIMEOUT=30s. An option on the command line "
             "wins over its variable; an empty\nvariable counts as unset. Repeatable options "
             "take a comma-separated list, there and on\nthe command line "
             "(NETECHO_TCP=0.0.0.0:7,[::]:7); flags take true or false (NETECHO_ONCE=true).\n"
             "A bad value is reported like a bad flag, naming the variable.");
}

std::string name_env_source(const CLI::App& cmd, std::string message, int argc,
                            const char* const* argv) {
  for (const CLI::Option* opt : cmd.get_options()) {
    const std::string variable = opt->get_envname();
    if (variable.empty() || opt->get_lnames().empty()) {
      continue;
    }
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr || *value == '\0' ||
        on_command_line(opt->get_lnames().front(), argc, argv)) {
      continue;
    }
    replace_word(message, "--" + opt->get_lnames().front(), variable);
  }
  return message;
}

}  // namespace netecho::cli
