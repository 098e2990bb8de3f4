#include "client/json_document.hpp"

#include <utility>

namespace netecho::client {

JsonDocument json_document(std::string_view schema, std::string started_at) {
  return JsonDocument{{"schema", schema}, {"started_at", std::move(started_at)}};
}

double to_ms(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; }

}  // namespace netecho::client
