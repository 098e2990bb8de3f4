// The I/O-free service logic: what a TCP chunk and a UDP datagram get back.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

#include "service/datagram.hpp"
#include "service/stream.hpp"

namespace netecho::service {
namespace {

std::vector<std::byte> counting(std::size_t n) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<std::byte>(i * 7 + 3);
  }
  return out;
}

std::vector<std::byte> bytes(std::string_view s) {
  std::vector<std::byte> out(s.size());
  std::transform(s.begin(), s.end(), out.begin(), [](char c) { return static_cast<std::byte>(c); });
  return out;
}

TEST(StreamService, EchoReturnsTheWholeChunkAndKeepsTheConnection) {
  const StreamService echo(StreamMode::echo);
  EXPECT_EQ(echo.mode(), StreamMode::echo);
  const auto in = counting(65536);
  const auto reply = echo.on_data(in);
  EXPECT_EQ(reply.bytes.data(), in.data());  // a view, not a copy
  EXPECT_EQ(reply.bytes.size(), in.size());
  EXPECT_FALSE(reply.close_after);
}

TEST(StreamService, EchoOfNothingIsNothing) {
  const auto reply = StreamService(StreamMode::echo).on_data({});
  EXPECT_TRUE(reply.bytes.empty());
  EXPECT_FALSE(reply.close_after);
}

TEST(StreamService, OnceEchoesAShortReadWholeThenCloses) {
  const StreamService once(StreamMode::once);
  const auto in = counting(10);
  const auto reply = once.on_data(in);
  EXPECT_EQ(reply.bytes.data(), in.data());
  EXPECT_EQ(reply.bytes.size(), 10u);
  EXPECT_TRUE(reply.close_after);
}

TEST(StreamService, OnceCutsALongReadTo4096Bytes) {
  const StreamService once(StreamMode::once);
  for (const std::size_t size : {std::size_t{4095}, std::size_t{4096}, std::size_t{4097},
                                 std::size_t{6000}, std::size_t{65536}}) {
    const auto in = counting(size);
    const auto reply = once.on_data(in);
    EXPECT_EQ(reply.bytes.size(), std::min(size, kOnceReadSize)) << size;
    EXPECT_EQ(reply.bytes.data(), in.data()) << "the first bytes, in order";
    EXPECT_TRUE(reply.close_after) << size;
  }
  EXPECT_EQ(kOnceReadSize, 4096u);
}

std::vector<std::byte> reply_to(DatagramMode mode, const std::vector<std::byte>& in,
                                std::size_t limit) {
  std::vector<std::byte> out(kMaxDatagram);
  out.resize(datagram_reply(mode, in, limit, out));
  return out;
}

TEST(DatagramReply, EchoReturnsTheSameBytes) {
  for (const std::size_t size : {std::size_t{1}, std::size_t{1472}, kMaxDatagram}) {
    const auto in = counting(size);
    EXPECT_EQ(reply_to(DatagramMode::echo, in, 0), in) << size;
  }
}

TEST(DatagramReply, ReverseReturnsTheBytesReversed) {
  EXPECT_EQ(reply_to(DatagramMode::reverse, bytes("hello"), 0), bytes("olleh"));
  const auto in = counting(kMaxDatagram);
  auto want = in;
  std::reverse(want.begin(), want.end());
  EXPECT_EQ(reply_to(DatagramMode::reverse, in, 0), want);
}

TEST(DatagramReply, ZeroBytesAnswerZeroBytes) {
  EXPECT_TRUE(reply_to(DatagramMode::echo, {}, 0).empty());
  EXPECT_TRUE(reply_to(DatagramMode::reverse, {}, 0).empty());
  EXPECT_TRUE(reply_to(DatagramMode::reverse, {}, 10).empty());
}

TEST(DatagramReply, LimitCutsFirstThenEchoesOrReverses) {
  const auto in = bytes("abcdefghijklmnopqrstuvwxyz");
  EXPECT_EQ(reply_to(DatagramMode::echo, in, 10), bytes("abcdefghij"));
  EXPECT_EQ(reply_to(DatagramMode::reverse, in, 10), bytes("jihgfedcba"));
  EXPECT_EQ(reply_to(DatagramMode::reverse, in, 1), bytes("a"));
}

TEST(DatagramReply, LimitAboveTheSizeChangesNothing) {
  EXPECT_EQ(reply_to(DatagramMode::echo, bytes("hello"), 10), bytes("hello"));
  EXPECT_EQ(reply_to(DatagramMode::reverse, bytes("hello"), 10), bytes("olleh"));
  EXPECT_EQ(reply_to(DatagramMode::reverse, bytes("0123456789"), 10), bytes("9876543210"));
}

}  // namespace
}  // namespace netecho::service
