// The pure parts of the service manager's protocol: $NOTIFY_SOCKET into an AF_UNIX address,
// $WATCHDOG_USEC and $WATCHDOG_PID into a timeout (sd_watchdog_enabled(3)'s rules), and which
// worker loops count as stuck.

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "server/heartbeat.hpp"
#include "server/notify.hpp"
#include "server/supervisor.hpp"

namespace netecho::server {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(NotifySocket, AbsolutePathIsAPathnameAddressWithItsTerminator) {
  const auto parsed = parse_notify_socket("/run/systemd/notify");
  ASSERT_TRUE(std::holds_alternative<NotifyAddress>(parsed));
  const auto& a = std::get<NotifyAddress>(parsed);
  EXPECT_EQ(a.addr.sun_family, AF_UNIX);
  EXPECT_STREQ(a.addr.sun_path, "/run/systemd/notify");
  EXPECT_EQ(a.len, offsetof(sockaddr_un, sun_path) + 20);
}

TEST(NotifySocket, AtSignIsTheAbstractNamespaceWithoutTerminator) {
  const auto parsed = parse_notify_socket("@/org/freedesktop/systemd1/notify");
  ASSERT_TRUE(std::holds_alternative<NotifyAddress>(parsed));
  const auto& a = std::get<NotifyAddress>(parsed);
  EXPECT_EQ(a.addr.sun_path[0], '\0');
  const std::string name(a.addr.sun_path + 1, a.len - offsetof(sockaddr_un, sun_path) - 1);
  EXPECT_EQ(name, "/org/freedesktop/systemd1/notify");
}

TEST(NotifySocket, AnythingElseIsRefusedWithAReason) {
  for (const char* bad : {"", "/", "@", "relative/path", "notify", "vsock:2:1234"}) {
    const auto parsed = parse_notify_socket(bad);
    ASSERT_TRUE(std::holds_alternative<std::string>(parsed)) << bad;
    EXPECT_FALSE(std::get<std::string>(parsed).empty()) << bad;
  }
}

TEST(NotifySocket, NamesThatFitSunPathAreTakenLongerOnesRefused) {
  const std::size_t room = sizeof(sockaddr_un{}.sun_path);  // 108 on Linux
  // A path needs its terminator; an abstract name's first byte is the NUL.
  EXPECT_TRUE(std::holds_alternative<NotifyAddress>(
      parse_notify_socket("/" + std::string(room - 2, 'p'))));
  EXPECT_TRUE(std::holds_alternative<std::string>(
      parse_notify_socket("/" + std::string(room - 1, 'p'))));
  EXPECT_TRUE(std::holds_alternative<NotifyAddress>(
      parse_notify_socket("@" + std::string(room - 1, 'a'))));
  EXPECT_TRUE(std::holds_alternative<std::string>(
      parse_notify_socket("@" + std::string(room, 'a'))));
}

TEST(WatchdogEnvironment, UnsetMeansNoWatchdog) {
  const auto w = parse_watchdog(std::nullopt, std::nullopt, 42);
  ASSERT_TRUE(std::holds_alternative<microseconds>(w));
  EXPECT_EQ(std::get<microseconds>(w).count(), 0);
  // WATCHDOG_PID alone says nothing.
  EXPECT_EQ(std::get<microseconds>(parse_watchdog(std::nullopt, "42", 42)).count(), 0);
}

TEST(WatchdogEnvironment, TimeoutForThisProcess) {
  EXPECT_EQ(std::get<microseconds>(parse_watchdog("3000000", std::nullopt, 42)),
            microseconds(3'000'000));
  EXPECT_EQ(std::get<microseconds>(parse_watchdog("200000", "42", 42)), microseconds(200'000));
  EXPECT_EQ(std::get<microseconds>(parse_watchdog("1", std::nullopt, 42)), microseconds(1));
}

TEST(WatchdogEnvironment, AnotherProcessIdMeansTheWatchdogIsNotOurs) {
  const auto w = parse_watchdog("200000", "43", 42);
  ASSERT_TRUE(std::holds_alternative<microseconds>(w));
  EXPECT_EQ(std::get<microseconds>(w).count(), 0);
}

TEST(WatchdogEnvironment, MalformedValuesAreMessagesNamingThem) {
  for (const char* bad : {"", "0", "-5", "+5", " 5", "5 ", "20s", "1e6", "0x10",
                          "99999999999999999999", "9223372036854776"}) {
    const auto w = parse_watchdog(bad, std::nullopt, 42);
    ASSERT_TRUE(std::holds_alternative<std::string>(w)) << bad;
    EXPECT_NE(std::get<std::string>(w).find("WATCHDOG_USEC='" + std::string(bad) + "'"),
              std::string::npos)
        << std::get<std::string>(w);
  }
  // The largest timeout nanoseconds can hold is taken.
  EXPECT_TRUE(std::holds_alternative<microseconds>(parse_watchdog("9223372036854775", {}, 42)));
  for (const char* bad : {"", "0", "abc", "-1", "99999999999"}) {
    const auto w = parse_watchdog("200000", bad, 42);
    ASSERT_TRUE(std::holds_alternative<std::string>(w)) << bad;
    EXPECT_NE(std::get<std::string>(w).find("WATCHDOG_PID"), std::string::npos);
  }
}

TEST(Heartbeats, AStampOlderThanTheLimitIsAStuckLoopAndARetiredOneNever) {
  using Clock = Heartbeat::Clock;
  const auto now = Clock::now();
  Heartbeat fresh;
  Heartbeat stale;
  Heartbeat never;  // never stamped: stuck
  Heartbeat retired;
  fresh.beat(now - milliseconds(40));
  stale.beat(now - milliseconds(150));
  retired.beat(now - milliseconds(900));
  retired.retire();
  const std::vector<const Heartbeat*> beats{&fresh, &stale, &never, &retired};
  EXPECT_EQ(stuck_loops(beats, now, milliseconds(100)), (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(stuck_loops(beats, now, milliseconds(200)), (std::vector<std::size_t>{2}));
  EXPECT_TRUE(stuck_loops({&fresh, &retired}, now, milliseconds(50)).empty());
}

}  // namespace
}  // namespace netecho::server
