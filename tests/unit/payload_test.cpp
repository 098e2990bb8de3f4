// The client's payload parsers (--bytes, --hex, --text) and reply formatters.

#include "client/send/payload.hpp"

#include <gtest/gtest.h>

#include <string>

namespace netecho::client {
namespace {

Bytes of(std::initializer_list<unsigned> values) {
  Bytes out;
  for (const unsigned v : values) {
    out.push_back(static_cast<std::byte>(v));
  }
  return out;
}

Bytes ok(base::Parsed<Bytes> parsed) {
  if (!parsed) {
    ADD_FAILURE() << "refused: " << parsed.error();
    return {};
  }
  return std::move(parsed).value();
}

std::string error(base::Parsed<Bytes> parsed) {
  if (!parsed) {
    return parsed.error();
  }
  ADD_FAILURE() << "accepted: [" << format_list(*parsed) << "]";
  return {};
}

TEST(ParseByteList, DecimalValues) {
  EXPECT_EQ(ok(parse_byte_list("0,1,2,3")), of({0, 1, 2, 3}));
  EXPECT_EQ(ok(parse_byte_list("255")), of({255}));
}

TEST(ParseByteList, HexValuesAndSpaces) {
  EXPECT_EQ(ok(parse_byte_list(" 0x00, 0xff ,0X10, 7 ")), of({0, 255, 16, 7}));
}

TEST(ParseByteList, EmptyIsAnEmptyPayload) {
  EXPECT_TRUE(ok(parse_byte_list("")).empty());
  EXPECT_TRUE(ok(parse_byte_list("  ")).empty());
}

TEST(ParseByteList, RefusesValuesOutOfRangeNamingThemAndTheirPosition) {
  const auto err = error(parse_byte_list("1,256"));
  EXPECT_NE(err.find("'256'"), std::string::npos) << err;
  EXPECT_NE(err.find("position 2"), std::string::npos) << err;
  EXPECT_NE(error(parse_byte_list("0x100")).find("0x100"), std::string::npos);
}

TEST(ParseByteList, RefusesWhatIsNotAByte) {
  for (const char* text : {"-1", "a", "1,,2", "1,", "0x", "1 2", "1.5", "0xg1", "+1"}) {
    const auto err = error(parse_byte_list(text));
    EXPECT_NE(err.find(text), std::string::npos) << text << ": " << err;
  }
}

TEST(ParseHex, PairsOfDigitsInEitherCase) {
  EXPECT_EQ(ok(parse_hex("00ff10")), of({0, 255, 16}));
  EXPECT_EQ(ok(parse_hex("AbCd")), of({0xab, 0xcd}));
  EXPECT_TRUE(ok(parse_hex("")).empty());
}

TEST(ParseHex, SpacesAndColonsBetweenPairsAreIgnored) {
  EXPECT_EQ(ok(parse_hex("00 ff:10")), of({0, 255, 16}));
  EXPECT_EQ(ok(parse_hex(" de:ad be:ef ")), of({0xde, 0xad, 0xbe, 0xef}));
}

TEST(ParseHex, RefusesNonHexDigitsNamingThem) {
  const auto err = error(parse_hex("0g"));
  EXPECT_NE(err.find("'g'"), std::string::npos) << err;
  EXPECT_NE(err.find("'0g'"), std::string::npos) << err;
  EXPECT_FALSE(error(parse_hex("0x00")).empty());
  EXPECT_FALSE(error(parse_hex("0 0")).empty()) << "a separator splits a pair";
}

TEST(ParseHex, RefusesAnOddNumberOfDigits) {
  const auto err = error(parse_hex("abc"));
  EXPECT_NE(err.find("odd"), std::string::npos) << err;
  EXPECT_NE(err.find("'abc'"), std::string::npos) << err;
}

TEST(FromText, TakesTheBytesAsTheyAre) {
  EXPECT_EQ(from_text("hi"), of({'h', 'i'}));
  EXPECT_EQ(from_text(std::string("\0\xff", 2)), of({0, 255}));
  EXPECT_TRUE(from_text("").empty());
}

TEST(FormatList, TheOriginalClientsFormat) {
  EXPECT_EQ(format_list(of({0, 1, 2, 3})), "[0, 1, 2, 3]");
  EXPECT_EQ(format_list(of({255})), "[255]");
  EXPECT_EQ(format_list({}), "[]");
}

TEST(FormatHex, LowercasePairs) {
  EXPECT_EQ(format_hex(of({0, 1, 0xab, 255})), "0001abff");
  EXPECT_EQ(format_hex({}), "");
}

TEST(Payload, HexRoundTrip) {
  Bytes all;
  for (unsigned v = 0; v < 256; ++v) {
    all.push_back(static_cast<std::byte>(v));
  }
  EXPECT_EQ(ok(parse_hex(format_hex(all))), all);
}

}  // namespace
}  // namespace netecho::client
