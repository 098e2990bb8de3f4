// Every error path of serve and send: the exit code (2 usage, 1 run-time failure), and exactly
// one line on stderr that names the bad input (and, for system errors, the system's reason).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace netecho::test {
namespace {

using Clock = std::chrono::steady_clock;

// Runs `netecho serve ARGS...`. When the soft open-file limit can be set below the hard one,
// it is (with prlimit), as on a stock Debian login: the server raises it at start, and whatever
// it logs about that must not come before a start-up error and make it two lines.
RunResult serve(const std::vector<std::string>& args, std::vector<std::string> prefix = {}) {
  std::vector<std::string> argv = std::move(prefix);
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_max != RLIM_INFINITY && lim.rlim_max > 64 &&
      have_command("prlimit")) {
    const auto soft = std::min<rlim_t>(1024, lim.rlim_max / 2);
    const std::vector<std::string> limit{
        "prlimit", "--nofile=" + std::to_string(soft) + ":" + std::to_string(lim.rlim_max), "--"};
    argv.insert(argv.end(), limit.begin(), limit.end());
  }
  argv.push_back(netecho_bin());
  argv.push_back("serve");
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, 20s);
}

RunResult send(const std::vector<std::string>& args, std::string_view input = {}) {
  std::vector<std::string> argv{netecho_bin(), "send"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, input, 20s);
}

// The common shape of every failure: the exit code, one line on stderr, every needle in it.
void expect_error(const RunResult& r, int code, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.exit_code, code) << "stderr: " << r.err;
  EXPECT_EQ(line_count(r.err), 1u) << "stderr should be one line:\n" << r.err;
  for (const auto& n : needles) {
    EXPECT_NE(r.err.find(n), std::string::npos) << "'" << n << "' not in: " << r.err;
  }
}

// A bound (and, for TCP, listening) socket on 127.0.0.1, port chosen by the kernel.
struct BoundSocket {
  Socket sock;
  std::uint16_t port = 0;

  explicit BoundSocket(int type) : sock(::socket(AF_INET, type | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (!sock.valid() || ::bind(sock.fd(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        (type == SOCK_STREAM && ::listen(sock.fd(), 16) != 0) ||
        ::getsockname(sock.fd(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "cannot set up a test socket: " << std::strerror(errno);
    }
    port = ntohs(a.sin_port);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

// A TCP peer that accepts one connection, reads `reads` bytes, answers with whatever reply()
// makes of them, and closes (after reading all it was sent, so with a FIN, not a reset).
class ScriptedPeer {
 public:
  ScriptedPeer(std::size_t reads, std::function<Bytes(Bytes)> reply)
      : listener_(SOCK_STREAM), thread_([this, reads, reply = std::move(reply)] {
          pollfd p{listener_.sock.fd(), POLLIN, 0};
          if (::poll(&p, 1, 20000) <= 0) {
            return;
          }
          Socket conn(::accept4(listener_.sock.fd(), nullptr, nullptr, SOCK_CLOEXEC));
          if (!conn.valid()) {
            return;
          }
          const Bytes got = conn.recv_exact(reads, 20s);
          const Bytes answer = reply(got);
          if (!answer.empty()) {
            ::send(conn.fd(), answer.data(), answer.size(), MSG_NOSIGNAL);
          }
        }) {}
  ScriptedPeer(const ScriptedPeer&) = delete;
  ScriptedPeer& operator=(const ScriptedPeer&) = delete;
  ~ScriptedPeer() { thread_.join(); }
  std::string address() const { return listener_.address(); }

 private:
  BoundSocket listener_;
  std::thread thread_;
};

// ------------------------------------------------------------------ serve: usage errors (2)

TEST(Errors, PortOutOfRangeIsAUsageError) {
  expect_error(serve({"--tcp", "127.0.0.1:70000"}), 2, {"--tcp", "70000"});
  expect_error(serve({"--udp", "127.0.0.1:70000"}), 2, {"--udp", "70000"});
}

TEST(Errors, MalformedAddressesAreUsageErrorsNamingTheInput) {
  for (const std::string text : {"[::1", "1.2.3", "1.2.3:7", "host:", "::1:7", "[::1]:7x"}) {
    SCOPED_TRACE(text);
    expect_error(serve({"--tcp", text}), 2, {"--tcp", "'" + text + "'"});
    expect_error(serve({"--udp-reverse", text}), 2, {"--udp-reverse", "'" + text + "'"});
  }
}

TEST(Errors, EmptyAddressIsAUsageError) {
  expect_error(serve({"--tcp", ""}), 2, {"--tcp", "empty"});
}

TEST(Errors, UnknownFlagIsAUsageErrorNamingIt) {
  expect_error(serve({"--frobnicate"}), 2, {"--frobnicate"});
  expect_error(send({"--frobnicate"}), 2, {"--frobnicate"});
}

TEST(Errors, BadOptionValuesAreUsageErrors) {
  expect_error(serve({"--threads", "0"}), 2, {"--threads", "0"});
  expect_error(serve({"--threads", "many"}), 2, {"--threads", "many"});
  expect_error(serve({"--udp-max", "70000"}), 2, {"--udp-max", "70000"});
  // 0/s would answer nothing; it used to mean no limit, which only `none` says.
  expect_error(serve({"--udp-rate", "0/s"}), 2, {"--udp-rate", "'0/s'", "none"});
}

TEST(Errors, UnknownSubcommandIsAUsageError) {
  const auto r = run({netecho_bin(), "frobnicate"});
  expect_error(r, 2, {"frobnicate"});
}

TEST(Errors, NoSubcommandIsAUsageError) {
  // Bare `netecho` shows the help first (on stderr), then the one-line reason.
  const auto r = run({netecho_bin()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  const auto last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
  EXPECT_NE(last.find("subcommand"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("serve"), std::string::npos) << "the help lists the subcommands";
}

// A range error states the real bounds in the option's own units, in a short line (CLI11's own
// checks printed bounds as doubles: "0 not in range 0.000000 to 1797693134862315...").
TEST(Errors, RangeErrorsGiveTheRealBoundsInAShortLine) {
  const struct {
    std::vector<std::string> args;
    std::vector<std::string> needles;
  } cases[] = {
      {{"ping", "-c", "0", "127.0.0.1:9"}, {"--count", "0 is out of range", "1 or more probes"}},
      {{"bench", "--rate", "0"}, {"--rate", "0 is out of range", "more than 0 messages/s"}},
      {{"bench", "--rate", "-5"}, {"--rate", "-5 is out of range", "more than 0 messages/s"}},
      {{"bench", "-c", "0"}, {"--connections", "1 to 1,000,000 connections"}},
      {{"bench", "-p", "70000"}, {"--pipeline", "70000", "1 to 65,536"}},
      {{"serve", "--threads", "5000"}, {"--threads", "5000", "1 to 1,024 threads"}},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv{netecho_bin()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto r = run(argv);
    SCOPED_TRACE(c.args[1]);
    expect_error(r, 2, c.needles);
    EXPECT_LT(r.err.size(), 120u) << r.err;
    EXPECT_EQ(r.err.find(".000000"), std::string::npos) << r.err;
  }
}

// A word that starts with a dash is an option: known ("-4"), or named as unknown, never taken
// for a target or a negative number; at the top level too.
TEST(Errors, DashWordsAreOptionsNotTargets) {
  const BoundSocket peer(SOCK_STREAM);
  // -4 is send's: the target after it is used. The peer accepts and never answers.
  const auto v4 = send({"-4", peer.address(), "--timeout", "200ms"});
  EXPECT_EQ(v4.err.find("not expected"), std::string::npos) << v4.err;
  expect_error(v4, 1, {"timed out"});
  expect_error(run({netecho_bin(), "bench", "-5"}), 2,
               {"'-5' is not an option of netecho bench", "netecho bench --help"});
  expect_error(run({netecho_bin(), "--foo"}), 2, {"unknown option '--foo'"});
  const auto version = run({netecho_bin(), "-V"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out.rfind("netecho ", 0), 0u) << version.out;
  EXPECT_EQ(line_count(version.out), 1u) << version.out;
}

// A usage error inside a subcommand points to that subcommand's help, which lists its options.
TEST(Errors, UsageErrorsPointToTheSubcommandsHelp) {
  expect_error(send({"--frobnicate"}), 2, {"--frobnicate", "(see 'netecho send --help')"});
  expect_error(run({netecho_bin(), "ping", "127.0.0.1:9", "-c"}), 2,
               {"--count", "(see 'netecho ping --help')"});
}

// A link-local address with its zone is taken (before, the parser refused the '%'): on this
// host fe80::1 is on no interface, so the kernel, not the parser, refuses it.
TEST(Errors, Ipv6ZoneIdReachesTheKernel) {
  expect_error(serve({"--tcp", "[fe80::1%lo]:0"}), 1,
               {"[fe80::1%lo]:0", "Cannot assign requested address"});
}

// -6 with an IPv4 literal (and -4 with an IPv6 one) says so, not what the resolver makes of it.
TEST(Errors, FamilyFlagAgainstALiteralOfTheOtherFamily) {
  expect_error(run({netecho_bin(), "ping", "-6", "127.0.0.1:9"}), 2,
               {"'127.0.0.1' is not an IPv6 address"});
  expect_error(run({netecho_bin(), "bench", "-4", "tcp://[::1]:9"}), 1,
               {"'::1' is not an IPv4 address"});
}

// ------------------------------------------------------------- serve: run-time failures (1)

TEST(Errors, TcpPortInUse) {
  BoundSocket taken(SOCK_STREAM);
  expect_error(serve({"--tcp", taken.address()}), 1,
               {"tcp", taken.address(), "Address already in use"});
}

TEST(Errors, UdpPortInUse) {
  BoundSocket taken(SOCK_DGRAM);
  expect_error(serve({"--udp", taken.address()}), 1,
               {"udp", taken.address(), "Address already in use"});
  expect_error(serve({"--udp-reverse", taken.address()}), 1,
               {"udp", taken.address(), "Address already in use"});
}

TEST(Errors, PortInUseByALaterListenerOfTheSameServer) {
  // The first listener binds; the second fails: still one line, exit 1, nothing left running.
  BoundSocket taken(SOCK_STREAM);
  expect_error(serve({"--tcp", "127.0.0.1:0", "--tcp", taken.address()}), 1,
               {taken.address(), "Address already in use"});
}

TEST(Errors, PrivilegedPortIsPermissionDenied) {
  std::ifstream start_file("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  int start = 1024;
  start_file >> start;
  if (start <= 1) {
    GTEST_SKIP() << "net.ipv4.ip_unprivileged_port_start is " << start
                 << ": any user may bind port 1 here, so there is no permission error to see";
  }
  std::vector<std::string> prefix;
  if (::geteuid() == 0) {
    // Root may bind port 1: run the server as nobody, without any capability.
    if (!have_command("setpriv")) {
      GTEST_SKIP() << "running as root and setpriv (util-linux) is missing, so the server "
                      "cannot be started as an unprivileged user";
    }
    prefix = {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"};
    auto probe = prefix;
    probe.insert(probe.end(), {"test", "-x", netecho_bin()});
    if (run(probe).exit_code != 0) {
      GTEST_SKIP() << "user nobody cannot execute " << netecho_bin()
                   << " (a build directory closed to other users)";
    }
  }
  auto r = serve({"--tcp", "127.0.0.1:1"}, prefix);
  expect_error(r, 1, {"cannot listen on tcp 127.0.0.1:1", "Permission denied"});
  r = serve({"--udp", "127.0.0.1:1"}, prefix);
  expect_error(r, 1, {"cannot listen on udp 127.0.0.1:1", "Permission denied"});
}

TEST(Errors, UnknownHostNamesTheHost) {
  expect_error(serve({"--tcp", "no-such-host.invalid:0"}), 1, {"'no-such-host.invalid'"});
}

TEST(Errors, AddressNotOnThisHost) {
  // 192.0.2.0/24 is TEST-NET-1: documentation only, never configured on a real host.
  expect_error(serve({"--tcp", "192.0.2.1:0"}), 1, {"192.0.2.1", "Cannot assign"});
}

// ------------------------------------------------------------------- send: usage errors (2)

TEST(Errors, SendBadHexIsAUsageError) {
  expect_error(send({"--hex", "0g"}), 2, {"--hex", "'0g'"});
  expect_error(send({"--hex", "abc"}), 2, {"--hex", "'abc'", "odd"});
}

TEST(Errors, SendBadBytesIsAUsageError) {
  expect_error(send({"--bytes", "1,256"}), 2, {"--bytes", "'256'"});
  expect_error(send({"--bytes", "1,,2"}), 2, {"--bytes", "1,,2"});
}

TEST(Errors, SendBadTargetIsAUsageError) {
  expect_error(send({"127.0.0.1:70000"}), 2, {"70000"});
  expect_error(send({"ftp://127.0.0.1:7"}), 2, {"'ftp'"});
  expect_error(send({"[::1"}), 2, {"'[::1'"});
}

TEST(Errors, SendBadOptionValuesAreUsageErrors) {
  expect_error(send({"--timeout", "5parsecs"}), 2, {"--timeout", "5parsecs"});
  expect_error(send({"--output", "pdf"}), 2, {"--output", "pdf"});
  expect_error(send({"--expect", "silence"}), 2, {"--expect", "silence"});
  expect_error(send({"--text", "a", "--hex", "00"}), 2, {"--text", "--hex"});
}

TEST(Errors, SendPayloadTooLargeForOneDatagram) {
  const std::string input(70000, 'x');
  expect_error(send({"udp://127.0.0.1:7", "--stdin"}, input), 2, {"70000", "65507"});
}

// -------------------------------------------------------------- send: run-time failures (1)

TEST(Errors, SendRefused) {
  std::string target;
  {
    BoundSocket closed(SOCK_STREAM);
    target = closed.address();
  }  // closed here: nothing listens on that port any more
  expect_error(send({target}), 1, {target, "refused"});
}

TEST(Errors, SendUdpRefused) {
  std::string target;
  {
    BoundSocket closed(SOCK_DGRAM);
    target = closed.address();
  }
  expect_error(send({"udp://" + target}), 1, {target, "refused"});
}

TEST(Errors, SendTimesOutAgainstAServerThatNeverAnswers) {
  // The kernel completes the handshake into the backlog; nobody ever accepts or reads.
  BoundSocket silent(SOCK_STREAM);
  const auto start = Clock::now();
  expect_error(send({silent.address(), "--timeout", "300ms"}), 1, {silent.address(), "timed out"});
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(Errors, SendUdpTimesOutWithoutAReply) {
  BoundSocket silent(SOCK_DGRAM);
  expect_error(send({"udp://" + silent.address(), "--timeout", "300ms"}), 1,
               {silent.address(), "timed out"});
}

TEST(Errors, SendShortReply) {
  ScriptedPeer peer(4, [](Bytes got) {
    got.resize(2);
    return got;
  });
  expect_error(send({peer.address()}), 1, {peer.address(), "short", "2 of 4"});
}

TEST(Errors, SendMismatchNamesTheByte) {
  ScriptedPeer peer(4, [](Bytes got) {
    if (got.size() == 4) {
      got[2] ^= std::byte{0x40};
    }
    return got;
  });
  expect_error(send({peer.address()}), 1, {peer.address(), "byte 2"});
}

TEST(Errors, SendUnknownHostNamesTheHost) {
  expect_error(send({"no-such-host.invalid:7"}), 1, {"'no-such-host.invalid'"});
}

}  // namespace
}  // namespace netecho::test
