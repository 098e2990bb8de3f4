// `netecho stamp`, the STAMP sender, against two reflectors: netecho's own (`serve --stamp`, on
// every backend) and an independent one built with Scapy's STAMP layer
// (stamp_scapy_reflector.py), which takes its own T2 and T3, waits a known time between them,
// loses packets on purpose in either direction and misbehaves on request. The sender's JSON is
// checked against what the reflector did.

#include <sys/timex.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "key_file.hpp"

namespace netecho::test {
namespace {

using Json = nlohmann::json;

const std::string kReflector =
    std::string(NETECHO_SOURCE_DIR) + "/tests/integration/stamp_scapy_reflector.py";

// What netecho's sender and reflector read from adjtimex(2) (stamp/clock.cpp): whether this
// host's clock is synchronized, which decides whether one-way delays may be shown at all.
bool clock_synchronized() {
  timex tx{};
  const int state = ::adjtimex(&tx);
  return state >= 0 && state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
}

RunResult stamp(std::vector<std::string> args) {
  args.insert(args.begin(), {netecho_bin(), "stamp"});
  return run(args, {}, scaled(60s));
}

// A --json run that must produce a document.
Json stamp_json(std::vector<std::string> args, int want_exit) {
  args.push_back("--json");
  const auto r = stamp(args);
  EXPECT_EQ(r.exit_code, want_exit) << r.out << r.err;
  return Json::parse(r.out);
}

std::string at(const std::string& host, std::uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

// The Scapy reflector, on host port 0, read up to its "listening port=N" line.
class ScapyReflector {
 public:
  ScapyReflector(const std::string& host, const std::vector<std::string>& args) : host_(host) {
    std::vector<std::string> argv = {"/usr/bin/python3", kReflector, host};
    argv.insert(argv.end(), args.begin(), args.end());
    proc_ = Process::spawn(argv);
    const auto line = proc_.read_line(scaled(30s));
    if (!line || line->rfind("listening port=", 0) != 0) {
      ADD_FAILURE() << "the Scapy reflector did not start: " << line.value_or("(nothing)")
                    << proc_.stderr_text();
      return;
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line->substr(15)));
  }
  ~ScapyReflector() { proc_.stop(15); }
  ScapyReflector(const ScapyReflector&) = delete;
  ScapyReflector& operator=(const ScapyReflector&) = delete;
  std::string target() const { return at(host_, port_); }

 private:
  std::string host_;
  Process proc_;
  std::uint16_t port_ = 0;
};

void expect_common_document(const Json& d) {
  EXPECT_EQ(d["schema"], "netecho-stamp/1");
  EXPECT_TRUE(d["started_at"].is_string());
  for (const char* key : {"transmitted", "received", "duplicates", "late", "reordered", "errors",
                          "malformed", "bad_hmac", "other_session", "loss_percent"}) {
    EXPECT_TRUE(d[key].is_number()) << key << " in " << d.dump();
  }
}

// The loss by direction adds up: what was lost is lost there, back, or after the last reply.
void expect_directions_add_up(const Json& d) {
  ASSERT_EQ(d["reflector_mode"], "stateful") << d.dump();
  EXPECT_EQ(d["forward_lost"].get<std::uint64_t>() + d["backward_lost"].get<std::uint64_t>() +
                d["unknown_direction_lost"].get<std::uint64_t>(),
            d["transmitted"].get<std::uint64_t>() - d["received"].get<std::uint64_t>())
      << d.dump();
}

// ------------------------------------------------------------------ netecho's own reflector

class StampSender : public BackendTest {};

TEST_P(StampSender, StatelessReflector) {
  Server server(serve_args({"--stamp", "127.0.0.1:0"}));
  const auto d = stamp_json({"-c", "5", "-i", "0.02", at("127.0.0.1", server.port("udp", "stamp"))},
                            0);
  expect_common_document(d);
  EXPECT_EQ(d["transmitted"], 5);
  EXPECT_EQ(d["received"], 5);
  EXPECT_EQ(d["size"], 44);
  EXPECT_EQ(d["padding"], "none");
  EXPECT_EQ(d["reflector_mode"], "stateless");
  EXPECT_TRUE(d["forward_lost"].is_null());
  EXPECT_TRUE(d["rtt_ms"]["p50"].is_number());
  EXPECT_TRUE(d["reflector_ms"]["max"].is_number());
  EXPECT_TRUE(d["jitter_ms"].is_number());
  // One host, one clock: the reflector's S bit and ours say the same.
  const bool sync = clock_synchronized();
  EXPECT_EQ(d["clocks_synchronized"], sync);
  EXPECT_EQ(d["far_end_ms"].is_null(), !sync);
}

// The reflector's per-source rate limit drops requests before the stateful reflector counts
// them: loss on the way there, which the gaps in its sequence numbers show.
TEST_P(StampSender, StatefulReflectorShowsForwardLoss) {
  Server server(serve_args({"--stamp", "127.0.0.1:0", "--stamp-mode", "stateful", "--udp-rate",
                            "1/s", "--udp-burst", "2", "--metrics", "127.0.0.1:0"}));
  const auto port = server.port("udp", "stamp");
  const auto d = stamp_json({"-c", "8", "-i", "0.3", "-W", "0.5", at("127.0.0.1", port)}, 0);
  expect_directions_add_up(d);
  EXPECT_GE(d["forward_lost"], 1);
  EXPECT_EQ(d["backward_lost"], 0);
  const auto metrics = http_get("127.0.0.1", server.port("http"), "/metrics").body;
  const std::string series = "netecho_udp_datagrams_dropped_total{listener=\"udp://127.0.0.1:" +
                             std::to_string(port) + "\",mode=\"stamp\",reason=\"rate_limited\"} ";
  const auto pos = metrics.find(series);
  ASSERT_NE(pos, std::string::npos) << metrics;
  EXPECT_EQ(std::stoull(metrics.substr(pos + series.size())),
            d["forward_lost"].get<std::uint64_t>() +
                d["unknown_direction_lost"].get<std::uint64_t>());
}

TEST_P(StampSender, Ipv6) {
  if (!ipv6_loopback_available()) {
    GTEST_SKIP() << "::1 is not configured here";
  }
  Server server(serve_args({"--stamp", "[::1]:0"}));
  const auto d = stamp_json({"-c", "3", "-i", "0.02", at("::1", server.port("udp", "stamp"))}, 0);
  EXPECT_EQ(d["received"], 3);
  EXPECT_EQ(d["address"], at("::1", server.port("udp", "stamp")));
}

INSTANTIATE_TEST_SUITE_P(Backends, StampSender, ::testing::ValuesIn(backend_names()),
                         backend_test_name);

TEST(StampSenderAuth, AuthenticatedBothSides) {
  const KeyFile key("a shared secret\n");
  Server server({"--stamp", "127.0.0.1:0", "--stamp-auth-key", key.path()});
  const auto d = stamp_json({"-c", "3", "-i", "0.02", "--auth-key", key.path(), "-s", "120",
                             at("127.0.0.1", server.port("udp", "stamp"))},
                            0);
  EXPECT_EQ(d["authenticated"], true);
  EXPECT_EQ(d["size"], 120);
  EXPECT_EQ(d["padding"], "zeros");
  EXPECT_EQ(d["received"], 3);
  EXPECT_EQ(d["bad_hmac"], 0);
}

// Authenticated with TLVs (RFC 8972 §4.8): the sender's HMAC TLV passes netecho's reflector,
// which would set its I flag otherwise, and the reflector's own HMAC TLV passes the sender's
// check; the HMAC TLV alone (132 bytes) and with Extra Padding after it.
TEST(StampSenderAuth, AuthenticatedTlvsCarryAnHmacTlvBothWays) {
  const KeyFile key("a shared secret\n");
  Server server({"--stamp", "127.0.0.1:0", "--stamp-auth-key", key.path()});
  for (const char* size : {"132", "200"}) {
    const auto d = stamp_json({"-c", "3", "-i", "0.02", "--auth-key", key.path(), "--ssid", "9",
                               "-s", size, at("127.0.0.1", server.port("udp", "stamp"))},
                              0);
    EXPECT_EQ(d["padding"], "tlv") << size;
    EXPECT_EQ(d["received"], 3) << size;
    EXPECT_EQ(d["bad_hmac"], 0) << size;
    EXPECT_EQ(d["errors"], 0) << size;
  }
}

// netecho's reflector drops a request with a wrong HMAC: no reply at all, exit 1.
TEST(StampSenderAuth, WrongKeyGetsNoReply) {
  const KeyFile key("a shared secret\n");
  const KeyFile other("another secret\n");
  Server server({"--stamp", "127.0.0.1:0", "--stamp-auth-key", key.path()});
  const auto d = stamp_json({"-c", "2", "-i", "0.02", "-W", "0.3", "--auth-key", other.path(),
                             at("127.0.0.1", server.port("udp", "stamp"))},
                            1);
  EXPECT_EQ(d["received"], 0);
  EXPECT_EQ(d["loss_percent"], 100);
}

TEST(StampSenderOutput, JsonLinesAndText) {
  Server server({"--stamp", "127.0.0.1:0", "--stamp-mode", "stateful"});
  const auto target = at("127.0.0.1", server.port("udp", "stamp"));
  const auto r = stamp({"-c", "2", "-i", "0.02", "--json-lines", target});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  for (std::size_t i = 0; i < 2; ++i) {
    const auto e = Json::parse(lines[i]);
    EXPECT_EQ(e["type"], "reply");
    EXPECT_EQ(e["seq"], i);
    EXPECT_EQ(e["reflector_seq"], i);
    EXPECT_EQ(e["bytes"], 44);
    EXPECT_TRUE(e["rtt_ms"].is_number());
    EXPECT_TRUE(e["reflector_ms"].is_number());
    EXPECT_TRUE(e["ttl"].is_number());
  }
  const auto summary = Json::parse(lines[2]);
  EXPECT_EQ(summary["type"], "summary");
  expect_common_document(summary);

  const auto text = stamp({"-c", "2", "-i", "0.02", target});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.rfind("STAMP " + target + " (" + target + "): 44 bytes, NTP timestamps\n", 0),
            0u)
      << text.out;
  EXPECT_NE(text.out.find("44 bytes from " + target + ": seq=1 time="), std::string::npos);
  EXPECT_NE(text.out.find("2 packets transmitted, 2 received, 0% loss"), std::string::npos);
  EXPECT_NE(text.out.find("reflector min/avg/max/mdev = "), std::string::npos);
  EXPECT_EQ(text.out.find("clocks not synchronized") == std::string::npos, clock_synchronized())
      << text.out;
}

TEST(StampSenderUsage, BadInputIsAUsageError) {
  EXPECT_EQ(stamp({"-s", "43", "127.0.0.1"}).exit_code, 2);
  EXPECT_EQ(stamp({"--ssid", "1", "-s", "46", "127.0.0.1"}).exit_code, 2);
  EXPECT_EQ(stamp({"--auth-key", "/nonexistent/key", "127.0.0.1"}).exit_code, 2);
  // Authenticated TLVs: the HMAC TLV's 20 bytes, then Extra Padding's header at least.
  const KeyFile key("k3y");
  for (const char* size : {"120", "134"}) {
    const auto r = stamp({"--auth-key", key.path(), "--ssid", "1", "-s", size, "127.0.0.1"});
    EXPECT_EQ(r.exit_code, 2) << size;
    EXPECT_NE(r.err.find("HMAC TLV"), std::string::npos) << r.err;
  }
  const auto unknown = stamp({"-c", "1", "no-such-host.invalid"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("no-such-host.invalid"), std::string::npos) << unknown.err;
  const auto help = stamp({"--help"});
  EXPECT_NE(help.out.find("2 on bad"), std::string::npos) << help.out;
}

// ----------------------------------------------------------------- the Scapy reflector

class StampScapy : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "::1" && !ipv6_loopback_available()) {
      GTEST_SKIP() << "::1 is not configured here";
    }
  }
  const std::string& host() const { return GetParam(); }
};

// The reflector holds each packet 100 ms between T2 and T3: the sender's reflector delay shows
// it, and its round trip leaves it out. The packets go out 300 ms apart: this reflector takes
// T2 when it reads a packet, so one that waited in its socket behind another would have the
// wait in its round trip.
TEST_P(StampScapy, ReflectorDelayKeptOutOfTheRoundTrip) {
  ScapyReflector reflector(host(), {"--delay-ms", "100"});
  const auto d = stamp_json({"-c", "4", "-i", "0.3", "-W", "2", reflector.target()}, 0);
  EXPECT_EQ(d["received"], 4);
  EXPECT_EQ(d["reflector_mode"], "stateless");
  EXPECT_GE(d["reflector_ms"]["min"].get<double>(), 100);
  EXPECT_LT(d["rtt_ms"]["max"].get<double>(), 100) << d.dump();
}

// Packet 2 never reaches the stateful reflector's count, the reply to 5 never leaves it.
TEST_P(StampScapy, StatefulLossByDirection) {
  ScapyReflector reflector(host(), {"--stateful", "--skip", "2", "--mute", "5"});
  const auto d = stamp_json({"-c", "9", "-i", "0.02", "-W", "0.5", reflector.target()}, 0);
  EXPECT_EQ(d["received"], 7);
  expect_directions_add_up(d);
  EXPECT_EQ(d["forward_lost"], 1);
  EXPECT_EQ(d["backward_lost"], 1);
  EXPECT_EQ(d["unknown_direction_lost"], 0);
}

TEST_P(StampScapy, Authenticated) {
  const KeyFile key("k3y");
  ScapyReflector reflector(host(), {"--key", key.path()});
  const auto d =
      stamp_json({"-c", "3", "-i", "0.02", "--auth-key", key.path(), reflector.target()}, 0);
  EXPECT_EQ(d["received"], 3);
  EXPECT_EQ(d["bad_hmac"], 0);
}

// Every reply signed with another key: each counted, none used, exit 1.
TEST_P(StampScapy, WrongKeyEveryReplyCountedBad) {
  const KeyFile key("k3y");
  const KeyFile other("not the key");
  ScapyReflector reflector(host(), {"--key", other.path()});
  const auto d = stamp_json(
      {"-c", "3", "-i", "0.02", "-W", "0.5", "--auth-key", key.path(), reflector.target()}, 1);
  EXPECT_EQ(d["received"], 0);
  EXPECT_EQ(d["bad_hmac"], 3);
  EXPECT_EQ(d["errors"], 3);
}

// Before each good reply, a bad one: counted by its reason, ignored, the good one used.
TEST_P(StampScapy, MisbehavingRepliesCountedAndIgnored) {
  const KeyFile key("k3y");
  struct Case {
    std::vector<std::string> reflector, sender;
    const char* counter;
  };
  const std::vector<Case> cases = {
      {{"--misbehave", "truncated"}, {}, "malformed"},
      {{"--misbehave", "bad-hmac", "--key", key.path()}, {"--auth-key", key.path()}, "bad_hmac"},
      {{"--misbehave", "other-session"}, {"--ssid", "7"}, "other_session"},
      {{"--misbehave", "bad-tlv-hmac", "--key", key.path()},
       {"--auth-key", key.path(), "--ssid", "7", "-s", "160"},
       "bad_hmac"},
  };
  for (const auto& c : cases) {
    ScapyReflector reflector(host(), c.reflector);
    std::vector<std::string> args = {"-c", "3", "-i", "0.02"};
    args.insert(args.end(), c.sender.begin(), c.sender.end());
    args.push_back(reflector.target());
    const auto d = stamp_json(args, 0);
    EXPECT_EQ(d["received"], 3) << c.counter;
    EXPECT_EQ(d[c.counter], 3) << c.counter;
    EXPECT_EQ(d["errors"], 3) << c.counter;
  }
}

// Authenticated TLVs against the Scapy reflector, which checks the request's HMAC TLV with
// Python's hmac (a wrong or missing one would come back with its I flag, which the sender counts
// as bad) and signs its reply's.
TEST_P(StampScapy, AuthenticatedTlvsCarryAnHmacTlv) {
  const KeyFile key("k3y");
  ScapyReflector reflector(host(), {"--key", key.path()});
  for (const char* size : {"132", "160"}) {
    const auto d = stamp_json({"-c", "3", "-i", "0.02", "--auth-key", key.path(), "--ssid", "7",
                               "-s", size, reflector.target()},
                              0);
    EXPECT_EQ(d["received"], 3) << size;
    EXPECT_EQ(d["bad_hmac"], 0) << size;
  }
}

// --ssid with --size: the padding is an Extra Padding TLV, which the reflector copies.
TEST_P(StampScapy, ExtraPaddingTlv) {
  ScapyReflector reflector(host(), {});
  const auto r = stamp({"-c", "2", "-i", "0.02", "--ssid", "7", "-s", "60", "--json-lines",
                        reflector.target()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(Json::parse(lines[0])["bytes"], 60);
  const auto summary = Json::parse(lines[2]);
  EXPECT_EQ(summary["padding"], "tlv");
  EXPECT_EQ(summary["ssid"], 7);
}

// The reflector says its clock is synchronized: the one-way delays appear exactly when ours is
// too, and then they add up to the round trip.
TEST_P(StampScapy, OneWayDelaysOnlyWithBothClocksSynchronized) {
  ScapyReflector reflector(host(), {"--sync"});
  const auto r = stamp({"-c", "2", "-i", "0.02", "--json-lines", reflector.target()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  const bool sync = clock_synchronized();
  for (std::size_t i = 0; i < 2; ++i) {
    const auto e = Json::parse(lines[i]);
    ASSERT_EQ(e["far_end_ms"].is_null(), !sync) << e.dump();
    if (sync) {
      EXPECT_NEAR(e["far_end_ms"].get<double>() + e["near_end_ms"].get<double>(),
                  e["rtt_ms"].get<double>(), 1e-5);
    }
  }
  EXPECT_EQ(Json::parse(lines[2])["clocks_synchronized"], sync);
  // Without the S bit, never.
  ScapyReflector unsynced(host(), {});
  const auto d = stamp_json({"-c", "1", unsynced.target()}, 0);
  EXPECT_EQ(d["clocks_synchronized"], false);
  EXPECT_TRUE(d["far_end_ms"].is_null());
}

std::string family_name(const ::testing::TestParamInfo<std::string>& p) {
  return p.param == "::1" ? "IPv6" : "IPv4";
}

INSTANTIATE_TEST_SUITE_P(Families, StampScapy,
                         ::testing::Values(std::string("127.0.0.1"), std::string("::1")),
                         family_name);

}  // namespace
}  // namespace netecho::test
