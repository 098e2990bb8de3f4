// The README against the binary, where it quotes its output: every "$ netecho send ..." of the
// send section runs against a real `netecho serve` (the README's ports 12345 and 34254 mapped
// to the ephemeral ports it got) and must print exactly the lines quoted under it; the serve
// section's stdout words and usage-error example must be what serve prints. A doc that drifts
// from the binary fails here, not in a user's terminal.

#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

namespace netecho::test {
namespace {

std::string readme() {
  std::ifstream in(std::string(NETECHO_SOURCE_DIR) + "/README.md");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The text of the README from the heading to the next "## " heading.
std::string section(const std::string& text, const std::string& heading) {
  const auto at = text.find("\n" + heading + "\n");
  if (at == std::string::npos) {
    ADD_FAILURE() << "README.md has no heading " << heading;
    return {};
  }
  const auto end = text.find("\n## ", at + 1);
  return text.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// The "$ command" lines of the first fenced block in text, each with the lines quoted under it.
std::vector<std::pair<std::string, std::string>> quoted_commands(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto open = text.find("\n```\n");
  const auto close = text.find("\n```\n", open + 1);
  std::istringstream block(text.substr(open + 5, close - open - 4));
  std::string line;
  while (std::getline(block, line)) {
    if (line.rfind("$ ", 0) == 0) {
      out.emplace_back(line.substr(2), "");
    } else if (!out.empty()) {
      out.back().second += line + "\n";
    }
  }
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

TEST(Docs, ReadmeSendExamplesPrintWhatTheyQuote) {
  Server server({"--tcp", "127.0.0.1:0", "--udp-reverse", "127.0.0.1:0", "--threads", "1"});
  const std::map<std::string, std::string> ports = {
      {"12345", std::to_string(server.port("tcp"))},
      {"34254", std::to_string(server.port("udp", "reverse"))}};
  const auto commands = quoted_commands(section(readme(), "## `netecho send`"));
  ASSERT_GE(commands.size(), 5u);
  for (const auto& [command, quoted] : commands) {
    SCOPED_TRACE(command);
    std::string line = command;
    std::string expected = quoted;
    for (const auto& [doc_port, real] : ports) {
      line = replace_all(line, doc_port, real);
      expected = replace_all(expected, doc_port, real);
    }
    if (line == "netecho send") {
      line += " 127.0.0.1:" + ports.at("12345");  // the default target, on this server's port
    }
    line = replace_all(line, "netecho ", netecho_bin() + " ");
    const auto r = run({"sh", "-c", line + " 2>&1"});
    EXPECT_EQ(r.out, expected);
  }
}

TEST(Docs, ReadmeNamesEveryStdoutLineOfServe) {
  Server server({"--tcp", "127.0.0.1:0", "--threads", "1"});
  ASSERT_EQ(server.stop(SIGTERM), 0);
  std::set<std::string> words = {"listening", "ready"};  // read by Server before the stop
  while (auto line = server.process().read_line(1s)) {
    words.insert(line->substr(0, line->find(' ')));
  }
  const std::string serve = section(readme(), "## `netecho serve`");
  const auto at = serve.find("The stdout lines are");
  ASSERT_NE(at, std::string::npos);
  const std::string claim = serve.substr(at, serve.find("Logs go to", at) - at);
  for (const auto& w : words) {
    EXPECT_NE(claim.find("`" + w), std::string::npos) << "serve prints '" << w << "' lines";
  }
}

TEST(Docs, ReadmeUsageErrorIsTheBinarysLine) {
  const std::string serve = section(readme(), "## `netecho serve`");
  const std::regex example(R"(\$ netecho serve --tcp 127\.0\.0\.1:70000\n([^\n]*)\n)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(serve, m, example));
  const auto r = run({netecho_bin(), "serve", "--tcp", "127.0.0.1:70000"});
  EXPECT_EQ(r.err, m[1].str() + "\n");
}

// --help text with its wrapping undone: each line's leading spaces and the newline before it
// become one space, so a phrase reads whole wherever the formatter broke it.
std::string unwrap_help(const std::string& text) {
  static const std::regex kBreak("\\s*\n\\s*");
  return std::regex_replace(text, kBreak, " ");
}

// --help for a person at an 80-column terminal: no line longer, and none of CLI11's notation
// ("N:UINT in [0 - 1099511627776]", "TEXT=5s", "Excludes: -6", ":{echo,reverse}").
TEST(Help, FitsEightyColumnsWithoutParserNoise) {
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{}, {"serve"}, {"send"}, {"ping"}, {"bench"}}) {
    std::vector<std::string> argv{"env", "COLUMNS=80", netecho_bin()};
    argv.insert(argv.end(), command.begin(), command.end());
    argv.push_back("--help");
    const auto r = run(argv);
    SCOPED_TRACE(command.empty() ? "netecho" : command[0]);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    static const std::regex kParserType(R"(^  -\S*( \S+)* (TEXT|UINT|INT|FLOAT)\b)");
    while (std::getline(lines, line)) {
      EXPECT_LE(line.size(), 80u) << line;
      EXPECT_FALSE(std::regex_search(line, kParserType)) << "a parser's type name: " << line;
    }
    for (const char* noise : {"=5s", " in [", ":{", "Excludes:", "REQUIRED", "Env:"}) {
      EXPECT_EQ(r.out.find(noise), std::string::npos) << noise << " in:\n" << r.out;
    }
  }
}

// The two conventions kept apart on purpose (docs/CLI.md): -c counts probes in ping and
// connections in bench, and an unknown host exits 2 in ping and 1 in send and bench. Each
// --help says so where a user looks: at -c, and in the notes at the end.
TEST(Help, PingAndBenchSayWhatTheirDashCAndUnknownHostExitMean) {
  const auto help = [](const char* command) {
    return unwrap_help(run({"env", "COLUMNS=80", netecho_bin(), command, "--help"}).out);
  };
  const std::string ping = help("ping");
  EXPECT_NE(ping.find("stop after COUNT probes (ping(8)'s -c; in bench, -c is connections)"),
            std::string::npos)
      << ping;
  EXPECT_NE(ping.find("an unknown host exits 2 (send and bench exit 1)"), std::string::npos)
      << ping;
  const std::string bench = help("bench");
  EXPECT_NE(bench.find("(-c as in wrk; in ping, -c is the probe count)"), std::string::npos)
      << bench;
  EXPECT_NE(bench.find("ping also exits 2 for an unknown host, where bench exits 1"),
            std::string::npos)
      << bench;
  EXPECT_NE(help("send").find("or the host is unknown"), std::string::npos);
}

}  // namespace
}  // namespace netecho::test
