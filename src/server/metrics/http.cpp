#include "server/metrics/http.hpp"

#include <fmt/format.h>

namespace netecho::server::metrics {
namespace {

bool is_token_char(char c) {
  // RFC 9110 tchar, enough to refuse anything that is not a method name.
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_target_char(char c) { return c > 0x20 && c < 0x7f; }

}  // namespace

Parsed parse_request(std::string_view buffered) {
  // The head ends at an empty line; bare LF line ends are tolerated (RFC 9112 section 2.2).
  std::size_t end = buffered.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    end = buffered.find("\n\n");
  }
  if (end == std::string_view::npos || end > kMaxRequestHead) {
    return {buffered.size() > kMaxRequestHead ? ParseStatus::too_large : ParseStatus::incomplete,
            {}};
  }
  const std::string_view head = buffered.substr(0, end);
  std::string_view line = head.substr(0, head.find('\n'));
  if (line.ends_with('\r')) {
    line.remove_suffix(1);
  }
  // method SP request-target SP HTTP-version
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1) {
    return {ParseStatus::malformed, {}};
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  for (const char c : method) {
    if (!is_token_char(c)) {
      return {ParseStatus::malformed, {}};
    }
  }
  for (const char c : target) {
    if (!is_target_char(c)) {
      return {ParseStatus::malformed, {}};
    }
  }
  if ((version != "HTTP/1.1" && version != "HTTP/1.0") || target.front() != '/') {
    return {ParseStatus::malformed, {}};
  }
  return {ParseStatus::complete, {method, target.substr(0, target.find('?'))}};
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string serialize(const Response& r, bool head_only) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
      r.status, reason_phrase(r.status), r.content_type, r.body.size());
  if (!r.allow.empty()) {
    out += fmt::format("Allow: {}\r\n", r.allow);
  }
  out += "\r\n";
  if (!head_only) {
    out += r.body;
  }
  return out;
}

}  // namespace netecho::server::metrics
