#pragma once
// A Backend that does no I/O: it records what its owner asks for and lets a test decide what
// each call returns and which completions come back, so that the logic above the backend
// (TcpSession, Loop) can be driven step by step, deterministically.

#include <chrono>
#include <cstddef>
#include <span>
#include <vector>

#include "io/backend.hpp"

namespace netecho::test {

class FakeBackend final : public io::Backend {
 public:
  struct Send {
    int fd;
    io::Token token;
    std::span<const std::byte> data;
    bool lent;
  };

  // What the test controls.
  long try_send_limit = 0;                 // bytes try_send() writes at most (0: none, as io_uring)
  bool lend = false;                       // whether send_lent() takes the buffer
  std::vector<io::Completion> to_deliver;  // delivered (and cleared) by the next poll()

  // What the owner asked for.
  int reads_armed = 0;  // recv/accept/recv_from calls
  int reads_stopped = 0;
  bool reading = false;     // armed and not stopped since
  std::vector<Send> sends;  // send() and send_lent() calls, in order
  std::vector<int> forgotten;
  std::vector<std::chrono::nanoseconds> poll_timeouts;

  std::string_view name() const noexcept override { return "fake"; }
  void accept(int, io::Token) override { arm(); }
  void recv(int, io::Token) override { arm(); }
  void recv_from(int, io::Token) override { arm(); }
  void readable(int, io::Token) override { arm(); }
  void stop_read(int) override {
    ++reads_stopped;
    reading = false;
  }
  void connect(int, io::Token) override {}
  long try_send(int, std::span<const std::byte> data) noexcept override {
    return static_cast<long>(std::min<std::size_t>(data.size(), try_send_limit));
  }
  void send(int fd, io::Token t, std::span<const std::byte> data) override {
    sends.push_back({fd, t, data, false});
  }
  bool send_lent(int fd, io::Token t, const io::Completion&,
                 std::span<const std::byte> data) override {
    if (!lend) {
      return false;
    }
    sends.push_back({fd, t, data, true});
    return true;
  }
  long send_to(int, std::span<const std::byte> data, const net::Datagram&) noexcept override {
    return static_cast<long>(data.size());
  }
  void forget(int fd) override {
    forgotten.push_back(fd);
    reading = false;
  }
  int poll(io::Handler& handler, std::chrono::nanoseconds timeout) override {
    poll_timeouts.push_back(timeout);
    std::vector<io::Completion> batch;
    batch.swap(to_deliver);
    for (const auto& c : batch) {
      handler.on_completion(c);
    }
    return static_cast<int>(batch.size());
  }
  void wake() noexcept override {}
  void quiesce() noexcept override {}

 private:
  void arm() {
    ++reads_armed;
    reading = true;
  }
};

}  // namespace netecho::test
