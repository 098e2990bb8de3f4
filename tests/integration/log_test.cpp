// serve's log (stderr): --log-format text|json, --log-level, -v. The real binary on ephemeral
// ports, real sockets; every line the run writes is parsed.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace netecho::test {
namespace {

using nlohmann::json;

// "127.0.0.1:PORT": the address a socket is bound to, as the server names its peer.
std::string local_address(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return {};
  }
  char host[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a.sin_addr, host, sizeof(host));
  return std::string(host) + ":" + std::to_string(ntohs(a.sin_port));
}

// What the scenario's clients were, to check the events against.
struct Scenario {
  std::string stderr_text;
  int exit_code = -1;
  std::string tcp_listener;  // "tcp://127.0.0.1:P"
  std::string udp_listener;
  std::string served_peer;   // the TCP client that was served
  std::string refused_peer;  // the one over --max-conns
  std::string udp_peer;
};

// One server with --max-conns 1 and --udp-buffer 16, given `log_args`: a TCP client is served
// (5 bytes each way), a second one is refused while the first is open, a 100-byte datagram is
// dropped as too large and a small one answered; then SIGTERM. One worker thread, so that the
// events come in the same order in every run.
Scenario run_scenario(std::vector<std::string> log_args) {
  std::vector<std::string> args = {"--tcp",       "127.0.0.1:0", "--udp",        "127.0.0.1:0",
                                   "--threads",   "1",           "--max-conns",  "1",
                                   "--udp-buffer", "16"};
  args.insert(args.end(), log_args.begin(), log_args.end());
  Server server(args);
  Scenario s;
  const std::uint16_t tcp_port = server.port("tcp");
  const std::uint16_t udp_port = server.port("udp");
  s.tcp_listener = "tcp://127.0.0.1:" + std::to_string(tcp_port);
  s.udp_listener = "udp://127.0.0.1:" + std::to_string(udp_port);

  Socket served = Socket::tcp("127.0.0.1", tcp_port);
  s.served_peer = local_address(served.fd());
  served.send_all(to_bytes("hello"));
  EXPECT_EQ(served.recv_exact(5, scaled(5s)), to_bytes("hello"));

  Socket refused = Socket::tcp("127.0.0.1", tcp_port);
  s.refused_peer = local_address(refused.fd());
  Socket::End end{};
  EXPECT_TRUE(refused.recv_until_end(end, scaled(5s)).empty());
  EXPECT_EQ(end, Socket::End::reset) << "over --max-conns: reset unechoed";

  served.shutdown_write();
  EXPECT_TRUE(served.recv_to_eof(scaled(5s)).empty());

  Socket udp = Socket::udp("127.0.0.1", udp_port);
  s.udp_peer = local_address(udp.fd());
  const Bytes big(100, std::byte{'x'});
  ::send(udp.fd(), big.data(), big.size(), 0);  // over --udp-buffer: dropped, never answered
  // Answered: so the one before it, from the same socket to the same worker, was handled.
  EXPECT_EQ(udp.udp_roundtrip(to_bytes("ping"), scaled(5s)), to_bytes("ping"));

  s.exit_code = server.stop(SIGTERM);
  s.stderr_text = server.process().stderr_text();
  return s;
}

bool is_rfc3339_utc_millis(const std::string& t) {
  static const std::regex kTime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  if (!std::regex_match(t, kTime)) {
    return false;
  }
  // UTC: within a minute of now (a local time would be off by the zone's offset, unless the
  // machine runs in UTC, where the format check above still holds).
  std::tm tm{};
  if (::strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) {
    return false;
  }
  const std::time_t when = ::timegm(&tm);
  return std::abs(std::difftime(std::time(nullptr), when)) < 60;
}

// The JSON events of a run, each line parsed (a line that is not JSON fails the test).
std::vector<json> json_events(const std::string& text) {
  std::vector<json> events;
  for (const auto& line : lines_of(text)) {
    json j = json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    if (j.is_discarded()) {
      continue;
    }
    EXPECT_TRUE(j.is_object()) << line;
    EXPECT_TRUE(j.contains("time") && j["time"].is_string() &&
                is_rfc3339_utc_millis(j["time"].get<std::string>()))
        << line;
    EXPECT_TRUE(j.contains("level") && j["level"].is_string()) << line;
    const std::string level = j.value("level", "");
    EXPECT_TRUE(level == "error" || level == "warn" || level == "info" || level == "debug")
        << line;
    EXPECT_TRUE(j.contains("message") && j["message"].is_string() &&
                !j["message"].get<std::string>().empty())
        << line;
    // The object starts with time, level and message, in that order.
    EXPECT_EQ(line.rfind("{\"time\":", 0), 0u) << line;
    events.push_back(std::move(j));
  }
  return events;
}

std::vector<json> with_message(const std::vector<json>& events, const std::string& message) {
  std::vector<json> out;
  for (const auto& e : events) {
    if (e.value("message", "") == message) {
      out.push_back(e);
    }
  }
  return out;
}

TEST(Log, JsonVerboseRunIsAllJsonWithTheConnectionAndGuardEvents) {
  const Scenario s = run_scenario({"--log-format", "json", "-v"});
  EXPECT_EQ(s.exit_code, 0) << s.stderr_text;
  const std::vector<json> events = json_events(s.stderr_text);
  ASSERT_FALSE(events.empty());

  const auto opened = with_message(events, "connection opened");
  ASSERT_EQ(opened.size(), 1u) << s.stderr_text;
  EXPECT_EQ(opened[0]["level"], "debug");
  EXPECT_EQ(opened[0]["listener"], s.tcp_listener);
  EXPECT_EQ(opened[0]["peer"], s.served_peer);

  const auto closed = with_message(events, "connection closed");
  ASSERT_EQ(closed.size(), 1u) << s.stderr_text;
  EXPECT_EQ(closed[0]["level"], "debug");
  EXPECT_EQ(closed[0]["listener"], s.tcp_listener);
  EXPECT_EQ(closed[0]["peer"], s.served_peer);
  EXPECT_EQ(closed[0]["bytes_in"], 5);
  EXPECT_EQ(closed[0]["bytes_out"], 5);
  EXPECT_EQ(closed[0]["reason"], "peer_closed");
  ASSERT_TRUE(closed[0]["duration_ms"].is_number()) << closed[0];
  EXPECT_GE(closed[0]["duration_ms"].get<double>(), 0.0);
  EXPECT_LT(closed[0]["duration_ms"].get<double>(), 60'000.0);

  const auto refused = with_message(events, "connection refused");
  ASSERT_EQ(refused.size(), 1u) << s.stderr_text;
  EXPECT_EQ(refused[0]["level"], "debug");
  EXPECT_EQ(refused[0]["peer"], s.refused_peer);
  EXPECT_EQ(refused[0]["reason"], "tcp_refused_max");

  const auto dropped = with_message(events, "datagram dropped");
  ASSERT_EQ(dropped.size(), 1u) << s.stderr_text;
  EXPECT_EQ(dropped[0]["listener"], s.udp_listener);
  EXPECT_EQ(dropped[0]["peer"], s.udp_peer);
  EXPECT_EQ(dropped[0]["bytes"], 100);
  EXPECT_EQ(dropped[0]["reason"], "udp_truncated");

  // The guard summary counts both; the exit summary has every counter as a number.
  std::uint64_t refused_max = 0;
  std::uint64_t truncated = 0;
  for (const auto& e : with_message(events, "refused or dropped")) {
    EXPECT_EQ(e["level"], "warn");
    refused_max += e.value("tcp_refused_max", std::uint64_t{0});
    truncated += e.value("udp_truncated", std::uint64_t{0});
  }
  EXPECT_EQ(refused_max, 1u) << s.stderr_text;
  EXPECT_EQ(truncated, 1u) << s.stderr_text;
  const auto stopped = with_message(events, "stopped");
  ASSERT_EQ(stopped.size(), 1u) << s.stderr_text;
  EXPECT_EQ(stopped[0]["tcp_accepted"], 1);
  EXPECT_EQ(stopped[0]["tcp_bytes_in"], 5);
  EXPECT_EQ(stopped[0]["udp_out"], 1);
  EXPECT_EQ(with_message(events, "SIGTERM received: closing listeners, draining").size(), 1u)
      << s.stderr_text;
}

TEST(Log, TextCarriesTheSameEventsInTheSameOrder) {
  const Scenario j = run_scenario({"--log-format", "json", "-v"});
  const Scenario t = run_scenario({"-v"});  // text is the default
  EXPECT_EQ(t.exit_code, 0) << t.stderr_text;
  const std::vector<json> events = json_events(j.stderr_text);
  const std::vector<std::string> lines = lines_of(t.stderr_text);
  ASSERT_EQ(lines.size(), events.size()) << "json:\n" << j.stderr_text << "text:\n" << t.stderr_text;
  static const std::regex kLine(R"((\S+) (error|warn|info|debug) netecho: (.*))");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, kLine)) << lines[i];
    EXPECT_TRUE(is_rfc3339_utc_millis(m[1])) << lines[i];
    EXPECT_EQ(m[2], events[i]["level"].get<std::string>()) << lines[i];
    const std::string rest = m[3];
    const std::string message = events[i]["message"];
    EXPECT_EQ(rest.rfind(message, 0), 0u) << lines[i] << "\nvs " << events[i];
    // Then the same fields, as key=value.
    for (const auto& [key, value] : events[i].items()) {
      if (key == "time" || key == "level" || key == "message") {
        continue;
      }
      // Integers (counts, sizes) are the same in both runs; strings and durations may not be
      // (ports, times), so only their keys are compared.
      const std::string expected =
          " " + key + "=" + (value.is_number_integer() ? value.dump() : std::string());
      const auto at = rest.find(expected);
      const bool whole = at != std::string::npos &&
                         (!value.is_number_integer() || at + expected.size() == rest.size() ||
                          rest[at + expected.size()] == ' ');
      EXPECT_TRUE(whole) << expected << " in " << lines[i];
    }
  }
  // The connection events name the run's own peers.
  EXPECT_NE(t.stderr_text.find("netecho: connection closed listener=" + t.tcp_listener +
                               " peer=" + t.served_peer),
            std::string::npos)
      << t.stderr_text;
  EXPECT_NE(t.stderr_text.find("bytes_in=5 bytes_out=5"), std::string::npos) << t.stderr_text;
}

TEST(Log, WarnLevelHidesInfoLines) {
  const Scenario s = run_scenario({"--log-level", "warn"});
  EXPECT_EQ(s.exit_code, 0) << s.stderr_text;
  const auto lines = lines_of(s.stderr_text);
  ASSERT_FALSE(lines.empty()) << "the guard summary is a warning";
  for (const auto& line : lines) {
    EXPECT_NE(line.find(" warn netecho: "), std::string::npos) << line;
  }
  EXPECT_EQ(s.stderr_text.find("netecho: serving"), std::string::npos) << s.stderr_text;
  EXPECT_EQ(s.stderr_text.find("netecho: stopped"), std::string::npos) << s.stderr_text;
  EXPECT_NE(s.stderr_text.find("netecho: refused or dropped"), std::string::npos)
      << s.stderr_text;
}

TEST(Log, InfoLevelIsTheDefaultAndHasNoConnectionEvents) {
  const Scenario s = run_scenario({});
  EXPECT_EQ(s.exit_code, 0) << s.stderr_text;
  EXPECT_NE(s.stderr_text.find(" info netecho: serving threads=1 "), std::string::npos)
      << s.stderr_text;
  EXPECT_EQ(s.stderr_text.find("connection opened"), std::string::npos) << s.stderr_text;
  EXPECT_EQ(s.stderr_text.find(" debug "), std::string::npos) << s.stderr_text;
}

TEST(Log, BadFormatOrLevelIsAOneLineUsageError) {
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--log-format", "xml"}, {"--log-level", "verbose"}}) {
    const auto r = run({netecho_bin(), "serve", "--tcp", "127.0.0.1:0", flag, value});
    EXPECT_EQ(r.exit_code, 2) << r.err;  // as every other usage error
    EXPECT_EQ(line_count(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("netecho: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(flag), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(value), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << "nothing bound";
  }
  // From the environment, the variable is named.
  Process::Options options;
  options.env = {"NETECHO_LOG_FORMAT=xml"};
  Process proc = Process::spawn({netecho_bin(), "serve", "--tcp", "127.0.0.1:0"}, options);
  EXPECT_EQ(proc.wait(scaled(10s)), 2);
  const std::string err = proc.stderr_text();
  EXPECT_EQ(line_count(err), 1u) << err;
  EXPECT_NE(err.find("NETECHO_LOG_FORMAT"), std::string::npos) << err;
}

// stderr is "the journal" when JOURNAL_STREAM names its device and inode (systemd.exec(5)):
// here a file, named so by a shell that sets the variable from the file's own stat.
std::string run_with_journal_stream(bool matching) {
  char path[] = "/tmp/netecho-journal-XXXXXX";
  const int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  ::close(fd);
  const std::string script =
      matching ? R"(JOURNAL_STREAM=$(stat -c %d:%i "$1") exec "$2" serve --tcp 127.0.0.1:0 2>>"$1")"
               : R"(JOURNAL_STREAM=$(stat -c %d:%i /) exec "$2" serve --tcp 127.0.0.1:0 2>>"$1")";
  Server server(Process::spawn({"sh", "-c", script, "sh", path, netecho_bin()}));
  EXPECT_EQ(server.stop(SIGTERM), 0);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  ::unlink(path);
  return text.str();
}

TEST(Log, NoTimestampWhenStderrIsTheJournal) {
  const std::string journal = run_with_journal_stream(true);
  const auto lines = lines_of(journal);
  ASSERT_FALSE(lines.empty());
  for (const auto& line : lines) {
    EXPECT_TRUE(line.starts_with("info netecho: ") || line.starts_with("warn netecho: ")) << line;
  }
  // Another file's numbers: not the journal, so the lines carry their time.
  const std::string other = run_with_journal_stream(false);
  ASSERT_FALSE(other.empty());
  for (const auto& line : lines_of(other)) {
    EXPECT_TRUE(is_rfc3339_utc_millis(line.substr(0, line.find(' ')))) << line;
  }
}

}  // namespace
}  // namespace netecho::test
