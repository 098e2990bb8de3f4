#include "client/text_wrap.hpp"

#include <algorithm>

namespace netecho::client {
namespace {

// UTF-8 continuation bytes take no column of their own.
bool starts_character(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }

std::size_t columns(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), starts_character));
}

// Appends one line of text (no '\n' in it), wrapped.
void wrap_line(std::string_view line, std::size_t indent, std::size_t width, std::string& out) {
  std::size_t used = 0;  // columns the output line already holds: its hanging indent
  for (bool first = true;; first = false) {
    if (used + columns(line) <= width) {
      out += line;
      return;
    }
    // Where to break: the start of the last run of spaces before which the text still fits,
    // or, when the first word alone is too long, the first run after it. A break after a ',',
    // ';' or ':' in the second half of the room is taken first, so that "time 2002 ms" or
    // "received 5 (320 B)" stays together. On the first line a run within the indent is a
    // label's padding, not a break.
    std::size_t fits = std::string_view::npos;
    std::size_t clause = std::string_view::npos;
    std::size_t any = std::string_view::npos;
    std::size_t col = used;
    for (std::size_t i = 1; i < line.size(); ++i) {
      col += starts_character(line[i - 1]) ? 1 : 0;
      if (line[i] != ' ' || line[i - 1] == ' ' || (first && col < indent)) {
        continue;
      }
      if (col > width) {
        any = i;
        break;
      }
      fits = i;
      if (std::string_view(",;:").find(line[i - 1]) != std::string_view::npos &&
          (col - used) * 2 >= width - used) {
        clause = i;
      }
    }
    const std::size_t cut = clause != std::string_view::npos ? clause
                            : fits != std::string_view::npos ? fits
                                                             : any;
    if (cut == std::string_view::npos) {
      out += line;  // one word: nothing to break at
      return;
    }
    out += line.substr(0, cut);
    const std::size_t next = line.find_first_not_of(' ', cut);
    if (next == std::string_view::npos) {
      return;  // only spaces left: no line for them
    }
    out += '\n';
    out.append(indent, ' ');
    used = indent;
    line.remove_prefix(next);
  }
}

}  // namespace

std::string wrap_text(std::string_view text, std::size_t indent, std::size_t width) {
  std::string out;
  for (;;) {
    const std::size_t end = text.find('\n');
    wrap_line(text.substr(0, end), indent, width, out);
    if (end == std::string_view::npos) {
      return out;
    }
    out += '\n';
    text.remove_prefix(end + 1);
  }
}

}  // namespace netecho::client
