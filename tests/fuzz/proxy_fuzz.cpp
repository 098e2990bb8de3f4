// libFuzzer target: the PROXY protocol header parser (server/proxy_header.hpp), fed what a
// connection's first bytes may be. Beyond "no crash, no undefined behaviour, no read past the
// input": the parser is incremental, so every prefix of an input must be a valid beginning
// (need_more) of what the whole input turns out to be, and a header's length never exceeds
// what it was given nor the version's bound.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "server/proxy_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace netecho::server::proxy;
  const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
  const Parsed whole = parse(input);
  if (whole.status == Parsed::Status::done) {
    const std::size_t len = whole.header.length;
    if (len == 0 || len > size || len > kV2Fixed + kMaxV2) {
      __builtin_trap();
    }
    // The header alone gives the same answer, and any shorter prefix asks for more.
    const Parsed alone = parse(input.first(len));
    if (alone.status != Parsed::Status::done || alone.header.length != len ||
        !(alone.header.source == whole.header.source)) {
      __builtin_trap();
    }
    if (parse(input.first(len - 1)).status != Parsed::Status::need_more) {
      __builtin_trap();
    }
  } else if (whole.status == Parsed::Status::error) {
    if (to_string(whole.error) == "?") {
      __builtin_trap();
    }
    // More bytes never turn an error back into a header, nor into a wait.
    std::vector<std::byte> more(input.begin(), input.end());
    more.push_back(std::byte{0});
    if (parse(more).status != Parsed::Status::error) {
      __builtin_trap();
    }
  }
  return 0;
}
