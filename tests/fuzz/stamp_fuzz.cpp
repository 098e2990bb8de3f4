// libFuzzer target: what a STAMP reflector reads from the network. Every datagram to
// `serve --stamp` passes through the sender-packet reader, the HMAC checks and the TLV walk; a
// hostile peer controls those bytes completely. The first byte picks the reflector's mode.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "service/stamp.hpp"
#include "stamp/hmac.hpp"
#include "stamp/packet.hpp"

namespace {

std::int64_t fixed_now() noexcept { return 1'700'000'000'000'000'000; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace netecho;
  if (size == 0) {
    return 0;
  }
  service::StampConfig config;
  config.mode = (data[0] & 1) != 0 ? service::StampMode::stateful : service::StampMode::stateless;
  config.format = (data[0] & 2) != 0 ? stamp::TimestampFormat::ptp : stamp::TimestampFormat::ntp;
  if ((data[0] & 4) != 0) {
    config.key = stamp::HmacKey(std::vector<std::byte>(8, std::byte{0x42}));
  }
  const std::optional<stamp::HmacKey> config_key = config.key;
  service::StampReflector reflector(std::move(config));
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
  std::vector<std::byte> out(in.size());
  service::StampArrival arrival;
  arrival.receive_ns = fixed_now() - 1;
  arrival.peer = in.first(std::min<std::size_t>(in.size(), 16));
  const auto reply = reflector.reflect(in, arrival, out, fixed_now);
  if (reply.verdict == service::StampVerdict::reply) {
    // Symmetric size, the sender's sequence echoed, and the TLV area changed only in flags.
    const std::size_t base = stamp::base_size(reflector.auth());
    const auto p = stamp::read_reflector(out, reflector.auth());
    // Shorter than the base: a TWAMP-Light reply, cut after the TTL (unauthenticated layout).
    const std::uint32_t sender_seq = p ? p->sender_seq : stamp::load32(out, 24);
    if (reply.size != in.size() || sender_seq != stamp::load32(in, 0)) {
      __builtin_trap();
    }
    // Authenticated, the HMAC TLV's value is the reflector's own, and it must check.
    std::size_t signed_from = in.size();
    if (config_key && in.size() > base) {
      const auto place = stamp::find_hmac_tlv(in.subspan(base));
      if (place.state == stamp::HmacTlvState::in_place) {
        signed_from = base + place.offset + stamp::kTlvHeader;
        if (!stamp::verify_tlvs(*config_key, out, reflector.auth(), place.offset)) {
          __builtin_trap();
        }
      }
    }
    for (std::size_t i = base; i < in.size(); ++i) {
      const bool hmac = i >= signed_from && i < signed_from + stamp::kHmacSize;
      if (!hmac && ((out[i] ^ in[i]) & std::byte{0x1f}) != std::byte{0}) {
        __builtin_trap();
      }
    }
  } else if (in.size() >= stamp::base_size(reflector.auth()) &&
             reply.verdict == service::StampVerdict::malformed) {
    __builtin_trap();  // long enough is never malformed: the TLVs never refuse a packet
  }
  stamp::TlvReader reader(in);
  std::size_t n = 0;
  while (auto tlv = reader.next()) {
    if (tlv->value.data() + tlv->value.size() > in.data() + in.size() || ++n > in.size()) {
      __builtin_trap();
    }
  }
  return 0;
}
