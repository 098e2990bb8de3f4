#pragma once
// Payloads as written on the command line, and replies as printed. Pure functions.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace netecho::client {

using Bytes = std::vector<std::byte>;

// "0,1,2,3" or "0x00, 0xff": decimal or 0x-hex values 0..255, separated by commas.
base::Parsed<Bytes> parse_byte_list(std::string_view text);
// "00ff10" (also "00 ff:10"): pairs of hex digits; spaces and colons between pairs are ignored.
base::Parsed<Bytes> parse_hex(std::string_view text);
Bytes from_text(std::string_view text);

// "[0, 1, 2, 3]", the original client's format.
std::string format_list(const Bytes& bytes);
// "00010203"
std::string format_hex(const Bytes& bytes);

}  // namespace netecho::client
