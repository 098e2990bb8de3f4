// netecho ping's pure parts: the probe frame codec, the probe tracker, the statistics and the
// report formatting.

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "client/ping/report.hpp"
#include "client/probe_stats.hpp"
#include "client/probe_frame.hpp"

namespace netecho::client {
namespace {

using namespace std::chrono_literals;

std::vector<std::byte> frame_of(const ProbeHeader& h, std::size_t size) {
  std::vector<std::byte> f(size);
  encode_probe(h, f);
  return f;
}

// ------------------------------------------------------------------------------ probe frame

TEST(ProbeFrame, RoundTripsTheHeader) {
  const ProbeHeader h{0xdeadbeef, 0x0102030405060708ULL, 0x1122334455667788ULL};
  for (const std::size_t size :
       {kProbeHeaderSize, std::size_t{25}, std::size_t{64}, std::size_t{65507}}) {
    const auto f = frame_of(h, size);
    const auto decoded = decode_probe(f);
    ASSERT_TRUE(std::holds_alternative<ProbeHeader>(decoded)) << size;
    EXPECT_EQ(std::get<ProbeHeader>(decoded), h);
  }
}

TEST(ProbeFrame, LayoutIsBigEndianWithMagicFirst) {
  const auto f = frame_of({0x01020304, 5, 6}, kProbeHeaderSize);
  const std::vector<unsigned> want{'N', 'E', 'P', 'F', 1, 2, 3, 4, 0, 0, 0, 0,
                                   0,   0,   0,   5,   0, 0, 0, 0, 0, 0, 0, 6};
  ASSERT_EQ(f.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(std::to_integer<unsigned>(f[i]), want[i]) << "byte " << i;
  }
}

TEST(ProbeFrame, RejectsShortFrames) {
  const auto f = frame_of({1, 2, 3}, 64);
  for (std::size_t n = 0; n < kProbeHeaderSize; ++n) {
    const auto decoded = decode_probe(std::span(f).first(n));
    ASSERT_TRUE(std::holds_alternative<ProbeError>(decoded)) << n;
    EXPECT_EQ(std::get<ProbeError>(decoded).kind, ProbeErrorKind::too_short);
  }
}

TEST(ProbeFrame, RejectsBadMagic) {
  auto f = frame_of({1, 2, 3}, 64);
  f[3] = std::byte{'X'};
  const auto decoded = decode_probe(f);
  ASSERT_TRUE(std::holds_alternative<ProbeError>(decoded));
  EXPECT_EQ(std::get<ProbeError>(decoded).kind, ProbeErrorKind::bad_magic);
}

TEST(ProbeFrame, FindsTheFirstCorruptFillByte) {
  const auto good = frame_of({7, 9, 11}, 200);
  for (const std::size_t at : {std::size_t{24}, std::size_t{31}, std::size_t{199}}) {
    auto f = good;
    f[at] ^= std::byte{0x01};
    const auto decoded = decode_probe(f);
    ASSERT_TRUE(std::holds_alternative<ProbeError>(decoded)) << at;
    EXPECT_EQ(std::get<ProbeError>(decoded), (ProbeError{ProbeErrorKind::bad_fill, at}));
    // The header alone still reads.
    EXPECT_TRUE(std::holds_alternative<ProbeHeader>(decode_probe_header(f)));
  }
}

TEST(ProbeFrame, FillDiffersBetweenNeighbouringProbes) {
  // A reply to probe 4 with the header of probe 5 spliced in (a misaligned or stale stream)
  // must not pass.
  const auto four = frame_of({42, 4, 100}, 64);
  auto spliced = frame_of({42, 5, 100}, 64);
  std::copy(four.begin() + kProbeHeaderSize, four.end(), spliced.begin() + kProbeHeaderSize);
  EXPECT_TRUE(std::holds_alternative<ProbeError>(decode_probe(spliced)));
  // The same seq in another session differs too.
  auto other = frame_of({43, 4, 100}, 64);
  std::copy(four.begin() + kProbeHeaderSize, four.end(), other.begin() + kProbeHeaderSize);
  EXPECT_TRUE(std::holds_alternative<ProbeError>(decode_probe(other)));
}

TEST(ProbeFrame, ReversedFrameIsNotAFrame) {
  auto f = frame_of({1, 2, 3}, 64);
  std::reverse(f.begin(), f.end());
  EXPECT_TRUE(std::holds_alternative<ProbeError>(decode_probe(f)));
  std::reverse(f.begin(), f.end());
  EXPECT_TRUE(std::holds_alternative<ProbeHeader>(decode_probe(f)));
}

// ---------------------------------------------------------------------------- probe tracker

const PingClock::time_point t0{std::chrono::seconds(1000)};

TEST(ProbeTracker, FirstReplyThenDuplicate) {
  ProbeTracker t(1s);
  t.on_sent(1, t0);
  EXPECT_EQ(t.in_flight(), 1u);
  const auto m = t.on_reply(1);
  EXPECT_EQ(m.status, ReplyStatus::reply);
  EXPECT_EQ(m.sent, t0);
  EXPECT_FALSE(m.reordered);
  EXPECT_EQ(t.in_flight(), 0u);
  EXPECT_EQ(t.on_reply(1).status, ReplyStatus::duplicate);
}

TEST(ProbeTracker, TimesOutInOrderAndLateRepliesAreLate) {
  ProbeTracker t(100ms);
  t.on_sent(1, t0);
  t.on_sent(2, t0 + 50ms);
  t.on_sent(3, t0 + 100ms);
  EXPECT_EQ(t.next_deadline(), t0 + 100ms);
  EXPECT_EQ(t.pop_expired(t0 + 99ms), std::nullopt);
  EXPECT_EQ(t.pop_expired(t0 + 150ms), std::optional<std::uint64_t>(1));
  EXPECT_EQ(t.pop_expired(t0 + 150ms), std::optional<std::uint64_t>(2));
  EXPECT_EQ(t.pop_expired(t0 + 150ms), std::nullopt);
  EXPECT_EQ(t.next_deadline(), t0 + 200ms);
  EXPECT_EQ(t.on_reply(1).status, ReplyStatus::late);
  EXPECT_EQ(t.on_reply(3).status, ReplyStatus::reply);
  EXPECT_EQ(t.next_deadline(), std::nullopt);
}

TEST(ProbeTracker, AnsweredProbesInTheMiddleNeverTimeOut) {
  ProbeTracker t(100ms);
  for (std::uint64_t s = 1; s <= 4; ++s) {
    t.on_sent(s, t0);
  }
  EXPECT_EQ(t.on_reply(2).status, ReplyStatus::reply);
  EXPECT_EQ(t.on_reply(3).status, ReplyStatus::reply);
  std::vector<std::uint64_t> expired;
  while (const auto s = t.pop_expired(t0 + 1s)) {
    expired.push_back(*s);
  }
  EXPECT_EQ(expired, (std::vector<std::uint64_t>{1, 4}));
  EXPECT_EQ(t.in_flight(), 0u);
}

TEST(ProbeTracker, FlagsReordering) {
  ProbeTracker t(1s);
  t.on_sent(1, t0);
  t.on_sent(2, t0);
  t.on_sent(3, t0);
  EXPECT_FALSE(t.on_reply(2).reordered);
  EXPECT_TRUE(t.on_reply(1).reordered);
  EXPECT_FALSE(t.on_reply(3).reordered);
}

TEST(ProbeTracker, FailedProbesAreSettledAndLaterRepliesLate) {
  ProbeTracker t(1s);
  t.on_sent(1, t0);
  EXPECT_TRUE(t.fail(1));
  EXPECT_FALSE(t.fail(1));
  EXPECT_EQ(t.in_flight(), 0u);
  EXPECT_EQ(t.pop_expired(t0 + 10s), std::nullopt);
  EXPECT_EQ(t.on_reply(1).status, ReplyStatus::late);
}

TEST(ProbeTracker, UnknownSequenceNumbersAreUnexpected) {
  ProbeTracker t(1s);
  EXPECT_EQ(t.on_reply(1).status, ReplyStatus::unexpected);
  t.on_sent(1, t0);
  EXPECT_EQ(t.on_reply(0).status, ReplyStatus::unexpected);
  EXPECT_EQ(t.on_reply(2).status, ReplyStatus::unexpected);
}

TEST(ProbeTracker, ForgetsSettledProbesBeyondTheHistoryButKeepsPendingOnes) {
  ProbeTracker t(1h, /*history=*/8);
  t.on_sent(1, t0);  // stays pending throughout
  for (std::uint64_t s = 2; s <= 100; ++s) {
    t.on_sent(s, t0);
    EXPECT_EQ(t.on_reply(s).status, ReplyStatus::reply);
  }
  EXPECT_TRUE(t.is_pending(1));
  EXPECT_EQ(t.on_reply(1).status, ReplyStatus::reply);  // remembered while pending
  // Now settled, everything but the last `history` probes may go.
  t.on_sent(101, t0);
  EXPECT_EQ(t.on_reply(50).status, ReplyStatus::unexpected);
  EXPECT_EQ(t.on_reply(100).status, ReplyStatus::duplicate);
}

// ------------------------------------------------------------------------------- statistics

TEST(PingStats, LossPercent) {
  PingStats s;
  EXPECT_EQ(s.loss_percent(), 0);
  s.transmitted = 9;
  s.received = 6;
  EXPECT_NEAR(s.loss_percent(), 100.0 / 3, 1e-9);
  s.received = 0;
  EXPECT_EQ(s.loss_percent(), 100);
}

TEST(PingStats, SummaryMatchesPingDefinitions) {
  Histogram h;
  EXPECT_EQ(summarize(h), std::nullopt);
  for (const std::uint64_t v : {100'000, 200'000, 300'000, 400'000}) {
    h.record(v);
  }
  const auto s = summarize(h);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->min, 100'000);
  EXPECT_EQ(s->max, 400'000);
  EXPECT_DOUBLE_EQ(s->avg, 250'000);
  // mdev = sqrt(mean(x^2) - mean(x)^2), the population standard deviation.
  EXPECT_NEAR(s->mdev, 111'803.3988, 0.01);
  EXPECT_NEAR(s->p50, 200'000, 200'000 * Histogram::kMaxRelativeError);
  EXPECT_EQ(s->p99, 400'000);
}

// ----------------------------------------------------------------------------------- report

PingRunInfo sample_info() {
  PingRunInfo info;
  info.target = "tcp://127.0.0.1:12345";
  info.address = "127.0.0.1:12345";
  info.size = 64;
  info.interval = 1s;
  info.timeout = 1s;
  return info;
}

TEST(PingReport, TimesAsPingPrintsThem) {
  EXPECT_EQ(format_rtt(41us), "0.041");
  EXPECT_EQ(format_rtt(1234us), "1.23");
  EXPECT_EQ(format_rtt(12345us), "12.3");
  EXPECT_EQ(format_rtt(123456us), "123");
}

TEST(PingReport, EventLines) {
  const auto info = sample_info();
  ProbeEvent e;
  e.seq = 3;
  e.bytes = 64;
  e.from = info.address;
  e.rtt = 41us;
  EXPECT_EQ(event_line(e, info), "64 bytes from 127.0.0.1:12345: seq=3 time=0.041 ms");
  e.connect = 52us;
  EXPECT_EQ(event_line(e, info),
            "64 bytes from 127.0.0.1:12345: seq=3 connect=0.052 ms time=0.041 ms");
  e.connect.reset();
  e.reordered = true;
  EXPECT_EQ(event_line(e, info),
            "64 bytes from 127.0.0.1:12345: seq=3 time=0.041 ms (out of order)");
  e.reordered = false;
  e.type = ProbeEventType::duplicate;
  EXPECT_EQ(event_line(e, info), "64 bytes from 127.0.0.1:12345: seq=3 time=0.041 ms (DUP!)");
  e.type = ProbeEventType::late;
  e.rtt = 1500ms;
  EXPECT_EQ(event_line(e, info),
            "64 bytes from 127.0.0.1:12345: seq=3 time=1500 ms (late: after the 1000 ms timeout)");
  e.type = ProbeEventType::timeout;
  e.seq = 4;
  EXPECT_EQ(event_line(e, info), "no reply from 127.0.0.1:12345: seq=4 timeout after 1000 ms");
  e.type = ProbeEventType::error;
  e.message = "connection lost: Connection reset by peer";
  EXPECT_EQ(event_line(e, info),
            "error from 127.0.0.1:12345: seq=4 connection lost: Connection reset by peer");
  e.seq.reset();
  EXPECT_EQ(event_line(e, info),
            "error from 127.0.0.1:12345: connection lost: Connection reset by peer");
}

TEST(PingReport, SummaryText) {
  const auto info = sample_info();
  PingStats s;
  s.transmitted = 3;
  EXPECT_EQ(summary_text(info, s, 2002ms),
            "--- tcp://127.0.0.1:12345 ping statistics ---\n"
            "3 probes transmitted, 0 received, 100% loss, time 2002 ms\n");
  s.received = 2;
  s.duplicates = 1;
  s.errors = 1;
  s.rtt.record(100'000);
  s.rtt.record(300'000);
  EXPECT_EQ(summary_text(info, s, 2002ms),
            "--- tcp://127.0.0.1:12345 ping statistics ---\n"
            // The counts line is 86 columns: it continues 4 columns in, after a clause.
            "3 probes transmitted, 2 received, +1 duplicates, +1 errors, 33.3333% loss,\n"
            "    time 2002 ms\n"
            "rtt min/avg/max/mdev = 0.100/0.200/0.300/0.100 ms\n"
            "rtt p50/p90/p99 = 0.100/0.300/0.300 ms\n");
}

TEST(PingReport, JsonHoldsTheDocumentedFields) {
  auto info = sample_info();
  info.connect_per_probe = true;
  PingStats s;
  s.transmitted = 2;
  s.received = 1;
  s.rtt.record(41'000);
  s.connect.record(52'000);
  const auto j = nlohmann::json::parse(summary_json(info, s, 1s, true, false, 2));
  for (const char* key : {"target",       "transport",  "address",           "size",
                          "interval_ms",  "timeout_ms", "connect_per_probe", "expect",
                          "transmitted",  "received",   "duplicates",        "late",
                          "reordered",    "errors",     "connects",          "reconnects",
                          "loss_percent", "time_ms",    "interrupted",       "rtt_ms",
                          "connect_ms"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_FALSE(j.contains("type"));
  EXPECT_EQ(j["transmitted"], 2);
  EXPECT_EQ(j["loss_percent"], 50.0);
  EXPECT_EQ(j["interrupted"], true);
  EXPECT_DOUBLE_EQ(j["rtt_ms"]["min"].get<double>(), 0.041);
  EXPECT_DOUBLE_EQ(j["connect_ms"]["p99"].get<double>(), 0.052);

  const auto line = summary_json(info, PingStats{}, 1s, false, true, -1);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto l = nlohmann::json::parse(line);
  EXPECT_EQ(l["type"], "summary");
  EXPECT_TRUE(l["rtt_ms"].is_null());

  ProbeEvent e;
  e.seq = 7;
  e.bytes = 64;
  e.from = info.address;
  e.rtt = 41us;
  e.at = 3s;
  const auto ej = nlohmann::json::parse(event_json(e));
  EXPECT_EQ(ej["type"], "reply");
  EXPECT_EQ(ej["seq"], 7);
  EXPECT_EQ(ej["bytes"], 64);
  EXPECT_EQ(ej["from"], "127.0.0.1:12345");
  EXPECT_DOUBLE_EQ(ej["rtt_ms"].get<double>(), 0.041);
  EXPECT_DOUBLE_EQ(ej["at_ms"].get<double>(), 3000);
  EXPECT_EQ(ej["reordered"], false);
}

}  // namespace
}  // namespace netecho::client
