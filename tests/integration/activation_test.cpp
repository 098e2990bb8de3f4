// Socket activation: sockets passed by systemd-socket-activate (Debian's systemd package; it
// needs no systemd as PID 1), which binds them, waits for the first client and execs netecho
// with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES. And the promise socket activation exists
// for: the passed socket outlives the server, so a connection made while no server runs
// waits in its queue and is served by the next start.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "harness.hpp"

namespace netecho::test {
namespace {

std::string where(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

void require_socket_activate() {
  // The set-up script installs it: missing, the test fails rather than passing unrun.
  ASSERT_TRUE(have_command("systemd-socket-activate"))
      << "systemd-socket-activate not found (Debian package systemd; scripts/setup-debian.sh)";
}

// systemd-socket-activate ARGS... netecho serve SERVE_ARGS..., in its own process group.
Process activate(const std::vector<std::string>& activate_args,
                 const std::vector<std::string>& serve_args) {
  std::vector<std::string> argv{"systemd-socket-activate"};
  argv.insert(argv.end(), activate_args.begin(), activate_args.end());
  argv.push_back(netecho_bin());
  argv.push_back("serve");
  argv.insert(argv.end(), serve_args.begin(), serve_args.end());
  Process::Options options;
  options.own_group = true;
  return Process::spawn(argv, options);
}

// Connects to 127.0.0.1:port, trying again while systemd-socket-activate is not yet
// listening; the first connection makes it exec netecho.
Socket connect_when_listening(Process& peer, std::uint16_t port) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    try {
      return Socket::tcp("127.0.0.1", port);
    } catch (const std::exception&) {
      if (std::chrono::steady_clock::now() > deadline || peer.exits_within(20ms)) {
        throw;
      }
    }
  }
}

class Activation : public BackendTest {};

TEST_P(Activation, ServesAPassedTcpSocketOnEveryWorker) {
  require_socket_activate();
  const std::uint16_t port = pick_free_port();
  Process proc = activate({"-l", where(port), "--fdname=echo"},
                          serve_args({"--threads", "2"}));
  Socket first = connect_when_listening(proc, port);
  Server server(std::move(proc));
  ASSERT_EQ(server.listeners().size(), 1u);  // the passed socket replaces the defaults
  EXPECT_EQ(server.listeners()[0].proto, "tcp");
  EXPECT_EQ(server.listeners()[0].port, port);
  EXPECT_EQ(server.listeners()[0].mode, "echo");
  // The connection that started it, then enough others to reach both workers.
  const Bytes data = random_bytes(65536, 1);
  EXPECT_EQ(first.echo_exchange(data, {1460}), data);
  for (std::uint64_t i = 0; i < 8; ++i) {
    Socket s = Socket::tcp("127.0.0.1", port);
    const Bytes d = random_bytes(4096, 10 + i);
    EXPECT_EQ(s.echo_exchange(d, {512}), d);
  }
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.process().stderr_text();
}

TEST_P(Activation, ServesAPassedUdpSocketInTheModeItsNameChooses) {
  require_socket_activate();
  const std::uint16_t port = pick_free_port();
  Process proc = activate({"--datagram", "-l", where(port), "--fdname=reverse"},
                          serve_args({"--threads", "2"}));
  // The first datagram starts netecho, which finds it queued and answers it.
  const auto reply = udp_probe(proc, "127.0.0.1", port, to_bytes("hello"));
  ASSERT_TRUE(reply.has_value()) << proc.stderr_text();
  EXPECT_EQ(*reply, to_bytes("olleh"));
  Server server(std::move(proc));
  ASSERT_EQ(server.listeners().size(), 1u);
  EXPECT_EQ(server.listeners()[0].proto, "udp");
  EXPECT_EQ(server.listeners()[0].mode, "reverse");
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.process().stderr_text();
}

TEST_P(Activation, SeveralNamedSocketsAndAFlagListenerTogether) {
  require_socket_activate();
  // systemd-socket-activate makes sockets of one type per run, and passes on the ones it was
  // given: the outer one binds a TCP socket, the inner one adds two UDP sockets and names all
  // three.
  const std::uint16_t tcp_port = pick_free_port();
  std::uint16_t udp_echo = pick_free_port();
  std::uint16_t udp_reverse = pick_free_port();
  while (udp_echo == tcp_port) {
    udp_echo = pick_free_port();
  }
  while (udp_reverse == tcp_port || udp_reverse == udp_echo) {
    udp_reverse = pick_free_port();
  }
  Process proc = activate(
      {"-l", where(tcp_port), "systemd-socket-activate", "--datagram", "-l", where(udp_echo), "-l",
       where(udp_reverse), "--fdname=once:echo:reverse"},
      serve_args({"--tcp", "127.0.0.1:0"}));
  Socket once = connect_when_listening(proc, tcp_port);
  Server server(std::move(proc));
  ASSERT_EQ(server.listeners().size(), 4u) << server.process().stderr_text();
  EXPECT_EQ(server.port("tcp", "once"), tcp_port);
  EXPECT_EQ(server.port("udp", "echo"), udp_echo);
  EXPECT_EQ(server.port("udp", "reverse"), udp_reverse);
  const std::uint16_t bound = server.port("tcp", "echo");
  ASSERT_NE(bound, 0);
  // once: one read echoed, then the server closes.
  once.send_all(to_bytes("abc"));
  EXPECT_EQ(once.recv_to_eof(), to_bytes("abc"));
  Socket echo_udp = Socket::udp("127.0.0.1", udp_echo);
  EXPECT_EQ(echo_udp.udp_roundtrip(to_bytes("abc")), to_bytes("abc"));
  Socket reverse_udp = Socket::udp("127.0.0.1", udp_reverse);
  EXPECT_EQ(reverse_udp.udp_roundtrip(to_bytes("abc")), to_bytes("cba"));
  Socket flag = Socket::tcp("127.0.0.1", bound);
  const Bytes data = random_bytes(10000, 3);
  EXPECT_EQ(flag.echo_exchange(data, {1000}), data);
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.process().stderr_text();
}

// A listening socket of this test, handed to `netecho serve` as descriptor 3 the way a
// supervisor does it (LISTEN_PID is the server's own pid: sh sets it, then execs netecho).
Server serve_passed(int listener, const std::vector<std::string>& serve_args) {
  std::vector<std::string> argv{"sh", "-c", "LISTEN_PID=$$ exec \"$0\" serve \"$@\"",
                                netecho_bin()};
  argv.insert(argv.end(), serve_args.begin(), serve_args.end());
  Process::Options options;
  options.env = {"LISTEN_FDS=1", "LISTEN_FDNAMES=echo"};
  options.pass_fds = {listener};
  return Server(Process::spawn(argv, options));
}

TEST_P(Activation, APassedSocketKeepsItsQueueAcrossARestart) {
  // Above the descriptors the child is given, so dup2 does not overwrite it.
  const int raw = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(raw, 0);
  const int listener = ::fcntl(raw, F_DUPFD_CLOEXEC, 10);
  ::close(raw);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(listener, 64), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::uint16_t port = ntohs(a.sin_port);
  {
    Server first = serve_passed(listener, serve_args({"--threads", "2"}));
    Socket s = Socket::tcp("127.0.0.1", port);
    const Bytes data = random_bytes(100000, 5);
    EXPECT_EQ(s.echo_exchange(data, {1460}), data);
    EXPECT_EQ(first.stop(SIGTERM), 0) << first.process().stderr_text();
  }
  // No server runs: the socket still listens, and this connection and its bytes wait.
  Socket waiting = Socket::tcp("127.0.0.1", port);
  const Bytes queued = random_bytes(3000, 6);
  waiting.send_all(queued);
  Server second = serve_passed(listener, serve_args({"--threads", "2"}));
  EXPECT_EQ(waiting.recv_exact(queued.size()), queued);
  waiting.shutdown_write();
  EXPECT_TRUE(waiting.recv_to_eof().empty());
  EXPECT_EQ(second.stop(SIGTERM), 0) << second.process().stderr_text();
  ::close(listener);
}

INSTANTIATE_TEST_SUITE_P(Backends, Activation, ::testing::ValuesIn(backend_names()),
                         backend_test_name);

TEST(ActivationErrors, ATcpSocketNamedForAUdpModeIsAStartUpError) {
  require_socket_activate();
  const std::uint16_t port = pick_free_port();
  Process proc = activate({"-l", where(port), "--fdname=reverse"}, {});
  Socket s = connect_when_listening(proc, port);
  EXPECT_EQ(proc.wait(10s), 1);
  const std::string err = proc.stderr_text();
  EXPECT_NE(err.find("netecho: LISTEN_FDS: descriptor 3 ('reverse'): named 'reverse', a UDP mode, "
                     "but it is a TCP socket"),
            std::string::npos)
      << err;
}

TEST(ActivationErrors, AUnixSocketIsAStartUpErrorNamingIt) {
  require_socket_activate();
  char dir_template[] = "/tmp/netecho-activation-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/sock";
  Process proc = activate({"-l", path, "--fdname=echo"}, {});
  // Connect once the path exists (systemd-socket-activate binds it), to start netecho.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  Socket client;
  while (!client.valid() && std::chrono::steady_clock::now() < deadline) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    path.copy(un.sun_path, sizeof(un.sun_path) - 1);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&un), sizeof(un)) == 0) {
      client = Socket(fd);
    } else {
      ::close(fd);
      if (proc.exits_within(20ms)) {
        break;
      }
    }
  }
  ASSERT_TRUE(client.valid()) << proc.stderr_text();
  EXPECT_EQ(proc.wait(10s), 1);
  const std::string err = proc.stderr_text();
  EXPECT_NE(err.find("netecho: LISTEN_FDS: descriptor 3 ('echo'): a unix socket; netecho serves "
                     "IPv4 and IPv6 sockets only"),
            std::string::npos)
      << err;
  ::unlink(path.c_str());
  ::rmdir(dir_template);
}

}  // namespace
}  // namespace netecho::test
