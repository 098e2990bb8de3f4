// The LISTEN_FDS protocol's variables, as socket activation passes them (server/activation).

#include "server/activation.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace netecho::server {
namespace {

ListenEnv ok(const net::Parsed<ListenEnv>& parsed) {
  if (!parsed) {
    ADD_FAILURE() << parsed.error();
    return {};
  }
  return *parsed;
}

std::string error(const net::Parsed<ListenEnv>& parsed) {
  return parsed ? std::string("(no error)") : parsed.error();
}

TEST(ListenEnv, NothingPassedWithoutListenFds) {
  EXPECT_EQ(ok(parse_listen_env(42, std::nullopt, std::nullopt, std::nullopt)).count, 0);
  EXPECT_EQ(ok(parse_listen_env(42, "42", std::nullopt, "echo")).count, 0);
}

TEST(ListenEnv, SocketsForAnotherProcessAreNotTaken) {
  EXPECT_EQ(ok(parse_listen_env(42, "43", "2", "a:b")).count, 0);
}

TEST(ListenEnv, CountAndNames) {
  const ListenEnv e = ok(parse_listen_env(42, "42", "3", "echo::reverse"));
  EXPECT_EQ(e.count, 3);
  EXPECT_EQ(e.names, (std::vector<std::string>{"echo", "", "reverse"}));
  const ListenEnv unnamed = ok(parse_listen_env(42, "42", "2", std::nullopt));
  EXPECT_EQ(unnamed.names, (std::vector<std::string>{"", ""}));
}

TEST(ListenEnv, MalformedVariablesAreNamed) {
  EXPECT_EQ(error(parse_listen_env(42, std::nullopt, "1", std::nullopt)),
            "LISTEN_FDS is set without LISTEN_PID");
  EXPECT_EQ(error(parse_listen_env(42, "x42", "1", std::nullopt)),
            "LISTEN_PID: 'x42' is not a process id");
  EXPECT_EQ(error(parse_listen_env(42, "42", "-1", std::nullopt)),
            "LISTEN_FDS: '-1' is not a number of descriptors");
  EXPECT_EQ(error(parse_listen_env(42, "42", "2 ", std::nullopt)),
            "LISTEN_FDS: '2 ' is not a number of descriptors");
  EXPECT_EQ(error(parse_listen_env(42, "42", "2", "echo")),
            "LISTEN_FDNAMES: 1 name(s) for 2 descriptor(s) in 'echo'");
}

TEST(ListenEnv, TakingRemovesTheVariablesFromTheEnvironment) {
  // No descriptor is passed (LISTEN_FDS=0), so nothing of this process is taken over.
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", "0", 1);
  ::setenv("LISTEN_FDNAMES", "", 1);
  EXPECT_TRUE(take_passed_sockets(service::StreamMode::echo).empty());
  EXPECT_EQ(std::getenv("LISTEN_PID"), nullptr);
  EXPECT_EQ(std::getenv("LISTEN_FDS"), nullptr);
  EXPECT_EQ(std::getenv("LISTEN_FDNAMES"), nullptr);
  // Also when they were for another process, or malformed.
  ::setenv("LISTEN_PID", "1", 1);
  ::setenv("LISTEN_FDS", "1", 1);
  EXPECT_TRUE(take_passed_sockets(service::StreamMode::echo).empty());
  EXPECT_EQ(std::getenv("LISTEN_FDS"), nullptr);
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", "many", 1);
  EXPECT_THROW(take_passed_sockets(service::StreamMode::echo), server::StartError);
  EXPECT_EQ(std::getenv("LISTEN_PID"), nullptr);
}

}  // namespace
}  // namespace netecho::server
