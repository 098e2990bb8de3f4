// TcpSession and Loop driven through FakeBackend: backpressure watermarks, half-close, lent
// sends and timers, each step decided by the test instead of by a kernel.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "fake_backend.hpp"
#include "io/loop.hpp"
#include "server/tcp_session.hpp"

namespace netecho::server {
namespace {

using test::FakeBackend;
using Status = TcpSession::Status;

constexpr io::Token kToken{4, 9};

class Session : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // the session owns (and closes) it
    ASSERT_GE(fd_, 0);
    session_.open(backend_, fd_, kToken);
  }
  void TearDown() override { session_.close(backend_); }

  // A recv completion carrying n bytes of input.
  Status receive(std::size_t n) {
    input_.emplace_back(n, std::byte{'x'});
    io::Completion c{io::Op::recv, kToken, static_cast<std::int32_t>(n), input_.back(), nullptr};
    return session_.on_recv(backend_, c, echo_, counters_);
  }
  Status end_of_input() {
    io::Completion c{io::Op::recv, kToken, 0, {}, nullptr};
    return session_.on_recv(backend_, c, echo_, counters_);
  }
  // The last send completes with res.
  Status complete_send(std::int32_t res) {
    io::Completion c{io::Op::send, kToken, res, {}, nullptr};
    return session_.on_send(backend_, c, counters_);
  }

  FakeBackend backend_;
  TcpSession session_;
  Counters counters_;
  service::StreamService echo_{service::StreamMode::echo};
  std::vector<std::vector<std::byte>> input_;
  int fd_ = -1;
};

TEST_F(Session, AReplyTheSocketTakesWholeOwesNothing) {
  backend_.try_send_limit = 1 << 20;
  EXPECT_EQ(receive(1000), Status::open);
  EXPECT_EQ(session_.pending(), 0u);
  EXPECT_TRUE(backend_.sends.empty());
  EXPECT_EQ(counters_.get(Stat::tcp_bytes_out), 1000u);
}

TEST_F(Session, StopsReadingAtTheHighWaterMarkAndResumesBelowTheLowOne) {
  constexpr std::size_t kChunk = 16 * 1024;
  ASSERT_EQ(backend_.reads_armed, 1);
  // Nothing is written at once (as with io_uring), so every reply is owed.
  std::size_t received = 0;
  while (backend_.reading) {
    ASSERT_EQ(receive(kChunk), Status::open);
    received += kChunk;
    ASSERT_LE(received, TcpSession::kHighWater + kChunk);
  }
  EXPECT_GE(session_.pending(), TcpSession::kHighWater);
  EXPECT_EQ(backend_.reads_stopped, 1);
  // One send in flight (the first reply); the rest queued behind it.
  ASSERT_EQ(backend_.sends.size(), 1u);
  EXPECT_EQ(backend_.sends[0].data.size(), kChunk);
  EXPECT_EQ(complete_send(static_cast<std::int32_t>(kChunk)), Status::open);
  // What queued leaves in one send; still above the low mark, so no reading yet.
  ASSERT_EQ(backend_.sends.size(), 2u);
  EXPECT_EQ(backend_.sends[1].data.size(), received - kChunk);
  EXPECT_FALSE(backend_.reading);
  // A short send: the rest is sent from where it stopped, and once less than kResumeBelow is
  // owed, the session reads again.
  const std::size_t owed = received - kChunk;
  const std::size_t written = owed - TcpSession::kResumeBelow + 1;
  EXPECT_EQ(complete_send(static_cast<std::int32_t>(written)), Status::open);
  EXPECT_EQ(session_.pending(), owed - written);
  ASSERT_EQ(backend_.sends.size(), 3u);
  EXPECT_EQ(backend_.sends[2].data.size(), owed - written);
  EXPECT_TRUE(backend_.reading);
  EXPECT_EQ(backend_.reads_armed, 2);
}

TEST_F(Session, HalfCloseFinishesTheEchoThenCloses) {
  EXPECT_EQ(receive(500), Status::open);
  ASSERT_EQ(backend_.sends.size(), 1u);
  // The client's FIN while its echo is in flight: the session stays open to send it...
  EXPECT_EQ(end_of_input(), Status::open);
  EXPECT_EQ(session_.pending(), 500u);
  // ...and is done once it has.
  EXPECT_EQ(complete_send(500), Status::done);
}

TEST_F(Session, HalfCloseWithNothingOwedIsDoneAtOnce) {
  backend_.try_send_limit = 1 << 20;
  EXPECT_EQ(receive(10), Status::open);
  EXPECT_EQ(end_of_input(), Status::done);
}

TEST_F(Session, ALentSendCopiesNothingAndCompletesWhole) {
  backend_.lend = true;
  EXPECT_EQ(receive(3000), Status::open);
  ASSERT_EQ(backend_.sends.size(), 1u);
  EXPECT_TRUE(backend_.sends[0].lent);
  // The reply is a view into the receive buffer itself.
  EXPECT_EQ(backend_.sends[0].data.data(), input_.back().data());
  EXPECT_EQ(session_.pending(), 3000u);
  // A reply made meanwhile queues (copied: its buffer goes back when the handler returns).
  EXPECT_EQ(receive(200), Status::open);
  EXPECT_EQ(backend_.sends.size(), 1u);
  EXPECT_EQ(session_.pending(), 3200u);
  EXPECT_EQ(complete_send(3000), Status::open);
  ASSERT_EQ(backend_.sends.size(), 2u);
  EXPECT_FALSE(backend_.sends[1].lent);
  EXPECT_EQ(backend_.sends[1].data.size(), 200u);
  EXPECT_EQ(complete_send(200), Status::open);
  EXPECT_EQ(session_.pending(), 0u);
  EXPECT_EQ(counters_.get(Stat::tcp_bytes_out), 3200u);
}

TEST_F(Session, AFailedSendFailsTheSession) {
  EXPECT_EQ(receive(100), Status::open);
  EXPECT_EQ(complete_send(-ECONNRESET), Status::failed);
}

class NoCompletions final : public io::Handler {
 public:
  void on_completion(const io::Completion&) override { ADD_FAILURE() << "no completion expected"; }
};

TEST(LoopTimers, RunInDeadlineOrderAndACancelledOneNever) {
  auto owned = std::make_unique<FakeBackend>();
  FakeBackend& backend = *owned;
  io::Loop loop(std::move(owned));
  NoCompletions handler;
  std::vector<int> fired;
  const auto now = io::Clock::now();
  loop.add_timer(now + std::chrono::milliseconds(2), [&] { fired.push_back(2); });
  loop.add_timer(now - std::chrono::milliseconds(1), [&] { fired.push_back(1); });
  const auto never = loop.add_timer(now, [&] { fired.push_back(0); });
  loop.cancel_timer(never);
  // The fake's poll returns at once instead of waiting, so the loop turns until the deadline.
  while (fired.size() < 2 && io::Clock::now() < now + std::chrono::seconds(5)) {
    loop.run_once(handler);
  }
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
  // The loop never waited past a timer's deadline: every wait was bounded.
  for (const auto t : backend.poll_timeouts) {
    EXPECT_GE(t.count(), 0);
    EXPECT_LE(t, std::chrono::milliseconds(3));
  }
}

}  // namespace
}  // namespace netecho::server
