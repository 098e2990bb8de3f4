// The PROXY protocol header parser (server/proxy_header.hpp): v1 and v2, whole, byte at a
// time and in every split; LOCAL, UNKNOWN and UNSPEC; TLVs skipped; every malformed form
// refused with its named error, as early as it can be told.

#include "server/proxy_header.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace netecho::server::proxy {
namespace {

using Status = Parsed::Status;

std::span<const std::byte> bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

Parsed parse_str(std::string_view s) { return parse(bytes(s)); }

const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

// A v2 header: signature, version 2 with command, family/transport, then block (the length
// says how long the block is, unless length_override is given).
std::string v2(unsigned command, unsigned char family_transport, const std::string& block,
               int length_override = -1) {
  std::string h = kSig;
  h += static_cast<char>(0x20 | command);
  h += static_cast<char>(family_transport);
  const std::size_t len =
      length_override < 0 ? block.size() : static_cast<std::size_t>(length_override);
  h += static_cast<char>(len >> 8);
  h += static_cast<char>(len & 0xff);
  return h + block;
}

std::string inet_block(std::string tlvs = {}) {
  // 198.18.0.7:40000 -> 198.18.0.1:7
  return std::string("\xc6\x12\x00\x07\xc6\x12\x00\x01\x9c\x40\x00\x07", 12) + tlvs;
}

std::string inet6_block() {
  std::string b(16, '\0');
  b[0] = '\x20';
  b[1] = '\x01';
  b[2] = '\x0d';
  b[3] = '\xb8';
  b[15] = '\x05';  // 2001:db8::5
  std::string d(16, '\0');
  d[15] = '\x01';                                     // ::1
  return b + d + std::string("\x04\xd2\x00\x07", 4);  // ports 1234 -> 7
}

// Feeds the header one byte at a time: need_more before its last byte, then the result.
Parsed feed_bytewise(const std::string& h) {
  for (std::size_t n = 0; n < h.size(); ++n) {
    const Parsed p = parse_str(std::string_view(h).substr(0, n));
    if (p.status != Status::need_more) {
      return p;
    }
  }
  return parse_str(h);
}

TEST(ProxyHeader, V1Tcp4) {
  const std::string h = "PROXY TCP4 198.18.0.7 198.18.0.1 40000 7\r\n";
  const Parsed p = parse_str(h + "payload");
  ASSERT_EQ(p.status, Status::done);
  EXPECT_EQ(p.header.length, h.size());
  EXPECT_TRUE(p.header.has_addresses);
  EXPECT_EQ(p.header.source.to_string(), "198.18.0.7:40000");
  EXPECT_EQ(p.header.destination.to_string(), "198.18.0.1:7");
}

TEST(ProxyHeader, V1Tcp6) {
  const Parsed p = parse_str("PROXY TCP6 2001:db8::5 ::1 1234 7\r\n");
  ASSERT_EQ(p.status, Status::done);
  EXPECT_EQ(p.header.source.to_string(), "[2001:db8::5]:1234");
  EXPECT_EQ(p.header.destination.to_string(), "[::1]:7");
}

TEST(ProxyHeader, V1UnknownCarriesNoAddress) {
  for (const std::string& h :
       std::vector<std::string>{"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ff::1 ff::2 1 2\r\n"}) {
    const Parsed p = parse_str(h);
    ASSERT_EQ(p.status, Status::done) << h;
    EXPECT_FALSE(p.header.has_addresses);
    EXPECT_EQ(p.header.length, h.size());
  }
}

TEST(ProxyHeader, V1LongestLineFits) {
  // The spec's worst case: 107 bytes exactly (UNKNOWN with the longest addresses and ports).
  const std::string h =
      "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
  ASSERT_EQ(h.size(), kMaxV1);
  EXPECT_EQ(parse_str(h).status, Status::done);
  // The longest TCP6 line.
  const Parsed p = parse_str(
      "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "65535 65535\r\n");
  ASSERT_EQ(p.status, Status::done);
  EXPECT_EQ(p.header.source.port(), 65535);
}

TEST(ProxyHeader, V1ByteAtATime) {
  const std::string h = "PROXY TCP4 198.18.0.7 198.18.0.1 40000 7\r\n";
  const Parsed p = feed_bytewise(h);
  ASSERT_EQ(p.status, Status::done);
  EXPECT_EQ(p.header.length, h.size());
  EXPECT_EQ(p.header.source.to_string(), "198.18.0.7:40000");
}

TEST(ProxyHeader, V1Malformed) {
  for (const std::string& h : std::vector<std::string>{
           "PROXY TCP4 198.18.0.7 198.18.0.1 40000\r\n",                   // a field missing
           "PROXY TCP4 198.18.0.7 198.18.0.1 40000 7 8\r\n",               // one too many
           "PROXY TCP4  198.18.0.7 198.18.0.1 40000 7\r\n",                // two spaces
           "PROXY TCP5 198.18.0.7 198.18.0.1 40000 7\r\n",                 // protocol
           "PROXY TCP4 2001:db8::5 198.18.0.1 40000 7\r\n",                // family mismatch
           "PROXY TCP6 198.18.0.7 ::1 40000 7\r\n",                        // family mismatch
           "PROXY TCP4 198.18.0.256 198.18.0.1 40000 7\r\n",               // address
           "PROXY TCP4 198.18.0.7 198.18.0.1 65536 7\r\n",                 // port range
           "PROXY TCP4 198.18.0.7 198.18.0.1 040000 7\r\n",                // leading zero
           "PROXY TCP4 198.18.0.7 198.18.0.1 -1 7\r\n",                    // sign
           "PROXY TCP4 198.18.0.7 198.18.0.1 40000 7 \r\n",                // trailing space
           "PROXY TCP4 198.18.0.7 198.18.0.1 40000 7\rX",                  // CR without LF
           "PROXY TCP4 198.18.0.7\n198.18.0.1 40000 7\r\n",                // a bare LF inside
           std::string("PROXY TCP4 198.18.0.7 198.18.0.1 4\0 7\r\n", 39),  // NUL
           "PROXY \r\n",
       }) {
    const Parsed p = parse_str(h);
    ASSERT_EQ(p.status, Status::error) << h;
    EXPECT_EQ(p.error, Error::v1_malformed) << h;
    EXPECT_EQ(reason_of(p.error), Reason::malformed);
  }
}

TEST(ProxyHeader, V1TooLong) {
  std::string h = "PROXY UNKNOWN " + std::string(kMaxV1 - 14, 'x');
  ASSERT_EQ(h.size(), kMaxV1);
  EXPECT_EQ(parse_str(h.substr(0, kMaxV1 - 1)).status, Status::need_more);
  Parsed p = parse_str(h);
  ASSERT_EQ(p.status, Status::error);
  EXPECT_EQ(p.error, Error::v1_too_long);
  EXPECT_EQ(reason_of(p.error), Reason::oversized);
  // A CR as the 107th byte: its LF would be the 108th.
  h.back() = '\r';
  p = parse_str(h + "\n");
  ASSERT_EQ(p.status, Status::error);
  EXPECT_EQ(p.error, Error::v1_too_long);
}

TEST(ProxyHeader, NotAHeaderIsToldAtTheFirstWrongByte) {
  for (const std::string& h : std::vector<std::string>{"G", "GET / HTTP/1.1\r\n", "PROXX", "proxy ",
                                                       std::string("\r\n\r\n\0\r\nQUIX", 12)}) {
    const Parsed p = parse_str(h);
    ASSERT_EQ(p.status, Status::error) << h;
    EXPECT_EQ(p.error, Error::not_proxy);
  }
  const std::string nul_at_4("\r\n\r\nX", 5);
  EXPECT_EQ(parse_str(nul_at_4).error, Error::not_proxy);
}

TEST(ProxyHeader, EmptyAndSignaturePrefixesNeedMore) {
  EXPECT_EQ(parse_str("").status, Status::need_more);
  EXPECT_EQ(parse_str("PROX").status, Status::need_more);
  EXPECT_EQ(parse_str("PROXY ").status, Status::need_more);
  EXPECT_EQ(parse_str(std::string_view(kSig).substr(0, 5)).status, Status::need_more);
  EXPECT_EQ(parse_str(kSig).status, Status::need_more);
}

TEST(ProxyHeader, V2Inet) {
  const std::string h = v2(1, 0x11, inet_block());
  const Parsed p = parse_str(h + "after");
  ASSERT_EQ(p.status, Status::done);
  EXPECT_EQ(p.header.length, 16u + 12u);
  EXPECT_TRUE(p.header.has_addresses);
  EXPECT_EQ(p.header.source.to_string(), "198.18.0.7:40000");
  EXPECT_EQ(p.header.destination.to_string(), "198.18.0.1:7");
}

TEST(ProxyHeader, V2Inet6) {
  const Parsed p = parse_str(v2(1, 0x21, inet6_block()));
  ASSERT_EQ(p.status, Status::done);
  EXPECT_EQ(p.header.length, 16u + 36u);
  EXPECT_EQ(p.header.source.to_string(), "[2001:db8::5]:1234");
  EXPECT_EQ(p.header.destination.to_string(), "[::1]:7");
}

TEST(ProxyHeader, V2TlvsAreSkipped) {
  // PP2_TYPE_ALPN "h2", an empty NOOP, and a unique ID: all within the length.
  const std::string tlvs = std::string(
      "\x01\x00\x02h2\x04\x00\x00\x05\x00\x03"
      "abc",
      14);
  const std::string h = v2(1, 0x11, inet_block(tlvs));
  const Parsed p = parse_str(h + "x");
  ASSERT_EQ(p.status, Status::done);
  EXPECT_EQ(p.header.length, h.size());
  EXPECT_EQ(p.header.source.to_string(), "198.18.0.7:40000");
}

TEST(ProxyHeader, V2ByteAtATime) {
  const std::string h = v2(1, 0x21, inet6_block() + std::string("\x04\x00\x01z", 4));
  const Parsed p = feed_bytewise(h);
  ASSERT_EQ(p.status, Status::done);
  EXPECT_EQ(p.header.length, h.size());
  EXPECT_EQ(p.header.source.to_string(), "[2001:db8::5]:1234");
}

TEST(ProxyHeader, V2LocalIgnoresItsBlock) {
  // HAProxy's health checks with check-send-proxy: LOCAL, family UNSPEC, nothing after.
  Parsed p = parse_str(v2(0, 0x00, ""));
  ASSERT_EQ(p.status, Status::done);
  EXPECT_FALSE(p.header.has_addresses);
  EXPECT_EQ(p.header.length, 16u);
  // LOCAL with an address block, even an unsupported family: skipped, as the spec says.
  p = parse_str(v2(0, 0x31, std::string(7, 'z')));
  ASSERT_EQ(p.status, Status::done);
  EXPECT_FALSE(p.header.has_addresses);
  EXPECT_EQ(p.header.length, 16u + 7u);
}

TEST(ProxyHeader, V2UnspecCarriesNoAddress) {
  const Parsed p = parse_str(v2(1, 0x00, "abc"));
  ASSERT_EQ(p.status, Status::done);
  EXPECT_FALSE(p.header.has_addresses);
  EXPECT_EQ(p.header.length, 19u);
}

TEST(ProxyHeader, V2BadVersionAndCommandAreToldEarly) {
  std::string h = v2(1, 0x11, inet_block());
  h[12] = '\x11';  // version 1 in binary form
  Parsed p = parse_str(h.substr(0, 13));
  ASSERT_EQ(p.status, Status::error);
  EXPECT_EQ(p.error, Error::v2_bad_version);
  EXPECT_EQ(reason_of(p.error), Reason::unsupported);
  h[12] = '\x22';  // command 2
  p = parse_str(h.substr(0, 13));
  ASSERT_EQ(p.status, Status::error);
  EXPECT_EQ(p.error, Error::v2_bad_command);
  EXPECT_EQ(reason_of(p.error), Reason::unsupported);
}

TEST(ProxyHeader, V2Unsupported) {
  for (const unsigned char ft : {0x31, 0x32, 0x12, 0x22, 0x10, 0x41, 0x13}) {
    const Parsed p = parse_str(v2(1, ft, std::string(216, '\0')));
    ASSERT_EQ(p.status, Status::error) << int{ft};
    EXPECT_EQ(p.error, Error::v2_unsupported) << int{ft};
  }
}

TEST(ProxyHeader, V2TooLongIsToldFromTheLength) {
  const std::string h = v2(1, 0x11, "", static_cast<int>(kMaxV2) + 1);
  const Parsed p = parse_str(h);  // the fixed part alone: the rest is never waited for
  ASSERT_EQ(p.status, Status::error);
  EXPECT_EQ(p.error, Error::v2_too_long);
  EXPECT_EQ(reason_of(p.error), Reason::oversized);
  // At the limit exactly: one TLV filling what the addresses leave.
  const std::size_t value = kMaxV2 - 12 - 3;
  std::string tlv = "\x04";
  tlv += static_cast<char>(value >> 8);
  tlv += static_cast<char>(value & 0xff);
  tlv += std::string(value, 'v');
  EXPECT_EQ(parse_str(v2(1, 0x11, inet_block(tlv))).status, Status::done);
}

TEST(ProxyHeader, V2ShortAddressBlock) {
  for (const auto& [ft, n] : std::vector<std::pair<unsigned char, std::size_t>>{
           {0x11, 11}, {0x21, 35}, {0x21, 12}, {0x11, 0}}) {
    const Parsed p = parse_str(v2(1, ft, std::string(n, '\x01')));
    ASSERT_EQ(p.status, Status::error) << n;
    EXPECT_EQ(p.error, Error::v2_bad_addresses) << n;
    EXPECT_EQ(reason_of(p.error), Reason::malformed);
  }
}

TEST(ProxyHeader, V2TlvPastTheEnd) {
  for (const std::string& tlvs :
       std::vector<std::string>{std::string("\x01\x00\x03h2", 5), std::string("\x01\x00", 2),
                                std::string("\x01", 1), std::string("\x04\xff\xff", 3)}) {
    const Parsed p = parse_str(v2(1, 0x11, inet_block(tlvs)));
    ASSERT_EQ(p.status, Status::error) << tlvs.size();
    EXPECT_EQ(p.error, Error::v2_bad_tlv) << tlvs.size();
  }
}

TEST(ProxyHeader, V2WaitsForItsWholeLength) {
  const std::string h = v2(1, 0x11, inet_block(std::string("\x04\x00\x02zz", 5)));
  for (std::size_t n = 0; n < h.size(); ++n) {
    EXPECT_EQ(parse_str(h.substr(0, n)).status, Status::need_more) << n;
  }
  EXPECT_EQ(parse_str(h).status, Status::done);
}

TEST(ProxyHeader, EveryErrorHasAName) {
  for (const Error e : {Error::not_proxy, Error::v1_too_long, Error::v1_malformed,
                        Error::v2_too_long, Error::v2_bad_version, Error::v2_bad_command,
                        Error::v2_unsupported, Error::v2_bad_addresses, Error::v2_bad_tlv}) {
    EXPECT_NE(to_string(e), "?");
  }
}

net::SockAddr addr(const char* text) {
  auto parsed = net::resolve({text, 1}, net::Transport::tcp, false);
  return parsed ? parsed->front() : net::SockAddr{};
}

TEST(ProxyFrom, ParsesNetworksAndHosts) {
  const auto n = parse_networks("198.18.0.0/15,2001:db8::/32,127.0.0.1");
  ASSERT_TRUE(n) << n.error();
  ASSERT_EQ(n->size(), 3u);
  EXPECT_EQ((*n)[0].to_string(), "198.18.0.0/15");
  EXPECT_EQ((*n)[1].to_string(), "2001:db8::/32");
  EXPECT_EQ((*n)[2].to_string(), "127.0.0.1/32");
  EXPECT_TRUE(any_contains(*n, addr("198.19.255.255")));
  EXPECT_FALSE(any_contains(*n, addr("198.20.0.0")));
  EXPECT_TRUE(any_contains(*n, addr("2001:db8:ffff::1")));
  EXPECT_FALSE(any_contains(*n, addr("2001:db9::1")));
  EXPECT_TRUE(any_contains(*n, addr("127.0.0.1")));
  EXPECT_FALSE(any_contains(*n, addr("127.0.0.2")));
  // An IPv4 client seen v4-mapped on a dual-stack socket is in its IPv4 network.
  EXPECT_TRUE(any_contains(*n, addr("::ffff:198.18.3.4")));
}

TEST(ProxyFrom, ZeroPrefixMatchesItsFamilyOnly) {
  const auto n = parse_networks("0.0.0.0/0");
  ASSERT_TRUE(n) << n.error();
  EXPECT_TRUE(any_contains(*n, addr("203.0.113.9")));
  EXPECT_FALSE(any_contains(*n, addr("2001:db8::1")));
}

TEST(ProxyFrom, RefusesBadNetworksNamingThem) {
  for (const char* text : {"", "10.0.0.1/8", "198.18.0.0/33", "::/129", "host.example", "10.0.0.0/",
                           "10.0.0.0/x", "10.0.0.0/8,", "10.0.0.0/-1"}) {
    const auto n = parse_networks(text);
    ASSERT_FALSE(n) << text;
    EXPECT_NE(n.error().find(std::string(text).empty() ? "empty" : "invalid network"),
              std::string::npos)
        << n.error();
  }
}

}  // namespace
}  // namespace netecho::server::proxy
