// The service manager's notification protocol, seen from the manager's side. Each test binds an
// AF_UNIX datagram socket of its own, names it to `netecho serve` in NOTIFY_SOCKET (with
// WATCHDOG_USEC and WATCHDOG_PID as the test needs), and reads what arrives: READY=1 and STATUS=
// once the listeners serve, WATCHDOG=1 at half the timeout while every worker's loop turns (and
// not while one is stalled by the test-only --test-stall-worker), STOPPING=1 when the drain
// starts. Every read waits on the socket with a deadline; nothing sleeps.
//
// The suites run once per backend (BackendTest): the heartbeats ride on each backend's loop
// timers.

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "harness.hpp"

namespace netecho::test {
namespace {

using Clock = std::chrono::steady_clock;

// Under a sanitizer, or on a loaded 2-core machine, timers run late: the bounds below are loose
// on purpose. The watchdog timeout the tests hand out: pings every 100 ms.
constexpr const char* kWatchdogUsec = "WATCHDOG_USEC=200000";

int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// Whether the notification (VARIABLE=VALUE lines) has exactly this line.
bool has_line(std::string_view message, std::string_view line) {
  while (!message.empty()) {
    const auto nl = message.find('\n');
    if (message.substr(0, nl) == line) {
      return true;
    }
    if (nl == std::string_view::npos) {
      break;
    }
    message.remove_prefix(nl + 1);
  }
  return false;
}

std::size_t count_lines_with(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    if (std::string_view(text).substr(start, end - start).find(needle) != std::string_view::npos) {
      ++n;
    }
    start = end + 1;
  }
  return n;
}

void expect_no_sanitizer_report(const std::string& err) {
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                             "WARNING: ThreadSanitizer", "runtime error:"}) {
    EXPECT_EQ(err.find(marker), std::string::npos) << err;
  }
}

// The manager's end: a datagram socket at a path in a temporary directory of its own, or in
// the abstract namespace.
class NotifySocket {
 public:
  enum class Kind { path, abstract };

  explicit NotifySocket(Kind kind = Kind::path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      throw std::runtime_error("socket(AF_UNIX): " + std::string(std::strerror(errno)));
    }
    char dir[] = "/tmp/netecho-notify-XXXXXX";
    if (::mkdtemp(dir) == nullptr) {
      throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
    }
    dir_ = dir;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    socklen_t len = 0;
    if (kind == Kind::path) {
      name_ = dir_ + "/notify";
      std::memcpy(addr.sun_path, name_.c_str(), name_.size() + 1);
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() + 1);
    } else {
      // Unique per test process and per socket: the directory's random name.
      const std::string abstract = "netecho-test" + dir_.substr(dir_.rfind('-'));
      name_ = "@" + abstract;
      std::memcpy(addr.sun_path + 1, abstract.data(), abstract.size());
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract.size());
    }
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
      throw std::runtime_error("bind " + name_ + ": " + std::strerror(errno));
    }
  }
  ~NotifySocket() {
    ::close(fd_);
    if (name_.front() == '/') {
      ::unlink(name_.c_str());
    }
    ::rmdir(dir_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // What NOTIFY_SOCKET must say.
  const std::string& name() const { return name_; }
  const std::string& dir() const { return dir_; }

  // The next notification, or nullopt when none comes before the deadline.
  std::optional<std::string> next(Clock::time_point deadline) {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      const int rc = ::poll(&p, 1, ms_left(deadline));
      if (rc == 0) {
        return std::nullopt;
      }
      if (rc < 0) {
        if (errno == EINTR) {
          continue;
        }
        return std::nullopt;
      }
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
      if (n >= 0) {
        return std::string(buf, static_cast<std::size_t>(n));
      }
    }
  }

  // Reads notifications until one has the line; returns it, or nullopt at the deadline. The
  // ones before it are appended to skipped.
  std::optional<std::string> wait_for(std::string_view line, std::chrono::milliseconds timeout,
                                      std::vector<std::string>* skipped = nullptr) {
    const auto deadline = Clock::now() + timeout;
    while (auto message = next(deadline)) {
      if (has_line(*message, line)) {
        return message;
      }
      if (skipped != nullptr) {
        skipped->push_back(*message);
      }
    }
    return std::nullopt;
  }

  // The WATCHDOG=1 notifications that arrive within window (the others are dropped).
  std::size_t count_pings(std::chrono::milliseconds window) {
    const auto deadline = Clock::now() + window;
    std::size_t pings = 0;
    while (auto message = next(deadline)) {
      pings += has_line(*message, "WATCHDOG=1") ? 1 : 0;
    }
    return pings;
  }

 private:
  int fd_ = -1;
  std::string dir_;
  std::string name_;
};

Process::Options notify_env(const NotifySocket& socket, std::vector<std::string> more = {}) {
  Process::Options options;
  // Nothing inherited from a manager that may run this test suite itself.
  options.env = {"NOTIFY_SOCKET=" + socket.name(), "WATCHDOG_USEC", "WATCHDOG_PID"};
  options.env.insert(options.env.end(), more.begin(), more.end());
  return options;
}

bool tcp_echoes(std::uint16_t port) {
  Socket s = Socket::tcp("127.0.0.1", port);
  const Bytes data = random_bytes(3000, port);
  return s.echo_exchange(data, {1000}, 10s) == data;
}

bool udp_echoes(std::uint16_t port) {
  Socket s = Socket::udp("127.0.0.1", port);
  const Bytes data = to_bytes("ping");
  return s.udp_roundtrip(data, 5s) == data;
}

class Notify : public BackendTest {};
class Watchdog : public BackendTest {};

INSTANTIATE_TEST_SUITE_P(Backends, Notify, ::testing::ValuesIn(backend_names()),
                         backend_test_name);
INSTANTIATE_TEST_SUITE_P(Backends, Watchdog, ::testing::ValuesIn(backend_names()),
                         backend_test_name);

TEST_P(Notify, ReadyComesOnceTheListenersServeAndStoppingWhenTheDrainStarts) {
  NotifySocket manager;
  Process proc = Process::spawn({netecho_bin(), "serve", "--tcp", "127.0.0.1:0", "--udp",
                                 "127.0.0.1:0", "--threads", "2", "--backend", backend()},
                                notify_env(manager));
  // READY=1 first: by then the "listening" lines are printed and the listeners answer.
  const auto ready = manager.wait_for("READY=1", 10s);
  ASSERT_TRUE(ready) << proc.stderr_text();
  EXPECT_TRUE(has_line(*ready, "STATUS=serving 2 listener(s), 0 connection(s)")) << *ready;
  const std::regex listening(R"(listening proto=(tcp|udp) host=\S+ port=(\d+) mode=echo)");
  std::uint16_t tcp = 0;
  std::uint16_t udp = 0;
  for (int i = 0; i < 3; ++i) {
    const auto line = proc.read_line(2s);  // already in the pipe
    ASSERT_TRUE(line) << "stdout lines missing after READY=1";
    std::smatch m;
    if (std::regex_match(*line, m, listening)) {
      (m[1] == "tcp" ? tcp : udp) = static_cast<std::uint16_t>(std::stoi(m[2]));
    } else {
      EXPECT_EQ(line->rfind("ready backend=" + backend(), 0), 0u) << *line;
    }
  }
  ASSERT_NE(tcp, 0);
  ASSERT_NE(udp, 0);
  EXPECT_TRUE(tcp_echoes(tcp));
  EXPECT_TRUE(udp_echoes(udp));

  EXPECT_EQ(proc.stop(SIGTERM), 0);
  const auto stopping = manager.wait_for("STOPPING=1", 5s);
  ASSERT_TRUE(stopping) << proc.stderr_text();
  EXPECT_TRUE(has_line(*stopping, "STATUS=draining 0 connection(s)")) << *stopping;
  expect_no_sanitizer_report(proc.stderr_text());
}

TEST_P(Notify, AbstractSocketNameIsHonoured) {
  NotifySocket manager(NotifySocket::Kind::abstract);
  ASSERT_EQ(manager.name().front(), '@');
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--threads", "1"}), notify_env(manager));
  const auto ready = manager.wait_for("READY=1", 10s);
  ASSERT_TRUE(ready) << server.process().stderr_text();
  EXPECT_TRUE(has_line(*ready, "STATUS=serving 1 listener(s), 0 connection(s)")) << *ready;
  EXPECT_EQ(server.stop(), 0);
  EXPECT_TRUE(manager.wait_for("STOPPING=1", 5s));
}

TEST_P(Notify, WithoutNotifySocketNothingChanges) {
  Process::Options options;
  options.env = {"NOTIFY_SOCKET", "WATCHDOG_PID", kWatchdogUsec};
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"}), options);
  EXPECT_TRUE(tcp_echoes(server.port("tcp")));
  EXPECT_TRUE(udp_echoes(server.port("udp")));
  EXPECT_EQ(server.stop(), 0);
  const std::string err = server.process().stderr_text();
  EXPECT_EQ(count_lines_with(err, "notify"), 0u) << err;
  EXPECT_EQ(count_lines_with(err, "watchdog"), 0u) << err;
}

TEST_P(Notify, UnusableNotifySocketIsOneLogLineAndTheServerServes) {
  NotifySocket manager;  // only for a temporary directory
  struct Case {
    std::string value;
    std::string logged;  // the one line saying why nothing is sent
  };
  const std::vector<Case> cases = {
      {manager.dir() + "/absent", "cannot notify the service manager at " + manager.dir()},
      {"relative/notify", "NOTIFY_SOCKET='relative/notify' ignored"},
      {"vsock:2:1234", "NOTIFY_SOCKET='vsock:2:1234' ignored"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    Process::Options options;
    options.env = {"NOTIFY_SOCKET=" + c.value, "WATCHDOG_PID", kWatchdogUsec};
    Server server(serve_args({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"}), options);
    EXPECT_TRUE(tcp_echoes(server.port("tcp")));
    // A bounded pause (it ends early only if the server dies): several pings fail meanwhile.
    EXPECT_FALSE(server.process().exits_within(500ms));
    EXPECT_TRUE(udp_echoes(server.port("udp")));
    EXPECT_EQ(server.stop(), 0);
    const std::string err = server.process().stderr_text();
    // One line, not one per message.
    EXPECT_EQ(count_lines_with(err, c.logged), 1u) << err;
  }
}

TEST_P(Watchdog, PingsAtHalfTheTimeoutAndStatusFollowsTheConnections) {
  NotifySocket manager;
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--threads", "2"}),
                notify_env(manager, {kWatchdogUsec}));
  ASSERT_TRUE(manager.wait_for("READY=1", 10s)) << server.process().stderr_text();
  // One ping per 100 ms: 10 in a second when all is well. Loose bounds for a loaded machine,
  // and an upper one that catches a ping per loop turn.
  const std::size_t pings = manager.count_pings(1000ms);
  EXPECT_GE(pings, 3u);
  EXPECT_LE(pings, 25u);
  // STATUS= follows the open connections, on the watchdog's tick.
  Socket client = Socket::tcp("127.0.0.1", server.port("tcp"));
  client.send_all(to_bytes("x"));
  ASSERT_EQ(client.recv_exact(1, 5s), to_bytes("x"));
  EXPECT_TRUE(manager.wait_for("STATUS=serving 2 listener(s), 1 connection(s)", 5s));
  client = Socket();
  EXPECT_TRUE(manager.wait_for("STATUS=serving 2 listener(s), 0 connection(s)", 5s));
  EXPECT_EQ(server.stop(), 0);
  EXPECT_TRUE(manager.wait_for("STOPPING=1", 5s));
  const std::string err = server.process().stderr_text();
  EXPECT_EQ(count_lines_with(err, "WATCHDOG=1 withheld"), 0u) << err;
}

TEST_P(Watchdog, StalledWorkerStopsThePingsUntilItTurnsAgain) {
  NotifySocket manager;
  // Worker 0 blocks its loop for 1.5 s, 0.5 s after it starts; worker 1 serves on.
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--threads", "2", "--test-stall-worker",
                            "500ms,1500ms"}),
                notify_env(manager, {kWatchdogUsec}));
  ASSERT_TRUE(manager.wait_for("READY=1", 10s)) << server.process().stderr_text();
  // Pings until the stall; then none for a second (ten ping periods, five timeouts: a manager
  // would have restarted the service long before) while the process runs on; then pings again.
  const auto give_up = Clock::now() + 10s;
  std::size_t before = 0;
  bool silent = false;
  while (!silent && Clock::now() < give_up) {
    const auto message = manager.next(std::min(Clock::now() + 1000ms, give_up));
    if (!message) {
      silent = Clock::now() < give_up;
    } else if (has_line(*message, "WATCHDOG=1")) {
      ++before;
    }
  }
  ASSERT_TRUE(silent) << "the pings never stopped; stderr:\n" << server.process().stderr_text();
  EXPECT_GE(before, 1u) << "no ping before the stall";
  EXPECT_TRUE(server.process().running()) << "the stall must not kill the server";
  const auto resumed = manager.wait_for("WATCHDOG=1", 5s);
  EXPECT_TRUE(resumed) << "the pings never resumed; stderr:\n" << server.process().stderr_text();
  EXPECT_EQ(server.stop(), 0);
  EXPECT_TRUE(manager.wait_for("STOPPING=1", 5s));
  const std::string err = server.process().stderr_text();
  EXPECT_EQ(count_lines_with(err, "worker(s) 0 has not turned"), 1u) << err;
  EXPECT_EQ(count_lines_with(err, "WATCHDOG=1 resumed"), 1u) << err;
}

TEST_P(Watchdog, PidOfAnotherProcessSendsNoPings) {
  NotifySocket manager;
  const std::string other = "WATCHDOG_PID=" + std::to_string(::getpid());  // this test, not it
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--threads", "2"}),
                notify_env(manager, {kWatchdogUsec, other}));
  ASSERT_TRUE(manager.wait_for("READY=1", 10s)) << server.process().stderr_text();
  EXPECT_EQ(manager.count_pings(1000ms), 0u);
  EXPECT_EQ(server.stop(), 0);
  EXPECT_TRUE(manager.wait_for("STOPPING=1", 5s));
  const std::string err = server.process().stderr_text();
  EXPECT_EQ(count_lines_with(err, "is another process"), 1u) << err;
}

TEST_P(Watchdog, PidOfTheServerItselfPings) {
  NotifySocket manager;
  // The shell learns the pid the server will have: exec keeps it.
  Process proc = Process::spawn(
      {"sh", "-c", "WATCHDOG_PID=$$; export WATCHDOG_PID; exec \"$0\" \"$@\"", netecho_bin(),
       "serve", "--tcp", "127.0.0.1:0", "--threads", "2", "--backend", backend()},
      notify_env(manager, {kWatchdogUsec}));
  ASSERT_TRUE(manager.wait_for("READY=1", 10s)) << proc.stderr_text();
  EXPECT_GE(manager.count_pings(1000ms), 3u) << proc.stderr_text();
  EXPECT_EQ(proc.stop(SIGTERM), 0);
  EXPECT_TRUE(manager.wait_for("STOPPING=1", 5s));
  expect_no_sanitizer_report(proc.stderr_text());
}

TEST_P(Watchdog, MalformedTimeoutIsOneLogLineAndNoPings) {
  NotifySocket manager;
  Server server(serve_args({"--tcp", "127.0.0.1:0", "--threads", "1"}),
                notify_env(manager, {"WATCHDOG_USEC=20s"}));
  const auto ready = manager.wait_for("READY=1", 10s);
  ASSERT_TRUE(ready) << server.process().stderr_text();
  EXPECT_EQ(manager.count_pings(600ms), 0u);
  EXPECT_EQ(server.stop(), 0);
  const std::string err = server.process().stderr_text();
  EXPECT_EQ(count_lines_with(err, "WATCHDOG_USEC='20s'"), 1u) << err;
}

}  // namespace
}  // namespace netecho::test
