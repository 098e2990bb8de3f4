#pragma once
// Test harness: starts the real netecho binary (and real peers) as child processes, reads the
// server's "listening ..." lines to learn its ephemeral ports, and gives small blocking socket
// helpers with deadlines. Nothing here sleeps for a fixed time: every wait is on a pipe, a
// socket or a process, bounded by a deadline.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netecho::test {

using namespace std::chrono_literals;
using Bytes = std::vector<std::byte>;

std::string netecho_bin();
bool have_command(const std::string& name);

struct Listener {
  std::string proto;  // tcp | udp
  std::string host;
  std::uint16_t port = 0;
  std::string mode;   // echo | reverse | once
};

// A running child process with its stdout on a pipe and its stderr in a file.
class Process {
 public:
  // Starts argv[0] (looked up in PATH) with the arguments.
  static Process spawn(const std::vector<std::string>& argv);
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

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string err_path_;
  std::string buffered_;
  int status_ = -1;
  bool reaped_ = false;
};

// `netecho serve ARGS...`, started and read up to its "ready" line.
class Server {
 public:
  explicit Server(const std::vector<std::string>& args);
  const std::vector<Listener>& listeners() const { return listeners_; }
  // The port of the first listener with this protocol (and mode, if given).
  std::uint16_t port(std::string_view proto, std::string_view mode = {}) const;
  Process& process() { return proc_; }
  int stop(int sig = 15) { return proc_.stop(sig); }

 private:
  Process proc_;
  std::vector<Listener> listeners_;
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
  void shutdown_write();
  // One datagram out, one back (nullopt on timeout).
  std::optional<Bytes> udp_roundtrip(const Bytes& data, std::chrono::milliseconds timeout = 5s);
  // Closes with SO_LINGER 0, so the peer sees a reset.
  void reset();

 private:
  int fd_ = -1;
};

}  // namespace netecho::test
