#pragma once
// Checks of the client tools' human output against the terminal it is written for: every line
// within 80 columns (client/text_wrap.hpp wraps the longer ones), and the wrapped text joined
// back for tests that look for words in it.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <regex>
#include <string>

#include "harness.hpp"

namespace netecho::test {

// The width the client tools' human output fits: an 80-column terminal.
inline constexpr std::size_t kTerminalColumns = 80;

// Fails the running test for each line of text wider than kTerminalColumns (one column per
// UTF-8 character), quoting it; what names the output in the message.
inline void expect_fits_terminal(const std::string& text, const std::string& what) {
  for (const auto& line : lines_of(text)) {
    const auto columns =
        static_cast<std::size_t>(std::count_if(line.begin(), line.end(), [](char c) {
          return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        }));
    EXPECT_LE(columns, kTerminalColumns) << what << ": a line of " << columns << " columns:\n"
                                         << line << "\nin:\n"
                                         << text;
  }
}

// text with each wrapped line joined back: a newline followed by three or more spaces (where a
// continuation starts) becomes one space. Lines that start that far in for another reason (a
// table's second row) are joined too, so it is for finding words, not for checking a layout.
inline std::string unwrap(const std::string& text) {
  static const std::regex kContinuation("\n {3,}");
  return std::regex_replace(text, kContinuation, " ");
}

}  // namespace netecho::test
