#include "cli/help_format.hpp"

#include <sstream>
#include <string>
#include <string_view>

namespace netecho::cli {
namespace {

constexpr std::size_t kColumn = 30;  // where descriptions start, as CLI11's default

// text's words in lines of at most kHelpWidth columns, each continuation indented to indent.
std::string wrap(std::string_view text, std::size_t first_column, std::size_t indent) {
  std::string out;
  std::size_t column = first_column;
  std::istringstream words{std::string(text)};
  std::string word;
  bool line_empty = true;
  while (words >> word) {
    if (!line_empty && column + 1 + word.size() > kHelpWidth) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    line_empty = false;
  }
  return out;
}

// "  NAME      description" with the description wrapped; a name too long for the left column
// gets the description on the lines below it.
std::string layout(const std::string& name, const std::string& description) {
  std::string out = "  " + name;
  if (description.empty()) {
    return out + "\n";
  }
  if (out.size() + 1 < kColumn) {
    out += std::string(kColumn - out.size(), ' ');
  } else {
    out += "\n" + std::string(kColumn, ' ');
  }
  return out + wrap(description, kColumn, kColumn) + "\n";
}

class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option(const CLI::Option* opt, bool is_positional) const override {
    std::string description = opt->get_description();
    if (!opt->get_default_str().empty() && opt->get_type_size() != 0) {
      description += " (default " + opt->get_default_str() + ")";
    }
    std::string name = make_option_name(opt, is_positional);
    if (!is_positional) {
      name += make_option_opts(opt);
    }
    if (!opt->get_envname().empty()) {
      name += " (env " + opt->get_envname() + ")";
    }
    return layout(name, description);
  }

  std::string make_option_name(const CLI::Option* opt, bool is_positional) const override {
    if (is_positional) {
      return value_name(opt);
    }
    return CLI::Formatter::make_option_name(opt, is_positional);
  }

  // The value an option takes, as named in its declaration; a repeatable one says so.
  std::string make_option_opts(const CLI::Option* opt) const override {
    if (opt->get_type_size() == 0) {
      return {};
    }
    std::string out = " " + value_name(opt);
    if (opt->get_expected_max() == CLI::detail::expected_max_vector_size) {
      out += " ...";
    }
    return out;
  }

  // The footer's paragraphs (split by blank lines) reflowed to the width; indented lines are
  // examples and keep their lines.
  std::string make_footer(const CLI::App* app) const override {
    const std::string& footer = app->get_footer();
    if (footer.empty()) {
      return {};
    }
    std::string out;
    std::string paragraph;
    const auto flush = [&] {
      if (!paragraph.empty()) {
        out += wrap(paragraph, 0, 0) + "\n";
        paragraph.clear();
      }
    };
    std::istringstream lines(footer);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty()) {
        flush();
        out += "\n";
      } else if (line[0] == ' ') {
        flush();
        out += line + "\n";
      } else {
        paragraph += (paragraph.empty() ? "" : " ") + line;
      }
    }
    flush();
    return "\n" + out;
  }

  std::string make_subcommand(const CLI::App* sub) const override {
    return layout(sub->get_display_name(true), sub->get_description());
  }

  std::string make_description(const CLI::App* app) const override {
    const std::string& text = app->get_description();
    return text.empty() ? std::string() : wrap(text, 0, 0) + "\n";
  }

  std::string make_usage(const CLI::App* app, std::string name) const override {
    std::string usage = CLI::Formatter::make_usage(app, std::move(name));
    // CLI11 names the positional by its option name ("target"): use the value's name.
    for (const CLI::Option* opt : app->get_options()) {
      if (opt->get_positional()) {
        const std::string from = " " + opt->get_name(true, false);
        if (const auto at = usage.find(from); at != std::string::npos) {
          usage.replace(at, from.size(), " " + value_name(opt));
        }
      }
    }
    return usage;
  }

 private:
  static std::string value_name(const CLI::Option* opt) {
    return cli::value_name(opt->get_type_name());
  }
};

}  // namespace

std::string value_name(std::string type_name) {
  if (const auto at = type_name.rfind(":{");
      at != std::string::npos && !type_name.empty() && type_name.back() == '}') {
    type_name.erase(at);
  }
  return type_name;
}

std::shared_ptr<CLI::Formatter> make_help_formatter() { return std::make_shared<HelpFormatter>(); }

}  // namespace netecho::cli
