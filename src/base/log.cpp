#include "base/log.hpp"

#include <string>

namespace netecho::base {

void write_log_line(std::string_view line) noexcept {
  std::string out;
  out.reserve(line.size() + 10);
  out.append("netecho: ").append(line).push_back('\n');
  std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace netecho::base
