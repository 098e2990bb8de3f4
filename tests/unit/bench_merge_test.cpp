// bench merge on the histogram level: documents written by report_json, read back and merged,
// against one histogram that recorded every sample.

#include "client/bench/merge.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/bench/report.hpp"

namespace netecho::client {
namespace {

constexpr std::int64_t kSecondNs = 1'000'000'000;

BenchResult run_with(const std::vector<std::uint64_t>& latencies, std::int64_t start_ns,
                     std::int64_t elapsed_ns) {
  BenchResult r;
  r.options.duration = std::chrono::nanoseconds(elapsed_ns);
  r.address = "127.0.0.1:7";
  r.backend = "epoll";
  r.threads = 1;
  r.started_at = "2026-12-06T13:00:00Z";
  r.started_unix_ns = start_ns;
  r.elapsed = std::chrono::nanoseconds(elapsed_ns);
  r.connected = 10;
  for (const std::uint64_t ns : latencies) r.latency.record(ns);
  r.connect.record(50'000);
  r.messages = latencies.size();
  r.messages_sent = r.messages_received = latencies.size();
  r.bytes_sent = r.bytes_received = latencies.size() * 64;
  return r;
}

// Through the JSON document, as `bench merge` reads it.
BenchResult round_trip(const BenchResult& r, const std::string& name) {
  auto read = read_bench_document(report_json(r), name);
  EXPECT_TRUE(read.ok()) << read.error();
  return read.ok() ? *read : BenchResult{};
}

std::vector<std::uint64_t> samples(std::uint32_t seed, std::size_t n) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> latency(11.0, 1.5);  // around 60 us, a long tail
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::uint64_t>(latency(rng)));
  out.push_back(61 * kSecondNs);  // one saturated sample
  return out;
}

TEST(BenchMerge, TwoDocumentsMergeIntoTheHistogramOfEverySample) {
  const auto a = samples(1, 20'000);
  const auto b = samples(2, 7'000);
  Histogram all;
  for (const auto ns : a) all.record(ns);
  for (const auto ns : b) all.record(ns);

  const auto merged = merge_bench_results({round_trip(run_with(a, 0, kSecondNs), "a.json"),
                                           round_trip(run_with(b, 0, kSecondNs), "b.json")});
  ASSERT_TRUE(merged.ok()) << merged.error();
  const Histogram& m = merged->latency;
  EXPECT_EQ(m.count(), all.count());
  EXPECT_EQ(m.saturated(), 2u);
  EXPECT_EQ(m.min(), all.min());
  EXPECT_EQ(m.max(), all.max());
  EXPECT_NEAR(m.mean(), all.mean(), all.mean() * 1e-9);
  EXPECT_NEAR(m.stddev(), all.stddev(), all.stddev() * 1e-9);
  std::vector<Histogram::Bucket> mb;
  std::vector<Histogram::Bucket> ab;
  m.for_each_bucket([&mb](const Histogram::Bucket& x) { mb.push_back(x); });
  all.for_each_bucket([&ab](const Histogram::Bucket& x) { ab.push_back(x); });
  ASSERT_EQ(mb.size(), ab.size());
  for (std::size_t i = 0; i < mb.size(); ++i) {
    EXPECT_EQ(mb[i].lowest_ns, ab[i].lowest_ns);
    EXPECT_EQ(mb[i].count, ab[i].count) << "bucket at " << ab[i].lowest_ns;
  }
  for (double p = 0; p <= 100; p += 0.5) {
    EXPECT_EQ(m.percentile(p), all.percentile(p)) << "p" << p;
  }
  for (const double p : {99.9, 99.99, 99.999}) {
    EXPECT_EQ(m.percentile(p), all.percentile(p)) << "p" << p;
  }
  EXPECT_EQ(merged->messages, all.count());
  EXPECT_EQ(merged->bytes_sent, all.count() * 64);
  EXPECT_EQ(merged->connected, 20u);
  EXPECT_EQ(merged->connect.count(), 2u);
}

TEST(BenchMerge, RatesAreOverTheUnionOfTheWindows) {
  const auto a = samples(3, 1000);
  // [0, 2 s] and [1 s, 3 s] overlap: 3 s in all; [10 s, 11 s] adds one more, the gap nothing.
  const auto merged =
      merge_bench_results({round_trip(run_with(a, 0, 2 * kSecondNs), "a.json"),
                           round_trip(run_with(a, kSecondNs, 2 * kSecondNs), "b.json"),
                           round_trip(run_with(a, 10 * kSecondNs, kSecondNs), "c.json")});
  ASSERT_TRUE(merged.ok()) << merged.error();
  EXPECT_EQ(merged->elapsed.count(), 4 * kSecondNs);
  EXPECT_DOUBLE_EQ(merged->messages_per_second(), 3.0 * 1001 / 4);
}

TEST(BenchMerge, EachSourceKeepsItsErrorsUnderItsName) {
  BenchResult a = run_with(samples(4, 100), 0, kSecondNs);
  BenchResult b = run_with(samples(5, 100), 0, kSecondNs);
  b.errors[static_cast<std::size_t>(ErrorKind::timeout)] = 3;
  b.first_error = "connection 4: no echo within 2 s";
  const auto merged = merge_bench_results({round_trip(a, "host-a.json"), round_trip(b, "host-b.json")});
  ASSERT_TRUE(merged.ok()) << merged.error();
  EXPECT_EQ(merged->error_total(), 3u);
  EXPECT_EQ(merged->first_error, "host-b.json: connection 4: no echo within 2 s");
  ASSERT_EQ(merged->sources.size(), 2u);
  EXPECT_EQ(merged->sources[0].name, "host-a.json");
  EXPECT_EQ(merged->sources[1].errors[static_cast<std::size_t>(ErrorKind::timeout)], 3u);
  // A merge of merges keeps every source.
  const auto again = merge_bench_results(
      {round_trip(*merged, "ab.json"), round_trip(run_with(samples(6, 10), 0, 1), "c.json")});
  ASSERT_TRUE(again.ok()) << again.error();
  ASSERT_EQ(again->sources.size(), 3u);
  EXPECT_EQ(again->sources[1].name, "host-b.json");
  EXPECT_EQ(again->sources[2].name, "c.json");
}

TEST(BenchMerge, RefusesWhatDoesNotAddUp) {
  const BenchResult a = run_with(samples(7, 10), 0, kSecondNs);
  BenchResult b = a;
  b.options.message_size = 512;
  auto m = merge_bench_results({round_trip(a, "a.json"), round_trip(b, "b.json")});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error(),
            "a.json sent 64-byte messages and b.json sent 512-byte ones: a merge needs one "
            "message size");
  b = a;
  b.options.target.transport = net::Transport::udp;
  m = merge_bench_results({round_trip(a, "a.json"), round_trip(b, "b.json")});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("a merge needs one transport"), std::string::npos) << m.error();
  b = a;
  b.options.rate = 1000;
  m = merge_bench_results({round_trip(a, "a.json"), round_trip(b, "b.json")});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("a.json ran a closed loop and b.json an open loop"), std::string::npos) << m.error();
}

TEST(BenchMerge, RefusesADocumentThatIsNotBenchsOrOfAnotherSchema) {
  EXPECT_EQ(read_bench_document("{", "x.json").error(), "x.json: not a JSON document");
  EXPECT_EQ(read_bench_document(R"({"schema": "netecho-ping/1"})", "p.json").error(),
            "p.json: not a netecho bench document (no \"schema\": \"netecho-bench/2\")");
  auto doc = nlohmann::json::parse(report_json(run_with(samples(8, 10), 0, kSecondNs)));
  doc["schema"] = "netecho-bench/1";
  EXPECT_NE(read_bench_document(doc.dump(), "old.json").error().find("old.json: schema netecho-bench/1"),
            std::string::npos);
  doc["schema"] = "netecho-bench/2";
  doc["latency_ns"].erase("buckets");
  EXPECT_EQ(read_bench_document(doc.dump(), "cut.json").error(), "cut.json: no latency_ns/buckets");
  doc = nlohmann::json::parse(report_json(run_with(samples(8, 10), 0, kSecondNs)));
  doc["latency_ns"]["buckets"][0][0] = 1001;  // inside the bucket [1000, 1003]
  EXPECT_NE(read_bench_document(doc.dump(), "bad.json").error().find("no bucket starts there"),
            std::string::npos);
}

}  // namespace
}  // namespace netecho::client
