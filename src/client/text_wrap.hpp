#pragma once
// The client tools' human output fits an 80-column terminal: a line too long for it is broken
// at spaces, its continuations indented under the text they continue (a hanging indent), so
// each report keeps its columns and a reader sees where an entry ends. Pure: text in, text out.

#include <cstddef>
#include <string>
#include <string_view>

namespace netecho::client {

// The width every human-readable line of send, ping and bench fits.
inline constexpr std::size_t kTextColumns = 80;

// text, each of its lines broken at spaces into lines of at most width columns (one column per
// UTF-8 character); every continuation starts with indent spaces. The first line's leading
// columns up to indent (a label and its padding, "  Wire      ") are never a break. A word
// longer than a line stays whole, past the width, rather than be cut. No newline is added at
// the end.
std::string wrap_text(std::string_view text, std::size_t indent, std::size_t width = kTextColumns);

}  // namespace netecho::client
