// net::parse_endpoint and net::parse_target: what they accept, what they refuse, and that every
// refusal names the input. Plus the resolved SockAddr's formatting, with numeric hosts only.

#include "net/address.hpp"

#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>

#include <string>

namespace netecho::net {
namespace {

Endpoint ok_endpoint(std::string_view text) {
  auto parsed = parse_endpoint(text);
  if (!parsed) {
    ADD_FAILURE() << "'" << text << "' was refused: " << parsed.error();
    return {};
  }
  return *parsed;
}

std::string endpoint_error(std::string_view text) {
  auto parsed = parse_endpoint(text);
  if (!parsed) {
    return parsed.error();
  }
  const auto& ep = *parsed;
  ADD_FAILURE() << "'" << text << "' was accepted as host '" << ep.host << "' port " << ep.port;
  return {};
}

TEST(ParseEndpoint, AcceptsIpv4HostAndPort) {
  EXPECT_EQ(ok_endpoint("127.0.0.1:7"), (Endpoint{"127.0.0.1", 7}));
  EXPECT_EQ(ok_endpoint("0.0.0.0:12345"), (Endpoint{"0.0.0.0", 12345}));
}

TEST(ParseEndpoint, AcceptsBracketedIpv6AndStoresItWithoutBrackets) {
  EXPECT_EQ(ok_endpoint("[::1]:7"), (Endpoint{"::1", 7}));
  EXPECT_EQ(ok_endpoint("[::]:7"), (Endpoint{"::", 7}));
  EXPECT_EQ(ok_endpoint("[fe80::1:2]:65535"), (Endpoint{"fe80::1:2", 65535}));
  EXPECT_EQ(ok_endpoint("[::ffff:127.0.0.1]:9"), (Endpoint{"::ffff:127.0.0.1", 9}));
}

TEST(ParseEndpoint, AcceptsIpv6ZoneIds) {
  EXPECT_EQ(ok_endpoint("[fe80::1%lo]:7"), (Endpoint{"fe80::1%lo", 7}));
  EXPECT_EQ(ok_endpoint("[fe80::1%2]:7"), (Endpoint{"fe80::1%2", 7}));
  EXPECT_NE(endpoint_error("[fe80::1%]:7").find("zone ''"), std::string::npos);
  EXPECT_NE(endpoint_error("[fe80::1%a/b]:7").find("zone 'a/b'"), std::string::npos);
  EXPECT_NE(endpoint_error("[fe80::x%lo]:7").find("'fe80::x'"), std::string::npos);
}

TEST(ParseEndpoint, AcceptsHostNames) {
  EXPECT_EQ(ok_endpoint("localhost:80"), (Endpoint{"localhost", 80}));
  EXPECT_EQ(ok_endpoint("echo.example.com:7"), (Endpoint{"echo.example.com", 7}));
  EXPECT_EQ(ok_endpoint("my_host-1:1"), (Endpoint{"my_host-1", 1}));
}

TEST(ParseEndpoint, AcceptsPortZeroAndTheFullPortRange) {
  EXPECT_EQ(ok_endpoint("127.0.0.1:0").port, 0);
  EXPECT_EQ(ok_endpoint("[::1]:0").port, 0);
  EXPECT_EQ(ok_endpoint("h:65535").port, 65535);
  EXPECT_EQ(ok_endpoint("h:00007").port, 7);
}

TEST(ParseEndpoint, RefusesPortOutOfRange) {
  const auto err = endpoint_error("127.0.0.1:70000");
  EXPECT_NE(err.find("70000"), std::string::npos) << err;
  EXPECT_NE(err.find("range"), std::string::npos) << err;
  EXPECT_NE(endpoint_error("h:65536").find("65536"), std::string::npos);
  EXPECT_NE(endpoint_error("h:123456").find("123456"), std::string::npos);
}

TEST(ParseEndpoint, RefusesPortsThatAreNotPlainDigits) {
  for (const char* text : {"h:-1", "h:+7", "h:7x", "h:0x10", "h: 7", "[::1]:7x"}) {
    const auto err = endpoint_error(text);
    EXPECT_NE(err.find(text), std::string::npos) << text << ": " << err;
  }
}

TEST(ParseEndpoint, RefusesEmptyInput) {
  const auto err = endpoint_error("");
  EXPECT_NE(err.find("empty"), std::string::npos) << err;
}

TEST(ParseEndpoint, RefusesUnclosedBracket) {
  const auto err = endpoint_error("[::1");
  EXPECT_NE(err.find("'[::1'"), std::string::npos) << err;
  EXPECT_NE(err.find("]"), std::string::npos) << err;
}

TEST(ParseEndpoint, RefusesIncompleteIpv4) {
  // Without a port it is a missing port; with one, "1.2.3" is not a full IPv4 address (it would
  // otherwise reach the resolver, which reads it as 1.2.0.3).
  EXPECT_NE(endpoint_error("1.2.3").find("'1.2.3'"), std::string::npos);
  const auto err = endpoint_error("1.2.3:7");
  EXPECT_NE(err.find("'1.2.3'"), std::string::npos) << err;
  EXPECT_NE(err.find("IPv4"), std::string::npos) << err;
  EXPECT_NE(endpoint_error("256.1.1.1:7").find("256.1.1.1"), std::string::npos);
}

TEST(ParseEndpoint, RefusesMissingPort) {
  for (const char* text : {"host:", "host", "[::1]", "[::1]:", "127.0.0.1"}) {
    const auto err = endpoint_error(text);
    EXPECT_NE(err.find(std::string("'") + text + "'"), std::string::npos) << text << ": " << err;
    EXPECT_NE(err.find("port"), std::string::npos) << text << ": " << err;
  }
}

TEST(ParseEndpoint, RefusesMissingHost) {
  const auto err = endpoint_error(":7");
  EXPECT_NE(err.find("':7'"), std::string::npos) << err;
  EXPECT_NE(err.find("host"), std::string::npos) << err;
}

TEST(ParseEndpoint, RefusesUnbracketedIpv6) {
  const auto err = endpoint_error("::1:7");
  EXPECT_NE(err.find("'::1:7'"), std::string::npos) << err;
  EXPECT_NE(err.find("brackets"), std::string::npos) << err;
  EXPECT_FALSE(endpoint_error("fe80::1:7").empty());
}

TEST(ParseEndpoint, RefusesBracketsThatDoNotHoldIpv6) {
  for (const char* text : {"[]:7", "[1.2.3.4]:7", "[localhost]:7", "[::1::2]:7", "[::1]x:7"}) {
    EXPECT_FALSE(endpoint_error(text).empty()) << text;
  }
}

TEST(ParseEndpoint, RefusesHostNamesWithInvalidCharacters) {
  for (const char* text : {"ho st:7", "host/x:7", "h\xc3\xa9:7", "a@b:7"}) {
    EXPECT_NE(endpoint_error(text).find("host"), std::string::npos) << text;
  }
}

Target ok_target(std::string_view text, Transport fallback = Transport::tcp) {
  auto parsed = parse_target(text, fallback);
  if (!parsed) {
    ADD_FAILURE() << "'" << text << "' was refused: " << parsed.error();
    return {};
  }
  return *parsed;
}

std::string target_error(std::string_view text) {
  auto parsed = parse_target(text);
  if (!parsed) {
    return parsed.error();
  }
  ADD_FAILURE() << "'" << text << "' was accepted";
  return {};
}

TEST(ParseTarget, SchemesSelectTheTransport) {
  const auto tcp = ok_target("tcp://127.0.0.1:7");
  EXPECT_EQ(tcp.transport, Transport::tcp);
  EXPECT_EQ(tcp.endpoint, (Endpoint{"127.0.0.1", 7}));
  const auto udp = ok_target("udp://[::1]:7");
  EXPECT_EQ(udp.transport, Transport::udp);
  EXPECT_EQ(udp.endpoint, (Endpoint{"::1", 7}));
  EXPECT_EQ(ok_target("udp://localhost:0").endpoint, (Endpoint{"localhost", 0}));
}

TEST(ParseTarget, PlainEndpointTakesTheDefaultTransport) {
  EXPECT_EQ(ok_target("127.0.0.1:12345").transport, Transport::tcp);
  EXPECT_EQ(ok_target("127.0.0.1:12345", Transport::udp).transport, Transport::udp);
  EXPECT_EQ(ok_target("tcp://127.0.0.1:1", Transport::udp).transport, Transport::tcp);
}

TEST(ParseTarget, RefusesUnknownSchemeNamingIt) {
  const auto err = target_error("ftp://127.0.0.1:7");
  EXPECT_NE(err.find("'ftp'"), std::string::npos) << err;
  EXPECT_NE(err.find("ftp://127.0.0.1:7"), std::string::npos) << err;
  EXPECT_NE(target_error("://h:7").find("scheme"), std::string::npos);
}

TEST(ParseTarget, RefusesBadEndpointsBehindAScheme) {
  EXPECT_NE(target_error("udp://").find("empty"), std::string::npos);
  EXPECT_NE(target_error("tcp://[::1").find("[::1"), std::string::npos);
  EXPECT_NE(target_error("udp://h:70000").find("70000"), std::string::npos);
  EXPECT_NE(target_error("tcp://host:").find("host:"), std::string::npos);
}

TEST(Transport, Names) {
  EXPECT_EQ(to_string(Transport::tcp), "tcp");
  EXPECT_EQ(to_string(Transport::udp), "udp");
}

TEST(SockAddr, FormatsIpv4AndIpv6) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(7);
  v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const SockAddr a(reinterpret_cast<const sockaddr*>(&v4), sizeof(v4));
  EXPECT_EQ(a.to_string(), "127.0.0.1:7");
  EXPECT_EQ(a.host(), "127.0.0.1");
  EXPECT_EQ(a.port(), 7);
  EXPECT_FALSE(a.is_wildcard());

  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(65535);
  v6.sin6_addr = in6addr_loopback;
  SockAddr b(reinterpret_cast<const sockaddr*>(&v6), sizeof(v6));
  EXPECT_EQ(b.to_string(), "[::1]:65535");
  b.set_port(9);
  EXPECT_EQ(b.port(), 9);
  EXPECT_NE(a, b);
}

TEST(SockAddr, WildcardAddresses) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  EXPECT_TRUE(SockAddr(reinterpret_cast<const sockaddr*>(&v4), sizeof(v4)).is_wildcard());
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  EXPECT_TRUE(SockAddr(reinterpret_cast<const sockaddr*>(&v6), sizeof(v6)).is_wildcard());
}

TEST(Resolve, NumericHostsNeedNoResolver) {
  auto v4 = resolve({"127.0.0.1", 7}, Transport::tcp, /*passive=*/false);
  ASSERT_TRUE(v4) << v4.error();
  EXPECT_EQ(v4->front().to_string(), "127.0.0.1:7");
  auto v6 = resolve({"::1", 7}, Transport::udp, /*passive=*/false);
  ASSERT_TRUE(v6) << v6.error();
  EXPECT_EQ(v6->front().to_string(), "[::1]:7");
}

TEST(Resolve, ZoneIdBecomesTheScopeAndIsWrittenBack) {
  auto r = resolve({"fe80::1%lo", 7}, Transport::udp, /*passive=*/false);
  ASSERT_TRUE(r) << r.error();
  const SockAddr& a = r->front();
  EXPECT_EQ(reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_scope_id, if_nametoindex("lo"));
  EXPECT_EQ(a.to_string(), "[fe80::1%lo]:7");
}

TEST(Resolve, FamilyMismatchFailsNamingTheHost) {
  auto r = resolve({"127.0.0.1", 7}, Transport::tcp, /*passive=*/false, Family::v6);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("'127.0.0.1'"), std::string::npos);
}

}  // namespace
}  // namespace netecho::net
