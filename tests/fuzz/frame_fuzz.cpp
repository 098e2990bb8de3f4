// libFuzzer target: what the client tools decode from the network. Every echoed datagram or
// stream chunk of `netecho ping` and `netecho bench` passes through the probe-frame decoders,
// and bench checks TCP echo with Pattern::find_mismatch. A hostile or broken peer controls
// those bytes completely.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "client/bench/pattern.hpp"
#include "client/probe_frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace netecho::client;
  const std::span<const std::byte> frame(reinterpret_cast<const std::byte*>(data), size);

  const auto header = decode_probe_header(frame);
  const auto whole = decode_probe(frame);
  if (const auto* h = std::get_if<ProbeHeader>(&whole)) {
    // An intact frame is exactly what encode_probe writes for its header.
    std::vector<std::byte> again(size);
    encode_probe(*h, again);
    if (std::memcmp(again.data(), data, size) != 0 ||
        !std::holds_alternative<ProbeHeader>(header)) {
      __builtin_trap();
    }
  } else if (const auto* e = std::get_if<ProbeError>(&whole)) {
    if (e->kind == ProbeErrorKind::bad_fill &&
        (e->offset < kProbeHeaderSize || e->offset >= size)) {
      __builtin_trap();  // the offset must point into the fill
    }
    describe(e->kind);
  }

  // The same bytes as a bench stream chunk: seed and offset from the first 16 bytes.
  if (size >= 16) {
    std::uint64_t seed = 0;
    std::uint64_t offset = 0;
    std::memcpy(&seed, data, 8);
    std::memcpy(&offset, data + 8, 8);
    const Pattern pattern(seed);
    const auto rest = frame.subspan(16);
    const std::size_t bad = pattern.find_mismatch(offset, rest);
    if (bad > rest.size() || (bad < rest.size() && pattern.at(offset + bad) == rest[bad])) {
      __builtin_trap();
    }
  }
  return 0;
}
