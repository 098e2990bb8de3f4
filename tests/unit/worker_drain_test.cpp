// The worker's drain driven through FakeBackend: Worker::run() turns its own loop, and the
// fake's before_poll script decides each turn (a connection arrives, its input, the drain
// request, the send completion), so what the drain does with a session still owed echo is
// checked step by step. The sockets are real loopback TCP ones, as the drain asks the kernel
// whether input is unread and how long a round trip takes.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "fake_backend.hpp"
#include "server/worker.hpp"

namespace netecho::server {
namespace {

using test::FakeBackend;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A loopback listener, and one connection to it: the client's end (the test's) and the
// accepted end (handed to the worker as an accept completion).
struct Sockets {
  net::Fd listener;
  net::Fd client;
  int accepted = -1;  // the worker's session owns and closes it

  Sockets() : listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (!listener || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listener.get(), 4) != 0 ||
        ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error(std::string("listener: ") + std::strerror(errno));
    }
    client.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!client || ::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
    accepted = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (accepted < 0) {
      throw std::runtime_error(std::string("accept: ") + std::strerror(errno));
    }
  }
};

class Drain : public ::testing::Test {
 protected:
  // Drives a worker through: accept, 5 bytes of input (all owed: the fake's try_send takes
  // nothing), drain(), then script(turn) on every later turn until run() returns. Every turn
  // is bounded: past 10 s the worker is stopped and the test fails.
  void run(const std::function<void(FakeBackend&, Worker&, int turn)>& script) {
    auto owned = std::make_unique<FakeBackend>();
    fake_ = owned.get();
    WorkerSockets ws;
    ws.tcp.push_back({std::move(sockets_.listener),
                      service::StreamService{service::StreamMode::echo}, false, "tcp://test"});
    Worker worker(0, std::move(owned), std::move(ws), WorkerShared{limits_, log_, 0ns, {}});
    const auto deadline = Clock::now() + 10s;
    int turn = 0;
    fake_->before_poll = [&](FakeBackend& b) {
      const int t = turn++;
      if (Clock::now() > deadline) {
        timed_out_ = true;
        worker.stop();
        return;
      }
      if (t == 0) {
        b.to_deliver.push_back({io::Op::accept, WorkerTokens::listener(0), sockets_.accepted, {}, nullptr});
      } else if (t == 1) {
        b.to_deliver.push_back({io::Op::recv, b.read_token, 5, input_, nullptr});
      } else if (t == 2) {
        ASSERT_EQ(b.sends.size(), 1u) << "the echo is owed: one send asked for";
        worker.drain();
        drain_at_ = Clock::now();
      } else {
        if (!forgotten(b)) {
          open_at_ = t;
        }
        script(b, worker, t);
      }
    };
    worker.run();
    closed_in_the_end_ = forgotten(*fake_);
    drain_cut_ = worker.tcp_counters(0).get(Stat::tcp_drain_cut);
    closed_ = worker.tcp_counters(0).get(Stat::tcp_closed);
  }

  bool forgotten(const FakeBackend& b) const {
    return std::count(b.forgotten.begin(), b.forgotten.end(), sockets_.accepted) != 0;
  }

  ConnectionLimits limits_{0, 0};
  GuardLog log_;
  Sockets sockets_;
  FakeBackend* fake_ = nullptr;
  std::byte input_[5] = {std::byte{'h'}, std::byte{'e'}, std::byte{'l'}, std::byte{'l'}, std::byte{'o'}};
  bool timed_out_ = false;
  Clock::time_point drain_at_;
  int open_at_ = -1;  // the last turn that began with the session's socket not yet forgotten
  bool closed_in_the_end_ = false;
  std::uint64_t drain_cut_ = 0;
  std::uint64_t closed_ = 0;
};

// Longer than a drain's quiet period (Worker::kDrainQuiet, 250 ms, plus two loopback round
// trips and a tick): a session the drain would close of its own accord is closed by then.
constexpr auto kLongerThanQuiet = 600ms;

// A session owed echo is not closed by the drain while the send is out; once it completes
// and a quiet period has passed with nothing unread, it closes with a FIN, and run() returns.
TEST_F(Drain, WaitsForTheEchoOwedThenClosesTheSessionWithAFin) {
  int completed_at = -1;
  run([&](FakeBackend& b, Worker&, int turn) {
    if (completed_at < 0 && Clock::now() >= drain_at_ + kLongerThanQuiet) {
      completed_at = turn;
      b.to_deliver.push_back({io::Op::send, b.sends.back().token, 5, {}, nullptr});
    }
  });
  const int kSendCompletesAt = completed_at;
  ASSERT_GT(kSendCompletesAt, 0);
  EXPECT_FALSE(timed_out_);
  EXPECT_GE(open_at_, kSendCompletesAt) << "closed before the owed echo was sent";
  EXPECT_TRUE(closed_in_the_end_);
  EXPECT_EQ(closed_, 1u);
  EXPECT_EQ(drain_cut_, 0u);
  char byte;
  EXPECT_EQ(::recv(sockets_.client.get(), &byte, 1, 0), 0) << "a FIN, not a reset: "
                                                           << std::strerror(errno);
}

// The drain's time runs out (the server then stops the worker) while a session is still owed
// echo: the session is cut, and counted as such.
TEST_F(Drain, ATimeoutCutsASessionStillOwedAndCountsIt) {
  bool stopped = false;
  run([&](FakeBackend&, Worker& worker, int turn) {
    if (!stopped && Clock::now() >= drain_at_ + kLongerThanQuiet) {
      stopped = true;
      EXPECT_EQ(open_at_, turn) << "closed while still owed echo";
      worker.stop();  // what Server does when --drain-timeout passes
    }
  });
  EXPECT_FALSE(timed_out_);
  EXPECT_TRUE(closed_in_the_end_);
  EXPECT_EQ(drain_cut_, 1u);
  EXPECT_EQ(closed_, 1u);
}

}  // namespace
}  // namespace netecho::server
