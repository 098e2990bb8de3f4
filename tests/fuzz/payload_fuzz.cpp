// libFuzzer target: the small text decoders of the command line: payloads (--bytes, --hex),
// durations (--timeout, --interval, --idle-timeout, ...), the UDP deny list and rate. The first
// input byte picks the decoder; the rest is its text. Whatever decodes must encode and decode
// back to the same value.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/duration.hpp"
#include "client/send/payload.hpp"
#include "server/udp_guard.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace netecho;
  if (size == 0) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto bytes = client::parse_byte_list(text);
      if (const auto* b = bytes ? &*bytes : nullptr) {
        std::string list;
        for (const std::byte x : *b) {
          list += (list.empty() ? "" : ",") + std::to_string(static_cast<unsigned>(x));
        }
        auto again = client::parse_byte_list(list);
        if (!again || *again != *b) {
          __builtin_trap();
        }
      }
      break;
    }
    case 1: {
      auto bytes = client::parse_hex(text);
      if (const auto* b = bytes ? &*bytes : nullptr) {
        auto again = client::parse_hex(client::format_hex(*b));
        if (!again || *again != *b) {
          __builtin_trap();
        }
      }
      break;
    }
    case 2: {
      auto d = base::parse_duration(text);
      if (const auto* ns = d ? &*d : nullptr) {
        if (ns->count() < 0) {
          __builtin_trap();  // negative durations are refused
        }
        base::format_duration(*ns);
      }
      break;
    }
    case 3: {
      auto ports = server::parse_port_set(text);
      if (const auto* p = ports ? &*ports : nullptr) {
        auto again = server::parse_port_set(p->to_string());
        if (!again || !(*again == *p)) {
          __builtin_trap();
        }
      }
      break;
    }
    default: {
      auto rate = server::parse_rate(text);
      if (const auto* r = rate ? &*rate : nullptr) {
        auto again = server::parse_rate(std::to_string(*r) + "/s");
        if (!again || *again != *r) {
          __builtin_trap();
        }
      }
      break;
    }
  }
  return 0;
}
