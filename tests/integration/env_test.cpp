// serve's options from the environment (NETECHO_<OPTION>, src/cli/env.hpp): the real binary,
// started with variables set, against what it binds and what it says.

#include <cctype>
#include <regex>
#include <utility>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness.hpp"

namespace netecho::test {
namespace {

struct Outcome {
  int exit_code;
  std::string err;
};

// `netecho serve ARGS` with `env` set, expected to exit at once (bad usage).
Outcome serve_fails(const std::vector<std::string>& env, std::vector<std::string> args = {}) {
  args.insert(args.begin(), {netecho_bin(), "serve"});
  Process::Options options;
  options.env = env;
  Process proc = Process::spawn(args, options);
  const int code = proc.wait(10s);
  return {code, proc.stderr_text()};
}

TEST(Env, ListenersComeFromTheEnvironmentAsCommaSeparatedLists) {
  Process::Options options;
  options.env = {"NETECHO_TCP=127.0.0.1:0,127.0.0.1:0", "NETECHO_UDP_REVERSE=127.0.0.1:0",
                 "NETECHO_THREADS=1"};
  Server server({}, options);
  std::vector<std::string> seen;
  for (const auto& l : server.listeners()) {
    seen.push_back(l.proto + "/" + l.mode);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"tcp/echo", "tcp/echo", "udp/reverse"}));
  EXPECT_NE(server.ready_line().find("threads=1"), std::string::npos) << server.ready_line();
  EXPECT_EQ(server.stop(), 0);
}

TEST(Env, AFlagOnTheCommandLineWinsOverItsVariable) {
  Process::Options options;
  // Both variables are bad: the flags replace them, so they are never read.
  options.env = {"NETECHO_TCP=127.0.0.1:70000", "NETECHO_THREADS=0"};
  Server server({"--tcp", "127.0.0.1:0", "--threads", "2"}, options);
  ASSERT_EQ(server.listeners().size(), 1u);
  EXPECT_NE(server.ready_line().find("threads=2"), std::string::npos) << server.ready_line();
  EXPECT_EQ(server.stop(), 0);
}

TEST(Env, FlagsTakeTrueOrFalse) {
  Process::Options options;
  options.env = {"NETECHO_ONCE=true", "NETECHO_TCP=127.0.0.1:0"};
  Server server({}, options);
  ASSERT_EQ(server.listeners().size(), 1u);
  EXPECT_EQ(server.listeners()[0].mode, "once");
  EXPECT_EQ(server.stop(), 0);
}

TEST(Env, AnEmptyVariableCountsAsUnset) {
  Process::Options options;
  options.env = {"NETECHO_THREADS=", "NETECHO_TCP=127.0.0.1:0"};
  Server server({}, options);
  EXPECT_EQ(server.stop(), 0);
}

// Bad values get the same one-line usage errors as flags, naming the variable, not the flag.
TEST(Env, BadValuesAreOneLineUsageErrorsNamingTheVariable) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"NETECHO_THREADS", "0"},          // CLI11's range check
      {"NETECHO_THREADS", "many"},       // CLI11's conversion
      {"NETECHO_BACKEND", "turbo"},      // CLI11's set membership
      {"NETECHO_ONCE", "maybe"},         // a flag's value
      {"NETECHO_TCP", "127.0.0.1:70000"},  // netecho's address parser
      {"NETECHO_UDP", "127.0.0.1:7,[::1"},  // the second item of a list
      {"NETECHO_DRAIN_TIMEOUT", "soon"},    // netecho's duration parser
      {"NETECHO_UDP_RATE", "fast"},         // netecho's rate parser
  };
  for (const auto& [name, value] : cases) {
    SCOPED_TRACE(name + "=" + value);
    const Outcome out = serve_fails({name + "=" + value});
    EXPECT_EQ(out.exit_code, 2) << out.err;
    EXPECT_EQ(line_count(out.err), 1u) << out.err;
    EXPECT_EQ(out.err.rfind("netecho: ", 0), 0u) << out.err;
    EXPECT_NE(out.err.find(name), std::string::npos) << out.err;
    std::string flag = "--" + name.substr(std::string("NETECHO_").size());
    for (char& c : flag) {
      c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    EXPECT_EQ(out.err.find(flag), std::string::npos) << "names the flag: " << out.err;
  }
}

TEST(Env, TheSameBadValueAsAFlagNamesTheFlag) {
  const Outcome out = serve_fails({}, {"--drain-timeout", "soon"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err.rfind("netecho: --drain-timeout:", 0), 0u) << out.err;
}

// Every option --help shows has its variable, NETECHO_ and the long name in capitals, and the
// help says how the environment works.
TEST(Env, HelpShowsTheVariableOfEveryOption) {
  const RunResult help = run({netecho_bin(), "serve", "--help"});
  ASSERT_EQ(help.exit_code, 0);
  const std::regex option(R"(^  (?:-\w,)?--([a-z][a-z0-9-]*)(.*)$)");
  int options = 0;
  std::size_t start = 0;
  while (start < help.out.size()) {
    std::size_t end = help.out.find('\n', start);
    if (end == std::string::npos) {
      end = help.out.size();
    }
    const std::string line = help.out.substr(start, end - start);
    start = end + 1;
    std::smatch m;
    if (!std::regex_match(line, m, option) || m[1] == "help") {
      continue;
    }
    ++options;
    std::string variable = "NETECHO_" + m[1].str();
    for (char& c : variable) {
      c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    EXPECT_NE(line.find("(env " + variable + ")"), std::string::npos) << line;
  }
  EXPECT_GE(options, 15) << help.out;
  EXPECT_NE(help.out.find("Environment:"), std::string::npos);
  EXPECT_NE(help.out.find("comma-separated"), std::string::npos);
}

}  // namespace
}  // namespace netecho::test
