// base/log: the text and JSON lines an event is written as, and their escaping.

#include "base/log.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace netecho::base {
namespace {

using namespace std::chrono_literals;

// 2026-12-06T10:04:00.123Z
const std::chrono::system_clock::time_point kTime{1'796'551'440'123ms};

std::string text(std::string_view message, std::initializer_list<LogField> fields,
                 bool timestamps = true) {
  return format_event({Level::debug, LogFormat::text, timestamps, true}, kTime, Level::info,
                      message, {fields.begin(), fields.size()});
}

std::string json_line(std::string_view message, std::initializer_list<LogField> fields,
                      Level level = Level::info) {
  return format_event({Level::debug, LogFormat::json, true, true}, kTime, level, message,
                      {fields.begin(), fields.size()});
}

TEST(LogLine, TimeIsRfc3339InUtcWithMilliseconds) {
  EXPECT_EQ(format_time(kTime), "2026-12-06T10:04:00.123Z");
  EXPECT_EQ(format_time(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_time(kTime + 877ms), "2026-12-06T10:04:01.000Z");
}

TEST(LogLine, TextIsTimeLevelMessageThenFields) {
  EXPECT_EQ(text("connection closed", {{"peer", "127.0.0.1:5000"},
                                       {"bytes_in", std::uint64_t{12}},
                                       {"delta", -3},
                                       {"duration_ms", 1.5},
                                       {"once", false}}),
            "2026-12-06T10:04:00.123Z info netecho: connection closed peer=127.0.0.1:5000 "
            "bytes_in=12 delta=-3 duration_ms=1.5 once=false\n");
  // Under the journal: no time, which the journal adds itself.
  EXPECT_EQ(text("stopped", {}, false), "info netecho: stopped\n");
  // Before serve configures the log, and in the client tools: the plain line of old.
  EXPECT_EQ(format_event({}, kTime, Level::error, "bad", {}).substr(0, 4), "2026");
  EXPECT_EQ(format_event({Level::info, LogFormat::text, false, false}, kTime, Level::error,
                         "cannot listen", {}),
            "netecho: cannot listen\n");
}

TEST(LogLine, TextQuotesAndEscapesValues) {
  EXPECT_EQ(text("m", {{"a", "two words"}}), "2026-12-06T10:04:00.123Z info netecho: m a=\"two words\"\n");
  EXPECT_EQ(text("m", {{"a", ""}}), "2026-12-06T10:04:00.123Z info netecho: m a=\"\"\n");
  EXPECT_EQ(text("m", {{"a", "k=v"}}), "2026-12-06T10:04:00.123Z info netecho: m a=\"k=v\"\n");
  EXPECT_EQ(text("m", {{"a", "say \"hi\" \\ bye"}}),
            "2026-12-06T10:04:00.123Z info netecho: m a=\"say \\\"hi\\\" \\\\ bye\"\n");
  EXPECT_EQ(text("m", {{"a", "line1\nline2\r\t\x01\x7f"}}),
            "2026-12-06T10:04:00.123Z info netecho: m a=\"line1\\nline2\\r\\t\\x01\\x7f\"\n");
  // A backslash alone needs no quotes, and is kept as it is.
  EXPECT_EQ(text("m", {{"a", "C:\\x"}}), "2026-12-06T10:04:00.123Z info netecho: m a=C:\\x\n");
}

TEST(LogLine, TextMessageStaysOneLine) {
  const std::string line = text("worker failed:\nsecond line\x1b[31m", {});
  EXPECT_EQ(line,
            "2026-12-06T10:04:00.123Z info netecho: worker failed:\\nsecond line\\x1b[31m\n");
}

TEST(LogLine, JsonIsOneObjectWithTimeLevelMessageAndFields) {
  const std::string line = json_line(
      "connection closed",
      {{"peer", "[::1]:5000"}, {"bytes_in", std::uint64_t{12}}, {"delta", -3}, {"ok", true},
       {"duration_ms", 0.25}},
      Level::debug);
  EXPECT_EQ(line,
            "{\"time\":\"2026-12-06T10:04:00.123Z\",\"level\":\"debug\",\"message\":\"connection "
            "closed\",\"peer\":\"[::1]:5000\",\"bytes_in\":12,\"delta\":-3,\"ok\":true,"
            "\"duration_ms\":0.25}\n");
}

TEST(LogLine, JsonEscapesQuotesNewlinesAndControlCharacters) {
  const std::string nasty = "say \"hi\"\\\nnext\r\t\x01\x1f end";
  const std::string line = json_line(nasty, {{"value", nasty}});
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
  for (const char c : line.substr(0, line.size() - 1)) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20) << "a raw control character in " << line;
  }
  EXPECT_NE(line.find(R"(say \"hi\"\\\nnext\r\t\u0001\u001f end)"), std::string::npos) << line;
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["message"], nasty);
  EXPECT_EQ(j["value"], nasty);
}

TEST(LogLine, JsonReplacesInvalidUtf8InsteadOfFailing) {
  const std::string line = json_line("bytes \xff\xfe from a peer", {});
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["message"], "bytes \xEF\xBF\xBD\xEF\xBF\xBD from a peer");
}

TEST(LogLevels, NamesRoundTripAndOrderBySeverity) {
  for (const Level l : {Level::error, Level::warn, Level::info, Level::debug}) {
    EXPECT_EQ(parse_level(to_string(l)), l);
  }
  EXPECT_EQ(parse_level("verbose"), std::nullopt);
  EXPECT_EQ(parse_log_format("json"), LogFormat::json);
  EXPECT_EQ(parse_log_format("xml"), std::nullopt);
  EXPECT_LT(Level::error, Level::warn);
  EXPECT_LT(Level::info, Level::debug);
}

TEST(LogLevels, EventsBelowTheLevelAreNotWritten) {
  configure_log({Level::warn, LogFormat::text, false, true});
  testing::internal::CaptureStderr();
  log_event(Level::info, "hidden");
  debug("hidden {}", 1);
  warn("shown {}", 2);
  log_event(Level::error, "shown too", {{"n", 3}});
  const std::string out = testing::internal::GetCapturedStderr();
  configure_log({Level::info, LogFormat::text, false, false});  // as the other tests expect
  EXPECT_EQ(out, "warn netecho: shown 2\nerror netecho: shown too n=3\n");
  EXPECT_FALSE(enabled(Level::debug));
}

}  // namespace
}  // namespace netecho::base
