#pragma once
// The little HTTP/1.1 the metrics listener speaks, as pure functions: a request head in, the
// request or what is wrong with it out; a status and a body in, the response's bytes out. Only
// the request line matters (every route is a GET without a body); the headers are read past,
// never stored, so a hostile head costs nothing but the capped buffer it arrives in.

#include <cstddef>
#include <string>
#include <string_view>

namespace netecho::server::metrics {

// The most a request head (request line and headers) may take: Prometheus's scrape request is
// about 300 bytes; 8 KiB is what common servers allow (nginx's large_client_header_buffers).
// A longer one is answered 431 and closed.
inline constexpr std::size_t kMaxRequestHead = 8 * 1024;

enum class ParseStatus {
  incomplete,  // no end of head yet, and under kMaxRequestHead
  complete,
  malformed,   // 400
  too_large,   // 431
};

struct Request {
  std::string_view method;
  std::string_view path;  // the target without its query string
};

struct Parsed {
  ParseStatus status = ParseStatus::incomplete;
  Request request;  // views into the buffer given, when complete
};

// Looks at what has arrived so far on a connection.
Parsed parse_request(std::string_view buffered);

struct Response {
  int status = 200;
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string_view allow;  // the Allow header of a 405
};

// The response as bytes, with Content-Length and Connection: close; without the body for HEAD.
std::string serialize(const Response& r, bool head_only);

std::string_view reason_phrase(int status) noexcept;

}  // namespace netecho::server::metrics
