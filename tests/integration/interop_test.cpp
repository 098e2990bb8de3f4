// netecho against real peers from Debian: socat, ncat and python3, both directions, TCP and
// UDP. The peers come from scripts/setup-debian.sh; a missing one fails the test (it is part of
// the set-up), it is not skipped.
//
// Peers are started in their own process group (socat fork and ncat -k -e fork children), and
// readiness is a probe with a deadline: connect() for TCP, a datagram that must come back for
// UDP. socat reports the TCP port it bound; for the others the port is picked free beforehand
// (pick_free_port), and a peer that then fails to bind it is started again on another port.

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>

#include "harness.hpp"

namespace netecho::test {
namespace {

void require(const std::string& command) {
  ASSERT_TRUE(have_command(command))
      << command << " is not installed; scripts/setup-debian.sh installs it";
}

// A peer echo server, running until the object goes.
struct Peer {
  Process proc;
  std::uint16_t port = 0;
};

enum class Proto { tcp, udp };

// Peers run in a process group of their own, so their forked children end with them.
Process::Options peer_options(bool stderr_to_stdout = false, bool stdin_pipe = false) {
  Process::Options o;
  o.own_group = true;
  o.stderr_to_stdout = stderr_to_stdout;
  o.stdin_pipe = stdin_pipe;
  return o;
}

// Starts argv_for(port) on a free port and waits until it answers; retried on a new port (at
// most 5 times) if the peer does not come up, e.g. because something took the port first.
Peer start_peer_on_free_port(const std::function<std::vector<std::string>(std::uint16_t)>& argv_for,
                             Proto proto) {
  std::string why;
  for (int attempt = 0; attempt < 5; ++attempt) {
    Peer peer;
    peer.port = pick_free_port();
    peer.proc = Process::spawn(argv_for(peer.port), peer_options());
    const bool up =
        proto == Proto::tcp
            ? wait_tcp_listening(peer.proc, "127.0.0.1", peer.port, 10s)
            : udp_probe(peer.proc, "127.0.0.1", peer.port, to_bytes("probe"), 10s).has_value();
    if (up) {
      return peer;
    }
    why = argv_for(peer.port).front() + " did not come up on port " + std::to_string(peer.port) +
          "; stderr: " + peer.proc.stderr_text();
  }
  throw std::runtime_error(why);
}

Peer socat_tcp_echo() {
  // socat -d -d logs "listening on AF=2 127.0.0.1:PORT" with the port it really bound.
  Peer peer;
  peer.proc = Process::spawn(
      {"socat", "-d", "-d", "TCP4-LISTEN:0,bind=127.0.0.1,reuseaddr,fork", "EXEC:cat"},
      peer_options(/*stderr_to_stdout=*/true));
  static const std::regex kListening(R"(listening on AF=2 127\.0\.0\.1:(\d+))");
  for (int i = 0; i < 20; ++i) {
    const auto line = peer.proc.read_line(10s);
    if (!line) {
      break;
    }
    std::smatch m;
    if (std::regex_search(*line, m, kListening)) {
      peer.port = static_cast<std::uint16_t>(std::stoi(m[1]));
      break;
    }
  }
  if (peer.port == 0 || !wait_tcp_listening(peer.proc, "127.0.0.1", peer.port, 10s)) {
    throw std::runtime_error("socat did not report a listening port");
  }
  return peer;
}

RunResult netecho_send(const std::vector<std::string>& args) {
  std::vector<std::string> argv{netecho_bin(), "send"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, 20s);
}

// ------------------------------------------------------ netecho send against peer servers

TEST(Interop, SendAgainstSocatTcpEcho) {
  require("socat");
  Peer peer = socat_tcp_echo();
  const auto target = "127.0.0.1:" + std::to_string(peer.port);
  auto r = netecho_send({target});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [0, 1, 2, 3]\n");
  r = netecho_send({"tcp://" + target, "--text", "through socat", "--output", "hex"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "7468726f75676820736f636174\n");
}

TEST(Interop, SendAgainstNcatTcpEcho) {
  require("ncat");
  Peer peer = start_peer_on_free_port(
      [](std::uint16_t port) {
        return std::vector<std::string>{"ncat", "-l", "127.0.0.1", std::to_string(port),
                                        "-k",   "-e", "/bin/cat"};
      },
      Proto::tcp);
  auto r = netecho_send({"127.0.0.1:" + std::to_string(peer.port)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [0, 1, 2, 3]\n");
}

TEST(Interop, SendAgainstSocatUdpEcho) {
  require("socat");
  Peer peer = start_peer_on_free_port(
      [](std::uint16_t port) {
        return std::vector<std::string>{
            "socat", "UDP4-RECVFROM:" + std::to_string(port) + ",bind=127.0.0.1,fork", "EXEC:cat"};
      },
      Proto::udp);
  auto r = netecho_send(
      {"udp://127.0.0.1:" + std::to_string(peer.port), "--text", "hello", "--expect", "echo"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [104, 101, 108, 108, 111]\n");
}

TEST(Interop, SendAgainstNcatUdpEcho) {
  require("ncat");
  Peer peer = start_peer_on_free_port(
      [](std::uint16_t port) {
        return std::vector<std::string>{"ncat", "-u", "-l",      "127.0.0.1", std::to_string(port),
                                        "-k",   "-e", "/bin/cat"};
      },
      Proto::udp);
  auto r = netecho_send(
      {"udp://127.0.0.1:" + std::to_string(peer.port), "--bytes", "1,2,3", "--expect", "echo"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Received [1, 2, 3]\n");
}

// ------------------------------------------------------ peer clients against netecho serve

// Feeds a line to a UDP client that keeps running (socat, ncat: both quit at end of input,
// possibly before the reply is in), reads the reply line back, then closes its input.
std::optional<std::string> udp_client_line(const std::vector<std::string>& argv,
                                           const std::string& line) {
  Process client = Process::spawn(argv, peer_options(false, /*stdin_pipe=*/true));
  if (!client.write_stdin(line + "\n")) {
    return std::nullopt;
  }
  auto reply = client.read_line(10s);
  client.close_stdin();
  return reply;
}

TEST(Interop, SocatClientsAgainstServe) {
  require("socat");
  Server server({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"});
  const auto tcp = std::to_string(server.port("tcp"));
  // -t 10: after its input ends, socat half-closes and waits (up to 10 s) for our FIN.
  const std::string text = "socat over tcp\nsecond line\n";
  auto r = run({"socat", "-t", "10", "-", "TCP:127.0.0.1:" + tcp}, text);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, text);
  const auto udp = std::to_string(server.port("udp"));
  EXPECT_EQ(udp_client_line({"socat", "-", "UDP:127.0.0.1:" + udp}, "socat over udp"),
            "socat over udp");
}

TEST(Interop, NcatClientsAgainstServe) {
  require("ncat");
  Server server({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"});
  // At the end of its input ncat half-closes, and it exits on our FIN.
  const std::string text(100000, 'n');
  auto r = run({"ncat", "127.0.0.1", std::to_string(server.port("tcp"))}, text);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.size(), text.size());
  EXPECT_TRUE(r.out == text);
  const auto udp = std::to_string(server.port("udp"));
  EXPECT_EQ(udp_client_line({"ncat", "-u", "127.0.0.1", udp}, "ncat over udp"), "ncat over udp");
}

TEST(Interop, Python3TcpClient) {
  Server server({"--tcp", "127.0.0.1:0"});
  const std::string script =
      "import socket,sys\n"
      "s=socket.create_connection(('127.0.0.1'," +
      std::to_string(server.port("tcp")) +
      "))\n"
      "s.sendall(b'hello'); s.shutdown(socket.SHUT_WR)\n"
      "d=b''\n"
      "while True:\n"
      "  c=s.recv(65536)\n"
      "  if not c: break\n"
      "  d+=c\n"
      "sys.stdout.write(d.decode())\n";
  auto r = run({"python3", "-c", script});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello");
}

TEST(Interop, Python3TcpClientOneMebibyte) {
  Server server({"--tcp", "127.0.0.1:0"});
  // sendall from a thread while the main thread reads, as an echo client must; then compare.
  const std::string script =
      "import os,socket,threading,hashlib\n"
      "data=os.urandom(1<<20)\n"
      "s=socket.create_connection(('127.0.0.1'," +
      std::to_string(server.port("tcp")) +
      "))\n"
      "def w():\n"
      "  s.sendall(data); s.shutdown(socket.SHUT_WR)\n"
      "t=threading.Thread(target=w); t.start()\n"
      "d=bytearray()\n"
      "while True:\n"
      "  c=s.recv(65536)\n"
      "  if not c: break\n"
      "  d+=c\n"
      "t.join()\n"
      "print('exact' if bytes(d)==data else 'differs: %d of %d bytes' % (len(d), len(data)))\n";
  auto r = run({"python3", "-c", script});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "exact\n");
}

TEST(Interop, Python3UdpClients) {
  Server server({"--udp", "127.0.0.1:0", "--udp-reverse", "127.0.0.1:0"});
  const std::string script =
      "import socket,sys\n"
      "def ask(port, data):\n"
      "  s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)\n"
      "  for _ in range(3):\n"
      "    s.sendto(data, ('127.0.0.1', port))\n"
      "    try:\n"
      "      return s.recvfrom(65536)[0]\n"
      "    except socket.timeout:\n"
      "      pass\n"
      "  return b'<no reply>'\n"
      "sys.stdout.buffer.write(ask(" +
      std::to_string(server.port("udp", "echo")) +
      ", b'hello') + b' ' +\n"
      "  ask(" +
      std::to_string(server.port("udp", "reverse")) +
      ", b'hello') + b'\\n')\n"
      "sys.stdout.flush()\n"
      "big=bytes(range(256))*255+bytes(range(7))\n"
      "print(len(big), ask(" +
      std::to_string(server.port("udp", "reverse")) + ", big)==big[::-1])\n";
  auto r = run({"python3", "-c", script});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello olleh\n65287 True\n");
}

}  // namespace
}  // namespace netecho::test
