// STAMP's codec (stamp/) and the reflector's reply (service/stamp): the field layouts, the
// timestamp formats, the Error Estimate, the HMAC, the TLVs and their HMAC TLV, stateless and
// stateful.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "service/stamp.hpp"
#include "stamp/hmac.hpp"
#include "stamp/packet.hpp"

namespace netecho::stamp {
namespace {

using service::StampArrival;
using service::StampConfig;
using service::StampMode;
using service::StampReflector;
using service::StampVerdict;

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

constexpr std::int64_t kT3 = 1'700'000'000'123'456'789;
std::int64_t fixed_now() noexcept { return kT3; }

TEST(StampTimestamp, NtpCountsFrom1900WithABinaryFraction) {
  EXPECT_EQ(encode_timestamp(0, TimestampFormat::ntp), 0x83AA7E80'00000000u);
  EXPECT_EQ(encode_timestamp(1'500'000'000, TimestampFormat::ntp), 0x83AA7E81'80000000u);
  EXPECT_EQ(decode_timestamp(0x83AA7E81'80000000u, TimestampFormat::ntp), 1'500'000'000);
}

TEST(StampTimestamp, PtpCountsFrom1970InNanoseconds) {
  EXPECT_EQ(encode_timestamp(1'500'000'000, TimestampFormat::ptp), 0x00000001'1DCD6500u);
  EXPECT_EQ(decode_timestamp(0x00000001'1DCD6500u, TimestampFormat::ptp), 1'500'000'000);
}

TEST(StampTimestamp, RoundTripsToTheNanosecondAfterNtpsFirstEra) {
  for (const std::int64_t t : {kT3, std::int64_t{2'100'000'000'999'999'999}}) {
    EXPECT_EQ(decode_timestamp(encode_timestamp(t, TimestampFormat::ptp), TimestampFormat::ptp), t);
    EXPECT_NEAR(
        static_cast<double>(decode_timestamp(encode_timestamp(t, TimestampFormat::ntp),
                                             TimestampFormat::ntp) - t), 0.0, 1.0);
  }
}

TEST(StampErrorEstimate, BitsAreSZScaleMultiplier) {
  ErrorEstimate e{true, TimestampFormat::ptp, 5, 7};
  EXPECT_EQ(e.encode(), 0xC507);
  const ErrorEstimate back = ErrorEstimate::decode(0x4A01);
  EXPECT_FALSE(back.synchronized);
  EXPECT_EQ(back.format, TimestampFormat::ptp);
  EXPECT_EQ(back.scale, 10);
  EXPECT_EQ(back.multiplier, 1);
}

TEST(StampErrorEstimate, FromErrorRoundsUpAndNeverClaimsZero) {
  using namespace std::chrono_literals;
  for (std::chrono::nanoseconds error : {1'000ns, 37'000ns, 1'000'000ns, 250'000'000ns,
                                         16'000'000'000ns}) {
    const auto e = ErrorEstimate::from_error(error, true, TimestampFormat::ntp);
    EXPECT_GE(e.error(), error - 1ns) << error.count();
    EXPECT_LT(e.error(), 2 * error) << error.count();
    EXPECT_NE(e.multiplier, 0);
  }
  EXPECT_EQ(ErrorEstimate::from_error(0ns, false, TimestampFormat::ntp).multiplier, 1);
}

TEST(StampHmac, IsRfc4231HmacSha256CutTo128Bits) {
  // RFC 4231 test case 2.
  const HmacKey key(bytes_of("Jefe"));
  const Hmac h = compute_hmac(key, bytes_of("what do ya want for nothing?"));
  const std::uint8_t want[16] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
                                 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7};
  EXPECT_EQ(std::memcmp(h.data(), want, 16), 0);
}

std::vector<std::byte> sender(std::uint32_t seq, std::uint16_t ssid, Auth a, std::size_t size = 0) {
  std::vector<std::byte> p(size != 0 ? size : base_size(a));
  SenderPacket s;
  s.seq = seq;
  s.timestamp = 0x1122334455667788;
  s.error_estimate = ErrorEstimate{true, TimestampFormat::ntp, 3, 9};
  s.ssid = ssid;
  write_sender(s, a, p);
  return p;
}

StampArrival arrival(std::string_view peer = "peer-a") {
  StampArrival a;
  a.receive_ns = kT3 - 5000;
  a.ttl = 63;
  a.estimate = ErrorEstimate{false, TimestampFormat::ntp, 2, 200};
  a.peer = {reinterpret_cast<const std::byte*>(peer.data()), peer.size()};
  return a;
}

TEST(StampReflector, StatelessReplyCarriesEveryFieldAtRfc8762sOffsets) {
  StampReflector r({});
  const auto in = sender(41, 0xBEEF, Auth::none);
  std::vector<std::byte> out(in.size(), std::byte{0xAA});
  const auto reply = r.reflect(in, arrival(), out, fixed_now);
  ASSERT_EQ(reply.verdict, StampVerdict::reply);
  ASSERT_EQ(reply.size, 44u);
  EXPECT_EQ(load32(out, 0), 41u);
  EXPECT_EQ(load64(out, 4), encode_timestamp(kT3, TimestampFormat::ntp));
  EXPECT_EQ(load16(out, 12), 0x02C8);  // S=0 Z=0 scale 2 multiplier 200
  EXPECT_EQ(load16(out, 14), 0xBEEF);
  EXPECT_EQ(load64(out, 16), encode_timestamp(kT3 - 5000, TimestampFormat::ntp));
  EXPECT_EQ(load32(out, 24), 41u);
  EXPECT_EQ(load64(out, 28), 0x1122334455667788u);
  EXPECT_EQ(load16(out, 36), 0x8309);
  EXPECT_EQ(load16(out, 38), 0u);
  EXPECT_EQ(std::to_integer<int>(out[40]), 63);
  EXPECT_EQ(load16(out, 41) | std::to_integer<int>(out[43]), 0);
}

TEST(StampReflector, PtpOnRequestSetsZAndWritesPtpTimestamps) {
  StampConfig c;
  c.format = TimestampFormat::ptp;
  StampReflector r(std::move(c));
  const auto in = sender(1, 1, Auth::none);
  std::vector<std::byte> out(in.size());
  ASSERT_EQ(r.reflect(in, arrival(), out, fixed_now).verdict, StampVerdict::reply);
  EXPECT_EQ(load16(out, 12) & 0x4000, 0x4000);
  EXPECT_EQ(load64(out, 4), encode_timestamp(kT3, TimestampFormat::ptp));
  EXPECT_EQ(load64(out, 16), encode_timestamp(kT3 - 5000, TimestampFormat::ptp));
}

TEST(StampReflector, StatefulCountsPerSenderAndSsid) {
  StampConfig c;
  c.mode = StampMode::stateful;
  StampReflector r(std::move(c));
  std::vector<std::byte> out(44);
  const auto seq_of = [&](std::uint32_t seq, std::uint16_t ssid, std::string_view peer) {
    const auto in = sender(seq, ssid, Auth::none);
    EXPECT_EQ(r.reflect(in, arrival(peer), out, fixed_now).verdict, StampVerdict::reply);
    EXPECT_EQ(load32(out, 24), seq);  // the sender's own, always
    return load32(out, 0);
  };
  EXPECT_EQ(seq_of(100, 1, "a"), 0u);
  EXPECT_EQ(seq_of(105, 1, "a"), 1u);  // the sender lost 4 on the way: the reflector did not
  EXPECT_EQ(seq_of(7, 2, "a"), 0u);
  EXPECT_EQ(seq_of(7, 1, "b"), 0u);
  EXPECT_EQ(seq_of(106, 1, "a"), 2u);
  EXPECT_EQ(r.sessions(), 3u);
}

TEST(StampReflector, ShortPacketIsMalformed) {
  StampReflector r({});
  const auto in = sender(1, 1, Auth::none);
  std::vector<std::byte> out(44);
  EXPECT_EQ(r.reflect(std::span(in).first(40), arrival(), out, fixed_now).verdict,
            StampVerdict::malformed);
  StampConfig c;
  c.key = HmacKey(bytes_of("k"));
  StampReflector authed(std::move(c));
  EXPECT_EQ(authed.reflect(in, arrival(), out, fixed_now).verdict, StampVerdict::malformed);
}

TEST(StampReflector, TwampLightRequestOf41BytesGetsA41ByteReply) {
  StampReflector r({});
  const auto whole = sender(12, 0, Auth::none);
  const std::span<const std::byte> in = std::span(whole).first(41);
  std::vector<std::byte> out(41);
  const auto reply = r.reflect(in, arrival(), out, fixed_now);
  ASSERT_EQ(reply.verdict, StampVerdict::reply);
  EXPECT_EQ(reply.size, 41u);
  EXPECT_EQ(load32(out, 0), 12u);
  EXPECT_EQ(load64(out, 4), encode_timestamp(kT3, TimestampFormat::ntp));
  EXPECT_EQ(load32(out, 24), 12u);
  EXPECT_EQ(std::to_integer<int>(out[40]), 63);
  EXPECT_EQ(r.reflect(std::span(whole).first(40), arrival(), out, fixed_now).verdict,
            StampVerdict::malformed);
}

TEST(StampReflector, AuthenticatedChecksAndSignsTheHmac) {
  const HmacKey key(bytes_of("s3cret"));
  StampConfig c;
  c.key = key;
  StampReflector r(std::move(c));
  auto in = sender(9, 3, Auth::authenticated);
  sign(key, in);
  std::vector<std::byte> out(in.size());
  const auto reply = r.reflect(in, arrival(), out, fixed_now);
  ASSERT_EQ(reply.verdict, StampVerdict::reply);
  ASSERT_EQ(reply.size, 112u);
  EXPECT_TRUE(verify(key, out));
  const auto p = read_reflector(out, Auth::authenticated);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->seq, 9u);
  EXPECT_EQ(p->timestamp, encode_timestamp(kT3, TimestampFormat::ntp));
  EXPECT_EQ(p->ssid, 3);
  EXPECT_EQ(p->receive_timestamp, encode_timestamp(kT3 - 5000, TimestampFormat::ntp));
  EXPECT_EQ(p->sender_seq, 9u);
  EXPECT_EQ(p->sender_timestamp, 0x1122334455667788u);
  EXPECT_EQ(p->sender_ttl, 63);
  // Every MBZ byte of the authenticated layout is zero.
  for (std::size_t i : {4u, 15u, 28u, 31u, 40u, 47u, 52u, 63u, 74u, 79u, 81u, 95u}) {
    EXPECT_EQ(out[i], std::byte{0}) << i;
  }
  in[20] ^= std::byte{1};  // the timestamp changed after signing
  EXPECT_EQ(r.reflect(in, arrival(), out, fixed_now).verdict, StampVerdict::bad_hmac);
  auto other = sender(9, 3, Auth::authenticated);
  sign(HmacKey(bytes_of("wrong")), other);
  EXPECT_EQ(r.reflect(other, arrival(), out, fixed_now).verdict, StampVerdict::bad_hmac);
}

std::vector<std::byte> with_tlvs(std::initializer_list<std::uint8_t> tail) {
  auto p = sender(1, 1, Auth::none);
  for (auto b : tail) {
    p.push_back(std::byte{b});
  }
  return p;
}

TEST(StampTlv, ReflectorMarksUnknownTypesAndCopiesPadding) {
  StampReflector r({});
  // Extra Padding (type 1, 2 bytes), Location (type 2, known to RFC 8972 but not here), an
  // unassigned type 200 with no value.
  const auto in = with_tlvs({0, 1, 0, 2, 0xAB, 0xCD, 0, 2, 0, 1, 0x11, 0, 200, 0, 0});
  std::vector<std::byte> out(in.size());
  ASSERT_EQ(r.reflect(in, arrival(), out, fixed_now).size, in.size());
  EXPECT_EQ(std::to_integer<int>(out[44]), 0);     // padding: known
  EXPECT_EQ(std::to_integer<int>(out[45]), 1);
  EXPECT_EQ(std::to_integer<int>(out[48]), 0xAB);
  EXPECT_EQ(std::to_integer<int>(out[50]), 0x80);  // Location: U
  EXPECT_EQ(std::to_integer<int>(out[54]), 0x11);
  EXPECT_EQ(std::to_integer<int>(out[55]), 0x80);  // type 200: U
  EXPECT_EQ(std::to_integer<int>(out[56]), 200);
}

TEST(StampTlv, LengthPastTheEndIsMalformedAndNeverReadPast) {
  StampReflector r({});
  const auto in = with_tlvs({0, 1, 0, 0, 0, 1, 0, 9, 0xEE});
  std::vector<std::byte> out(in.size());
  ASSERT_EQ(r.reflect(in, arrival(), out, fixed_now).size, in.size());
  EXPECT_EQ(std::to_integer<int>(out[44]), 0);
  EXPECT_EQ(std::to_integer<int>(out[48]), 0x40);  // M
  EXPECT_EQ(std::to_integer<int>(out[52]), 0xEE);
  const std::span<const std::byte> all(in);
  TlvReader reader(all.subspan(44));
  EXPECT_TRUE(reader.next());
  EXPECT_FALSE(reader.next());
  EXPECT_EQ(reader.malformed(), 4u);
}

TEST(StampTlv, ZeroPaddingIsNotTlvs) {
  StampReflector r({});
  const auto in = sender(1, 1, Auth::none, 44 + 64);
  std::vector<std::byte> out(in.size(), std::byte{0x55});
  ASSERT_EQ(r.reflect(in, arrival(), out, fixed_now).size, in.size());
  for (std::size_t i = 44; i < out.size(); ++i) {
    ASSERT_EQ(out[i], std::byte{0}) << i;
  }
}

// An authenticated request with TLVs: Extra Padding (AB CD), an unassigned type 200 (11), then
// the HMAC TLV, whose value sign_tlvs writes when signed.
std::vector<std::byte> authenticated_with_tlvs(const HmacKey& key, std::uint32_t seq,
                                               bool tlvs_signed = true) {
  auto p = sender(seq, 3, Auth::authenticated);
  for (const std::uint8_t b : {0, 1, 0, 2, 0xAB, 0xCD, 0, 200, 0, 1, 0x11, 0, 8, 0, 16}) {
    p.push_back(std::byte{b});
  }
  p.resize(p.size() + kHmacSize);
  if (tlvs_signed) {
    sign_tlvs(key, p, Auth::authenticated, 11);
  }
  sign(key, p);
  return p;
}

std::vector<std::byte> hex(std::string_view h) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

TEST(StampHmacTlv, CoversTheSequenceNumberAndTheTlvsBeforeIt) {
  const HmacKey key(bytes_of("s3cret"));
  const auto p = authenticated_with_tlvs(key, 9);
  // Python: hmac.new(b"s3cret", bytes.fromhex("00000009" "000100 02abcd" "00c8000111"),
  // hashlib.sha256).digest()[:16]
  const auto want = hex("83f4cbba16828fede2ce12f97ecf2c12");
  const Hmac h = compute_tlv_hmac(key, p, Auth::authenticated, 11);
  EXPECT_TRUE(std::equal(h.begin(), h.end(), want.begin(), want.end()));
  EXPECT_TRUE(std::equal(want.begin(), want.end(), p.begin() + 112 + 15));
  EXPECT_TRUE(verify_tlvs(key, p, Auth::authenticated, 11));
  EXPECT_FALSE(verify_tlvs(HmacKey(bytes_of("other")), p, Auth::authenticated, 11));
}

TEST(StampHmacTlv, MustFollowEveryTlvButExtraPadding) {
  const auto state = [](std::initializer_list<std::uint8_t> area) {
    std::vector<std::byte> a;
    for (const std::uint8_t b : area) {
      a.push_back(std::byte{b});
    }
    return find_hmac_tlv(a);
  };
  const std::uint8_t h = 8;
  const std::uint8_t n = 16;
  EXPECT_EQ(state({}).state, HmacTlvState::no_tlvs);
  EXPECT_EQ(state({0, 0, 0, 0, 0}).state, HmacTlvState::no_tlvs);  // zero padding
  EXPECT_EQ(state({0, 1, 0, 1, 0xAB}).state, HmacTlvState::missing);
  const auto last = state({0, 1, 0, 0, 0, h, 0, n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                           14, 15, 16, 0, 1, 0, 1, 0xFF});  // Extra Padding may follow it
  EXPECT_EQ(last.state, HmacTlvState::in_place);
  EXPECT_EQ(last.offset, 4u);
  // Another TLV after it; twice; a value not 16 bytes; a malformed TLV after it.
  EXPECT_EQ(state({0, h, 0, n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 200,
                   0, 0}).state, HmacTlvState::invalid);
  EXPECT_EQ(state({0, h, 0, n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, h, 0,
                   n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}).state,
            HmacTlvState::invalid);
  EXPECT_EQ(state({0, h, 0, 2, 1, 2}).state, HmacTlvState::invalid);
  EXPECT_EQ(state({0, h, 0, n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 1, 0,
                   9}).state, HmacTlvState::invalid);
}

TEST(StampReflector, AuthenticatedChecksTheHmacTlvAndSignsItsOwn) {
  const HmacKey key(bytes_of("s3cret"));
  StampConfig c;
  c.mode = StampMode::stateful;  // the reply's sequence number (0) is not the request's (9)
  c.key = key;
  StampReflector r(std::move(c));
  const auto in = authenticated_with_tlvs(key, 9);
  std::vector<std::byte> out(in.size());
  ASSERT_EQ(r.reflect(in, arrival(), out, fixed_now).verdict, StampVerdict::reply);
  EXPECT_TRUE(verify(key, out));
  EXPECT_EQ(std::to_integer<int>(out[112 + 6]), 0x80);  // type 200: U
  EXPECT_EQ(std::to_integer<int>(out[112 + 11]), 0);    // the HMAC TLV: known, I clear
  // Python: over the reply's sequence number 0 and its TLVs as reflected (type 200's U set).
  const auto want = hex("4c1610753f1bf4c24f78f41b9eb984b8");
  EXPECT_TRUE(std::equal(want.begin(), want.end(), out.begin() + 112 + 15));
}

TEST(StampReflector, AWrongHmacTlvIsReflectedWithTheIntegrityFlag) {
  const HmacKey key(bytes_of("s3cret"));
  StampConfig c;
  c.key = key;
  StampReflector r(std::move(c));
  // The base's HMAC is right, the TLVs' is not: RFC 8972 §4.8 answers, with I set.
  auto in = authenticated_with_tlvs(key, 9, false);
  std::vector<std::byte> out(in.size());
  ASSERT_EQ(r.reflect(in, arrival(), out, fixed_now).verdict, StampVerdict::reply);
  EXPECT_TRUE(verify(key, out));
  EXPECT_EQ(std::to_integer<int>(out[112 + 11]), 0x20);  // I
  EXPECT_TRUE(verify_tlvs(key, out, Auth::authenticated, 11));  // still signed
  // TLVs and no HMAC TLV: I on every TLV.
  in.resize(112 + 11);
  sign(key, in);
  out.assign(in.size(), std::byte{0});
  ASSERT_EQ(r.reflect(in, arrival(), out, fixed_now).verdict, StampVerdict::reply);
  EXPECT_EQ(std::to_integer<int>(out[112]), 0x20);
  EXPECT_EQ(std::to_integer<int>(out[112 + 6]), 0x80 | 0x20);
}

TEST(StampTlv, UnauthenticatedTheHmacTlvIsUnrecognized) {
  StampReflector r({});
  auto in = with_tlvs({0, 8, 0, 16});
  in.resize(in.size() + kHmacSize, std::byte{0x5A});
  std::vector<std::byte> out(in.size());
  ASSERT_EQ(r.reflect(in, arrival(), out, fixed_now).size, in.size());
  EXPECT_EQ(std::to_integer<int>(out[44]), 0x80);  // U: no key to check it with
  EXPECT_TRUE(std::equal(in.begin() + 48, in.end(), out.begin() + 48));
}

}  // namespace
}  // namespace netecho::stamp
