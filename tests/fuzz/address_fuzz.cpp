// libFuzzer target: the address parsers every --tcp, --udp and target argument goes through.
// Beyond "no crash, no undefined behaviour": what parses must print and parse back the same.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/address.hpp"

namespace {

std::string print(const netecho::net::Endpoint& ep) {
  const bool v6 = ep.host.find(':') != std::string::npos;
  return (v6 ? "[" + ep.host + "]" : ep.host) + ":" + std::to_string(ep.port);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace netecho::net;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ep = parse_endpoint(text);
  if (ep) {
    auto again = parse_endpoint(print(*ep));
    if (!again || *again != *ep) {
      __builtin_trap();  // printed back, it must parse to the same endpoint
    }
  } else if (ep.error().empty()) {
    __builtin_trap();  // a refusal always says why
  }
  for (const Transport t : {Transport::tcp, Transport::udp}) {
    auto target = parse_target(text, t);
    if (target) {
      const bool schemed = text.find("://") != std::string_view::npos;
      if (!schemed && target->transport != t) {
        __builtin_trap();  // without a scheme the default transport holds
      }
    }
  }
  return 0;
}
