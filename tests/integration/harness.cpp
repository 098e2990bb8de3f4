#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <utility>
#include <stdexcept>
#include <sys/syscall.h>

#include <gtest/gtest.h>

extern char** environ;

namespace netecho::test {
namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// A new file /tmp/netecho-test-XXXXXX<tag>, created empty: the caller unlinks it. (The name
// carries the tag from the start, so no second file is left behind.)
std::string temp_path(const char* tag) {
  std::string path = std::string("/tmp/netecho-test-XXXXXX") + tag;
  const int fd = ::mkstemps(path.data(), static_cast<int>(std::strlen(tag)));
  if (fd < 0) {
    fail("mkstemps");
  }
  ::close(fd);
  return path;
}

sockaddr_storage make_addr(const std::string& host, std::uint16_t port, int socktype,
                           socklen_t& len) {
  addrinfo hints{};
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) {
    throw std::runtime_error("cannot resolve " + host);
  }
  sockaddr_storage ss{};
  std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
  len = res->ai_addrlen;
  ::freeaddrinfo(res);
  return ss;
}

}  // namespace

std::string netecho_bin() { return NETECHO_BIN; }

int time_multiplier() {
  static const int multiplier = [] {
    if (const char* env = std::getenv("NETECHO_TEST_TIME_MULTIPLIER")) {
      const int n = std::atoi(env);
      if (n >= 1) {
        return n;
      }
    }
    return kSanitizedBuild ? 2 : 1;
  }();
  return multiplier;
}

bool have_command(const std::string& name) {
  return run({"sh", "-c", "command -v " + name}, {}, 10s).exit_code == 0;
}

// ---------------------------------------------------------------- Process

Process Process::spawn(const std::vector<std::string>& argv) { return spawn(argv, Options{}); }

Process Process::spawn(const std::vector<std::string>& argv, const Options& options) {
  int out[2];
  int in[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0 || (options.stdin_pipe && ::pipe2(in, O_CLOEXEC) != 0)) {
    fail("pipe");
  }
  Process p;
  p.err_path_ = temp_path(".stderr");
  p.own_group_ = options.own_group;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  if (options.stderr_to_stdout) {
    posix_spawn_file_actions_adddup2(&fa, out[1], STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, p.err_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
  }
  if (options.stdin_pipe) {
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  for (std::size_t i = 0; i < options.pass_fds.size(); ++i) {
    posix_spawn_file_actions_adddup2(&fa, options.pass_fds[i], 3 + static_cast<int>(i));
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (options.own_group) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  std::vector<std::string> env_entries;
  for (char** e = environ; *e != nullptr; ++e) {
    env_entries.emplace_back(*e);
  }
  for (const auto& change : options.env) {
    const std::string name = change.substr(0, change.find('=')) + "=";
    std::erase_if(env_entries, [&name](const std::string& e) { return e.rfind(name, 0) == 0; });
    if (change.find('=') != std::string::npos) {
      env_entries.push_back(change);
    }
  }
  std::vector<char*> envp;
  for (auto& e : env_entries) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  const int rc = ::posix_spawnp(&p.pid_, args[0], &fa, &attr, args.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  if (options.stdin_pipe) {
    ::close(in[0]);
    p.in_fd_ = in[1];
  }
  if (rc != 0) {
    ::close(out[0]);
    errno = rc;
    fail("spawn " + argv[0]);
  }
  p.out_fd_ = out[0];
  return p;
}

Process::Process(Process&& o) noexcept { *this = std::move(o); }

Process& Process::operator=(Process&& o) noexcept {
  std::swap(pid_, o.pid_);
  std::swap(out_fd_, o.out_fd_);
  std::swap(in_fd_, o.in_fd_);
  std::swap(own_group_, o.own_group_);
  std::swap(err_path_, o.err_path_);
  std::swap(buffered_, o.buffered_);
  std::swap(status_, o.status_);
  std::swap(reaped_, o.reaped_);
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && own_group_) {
    ::kill(-pid_, SIGKILL);  // the forked children too, even when the leader is gone
  }
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) {
    ::close(out_fd_);
  }
  if (in_fd_ >= 0) {
    ::close(in_fd_);
  }
  if (!err_path_.empty()) {
    ::unlink(err_path_.c_str());
  }
}

std::optional<std::string> Process::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (const auto nl = buffered_.find('\n'); nl != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return line;
    }
    pollfd p{out_fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, ms_left(deadline));
    if (rc <= 0) {
      return std::nullopt;
    }
    char buf[4096];
    const ssize_t n = ::read(out_fd_, buf, sizeof(buf));
    if (n <= 0) {
      return std::nullopt;
    }
    buffered_.append(buf, static_cast<std::size_t>(n));
  }
}

bool Process::running() {
  if (reaped_) {
    return false;
  }
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    reaped_ = true;
    status_ = st;
    return false;
  }
  return true;
}

int Process::wait(std::chrono::milliseconds timeout) {
  // A pidfd turns "child exited" into something poll() can wait on, with a deadline.
  const auto deadline = Clock::now() + timeout;
  if (!reaped_) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      ::poll(&p, 1, ms_left(deadline));
      ::close(pidfd);
    }
    if (running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
      reaped_ = true;
      return -1;
    }
  }
  if (WIFEXITED(status_)) {
    return WEXITSTATUS(status_);
  }
  return 128 + WTERMSIG(status_);
}

int Process::stop(int sig, std::chrono::milliseconds timeout) {
  if (own_group_) {
    ::kill(-pid_, sig);
  } else if (running()) {
    ::kill(pid_, sig);
  }
  return wait(timeout);
}

bool Process::exits_within(std::chrono::milliseconds timeout) {
  if (reaped_) {
    return true;
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd < 0) {
    return !running();
  }
  pollfd p{pidfd, POLLIN, 0};
  const int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  ::close(pidfd);
  return rc > 0;
}

bool Process::write_stdin(std::string_view data, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!data.empty() && in_fd_ >= 0) {
    pollfd p{in_fd_, POLLOUT, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) {
      return false;
    }
    const ssize_t n = ::write(in_fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return data.empty();
}

void Process::close_stdin() {
  if (in_fd_ >= 0) {
    ::close(in_fd_);
    in_fd_ = -1;
  }
}

void Process::close_stdout() {
  if (out_fd_ >= 0) {
    ::close(out_fd_);
    out_fd_ = -1;
  }
}

std::string Process::stderr_text() const {
  std::ifstream in(err_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

long Process::rss_kib() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

// ---------------------------------------------------------------- Server

Server::Server(const std::vector<std::string>& args) : Server(args, Process::Options{}) {}

Server::Server(const std::vector<std::string>& args, const Process::Options& options)
    : Server([&] {
        std::vector<std::string> argv{netecho_bin(), "serve"};
        argv.insert(argv.end(), args.begin(), args.end());
        return Process::spawn(argv, options);
      }()) {}

Server::Server(Process proc) : proc_(std::move(proc)) {
  static const std::regex kLine(
      R"(listening proto=(tcp|udp|http) host=(\S+) port=(\d+) mode=(\w+)( proxy=required)?)");
  for (;;) {
    auto line = proc_.read_line(10s);
    if (!line) {
      throw std::runtime_error("netecho serve did not become ready; stderr: " +
                               proc_.stderr_text());
    }
    std::smatch m;
    if (std::regex_match(*line, m, kLine)) {
      listeners_.push_back(
          {m[1], m[2], static_cast<std::uint16_t>(std::stoi(m[3])), m[4], m[5].matched});
    } else if (line->rfind("ready ", 0) == 0) {
      ready_line_ = *line;
      return;
    }
  }
}

Server::~Server() {
  if (proc_.pid() <= 0) {
    return;  // moved from
  }
  const std::string err = proc_.stderr_text();
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                             "WARNING: ThreadSanitizer", "runtime error:"}) {
    if (err.find(marker) != std::string::npos) {
      ADD_FAILURE() << "netecho serve wrote a sanitizer report:\n" << err;
      break;
    }
  }
}

std::uint16_t Server::port(std::string_view proto, std::string_view mode) const {
  for (const auto& l : listeners_) {
    if (l.proto == proto && (mode.empty() || l.mode == mode)) {
      return l.port;
    }
  }
  throw std::runtime_error("no such listener");
}

// ---------------------------------------------------------------- run

RunResult run(const std::vector<std::string>& argv, std::string_view input,
              std::chrono::milliseconds timeout) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
      ::pipe2(err, O_CLOEXEC) != 0) {
    fail("pipe");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  RunResult r;
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    r.err = "spawn failed";
    return r;
  }
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  std::size_t written = 0;
  if (input.empty()) {
    ::close(in[1]);
    in[1] = -1;
  }
  const auto deadline = Clock::now() + timeout;
  bool out_open = true, err_open = true;
  while ((out_open || err_open) && Clock::now() < deadline) {
    pollfd p[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
    ::poll(p, in[1] >= 0 ? 3 : 2, ms_left(deadline));
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents != 0) {
        const ssize_t n = ::read(p[i].fd, buf, sizeof(buf));
        if (n <= 0) {
          (i == 0 ? out_open : err_open) = false;
          p[i].fd = -1;
        } else {
          (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
        }
      }
    }
    if (in[1] >= 0 && p[2].revents != 0) {
      const ssize_t n = ::write(in[1], input.data() + written, input.size() - written);
      if (n > 0) {
        written += static_cast<std::size_t>(n);
      }
      if (n < 0 || written == input.size()) {
        ::close(in[1]);
        in[1] = -1;
      }
    }
    if (!out_open) {
      out[0] = -1;
    }
    if (!err_open) {
      err[0] = -1;
    }
  }
  if (in[1] >= 0) {
    ::close(in[1]);
  }
  if (out[0] >= 0) {
    ::close(out[0]);
  }
  if (err[0] >= 0) {
    ::close(err[0]);
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    ::poll(&p, 1, ms_left(deadline));
    ::close(pidfd);
  }
  int st = 0;
  if (::waitpid(pid, &st, WNOHANG) != pid) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
    r.exit_code = -1;
    return r;
  }
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

Bytes random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (auto& b : out) {
    b = static_cast<std::byte>(rng() & 0xff);
  }
  return out;
}

Bytes to_bytes(std::string_view s) {
  Bytes out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

// ---------------------------------------------------------------- Socket

Socket Socket::tcp(const std::string& host, std::uint16_t port) {
  socklen_t len = 0;
  const auto ss = make_addr(host, port, SOCK_STREAM, len);
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fail("socket");
  }
  Socket s(fd);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    fail("connect to " + host + ":" + std::to_string(port));
  }
  return s;
}

Socket Socket::udp(const std::string& host, std::uint16_t port) {
  socklen_t len = 0;
  const auto ss = make_addr(host, port, SOCK_DGRAM, len);
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fail("socket");
  }
  Socket s(fd);
  int size = 1 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    fail("connect");
  }
  return s;
}

Socket::Socket(Socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
Socket& Socket::operator=(Socket&& o) noexcept {
  std::swap(fd_, o.fd_);
  return *this;
}
Socket::~Socket() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Bytes Socket::echo_exchange(const Bytes& data, const std::vector<std::size_t>& write_sizes,
                            std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Bytes got;
  std::size_t sent = 0, turn = 0;
  bool shut = false;
  std::vector<std::byte> buf(65536);
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  while (Clock::now() < deadline) {
    if (sent == data.size() && !shut) {
      ::shutdown(fd_, SHUT_WR);
      shut = true;
    }
    pollfd p{fd_, static_cast<short>(POLLIN | (shut ? 0 : POLLOUT)), 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) {
      break;
    }
    if ((p.revents & POLLOUT) != 0 && !shut) {
      const std::size_t want =
          std::min(write_sizes[turn % write_sizes.size()], data.size() - sent);
      const ssize_t n = ::send(fd_, data.data() + sent, want, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        ++turn;
      } else if (n < 0 && errno != EAGAIN) {
        break;
      }
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n == 0) {
        break;
      }
      if (n < 0) {
        if (errno == EAGAIN) {
          continue;
        }
        break;
      }
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    }
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  return got;
}

void Socket::send_all(const Bytes& data, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::size_t sent = 0;
  while (sent < data.size() && Clock::now() < deadline) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) {
      break;
    }
    const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN) {
      fail("send");
    }
    sent += n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  if (sent < data.size()) {
    throw std::runtime_error("send_all timed out");
  }
}

Bytes Socket::recv_exact(std::size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Bytes got(n);
  std::size_t have = 0;
  while (have < n) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) {
      break;
    }
    const ssize_t r = ::recv(fd_, got.data() + have, n - have, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN)) {
      break;
    }
    have += r > 0 ? static_cast<std::size_t>(r) : 0;
  }
  got.resize(have);
  return got;
}

Bytes Socket::recv_to_eof(std::chrono::milliseconds timeout, bool* reset) {
  End end = End::eof;
  Bytes got = recv_until_end(end, timeout);
  if (reset != nullptr) {
    *reset = end == End::reset;
  }
  return got;
}

Bytes Socket::recv_until_end(End& end, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Bytes got;
  std::vector<std::byte> buf(65536);
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) {
      end = End::timeout;
      return got;
    }
    const ssize_t r = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    if (r == 0) {
      end = End::eof;
      return got;
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        continue;
      }
      end = errno == ECONNRESET ? End::reset : End::error;
      return got;
    }
    got.insert(got.end(), buf.begin(), buf.begin() + r);
  }
}

void Socket::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

std::optional<Bytes> Socket::udp_roundtrip(const Bytes& data, std::chrono::milliseconds timeout) {
  if (::send(fd_, data.data(), data.size(), 0) < 0) {
    fail("send");
  }
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
    return std::nullopt;
  }
  Bytes buf(65536);
  const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
  if (n < 0) {
    return std::nullopt;
  }
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

void Socket::reset() {
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  ::close(fd_);
  fd_ = -1;
}

// ---------------------------------------------------------------- peers and probes

std::map<std::string, std::uint64_t> stopped_counters(const std::string& err) {
  std::map<std::string, std::uint64_t> out;
  const std::string_view marker = "netecho: stopped ";
  const auto at = err.rfind(marker);
  if (at == std::string::npos) {
    return out;
  }
  const auto from = at + marker.size();
  std::istringstream in(err.substr(from, err.find('\n', at) - from));
  std::string item;
  while (in >> item) {
    const auto eq = item.find('=');
    if (eq != std::string::npos) {
      out[item.substr(0, eq)] = std::stoull(item.substr(eq + 1));
    }
  }
  return out;
}

std::size_t line_count(std::string_view text) {
  std::size_t n = 0;
  for (const char c : text) {
    n += c == '\n' ? 1 : 0;
  }
  return n + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

bool ipv6_loopback_available() {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

HttpReply parse_http_reply(std::string_view raw) {
  HttpReply reply;
  const auto end_of_head = raw.find("\r\n\r\n");
  reply.head = std::string(raw.substr(0, end_of_head));
  if (end_of_head != std::string_view::npos) {
    reply.body = std::string(raw.substr(end_of_head + 4));
  }
  // "HTTP/1.x NNN reason"
  if (reply.head.rfind("HTTP/1.", 0) == 0 && reply.head.size() >= 12) {
    reply.status = std::atoi(reply.head.c_str() + 9);
  }
  return reply;
}

std::string http_exchange(const std::string& host, std::uint16_t port, std::string_view request,
                          std::chrono::milliseconds timeout) {
  Socket s = Socket::tcp(host, port);
  s.send_all(to_bytes(request), timeout);
  const Bytes raw = s.recv_to_eof(timeout);
  return {reinterpret_cast<const char*>(raw.data()), raw.size()};
}

HttpReply http_get(const std::string& host, std::uint16_t port, const std::string& path,
                   std::chrono::milliseconds timeout) {
  return parse_http_reply(
      http_exchange(host, port, "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n",
                    timeout));
}

std::uint16_t pick_free_port() {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> dist(20000, 32767);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const auto port = static_cast<std::uint16_t>(dist(rng));
    bool free = true;
    for (const int type : {SOCK_STREAM, SOCK_DGRAM}) {
      const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        fail("socket");
      }
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      free = free && ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
      ::close(fd);
    }
    if (free) {
      return port;
    }
  }
  throw std::runtime_error("no free port found in 100 attempts");
}

bool wait_tcp_listening(Process& peer, const std::string& host, std::uint16_t port,
                        std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  socklen_t len = 0;
  const auto ss = make_addr(host, port, SOCK_STREAM, len);
  for (int attempt = 0; attempt < 1000 && Clock::now() < deadline; ++attempt) {
    const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      fail("socket");
    }
    int err = 0;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        err = ETIMEDOUT;
        if (::poll(&p, 1, std::min(ms_left(deadline), 1000)) > 0) {
          socklen_t elen = sizeof(err);
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
        }
      }
    }
    ::close(fd);
    if (err == 0) {
      return true;
    }
    // Not listening yet: wait up to 20 ms on the peer's exit, so a peer that failed to start
    // (its port taken meanwhile) ends the wait at once.
    if (peer.exits_within(std::chrono::milliseconds(std::min(ms_left(deadline), 20)))) {
      return false;
    }
  }
  return false;
}

std::optional<Bytes> udp_probe(Process& peer, const std::string& host, std::uint16_t port,
                               const Bytes& data, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Socket sock = Socket::udp(host, port);
  for (int attempt = 0; attempt < 1000 && Clock::now() < deadline; ++attempt) {
    // A refusal (ICMP port unreachable from an earlier probe) only means "not yet".
    ::send(sock.fd(), data.data(), data.size(), MSG_NOSIGNAL);
    pollfd p{sock.fd(), POLLIN, 0};
    if (::poll(&p, 1, std::min(ms_left(deadline), 100)) > 0) {
      Bytes buf(65536);
      const ssize_t n = ::recv(sock.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n >= 0) {
        buf.resize(static_cast<std::size_t>(n));
        return buf;
      }
      // Refused at once: pause on the peer's exit before the next probe, as for TCP.
      if (peer.exits_within(std::chrono::milliseconds(std::min(ms_left(deadline), 20)))) {
        return std::nullopt;
      }
    } else if (!peer.running()) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- backends

const std::vector<BackendInfo>& backends_under_test() {
  static const std::vector<BackendInfo> backends = [] {
    std::vector<BackendInfo> out;
    const RunResult r = run({netecho_bin(), "serve", "--list-backends"}, {}, 30s);
    static const std::regex kLine(R"(backend=(\S+) usable=(yes|no) detail=(.*))");
    std::istringstream lines(r.out);
    std::string line;
    while (r.exit_code == 0 && std::getline(lines, line)) {
      std::smatch m;
      if (std::regex_match(line, m, kLine)) {
        out.push_back({m[1], m[2] == "yes", m[3]});
      }
    }
    if (out.empty()) {
      // The binary could not be asked: run every known backend, and let the tests fail.
      const std::string why = "netecho serve --list-backends failed (exit " +
                              std::to_string(r.exit_code) + "): " + r.err;
      out = {{"epoll", true, why}, {"io_uring", true, why}};
    }
    return out;
  }();
  return backends;
}

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const auto& b : backends_under_test()) {
    names.push_back(b.name);
  }
  return names;
}

const BackendInfo& backend_info(std::string_view name) {
  for (const auto& b : backends_under_test()) {
    if (b.name == name) {
      return b;
    }
  }
  static const BackendInfo unknown{"unknown", true, "not reported by --list-backends"};
  return unknown;
}

std::string backend_test_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace netecho::test
