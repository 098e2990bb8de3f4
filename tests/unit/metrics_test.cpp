// The metrics listener's pure parts: the exposition of a snapshot, the HTTP request parser and
// response, the routes, and /proc/self/stat's figures.

#include <gtest/gtest.h>

#include <string>

#include "server/counters.hpp"
#include "server/metrics/exposition.hpp"
#include "server/metrics/http.hpp"
#include "server/metrics/process.hpp"
#include "server/metrics/responder.hpp"

namespace netecho::server::metrics {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

Snapshot sample() {
  Snapshot s;
  ListenerSnapshot tcp{"tcp://[::1]:7", "echo", net::Transport::tcp, {}};
  tcp.counters.values[base::index_of(Stat::tcp_accepted)] = 5;
  tcp.counters.values[base::index_of(Stat::tcp_closed)] = 3;
  tcp.counters.values[base::index_of(Stat::tcp_refused_per_ip)] = 2;
  ListenerSnapshot udp{"udp://127.0.0.1:9", "reverse", net::Transport::udp, {}};
  udp.counters.values[base::index_of(Stat::udp_rate_limited)] = 4;
  udp.counters.values[base::index_of(Stat::udp_dropped)] = 4;
  s.listeners = {tcp, udp};
  s.workers = {{1.5, 7, 9}, {0.25, 0, 0}};
  s.version = "1.2.3";
  s.backend = "epoll";
  s.draining = true;
  s.process.open_fds = 12;
  return s;
}

TEST(Exposition, EveryCounterIsASeriesOfItsFamilyPerListenerOfItsTransport) {
  const std::string text = render(sample());
  EXPECT_TRUE(has_line(
      text, R"(netecho_tcp_connections_accepted_total{listener="tcp://[::1]:7",mode="echo"} 5)"))
      << text;
  EXPECT_TRUE(has_line(text,
                       R"(netecho_tcp_connections_active{listener="tcp://[::1]:7",mode="echo"} 2)"));
  EXPECT_TRUE(has_line(text, R"(netecho_tcp_connections_refused_total{listener="tcp://[::1]:7",)"
                             R"(mode="echo",reason="max_conns_per_ip"} 2)"));
  EXPECT_TRUE(has_line(text, R"(netecho_udp_datagrams_dropped_total{listener="udp://127.0.0.1:9",)"
                             R"(mode="reverse",reason="rate_limited"} 4)"));
  // TCP families carry no UDP listener, and the reasons' total is not a series of its own.
  EXPECT_EQ(text.find(R"(netecho_tcp_connections_accepted_total{listener="udp)"),
            std::string::npos);
  EXPECT_EQ(text.find(R"(netecho_udp_datagrams_dropped_total{listener="udp://127.0.0.1:9",)"
                      R"(mode="reverse"} )"),
            std::string::npos);
  for (const StatRow& row : kStats) {
    EXPECT_TRUE(has_line(text, "# TYPE " + std::string(row.family) + " counter")) << row.name;
  }
}

TEST(Exposition, FamiliesHaveHelpFromTheTableAndReasonFamiliesTheirOwn) {
  const std::string text = render(sample());
  EXPECT_TRUE(has_line(text, "# HELP netecho_tcp_connections_accepted_total "
                             "TCP connections accepted and served"));
  EXPECT_TRUE(has_line(text, "# HELP netecho_udp_datagrams_dropped_total datagrams not answered, "
                             "by reason (the reasons add up to every drop)"));
}

TEST(Exposition, WorkersServerAndProcess) {
  const std::string text = render(sample());
  EXPECT_TRUE(has_line(text, R"(netecho_worker_busy_seconds_total{worker="0"} 1.5)")) << text;
  EXPECT_TRUE(has_line(text, R"(netecho_worker_busy_seconds_total{worker="1"} 0.25)"));
  EXPECT_TRUE(has_line(text, R"(netecho_worker_uring_buffer_exhaustions_total{worker="0"} 7)"));
  EXPECT_TRUE(has_line(text, R"(netecho_worker_uring_rearms_total{worker="0"} 9)"));
  EXPECT_TRUE(has_line(text, R"(netecho_build_info{version="1.2.3",backend="epoll"} 1)"));
  EXPECT_TRUE(has_line(text, "netecho_draining 1"));
  EXPECT_TRUE(has_line(text, "process_open_fds 12"));
  EXPECT_EQ(text.find("process_max_fds"), std::string::npos);  // unknown: left out
}

TEST(Exposition, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label(R"(a"b\c)"
                         "\n"),
            R"(a\"b\\c\n)");
}

TEST(Http, ParsesTheRequestLineAndSkipsTheHeaders) {
  const Parsed p = parse_request("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::complete);
  EXPECT_EQ(p.request.method, "GET");
  EXPECT_EQ(p.request.path, "/metrics");
  EXPECT_EQ(parse_request("HEAD / HTTP/1.0\n\n").status, ParseStatus::complete);
}

TEST(Http, WaitsForTheEndOfTheHead) {
  EXPECT_EQ(parse_request("").status, ParseStatus::incomplete);
  EXPECT_EQ(parse_request("GET /metrics HTTP/1.1\r\nHost: a\r\n").status,
            ParseStatus::incomplete);
}

TEST(Http, RefusesMalformedRequests) {
  for (const char* bad : {"\r\n\r\n", "GET\r\n\r\n", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n",
                          "GET metrics HTTP/1.1\r\n\r\n", "GET / HTTP/2\r\n\r\n",
                          "G(T / HTTP/1.1\r\n\r\n", "GET /\x01 HTTP/1.1\r\n\r\n",
                          "\x16\x03\x01\x02\x01\xfc\x03\x03\n\n"}) {
    EXPECT_EQ(parse_request(bad).status, ParseStatus::malformed) << bad;
  }
}

TEST(Http, AHeadOverTheCapIsTooLargeWithOrWithoutItsEnd) {
  const std::string line = "GET /" + std::string(kMaxRequestHead, 'a');
  EXPECT_EQ(parse_request(line).status, ParseStatus::too_large);
  EXPECT_EQ(parse_request(line + " HTTP/1.1\r\n\r\n").status, ParseStatus::too_large);
  const std::string fits = "GET / HTTP/1.1\r\nX: " + std::string(kMaxRequestHead - 40, 'a');
  EXPECT_EQ(parse_request(fits + "\r\n\r\n").status, ParseStatus::complete);
}

TEST(Http, ResponsesCloseAndHeadHasNoBody) {
  Response r;
  r.status = 405;
  r.body = "no\n";
  r.allow = "GET, HEAD";
  EXPECT_EQ(serialize(r, false),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 3\r\nConnection: close\r\nAllow: GET, HEAD\r\n\r\nno\n");
  EXPECT_TRUE(serialize(r, true).ends_with("Allow: GET, HEAD\r\n\r\n"));
  EXPECT_NE(serialize(r, true).find("Content-Length: 3\r\n"), std::string::npos);
}

TEST(Routes, AnswerByPathThenMethodAndHealthFromTheSources) {
  std::string stalled;
  std::string unready = "not ready: draining";
  const Sources sources{[] { return sample(); }, [&] { return stalled; }, [&] { return unready; }};
  EXPECT_EQ(answer({"GET", "/metrics"}, sources).status, 200);
  EXPECT_EQ(answer({"GET", "/metrics"}, sources).content_type, kContentType);
  EXPECT_EQ(answer({"HEAD", "/healthz"}, sources).status, 200);
  EXPECT_EQ(answer({"GET", "/readyz"}, sources).status, 503);
  EXPECT_EQ(answer({"GET", "/readyz"}, sources).body, "not ready: draining\n");
  stalled = "stalled: worker 1";
  EXPECT_EQ(answer({"GET", "/healthz"}, sources).status, 503);
  EXPECT_EQ(answer({"GET", "/"}, sources).status, 404);
  const Response post = answer({"POST", "/metrics"}, sources);
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.allow, "GET, HEAD");
}

TEST(ProcStat, FieldsAfterTheCommandEvenWithSpacesAndNegativeOnes) {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
  // stime cutime cstime priority nice threads itrealvalue starttime vsize rss ...
  const std::string stat =
      "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 -2 0 3 0 1000 8192000 300 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
  const ProcessSnapshot p = parse_proc_stat(stat, 100, 4096, 1'000'000.0);
  ASSERT_TRUE(p.cpu_seconds && p.start_time_seconds && p.virtual_bytes && p.resident_bytes);
  EXPECT_DOUBLE_EQ(*p.cpu_seconds, 4.0);
  EXPECT_DOUBLE_EQ(*p.start_time_seconds, 1'000'010.0);
  EXPECT_EQ(*p.virtual_bytes, 8192000u);
  EXPECT_EQ(*p.resident_bytes, 300u * 4096u);
  EXPECT_FALSE(parse_proc_stat("garbage", 100, 4096, std::nullopt).cpu_seconds);
}

}  // namespace
}  // namespace netecho::server::metrics
