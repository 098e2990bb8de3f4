#pragma once
// Test harness: starts the real netecho binary (and real peers) as child processes, reads the
// server's "listening ..." lines to learn its ephemeral ports, and gives small blocking socket
// helpers with deadlines. Nothing here sleeps for a fixed time: every wait is on a pipe, a
// socket or a process, bounded by a deadline.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace netecho::test {

// Whether this test binary (and so the netecho beside it) is built with ASan or TSan, whose
// runtimes change memory figures and cannot run under valgrind. g++ defines __SANITIZE_*__,
// clang answers __has_feature.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif
#else
inline constexpr bool kSanitizedBuild = false;
#endif

using namespace std::chrono_literals;
using Bytes = std::vector<std::byte>;

// What hard time bounds in tests are multiplied by, as libuv's UV_TEST_TIMEOUT_MULTIPLIER: 2 in
// a sanitizer build (which runs everything several times slower), else 1;
// NETECHO_TEST_TIME_MULTIPLIER (a whole number, at least 1) overrides it, for a slow machine.
// Scale the bounds that say "this must happen within", never the ones that say "nothing
// arrives within" (those only get slower).
int time_multiplier();
template <typename Rep, typename Period>
std::chrono::duration<Rep, Period> scaled(std::chrono::duration<Rep, Period> bound) {
  return bound * time_multiplier();
}

std::string netecho_bin();
bool have_command(const std::string& name);

struct Listener {
  std::string proto;  // tcp | udp | http (the metrics listener)
  std::string host;
  std::uint16_t port = 0;
  std::string mode;   // echo | reverse | once
  bool proxy = false;  // connections must start with a PROXY header (--tcp-proxy)
};

// A running child process with its stdout on a pipe and its stderr in a file.
class Process {
 public:
  // Starts argv[0] (looked up in PATH) with the arguments.
  static Process spawn(const std::vector<std::string>& argv);

  struct Options {
    // In a process group of its own: stop() and the destructor signal the whole group, so the
    // children of a forking peer (socat fork, ncat -k -e) go with it.
    bool own_group = false;
    // stdin on a pipe fed by write_stdin() and closed by close_stdin(); otherwise /dev/null.
    bool stdin_pipe = false;
    // stderr into the stdout pipe, so read_line() sees it (peers that log their address there).
    bool stderr_to_stdout = false;
    // Changes to the environment the child inherits, applied in order: "NAME=VALUE" sets NAME,
    // a bare "NAME" removes it.
    std::vector<std::string> env;
    // Descriptors the child gets as 3, 4, ... (socket activation's LISTEN_FDS), in order. They
    // must not themselves be numbered 3 to 2 + their count.
    std::vector<int> pass_fds;
  };
  static Process spawn(const std::vector<std::string>& argv, const Options& options);
  Process() = default;
  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  // Reads one line from stdout; nullopt at EOF or when the deadline passes.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 10s);
  // Sends sig (if still running) and waits up to timeout. Returns the exit code, 128+signal
  // when killed, or -1 on timeout (the process is then killed with SIGKILL).
  int stop(int sig, std::chrono::milliseconds timeout = 10s);
  int wait(std::chrono::milliseconds timeout = 10s);
  bool running();
  std::string stderr_text() const;
  // Resident set size in KiB, from /proc/PID/status.
  long rss_kib() const;

  // Writes all of data to the child's stdin (Options::stdin_pipe); false on error or timeout.
  bool write_stdin(std::string_view data, std::chrono::milliseconds timeout = 10s);
  void close_stdin();
  // Closes the read end of the child's stdout, as `| head` does when it has read enough: the
  // child's next write fails with EPIPE.
  void close_stdout();
  // Waits up to timeout for the child to exit, without reaping it; true when it has exited.
  // Doubles as a bounded pause between readiness probes that ends early if the child dies.
  bool exits_within(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int in_fd_ = -1;
  bool own_group_ = false;
  std::string err_path_;
  std::string buffered_;
  int status_ = -1;
  bool reaped_ = false;
};

// `netecho serve ARGS...`, started and read up to its "ready" line.
class Server {
 public:
  explicit Server(const std::vector<std::string>& args);
  // The same, started with options (its environment, say).
  Server(const std::vector<std::string>& args, const Process::Options& options);
  // A `netecho serve` started by other means (by a supervisor that execs it, say), read up to
  // its "ready" line. Throws, with its stderr, when it ends or stays silent first.
  explicit Server(Process proc);
  // Fails the running test if the server wrote a sanitizer report (ASan, UBSan, TSan, LSan) to
  // its stderr, so the sanitizer builds of this suite count reports, not just crashes.
  ~Server();
  Server(Server&&) = default;
  Server& operator=(Server&&) = default;
  const std::vector<Listener>& listeners() const { return listeners_; }
  // The port of the first listener with this protocol (and mode, if given).
  std::uint16_t port(std::string_view proto, std::string_view mode = {}) const;
  Process& process() { return proc_; }
  int stop(int sig = 15) { return proc_.stop(sig); }
  // The "ready backend=... threads=N" line the server printed last at start.
  const std::string& ready_line() const { return ready_line_; }

 private:
  Process proc_;
  std::vector<Listener> listeners_;
  std::string ready_line_;
};

struct RunResult {
  int exit_code = -1;  // -1: timed out and killed
  std::string out;
  std::string err;
};

// Runs a command to completion, feeding it input on stdin.
RunResult run(const std::vector<std::string>& argv, std::string_view input = {},
              std::chrono::milliseconds timeout = 30s);

Bytes random_bytes(std::size_t n, std::uint64_t seed);
Bytes to_bytes(std::string_view s);

// Blocking sockets with a deadline for every call.
class Socket {
 public:
  static Socket tcp(const std::string& host, std::uint16_t port);
  static Socket udp(const std::string& host, std::uint16_t port);  // connected UDP
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& o) noexcept;
  Socket& operator=(Socket&& o) noexcept;
  ~Socket();
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Sends data in writes of the given sizes (cycled) while reading the echo concurrently;
  // after the last write, half-closes; returns everything read until EOF.
  Bytes echo_exchange(const Bytes& data, const std::vector<std::size_t>& write_sizes,
                      std::chrono::milliseconds timeout = 30s);
  void send_all(const Bytes& data, std::chrono::milliseconds timeout = 10s);
  // Reads exactly n bytes (fewer at EOF or on timeout).
  Bytes recv_exact(std::size_t n, std::chrono::milliseconds timeout = 10s);
  // Reads until EOF; sets *reset when the connection was reset.
  Bytes recv_to_eof(std::chrono::milliseconds timeout = 10s, bool* reset = nullptr);
  // What ended recv_until_end(): the peer's FIN, a reset, another error, or the timeout.
  enum class End { eof, reset, error, timeout };
  // Reads until EOF, a reset, an error or the timeout; end says which.
  Bytes recv_until_end(End& end, std::chrono::milliseconds timeout = 10s);
  void shutdown_write();
  // One datagram out, one back (nullopt on timeout).
  std::optional<Bytes> udp_roundtrip(const Bytes& data, std::chrono::milliseconds timeout = 5s);
  // Closes with SO_LINGER 0, so the peer sees a reset.
  void reset();

 private:
  int fd_ = -1;
};

// HTTP for tests: an answer split into its status (0 when no status line came), head and body.
struct HttpReply {
  int status = 0;
  std::string head;
  std::string body;
};
HttpReply parse_http_reply(std::string_view raw);
// Writes request as given (whatever bytes a test wants to try) and reads the answer until the
// server closes. Throws when it cannot connect.
std::string http_exchange(const std::string& host, std::uint16_t port, std::string_view request,
                          std::chrono::milliseconds timeout = 10s);
// One HTTP/1.0 GET (so the answer is never chunked, and the server closes after it).
HttpReply http_get(const std::string& host, std::uint16_t port, const std::string& path,
                   std::chrono::milliseconds timeout = 10s);

// The counters of a server's "netecho: stopped key=value ..." log line (its last), by key;
// empty when there is none.
std::map<std::string, std::uint64_t> stopped_counters(const std::string& err);

// Number of lines in text (a last line without '\n' counts too).
std::size_t line_count(std::string_view text);
// The lines of text, without their '\n'.
std::vector<std::string> lines_of(const std::string& text);

// Whether ::1 is configured here (a socket can bind it).
bool ipv6_loopback_available();

// A port that is free right now for both TCP and UDP on 127.0.0.1, chosen at random below the
// ephemeral range (32768-60999), so client sockets of this machine do not take it meanwhile.
// Only for peers that cannot report the port they bound (ncat, socat's UDP addresses): another
// process may still take it first, so callers start the peer and retry with a new port if it
// fails to come up.
std::uint16_t pick_free_port();

// Polls connect() to host:port until a TCP listener accepts or the timeout passes. peer is
// the process expected to listen: the pause between attempts is a wait on its exit, and the
// function gives up (false) as soon as it has exited.
bool wait_tcp_listening(Process& peer, const std::string& host, std::uint16_t port,
                        std::chrono::milliseconds timeout = 10s);

// Sends data to host:port from one UDP socket, again every 100 ms (or 20 ms after a refusal),
// until a datagram comes back (returned) or the timeout passes (nullopt). peer is the process
// expected to answer: the probing stops as soon as it has exited.
std::optional<Bytes> udp_probe(Process& peer, const std::string& host, std::uint16_t port,
                               const Bytes& data, std::chrono::milliseconds timeout = 10s);

// A backend built into netecho, as `netecho serve --list-backends` reports it.
struct BackendInfo {
  std::string name;  // "epoll", "io_uring"
  bool usable = true;
  std::string detail;  // what the probe checked, or why the backend cannot run here
};

// Every backend the binary has, asked once per test process. A backend counts as unusable
// only when the binary itself says so; when it cannot be asked at all, every known backend is
// listed as usable, so that the tests run and fail loudly instead of being skipped.
const std::vector<BackendInfo>& backends_under_test();

// The names of backends_under_test(), for INSTANTIATE_TEST_SUITE_P(..., ValuesIn(...)).
std::vector<std::string> backend_names();

// Skips the running test (GTEST_SKIP, with the probe's reason) when the binary reports the
// named backend unusable here. Call it first in SetUp() or in the test.
#define NETECHO_SKIP_UNLESS_BACKEND_USABLE(backend_name)                                       \
  do {                                                                                         \
    const ::netecho::test::BackendInfo& probed_ = ::netecho::test::backend_info(backend_name); \
    if (!probed_.usable) {                                                                     \
      GTEST_SKIP() << "backend " << probed_.name << " cannot run here: " << probed_.detail;    \
    }                                                                                          \
  } while (false)

// The entry for name (an unknown name is reported usable, so its tests run and fail).
const BackendInfo& backend_info(std::string_view name);

// A value-parameterized fixture over backend_names(): backend() is the parameter, and
// serve_args() appends "--backend NAME" to the server arguments. SetUp() skips the test, with
// the probe's reason, when the backend cannot run here.
class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { NETECHO_SKIP_UNLESS_BACKEND_USABLE(GetParam()); }
  const std::string& backend() const { return GetParam(); }
  std::vector<std::string> serve_args(std::vector<std::string> args) const {
    args.push_back("--backend");
    args.push_back(GetParam());
    return args;
  }
};

// For INSTANTIATE_TEST_SUITE_P: names each instance after its backend ("epoll", "io_uring").
std::string backend_test_name(const ::testing::TestParamInfo<std::string>& info);

}  // namespace netecho::test
