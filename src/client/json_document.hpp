#pragma once
// What the JSON documents of send, ping and bench share, so that one script reads them all
// alike: keys in the documented order (nlohmann::ordered_json), "schema" and "started_at"
// first; a figure that does not exist is null, never 0; a duration's unit is in its key
// (rtt_ms, elapsed_s, latency_ns).

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace netecho::client {

using JsonDocument = nlohmann::ordered_json;

// {"schema": schema, "started_at": started_at}, the start of every document, to which a tool
// adds its own keys. schema: "netecho-TOOL/VERSION" (a field's meaning never changes within a
// version); started_at: UTC, ISO 8601 (base::format_utc).
JsonDocument json_document(std::string_view schema, std::string started_at);

// A duration in milliseconds, a floating-point number: the documents' _ms keys (and ping's
// text, which prints the same figures).
double to_ms(std::chrono::nanoseconds d);

}  // namespace netecho::client
