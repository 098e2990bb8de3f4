#include "service/stamp.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace netecho::service {

void reflect_tlvs(std::span<const std::byte> area, std::span<std::byte> out,
                  bool hmac_known) noexcept {
  if (!area.empty()) {
    std::memcpy(out.data(), area.data(), area.size());
  }
  stamp::TlvReader reader(area);
  while (auto tlv = reader.next()) {
    const bool known = tlv->type == static_cast<std::uint8_t>(stamp::TlvType::extra_padding) ||
                       (hmac_known && tlv->type == static_cast<std::uint8_t>(stamp::TlvType::hmac));
    if (!known) {
      out[tlv->offset] |= std::byte{stamp::kTlvUnrecognized};
    }
  }
  if (auto at = reader.malformed()) {
    out[*at] |= std::byte{stamp::kTlvMalformed};
  }
}

bool reflect_hmac_tlv(const stamp::HmacKey& key, std::span<const std::byte> in,
                      std::span<std::byte> out) noexcept {
  constexpr stamp::Auth a = stamp::Auth::authenticated;
  const std::size_t base = stamp::base_size(a);
  const auto area = in.subspan(base);
  const auto integrity = std::byte{stamp::kTlvIntegrity};
  const stamp::HmacTlvPlace place = stamp::find_hmac_tlv(area);
  switch (place.state) {
    case stamp::HmacTlvState::no_tlvs:
      return true;
    case stamp::HmacTlvState::missing: {
      stamp::TlvReader reader(area);
      while (auto tlv = reader.next()) {
        out[base + tlv->offset] |= integrity;
      }
      return false;
    }
    case stamp::HmacTlvState::invalid:
      out[base + place.offset] |= integrity;
      return false;
    case stamp::HmacTlvState::in_place:
      break;
  }
  const bool ok = stamp::verify_tlvs(key, in, a, place.offset);
  if (!ok) {
    out[base + place.offset] |= integrity;
  }
  stamp::sign_tlvs(key, out, a, place.offset);
  return ok;
}

std::uint32_t StampReflector::next_seq(const StampArrival& arrival, std::uint16_t ssid) {
  key_scratch_.assign(reinterpret_cast<const char*>(arrival.peer.data()), arrival.peer.size());
  key_scratch_.push_back(static_cast<char>(ssid >> 8));
  key_scratch_.push_back(static_cast<char>(ssid & 0xff));
  auto it = sessions_.find(key_scratch_);
  if (it == sessions_.end()) {
    if (sessions_.size() >= kMaxSessions) {
      std::erase_if(sessions_, [&](const auto& s) {
        return arrival.receive_ns - s.second.last_ns > kSessionIdleNs;
      });
      if (sessions_.size() >= kMaxSessions) {
        sessions_.clear();
      }
    }
    it = sessions_.emplace(key_scratch_, Session{}).first;
  }
  it->second.last_ns = arrival.receive_ns;
  return it->second.next++;
}

StampReply StampReflector::reflect(std::span<const std::byte> in, const StampArrival& arrival,
                                   std::span<std::byte> out, std::int64_t (*now)() noexcept) {
  const stamp::Auth a = auth();
  const std::size_t base = stamp::base_size(a);
  // A TWAMP-Light request shorter than the base is read and answered through a whole base.
  std::array<std::byte, stamp::base_size(stamp::Auth::none)> short_in{};
  std::array<std::byte, stamp::base_size(stamp::Auth::none)> short_out{};
  const bool twamp_short =
      a == stamp::Auth::none && in.size() >= kTwampLightMinimum && in.size() < base;
  if (twamp_short) {
    std::memcpy(short_in.data(), in.data(), in.size());
  }
  const auto request = stamp::read_sender(twamp_short ? short_in : in, a);
  if (!request || out.size() < in.size()) {
    return {StampVerdict::malformed, 0};
  }
  if (config_.key && !stamp::verify(*config_.key, in)) {
    return {StampVerdict::bad_hmac, 0};
  }
  stamp::ReflectorPacket reply;
  reply.seq = config_.mode == StampMode::stateful ? next_seq(arrival, request->ssid)
                                                  : request->seq;
  reply.error_estimate = arrival.estimate;
  reply.error_estimate.format = config_.format;
  reply.ssid = request->ssid;
  reply.receive_timestamp = stamp::encode_timestamp(arrival.receive_ns, config_.format);
  reply.sender_seq = request->seq;
  reply.sender_timestamp = request->timestamp;
  reply.sender_error_estimate = request->error_estimate.encode();
  reply.sender_ttl = arrival.ttl < 0 ? 0 : static_cast<std::uint8_t>(std::min(arrival.ttl, 255));
  if (twamp_short) {
    stamp::write_reflector(reply, a, short_out);
    std::memcpy(out.data(), short_out.data(), in.size());
  } else {
    stamp::write_reflector(reply, a, out);
    reflect_tlvs(in.subspan(base), out.subspan(base, in.size() - base), config_.key.has_value());
    if (config_.key) {
      reflect_hmac_tlv(*config_.key, in, out.first(in.size()));
    }
  }
  // T3 last: only the HMAC (which covers it) is computed after it.
  stamp::write_reflector_timestamp(stamp::encode_timestamp(now(), config_.format), a, out);
  if (config_.key) {
    stamp::sign(*config_.key, out);
  }
  return {StampVerdict::reply, in.size()};
}

}  // namespace netecho::service
