// A real Prometheus server (Debian's) scrapes a real `netecho serve --metrics` on loopback
// every second; the test sends known traffic and asks Prometheus's HTTP API (PromQL) for the
// counters: they must equal what was sent. The PromQL queries docs/OPERATIONS.md gives for the
// usual questions are run against the same Prometheus: each must evaluate without error and
// name series that exist, so the documented queries cannot drift from the metric names.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace netecho::test {
namespace {

using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/netecho-prometheus-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
  }
  ~TempDir() { run({"rm", "-rf", path_}); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string url_encode(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", u);
      out += hex;
    }
  }
  return out;
}

// A Prometheus server on a loopback port, scraping one target every second, with its data in a
// directory of its own.
class Prometheus {
 public:
  explicit Prometheus(std::uint16_t target_port) {
    if (!have_command("prometheus")) {
      throw std::runtime_error("prometheus is not installed (scripts/setup-debian.sh installs it)");
    }
    {
      std::ofstream config(dir_.path() + "/prometheus.yml");
      config << "global:\n"
                "  scrape_interval: 1s\n"
                "  scrape_timeout: 1s\n"
                "scrape_configs:\n"
                "  - job_name: netecho\n"
                "    static_configs:\n"
                "      - targets: ['127.0.0.1:"
             << target_port << "']\n";
    }
    // Prometheus cannot report a port it chose itself: pick a free one, and try another when
    // another process took it first.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = pick_free_port();
      Process::Options options;
      options.own_group = true;
      proc_ = Process::spawn({"prometheus", "--config.file=" + dir_.path() + "/prometheus.yml",
                              "--storage.tsdb.path=" + dir_.path() + "/data",
                              "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                              "--log.level=warn"},
                             options);
      if (wait_ready()) {
        return;
      }
      proc_.stop(SIGKILL);
    }
    throw std::runtime_error("prometheus did not become ready: " + proc_.stderr_text());
  }
  ~Prometheus() { proc_.stop(SIGTERM); }
  Prometheus(const Prometheus&) = delete;
  Prometheus& operator=(const Prometheus&) = delete;

  // GET /api/v1/query: the "data" object of a successful answer; throws with Prometheus's
  // error otherwise.
  json query(const std::string& promql) {
    const HttpReply r = http_get("127.0.0.1", port_, "/api/v1/query?query=" + url_encode(promql));
    const json doc = json::parse(r.body);
    if (doc.value("status", "") != "success") {
      throw std::runtime_error("query " + promql + " failed: " + r.body);
    }
    return doc["data"];
  }

  // The value of a query whose answer is one sample (a sum, say); nullopt when it has none.
  std::optional<double> scalar(const std::string& promql) {
    const json data = query(promql);
    if (data["result"].empty()) {
      return std::nullopt;
    }
    return std::stod(data["result"][0]["value"][1].get<std::string>());
  }

  Process& process() { return proc_; }

 private:
  bool wait_ready() {
    const auto deadline = std::chrono::steady_clock::now() + scaled(30s);
    if (!wait_tcp_listening(proc_, "127.0.0.1", port_, scaled(30s))) {
      return false;
    }
    while (std::chrono::steady_clock::now() < deadline) {
      if (http_get("127.0.0.1", port_, "/-/ready").status == 200) {
        return true;
      }
      if (proc_.exits_within(100ms)) {
        return false;
      }
    }
    return false;
  }

  TempDir dir_;
  std::uint16_t port_ = 0;
  Process proc_;
};

// The ```promql block of docs/OPERATIONS.md: each query line (comments start with '#').
std::vector<std::string> documented_queries() {
  std::ifstream doc(std::string(NETECHO_SOURCE_DIR) + "/docs/OPERATIONS.md");
  std::vector<std::string> queries;
  std::string line;
  bool inside = false;
  while (std::getline(doc, line)) {
    if (line.rfind("```", 0) == 0) {
      inside = line == "```promql";
      continue;
    }
    if (inside && !line.empty() && line[0] != '#') {
      queries.push_back(line);
    }
  }
  return queries;
}

TEST(Prometheus, ScrapedCountersEqualTheTrafficSent) {
  Server server({"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
                 "--threads", "2"});
  const std::uint16_t tcp_port = server.port("tcp");
  const std::uint16_t udp_port = server.port("udp");
  Prometheus prometheus(server.port("http"));

  // Known traffic: four connections of different sizes, each echoed whole, and six datagrams.
  std::uint64_t tcp_bytes = 0;
  const std::vector<std::size_t> sizes{7, 1000, 65536 + 3, 300000};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const Bytes data = random_bytes(sizes[i], i);
    Socket c = Socket::tcp("127.0.0.1", tcp_port);
    ASSERT_EQ(c.echo_exchange(data, {4096, 1000}), data);
    tcp_bytes += data.size();
  }
  std::uint64_t udp_bytes = 0;
  Socket u = Socket::udp("127.0.0.1", udp_port);
  for (std::size_t i = 1; i <= 6; ++i) {
    const Bytes data = random_bytes(i * 100, 100 + i);
    ASSERT_EQ(u.udp_roundtrip(data), data);
    udp_bytes += data.size();
  }

  const std::string tcp_l = "{listener=\"tcp://127.0.0.1:" + std::to_string(tcp_port) + "\"}";
  const std::string udp_l = "{listener=\"udp://127.0.0.1:" + std::to_string(udp_port) + "\"}";
  const std::vector<std::pair<std::string, double>> expected{
      {"sum(netecho_tcp_received_bytes_total" + tcp_l + ")", double(tcp_bytes)},
      {"sum(netecho_tcp_sent_bytes_total" + tcp_l + ")", double(tcp_bytes)},
      {"sum(netecho_tcp_connections_accepted_total" + tcp_l + ")", double(sizes.size())},
      {"sum(netecho_tcp_connections_closed_total" + tcp_l + ")", double(sizes.size())},
      {"sum(netecho_tcp_connections_active" + tcp_l + ")", 0},
      {"sum(netecho_udp_datagrams_received_total" + udp_l + ")", 6},
      {"sum(netecho_udp_datagrams_sent_total" + udp_l + ")", 6},
      {"sum(netecho_udp_received_bytes_total" + udp_l + ")", double(udp_bytes)},
      {"sum(netecho_udp_sent_bytes_total" + udp_l + ")", double(udp_bytes)},
      {"sum(netecho_udp_datagrams_dropped_total" + udp_l + ")", 0},
      {"up{job=\"netecho\"}", 1},
  };
  // Prometheus scrapes once a second: wait (bounded) for a scrape that saw everything. The
  // counters only grow and nothing else talks to this server, so a wrong count never turns
  // right by waiting: the loop ends on the first scrape that matches, or fails naming each.
  const auto deadline = std::chrono::steady_clock::now() + scaled(30s);
  std::string mismatches;
  while (true) {
    mismatches.clear();
    for (const auto& [promql, want] : expected) {
      const auto got = prometheus.scalar(promql);
      if (!got || *got != want) {
        mismatches += promql + " = " + (got ? std::to_string(*got) : "no data") + ", want " +
                      std::to_string(want) + "\n";
      }
    }
    if (mismatches.empty() || std::chrono::steady_clock::now() > deadline) {
      break;
    }
    ASSERT_FALSE(prometheus.process().exits_within(200ms)) << prometheus.process().stderr_text();
  }
  EXPECT_EQ(mismatches, "") << "last scrape's values against the traffic sent";

  // build_info names this build's version and backend.
  const json info = prometheus.query("netecho_build_info");
  ASSERT_EQ(info["result"].size(), 1u);
  EXPECT_FALSE(info["result"][0]["metric"].value("version", "").empty());
  EXPECT_FALSE(info["result"][0]["metric"].value("backend", "").empty());

  // The documented queries: valid PromQL over series that exist. rate() over a range needs two
  // scrapes in it: wait for the second.
  while (prometheus.scalar("count_over_time(up{job=\"netecho\"}[1m])").value_or(0) < 2) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline + scaled(10s)) << "no second scrape";
    ASSERT_FALSE(prometheus.process().exits_within(200ms)) << prometheus.process().stderr_text();
  }
  const auto queries = documented_queries();
  ASSERT_GE(queries.size(), 3u) << "docs/OPERATIONS.md has no ```promql block of queries";
  for (const auto& q : queries) {
    json data;
    ASSERT_NO_THROW(data = prometheus.query(q)) << q;
    EXPECT_FALSE(data["result"].empty()) << "no series for the documented query: " << q;
  }
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace netecho::test
