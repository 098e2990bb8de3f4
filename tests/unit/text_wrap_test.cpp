// The 80-column wrap of the client tools' human output (client/text_wrap.hpp).

#include "client/text_wrap.hpp"

#include <gtest/gtest.h>

namespace netecho::client {
namespace {

TEST(TextWrap, ShortLinesAreUntouched) {
  EXPECT_EQ(wrap_text("", 4), "");
  EXPECT_EQ(wrap_text("one two", 4, 7), "one two");
  EXPECT_EQ(wrap_text("one\ntwo\n", 4, 7), "one\ntwo\n");
}

TEST(TextWrap, BreaksAtTheLastSpaceThatFitsWithAHangingIndent) {
  EXPECT_EQ(wrap_text("aaa bbb ccc ddd", 2, 8), "aaa bbb\n  ccc\n  ddd");
  // A run of spaces is one break, and none of it is kept.
  EXPECT_EQ(wrap_text("aaa    bbb", 1, 5), "aaa\n bbb");
  // Exactly the width fits.
  EXPECT_EQ(wrap_text("aaaa bbbb", 0, 9), "aaaa bbbb");
  EXPECT_EQ(wrap_text("aaaa bbbbb", 0, 9), "aaaa\nbbbbb");
  // Each line of a text is wrapped on its own.
  EXPECT_EQ(wrap_text("aa bb\ncc dd", 1, 3), "aa\n bb\ncc\n dd");
}

TEST(TextWrap, PrefersABreakAfterAClauseInTheSecondHalf) {
  // "loss," ends at column 28 of 34, in the second half: the break goes there, not after "time".
  EXPECT_EQ(wrap_text("1 sent, 1 received, 0% loss, time 2002 ms", 4, 34),
            "1 sent, 1 received, 0% loss,\n    time 2002 ms");
  // A comma early in the line is no reason to leave most of it empty.
  EXPECT_EQ(wrap_text("aa, bbbbbbbbbbbbbbbbbbbbbbbbbbbb ccc", 0, 33),
            "aa, bbbbbbbbbbbbbbbbbbbbbbbbbbbb\nccc");
}

TEST(TextWrap, ALabelsPaddingIsNoBreak) {
  EXPECT_EQ(wrap_text("  Wire      sent 5 messages, received 5", 12, 30),
            "  Wire      sent 5 messages,\n            received 5");
}

TEST(TextWrap, AWordLongerThanTheLineStaysWhole) {
  EXPECT_EQ(wrap_text("tcp://a-very-long-host-name:7 is", 2, 10),
            "tcp://a-very-long-host-name:7\n  is");
  EXPECT_EQ(wrap_text("xyz tcp://a-very-long-host-name:7", 2, 10),
            "xyz\n  tcp://a-very-long-host-name:7");
}

TEST(TextWrap, CountsCharactersNotBytes) {
  // "µs" is three bytes and two columns.
  EXPECT_EQ(wrap_text("25 µs 30 µs", 0, 11), "25 µs 30 µs");
  EXPECT_EQ(wrap_text("25 µs 30 µs", 0, 10), "25 µs 30\nµs");
}

TEST(TextWrap, TrailingSpacesMakeNoEmptyLine) {
  EXPECT_EQ(wrap_text("aaa bbb   ", 2, 7), "aaa bbb");
  EXPECT_EQ(wrap_text("aaa bbb   ", 2, 5), "aaa\n  bbb");
}

}  // namespace
}  // namespace netecho::client
