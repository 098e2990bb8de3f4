// netecho_docgen OUTDIR: writes the man pages (netecho.1 and netecho-SUBCOMMAND.1) and the
// bash, zsh and fish completions, by walking the very CLI::App that `netecho --help` prints
// (cli::build_app). Run at build time, so the pages and completions cannot drift from the
// options: a new option appears everywhere at the next build. Not installed.

#include <cctype>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "base/version.hpp"
#include "cli/help_format.hpp"
#include "cli/app.hpp"

namespace {

using netecho::cli::Args;
using netecho::cli::Commands;

// What the pages and completions need to know of one option.
struct Opt {
  std::vector<std::string> names;  // "-c", "--count"
  std::string type;                // as --help shows it: "N:INT in [1 - 1024]"; empty for flags
  std::string description;
  std::string default_value;
  std::string env;
  std::vector<std::string> choices;  // from an IsMember check or an "a|b|c" type name
  bool takes_value = false;
  bool repeatable = false;
};

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == sep) {
      parts.emplace_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

std::vector<std::string> choices_of(const std::string& type) {
  const auto open = type.find('{');
  const auto close = type.find('}', open);
  if (open != std::string::npos && close != std::string::npos) {
    return split(std::string_view(type).substr(open + 1, close - open - 1), ',');
  }
  const std::string base = type.substr(0, type.find(':'));
  if (base.find('|') != std::string::npos) {
    return split(base, '|');
  }
  return {};
}

// The visible options of `cmd` (hidden ones, group "", are tuning and test knobs).
std::vector<Opt> options_of(const CLI::App& cmd) {
  std::vector<Opt> out;
  for (const CLI::Option* o : cmd.get_options()) {
    if (o->get_group().empty() || o->get_positional()) {
      continue;
    }
    Opt opt;
    for (const auto& s : o->get_snames()) {
      opt.names.push_back("-" + s);
    }
    for (const auto& l : o->get_lnames()) {
      opt.names.push_back("--" + l);
    }
    opt.takes_value = o->get_type_size_max() > 0 && !o->get_type_name().empty();
    opt.type = opt.takes_value ? o->get_type_name() : "";
    opt.description = o->get_description();
    opt.default_value = o->get_default_str();
    opt.env = o->get_envname();
    opt.choices = choices_of(opt.type);
    opt.repeatable = o->get_items_expected_max() > 1;
    out.push_back(std::move(opt));
  }
  return out;
}

struct Positional {
  std::string name;
  std::string description;
  std::string default_value;
  bool required = false;
};

std::vector<Positional> positionals_of(const CLI::App& cmd) {
  std::vector<Positional> out;
  for (const CLI::Option* o : cmd.get_options()) {
    if (o->get_positional()) {
      out.push_back({o->get_name(true), o->get_description(), o->get_default_str(),
                     o->get_required()});
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// roff

// Escapes text for a roff line: backslashes, and a '-' that begins a word (an option name) is
// a minus sign, so that copying `--tcp` from the page gives two ASCII hyphens.
std::string roff(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-' && (i == 0 || text[i - 1] == '-' || text[i - 1] == ' ' ||
                            text[i - 1] == '(' || text[i - 1] == '\'' || text[i - 1] == ',' ||
                            text[i - 1] == '[')) {
      out += "\\-";
    } else {
      out += c;
    }
  }
  return out;
}

// One line of roff, already escaped: a line may not begin with a control character.
std::string raw_line(std::string line) {
  if (!line.empty() && (line.front() == '.' || line.front() == '\'')) {
    line.insert(0, "\\&");
  }
  return line + "\n";
}

// One line of running text.
std::string roff_line(std::string_view text) { return raw_line(roff(text)); }

// A footer, as CLI11 prints it below --help: paragraphs split by blank lines; indented lines
// are examples, set as they are.
std::string roff_footer(const std::string& footer) {
  std::string out;
  bool in_example = false;
  bool paragraph_open = false;
  for (const auto& raw : split(footer, '\n')) {
    if (raw.empty()) {
      if (in_example) {
        out += ".fi\n.RE\n";
        in_example = false;
      }
      paragraph_open = false;
      continue;
    }
    const bool example = raw.starts_with("  ");
    if (example && !in_example) {
      out += ".RS\n.nf\n";
      in_example = true;
    } else if (!example && in_example) {
      out += ".fi\n.RE\n";
      in_example = false;
    }
    if (!example && !paragraph_open) {
      out += ".PP\n";
      paragraph_open = true;
    }
    out += roff_line(example ? std::string_view(raw).substr(2) : std::string_view(raw));
  }
  if (in_example) {
    out += ".fi\n.RE\n";
  }
  return out;
}

std::string upper(std::string_view s) {
  std::string out;
  for (const char c : s) {
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string page_header(std::string_view page, std::string_view summary) {
  return fmt::format(
      ".\\\" Generated by netecho_docgen from netecho's option definitions: do not edit.\n"
      ".TH {} 1 \"{}\" \"netecho {}\" \"User Commands\"\n"
      // No hyphenation: option and variable names are copied from the page.
      ".nh\n"
      ".SH NAME\n{} \\- {}\n",
      upper(page), netecho::base::kReleaseDay, netecho::base::kVersion, roff(page),
      roff(summary));
}

std::string option_text(const Opt& opt) {
  std::string body = opt.description;
  if (!body.empty() && body.back() != '.') {
    body += '.';
  }
  if (!opt.default_value.empty()) {
    body += fmt::format(" Default: {}.", opt.default_value);
  }
  if (!opt.env.empty()) {
    body += fmt::format(" Environment: {}.", opt.env);
  }
  return body;
}

std::string option_item(const Opt& opt) {
  std::string head;
  for (const auto& name : opt.names) {
    head += (head.empty() ? "" : ", ") + fmt::format("\\fB{}\\fR", roff(name));
  }
  if (opt.takes_value) {
    head += fmt::format(" \\fI{}\\fR", roff(opt.type));
  }
  return ".TP\n" + raw_line(head) + roff_line(option_text(opt));
}


std::string subcommand_page(const CLI::App& cmd) {
  const std::string page = "netecho-" + cmd.get_name();
  const auto opts = options_of(cmd);
  const auto positionals = positionals_of(cmd);
  std::string out = page_header(page, cmd.get_description());
  std::string synopsis = fmt::format("\\fBnetecho {}\\fR [\\fIOPTIONS\\fR]", cmd.get_name());
  for (const auto& p : positionals) {
    synopsis += p.required ? fmt::format(" \\fI{}\\fR", upper(p.name))
                           : fmt::format(" [\\fI{}\\fR]", upper(p.name));
  }
  out += ".SH SYNOPSIS\n" + synopsis + "\n";
  out += ".SH DESCRIPTION\n" + roff_line(cmd.get_description() + ".");
  out += roff_footer(cmd.get_footer());
  if (!positionals.empty()) {
    out += ".SH ARGUMENTS\n";
    for (const auto& p : positionals) {
      std::string body = p.description;
      if (!p.default_value.empty()) {
        body += fmt::format(" Default: {}.", p.default_value);
      }
      out += ".TP\n" + raw_line(fmt::format("\\fI{}\\fR", upper(p.name))) + roff_line(body);
    }
  }
  out += ".SH OPTIONS\n";
  for (const auto& opt : opts) {
    out += option_item(opt);
  }
  std::string env;
  for (const auto& opt : opts) {
    if (!opt.env.empty()) {
      env += ".TP\n" + raw_line(fmt::format("\\fB{}\\fR", opt.env)) +
             roff_line(fmt::format("as {}{}", opt.names.back(),
                                   opt.repeatable ? ", a comma-separated list" : ""));
    }
  }
  if (!env.empty()) {
    out += ".SH ENVIRONMENT\n";
    out += roff_line("An option given on the command line wins over its variable; an empty "
                     "variable counts as unset. Flags take true or false. A bad value is "
                     "reported as for the option, naming the variable.");
    out += env;
  }
  out += ".SH SEE ALSO\n\\fBnetecho\\fR(1)\n";
  return out;
}

std::string main_page(CLI::App& app) {
  std::string out = page_header("netecho", "echo server and client tools (RFC 862)");
  out += ".SH SYNOPSIS\n\\fBnetecho\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n.br\n"
         "\\fBnetecho\\fR \\fB\\-V\\fR | \\fB\\-\\-version\\fR | \\fB\\-\\-help\\fR\n";
  out += ".SH DESCRIPTION\n" + roff_line(app.get_description());
  out += roff_footer(app.get_footer());
  out += ".SH COMMANDS\n";
  std::string see_also;
  for (const CLI::App* cmd : app.get_subcommands({})) {
    out += ".TP\n" + raw_line(fmt::format("\\fB{}\\fR", cmd->get_name())) +
           raw_line(fmt::format("{}. See \\fBnetecho\\-{}\\fR(1).", roff(cmd->get_description()),
                                cmd->get_name()));
    see_also += fmt::format("{}\\fBnetecho\\-{}\\fR(1)", see_also.empty() ? "" : ",\n",
                            cmd->get_name());
  }
  out += ".SH OPTIONS\n";
  for (const auto& opt : options_of(app)) {
    out += option_item(opt);
  }
  out += ".SH SEE ALSO\n" + see_also + "\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// completions

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    out += (out.empty() ? "" : std::string(sep)) + p;
  }
  return out;
}

bool takes_file(const Opt& opt) {
  return opt.type.find("FILE") != std::string::npos || opt.type.find("PATH") != std::string::npos;
}

std::string bash_completion(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* cmd : app.get_subcommands({})) {
    names.push_back(cmd->get_name());
  }
  std::string out =
      "# bash completion for netecho. Generated by netecho_docgen from netecho's option\n"
      "# definitions: do not edit.\n"
      "_netecho() {\n"
      "  local cur prev words cword\n"
      "  _init_completion || return\n"
      "  local cmd='' i\n"
      "  for ((i = 1; i < cword; i++)); do\n"
      "    case ${words[i]} in\n"
      "      " + join(names, "|") + ") cmd=${words[i]}; break ;;\n"
      "    esac\n"
      "  done\n"
      "  case $cmd in\n";
  std::vector<std::string> top;
  for (const auto& opt : options_of(app)) {
    top.insert(top.end(), opt.names.begin(), opt.names.end());
  }
  out += fmt::format(
      "    '')\n"
      "      if [[ $cur == -* ]]; then\n"
      "        COMPREPLY=($(compgen -W '{}' -- \"$cur\"))\n"
      "      else\n"
      "        COMPREPLY=($(compgen -W '{}' -- \"$cur\"))\n"
      "      fi\n"
      "      ;;\n",
      join(top, " "), join(names, " "));
  for (const CLI::App* cmd : app.get_subcommands({})) {
    std::vector<std::string> all;
    std::string values;
    std::vector<std::string> free_values;
    for (const auto& opt : options_of(*cmd)) {
      all.insert(all.end(), opt.names.begin(), opt.names.end());
      if (!opt.takes_value) {
        continue;
      }
      if (!opt.choices.empty()) {
        values += fmt::format(
            "        {}) COMPREPLY=($(compgen -W '{}' -- \"$cur\")); return ;;\n",
            join(opt.names, "|"), join(opt.choices, " "));
      } else if (takes_file(opt)) {
        values += fmt::format("        {}) _filedir; return ;;\n", join(opt.names, "|"));
      } else {
        free_values.insert(free_values.end(), opt.names.begin(), opt.names.end());
      }
    }
    if (!free_values.empty()) {
      values += fmt::format("        {}) return ;;\n", join(free_values, "|"));
    }
    out += fmt::format(
        "    {})\n"
        "      case $prev in\n"
        "{}"
        "      esac\n"
        "      [[ $cur == -* ]] && COMPREPLY=($(compgen -W '{}' -- \"$cur\"))\n"
        "      ;;\n",
        cmd->get_name(), values, join(all, " "));
  }
  out += "  esac\n} &&\n  complete -F _netecho netecho\n";
  return out;
}

// Text inside a zsh _arguments spec's [...] or a single-quoted word.
std::string zsh_text(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else if (c == '[' || c == ']' || c == ':' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::string zsh_specs(const std::vector<Opt>& opts, std::string_view indent) {
  std::string out;
  for (const auto& opt : opts) {
    for (const auto& name : opt.names) {
      std::string spec = opt.repeatable ? "*" : "";
      spec += name;
      if (opt.takes_value && name.starts_with("--")) {
        spec += "=";
      }
      spec += "[" + zsh_text(opt.description) + "]";
      if (opt.takes_value) {
        const std::string label = zsh_text(opt.type.substr(0, opt.type.find(':')));
        if (!opt.choices.empty()) {
          spec += ":" + label + ":(" + join(opt.choices, " ") + ")";
        } else if (takes_file(opt)) {
          spec += ":" + label + ":_files";
        } else {
          spec += ":" + label + ": ";
        }
      }
      out += fmt::format("{}'{}' \\\n", indent, spec);
    }
  }
  return out;
}

std::string zsh_completion(CLI::App& app) {
  std::string out =
      "#compdef netecho\n"
      "# zsh completion for netecho. Generated by netecho_docgen from netecho's option\n"
      "# definitions: do not edit.\n"
      "_netecho() {\n"
      "  local curcontext=$curcontext state line\n"
      "  local -a commands\n"
      "  commands=(\n";
  for (const CLI::App* cmd : app.get_subcommands({})) {
    out += fmt::format("    '{}:{}'\n", cmd->get_name(), zsh_text(cmd->get_description()));
  }
  out += "  )\n  _arguments -C \\\n" + zsh_specs(options_of(app), "    ") +
         "    '1:command:->command' \\\n"
         "    '*::argument:->argument'\n"
         "  case $state in\n"
         "    command) _describe -t commands 'netecho command' commands ;;\n"
         "    argument)\n"
         "      case $line[1] in\n";
  for (const CLI::App* cmd : app.get_subcommands({})) {
    out += fmt::format("        {})\n          _arguments \\\n", cmd->get_name());
    out += zsh_specs(options_of(*cmd), "            ");
    out += positionals_of(*cmd).empty() ? "            && return\n"
                                        : "            '1:target: ' && return\n";
    out += "          ;;\n";
  }
  out += "      esac\n      ;;\n  esac\n}\n\n_netecho \"$@\"\n";
  return out;
}

std::string fish_text(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "'";
}

std::string fish_completion(CLI::App& app) {
  std::string out =
      "# fish completion for netecho. Generated by netecho_docgen from netecho's option\n"
      "# definitions: do not edit.\n"
      "complete -c netecho -f\n";
  std::vector<std::string> names;
  for (const CLI::App* cmd : app.get_subcommands({})) {
    names.push_back(cmd->get_name());
  }
  const auto line = [](std::string_view condition, const Opt& opt) {
    std::string flags;
    for (const auto& name : opt.names) {
      flags += name.starts_with("--") ? " -l " + name.substr(2)
               : name.size() == 2     ? " -s " + name.substr(1)
                                      : " -o " + name.substr(1);
    }
    if (opt.takes_value) {
      flags += takes_file(opt) ? " -r -F" : " -x";
    }
    if (!opt.choices.empty()) {
      flags += " -a " + fish_text(join(opt.choices, " "));
    }
    return fmt::format("complete -c netecho -n {}{} -d {}\n", fish_text(condition), flags,
                       fish_text(opt.description));
  };
  for (const auto& opt : options_of(app)) {
    out += line("__fish_use_subcommand", opt);
  }
  for (const CLI::App* cmd : app.get_subcommands({})) {
    out += fmt::format("complete -c netecho -n __fish_use_subcommand -a {} -d {}\n",
                       cmd->get_name(), fish_text(cmd->get_description()));
  }
  for (const CLI::App* cmd : app.get_subcommands({})) {
    const std::string condition = "__fish_seen_subcommand_from " + cmd->get_name();
    for (const auto& opt : options_of(*cmd)) {
      out += line(condition, opt);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// docs/CLI.md's flag table

std::string md_cell(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// Every visible option of netecho, of every subcommand and of theirs (bench merge), one row
// each, in the order --help lists them. docs/CLI.md holds a copy;
// tests/dist/cli_table_test.sh compares.
std::string flag_table(CLI::App& app) {
  std::string out =
      "| command | option | value | default | meaning |\n"
      "|---|---|---|---|---|\n";
  const auto rows = [&out](const CLI::App& cmd, const std::string& command) {
    for (const Positional& p : positionals_of(cmd)) {
      out += fmt::format("| {} | `{}` | | {} | {} |\n", command, upper(p.name),
                         md_cell(p.default_value), md_cell(p.description));
    }
    for (const Opt& opt : options_of(cmd)) {
      std::string names;
      for (const auto& n : opt.names) {
        names += (names.empty() ? "`" : ", `") + n + "`";
      }
      out += fmt::format("| {} | {} | {} | {} | {} |\n", command, names,
                         opt.takes_value ? "`" + md_cell(netecho::cli::value_name(opt.type)) + "`" : "",
                         md_cell(opt.default_value), md_cell(opt.description));
    }
  };
  rows(app, "netecho");
  for (const CLI::App* cmd : app.get_subcommands({})) {
    rows(*cmd, cmd->get_name());
    for (const CLI::App* sub : cmd->get_subcommands({})) {  // bench merge
      rows(*sub, cmd->get_name() + " " + sub->get_name());
    }
  }
  return out;
}

bool write(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    std::fprintf(stderr, "netecho_docgen: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("usage: netecho_docgen OUTDIR\n", stderr);
    return 2;
  }
  const std::string dir = argv[1];
  CLI::App app;
  Args args;
  netecho::cli::build_app(app, args);
  bool ok = write(dir + "/netecho.1", main_page(app));
  for (const CLI::App* cmd : app.get_subcommands({})) {
    ok = write(dir + "/netecho-" + cmd->get_name() + ".1", subcommand_page(*cmd)) && ok;
  }
  ok = write(dir + "/netecho.bash", bash_completion(app)) && ok;
  ok = write(dir + "/_netecho", zsh_completion(app)) && ok;
  ok = write(dir + "/netecho.fish", fish_completion(app)) && ok;
  ok = write(dir + "/cli-flags.md", flag_table(app)) && ok;
  return ok ? 0 : 1;
}
