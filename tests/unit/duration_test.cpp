// base::parse_duration and format_duration: durations as people type them.

#include "base/duration.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace netecho::base {
namespace {

using namespace std::chrono_literals;

std::chrono::nanoseconds ok(std::string_view text) {
  auto parsed = parse_duration(text);
  if (!parsed) {
    ADD_FAILURE() << "'" << text << "' was refused: " << parsed.error();
    return {};
  }
  return *parsed;
}

std::string error(std::string_view text) {
  auto parsed = parse_duration(text);
  if (!parsed) {
    return parsed.error();
  }
  ADD_FAILURE() << "'" << text << "' was accepted as "
                << parsed->count() << " ns";
  return {};
}

TEST(ParseDuration, Units) {
  EXPECT_EQ(ok("10s"), 10s);
  EXPECT_EQ(ok("250ms"), 250ms);
  EXPECT_EQ(ok("100us"), 100us);
  EXPECT_EQ(ok("5ns"), 5ns);
  EXPECT_EQ(ok("2m"), 2min);
  EXPECT_EQ(ok("1h"), 1h);
}

TEST(ParseDuration, BareNumberIsSeconds) {
  EXPECT_EQ(ok("3"), 3s);
  EXPECT_EQ(ok("1.5"), 1500ms);
  EXPECT_EQ(ok("0"), 0ns);
}

TEST(ParseDuration, Fractions) {
  EXPECT_EQ(ok("0.25s"), 250ms);
  EXPECT_EQ(ok("1.5ms"), 1500us);
  EXPECT_EQ(ok("0.5m"), 30s);
}

TEST(ParseDuration, RefusesEmpty) { EXPECT_NE(error("").find("empty"), std::string::npos); }

TEST(ParseDuration, RefusesSignsAndLeadingSpaceNamingTheInput) {
  for (const char* text : {"-1s", "+1s", " 1s", "-0"}) {
    const auto err = error(text);
    EXPECT_NE(err.find(std::string("'") + text + "'"), std::string::npos) << err;
  }
}

TEST(ParseDuration, RefusesUnknownUnitsNamingThem) {
  const auto err = error("5parsecs");
  EXPECT_NE(err.find("'parsecs'"), std::string::npos) << err;
  EXPECT_NE(err.find("'5parsecs'"), std::string::npos) << err;
  EXPECT_FALSE(error("1s ").empty());
  EXPECT_FALSE(error("1 s").empty());
  EXPECT_FALSE(error("1S").empty());
}

TEST(ParseDuration, RefusesWhatIsNotANumber) {
  for (const char* text : {"abc", "s", "inf", "nan", "1e400"}) {
    EXPECT_FALSE(error(text).empty()) << text;
  }
}

TEST(ParseDuration, RefusesDurationsTooLongToHold) {
  EXPECT_NE(error("1000000h").find("too long"), std::string::npos);
}

TEST(FormatDuration, PicksAReadableUnit) {
  EXPECT_EQ(format_duration(1500ms), "1.5 s");
  EXPECT_EQ(format_duration(250ms), "250 ms");
  EXPECT_EQ(format_duration(40us), "40 us");
  EXPECT_EQ(format_duration(5ns), "5 ns");
  EXPECT_EQ(format_duration(0ns), "0 ns");
}

}  // namespace
}  // namespace netecho::base
