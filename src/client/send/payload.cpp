#include "client/send/payload.hpp"

#include <charconv>

#include <fmt/format.h>

namespace netecho::client {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

base::Parsed<Bytes> parse_byte_list(std::string_view text) {
  Bytes out;
  if (trim(text).empty()) {
    return out;
  }
  std::size_t start = 0;
  for (std::size_t index = 0;; ++index) {
    const auto comma = text.find(',', start);
    const auto item = trim(text.substr(start, comma == std::string_view::npos ? text.npos
                                                                               : comma - start));
    int base = 10;
    auto digits = item;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
      base = 16;
      digits.remove_prefix(2);
    }
    unsigned value = 0;
    const auto [ptr, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() ||
        value > 255) {
      return fmt::format("invalid byte '{}' at position {} in '{}' (expected 0-255 or 0x00-0xff)",
                         item, index + 1, text);
    }
    out.push_back(static_cast<std::byte>(value));
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  return out;
}

base::Parsed<Bytes> parse_hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == ' ' || c == ':') && high < 0) {
      continue;
    }
    const int d = hex_digit(c);
    if (d < 0) {
      return fmt::format("invalid hex digit '{}' at offset {} in '{}'", c, i, text);
    }
    if (high < 0) {
      high = d;
    } else {
      out.push_back(static_cast<std::byte>(high * 16 + d));
      high = -1;
    }
  }
  if (high >= 0) {
    return fmt::format("odd number of hex digits in '{}'", text);
  }
  return out;
}

Bytes from_text(std::string_view text) {
  Bytes out(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    out[i] = static_cast<std::byte>(text[i]);
  }
  return out;
}

std::string format_list(const Bytes& bytes) {
  std::string s = "[";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) {
      s += ", ";
    }
    s += std::to_string(std::to_integer<unsigned>(bytes[i]));
  }
  s += ']';
  return s;
}

std::string format_hex(const Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (const auto b : bytes) {
    const auto v = std::to_integer<unsigned>(b);
    s += kDigits[v >> 4];
    s += kDigits[v & 15];
  }
  return s;
}

}  // namespace netecho::client
