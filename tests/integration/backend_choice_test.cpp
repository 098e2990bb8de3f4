// --backend auto|epoll|io_uring and --list-backends: the probe's answer, the fallback and its
// logged reason, and the error when a backend that cannot run is asked for. NETECHO_IO_URING=0
// in the server's environment makes the probe refuse io_uring, as a locked-down sandbox would.

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "harness.hpp"

namespace netecho::test {
namespace {

TEST(BackendChoice, ListBackendsNamesEveryBackendWithAVerdict) {
  const auto r = run({netecho_bin(), "serve", "--list-backends"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::regex line(R"(backend=(epoll|io_uring) usable=(yes|no) detail=.+)");
  EXPECT_TRUE(std::regex_search(r.out, std::regex("backend=epoll usable=yes"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("backend=io_uring usable=(yes|no)"))) << r.out;
  EXPECT_EQ(line_count(r.out), 2u) << r.out;
}

TEST(BackendChoice, AutoPicksIoUringWhereTheProbeAllowsIt) {
  Server server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  const bool uring = backend_info("io_uring").usable;
  EXPECT_EQ(server.ready_line(),
            std::string("ready backend=") + (uring ? "io_uring" : "epoll") + " threads=1");
  server.stop();
  const std::string log = server.process().stderr_text();
  // One line says which backend runs and why.
  EXPECT_NE(log.find(uring ? "auto: io_uring works here" : "auto: io_uring is not usable"),
            std::string::npos)
      << log;
}

TEST(BackendChoice, AutoFallsBackToEpollAndLogsWhy) {
  Process proc = Process::spawn({"env", "NETECHO_IO_URING=0", netecho_bin(), "serve", "--tcp",
                                 "127.0.0.1:0", "--threads", "1"});
  std::string ready;
  for (int i = 0; i < 20; ++i) {
    auto line = proc.read_line(10s);
    ASSERT_TRUE(line) << proc.stderr_text();
    if (line->rfind("ready ", 0) == 0) {
      ready = *line;
      break;
    }
  }
  EXPECT_EQ(ready, "ready backend=epoll threads=1");
  EXPECT_EQ(proc.stop(15), 0);
  const std::string log = proc.stderr_text();
  EXPECT_NE(log.find("auto: io_uring is not usable (disabled by NETECHO_IO_URING=0), falling "
                     "back to epoll"),
            std::string::npos)
      << log;
}

TEST(BackendChoice, IoUringWhereItCannotRunIsARunTimeError) {
  const auto r = run({"env", "NETECHO_IO_URING=0", netecho_bin(), "serve", "--backend", "io_uring",
                      "--tcp", "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");  // nothing was bound, so nothing was announced
  // One error event of serve's log: its time and level, then the message.
  EXPECT_EQ(line_count(r.err), 1u) << r.err;
  EXPECT_TRUE(r.err.ends_with(" error netecho: --backend io_uring: io_uring cannot run here: "
                              "disabled by NETECHO_IO_URING=0\n"))
      << r.err;
}

TEST(BackendChoice, UnknownBackendIsAUsageError) {
  const auto r = run({netecho_bin(), "serve", "--backend", "kqueue"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("kqueue"), std::string::npos) << r.err;
}

TEST(BackendChoice, EpollRunsWhenAsked) {
  Server server({"--tcp", "127.0.0.1:0", "--threads", "1", "--backend", "epoll"});
  EXPECT_EQ(server.ready_line(), "ready backend=epoll threads=1");
  auto sock = Socket::tcp("127.0.0.1", server.port("tcp"));
  const Bytes data = random_bytes(4096, 3);
  EXPECT_TRUE(sock.echo_exchange(data, {1000}) == data);
}

}  // namespace
}  // namespace netecho::test
