#include "server/counters.hpp"

#include <fmt/format.h>

namespace netecho::server {

void CounterTotals::add(const Counters& c) noexcept {
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] += c.get(i);
  }
}

std::string CounterTotals::to_string() const {
  std::string s;
  for (std::size_t i = 0; i < values.size(); ++i) {
    fmt::format_to(std::back_inserter(s), "{}{}={}", i == 0 ? "" : " ", kStats[i].name, values[i]);
  }
  return s;
}

std::vector<base::LogField> CounterTotals::fields() const {
  std::vector<base::LogField> f;
  f.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    f.emplace_back(kStats[i].name, values[i]);
  }
  return f;
}

}  // namespace netecho::server
