// The written-once pieces: counter tables, the slot table with generations, and the small shared
// helpers of base/ and net/.

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>

#include "base/counter.hpp"
#include "base/duration.hpp"
#include "io/slot_table.hpp"
#include "net/address.hpp"
#include "server/counters.hpp"
#include "server/guard_log.hpp"

namespace netecho {
namespace {

TEST(CounterTable, NamesAreUniqueAndEveryCounterHasHelp) {
  std::set<std::string_view> names;
  for (const auto& s : server::kStats) {
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    EXPECT_FALSE(s.help.empty()) << s.name;
  }
}

TEST(CounterTable, TheExitSummaryFollowsTheTableOrder) {
  server::Counters c;
  c.add(server::Stat::tcp_accepted, 3);
  c.add(server::Stat::udp_rate_limited);
  server::CounterTotals t;
  t.add(c);
  t.add(c);
  EXPECT_EQ(t[server::Stat::tcp_accepted], 6u);
  EXPECT_EQ(t.to_string(),
            "tcp_accepted=6 tcp_closed=0 tcp_bytes_in=0 tcp_bytes_out=0 tcp_resets=0 "
            "accept_errors=0 udp_in=0 udp_out=0 udp_bytes_in=0 udp_bytes_out=0 udp_dropped=0 "
            "tcp_refused_max=0 tcp_refused_per_ip=0 tcp_idle_closed=0 tcp_drain_cut=0 "
            "udp_truncated=0 udp_denied_port=0 udp_denied_self=0 udp_denied_address=0 "
            "udp_rate_limited=2 udp_send_failed=0 tcp_proxy_refused=0 tcp_proxy_malformed=0 "
            "tcp_proxy_oversized=0 tcp_proxy_unsupported=0 tcp_proxy_timeout=0 udp_xdp_answered=0 udp_xdp_passed=0 "
            "stamp_malformed=0 stamp_bad_hmac=0");
}

// The export rules is_export_table() holds kStats to, each broken once.
using server::Export;
using server::Stat;
using server::StatRow;
constexpr std::array<StatRow, 3> kReasons{{
    {Stat::udp_dropped, "d", "h", "f_total", {}, Export::reasons_total},
    {Stat::udp_truncated, "t", "h", "f_total", "truncated", Export::series, "by reason"},
    {Stat::udp_rate_limited, "r", "h", "f_total", "rate_limited"},
}};
constexpr std::array<StatRow, 2> kReasonMissing{{
    {Stat::udp_truncated, "t", "h", "f_total", "truncated", Export::series, "by reason"},
    {Stat::udp_rate_limited, "r", "h", "f_total"},
}};
constexpr std::array<StatRow, 2> kFamilyHelpMissing{{
    {Stat::udp_truncated, "t", "h", "f_total", "truncated"},
    {Stat::udp_rate_limited, "r", "h", "f_total", "rate_limited"},
}};
constexpr std::array<StatRow, 1> kTotalWithoutReasons{{
    {Stat::udp_dropped, "d", "h", "f_total", {}, Export::reasons_total},
}};
constexpr std::array<StatRow, 1> kNoFamily{{{Stat::udp_dropped, "d", "h", {}}}};
static_assert(server::is_export_table(kReasons));
static_assert(!server::is_export_table(kReasonMissing));
static_assert(!server::is_export_table(kFamilyHelpMissing));
static_assert(!server::is_export_table(kTotalWithoutReasons));
static_assert(!server::is_export_table(kNoFamily));

TEST(CounterTable, EachGuardIsNamedAfterItsCounter) {
  for (const auto& g : server::kGuards) {
    EXPECT_EQ(server::to_string(g.id), server::to_string(g.counter));
  }
  EXPECT_EQ(server::to_string(server::Guard::accept_errors), "accept_errors");
}

enum class Two : std::uint8_t { a, b };
constexpr std::array<base::Named<Two>, 2> kInOrder{
    {{Two::a, "a", "first"}, {Two::b, "b", "second"}}};
constexpr std::array<base::Named<Two>, 2> kSwapped{
    {{Two::b, "b", "second"}, {Two::a, "a", "first"}}};
constexpr std::array<base::Named<Two>, 1> kShort{{{Two::a, "a", "first"}}};
static_assert(base::is_enum_table(kInOrder, Two::b));
static_assert(!base::is_enum_table(kSwapped, Two::b));
static_assert(!base::is_enum_table(kShort, Two::b));

TEST(SlotTable, AStaleTokenFindsNothingOnceItsSlotIsReused) {
  io::SlotTable<int> t;
  const io::Token a = t.acquire();
  t[a.slot] = 7;
  ASSERT_NE(t.find(a), nullptr);
  EXPECT_EQ(*t.find(a), 7);
  t.release(a.slot);
  EXPECT_EQ(t.find(a), nullptr);
  const io::Token b = t.acquire();
  EXPECT_EQ(b.slot, a.slot);  // reused...
  EXPECT_NE(b.gen, a.gen);    // ...by another occupant
  EXPECT_EQ(t[b.slot], 0);    // which starts from a fresh value
  EXPECT_EQ(t.find(a), nullptr);
  EXPECT_NE(t.find(b), nullptr);
  EXPECT_EQ(t.find({99, 0}), nullptr);
  EXPECT_EQ(t.live_count(), 1u);
}

TEST(SlotTable, GenerationsWrapWithinTheirBits) {
  io::SlotTable<int, 8> t;
  const io::Token first = t.acquire();
  io::Token last = first;
  for (int i = 0; i < 256; ++i) {
    t.release(last.slot);
    last = t.acquire();
    EXPECT_LE(last.gen, 0xffu);
  }
  EXPECT_EQ(last.gen, first.gen);  // 256 occupants later: wrapped all the way round
}

TEST(SharedHelpers, ToTimespecSplitsSecondsAndNanoseconds) {
  const timespec ts = base::to_timespec(std::chrono::milliseconds(2'500));
  EXPECT_EQ(ts.tv_sec, 2);
  EXPECT_EQ(ts.tv_nsec, 500'000'000);
}

TEST(SharedHelpers, EndpointsPrintAsTheyAreParsed) {
  EXPECT_EQ(net::to_string(net::Endpoint{"::1", 7}), "[::1]:7");
  EXPECT_EQ(net::to_string(net::Endpoint{"127.0.0.1", 7}), "127.0.0.1:7");
  EXPECT_EQ(net::to_string(net::Target{net::Transport::udp, {"fe80::1", 9}}), "udp://[fe80::1]:9");
}

TEST(SharedHelpers, V4MappedIsExactlyTheFfffPrefix) {
  std::array<std::uint8_t, 16> a{};
  a[10] = a[11] = 0xff;
  a[12] = 127;
  EXPECT_TRUE(net::is_v4_mapped(a));
  a[0] = 0x20;
  EXPECT_FALSE(net::is_v4_mapped(a));
  EXPECT_FALSE(net::is_v4_mapped(std::array<std::uint8_t, 16>{}));
}

}  // namespace
}  // namespace netecho
