#include "cli/send_cmd.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "cli/errors.hpp"
#include "client/send/send.hpp"
#include "net/error.hpp"
#include "service/datagram.hpp"

namespace netecho::cli {
namespace {

client::Bytes decode_or_throw(base::Parsed<client::Bytes> parsed, std::string_view flag) {
  if (!parsed) {
    throw cli::ConfigError(fmt::format("{}: {}", flag, parsed.error()), cli::kExitUsage);
  }
  return std::move(parsed).value();
}

client::Bytes read_stdin() {
  client::Bytes data;
  std::byte buf[65536];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw cli::ConfigError(fmt::format("--stdin: cannot read standard input: {}",
                                         std::strerror(errno)),
                             cli::kExitFailure);
    }
    if (n == 0) {
      return data;
    }
    data.insert(data.end(), buf, buf + n);
  }
}

}  // namespace

CLI::App* register_send(CLI::App& app, SendArgs& args) {
  auto* cmd = app.add_subcommand("send", "Send one payload to an echo server and check the reply");
  cmd->footer(
      "With no options: connect to 127.0.0.1:12345, send the bytes 0,1,2,3 and print\n"
      "'Received [0, 1, 2, 3]', as the original client did.\n"
      "TCP reads exactly as many bytes as were sent; UDP sends one datagram and reads one.\n"
      "Exit 0 when the whole expected reply arrived; 1 when refused, timed out, short or\n"
      "different (the message says which, and at which byte) or the host is unknown; 2 for\n"
      "bad usage.");
  add_target_option(*cmd, args.target,
                    "where to send: tcp://HOST:PORT, udp://HOST:PORT or HOST:PORT (TCP)")
      ->capture_default_str();
  add_family_flags(*cmd, args.family);
  auto* bytes = cmd->add_option("--bytes", args.bytes, "payload as byte values: 0,1,2,3 or 0x00,0xff")
                    ->type_name("LIST");
  auto* text = cmd->add_option("--text", args.text, "payload as text")->type_name("STR");
  auto* hex = cmd->add_option("--hex", args.hex, "payload as hex digits: 00ff10")->type_name("HEX");
  auto* in = cmd->add_flag("--stdin", args.from_stdin, "payload read from standard input");
  bytes->excludes(text, hex, in);
  text->excludes(hex, in);
  hex->excludes(in);
  cmd->add_option("--timeout", args.timeout,
                  "give up when the whole reply has not come back within this time")
      ->type_name("DURATION")
      ->capture_default_str();
  auto* output = cmd->add_option("--output", args.output,
                                 "how to print the reply: a list of byte values, hex digits, or "
                                 "raw: the bytes exactly, with no newline added")
                     ->type_name("list|hex|raw")
                     ->check(CLI::IsMember({"list", "hex", "raw"}))
                     ->capture_default_str();
  cmd->add_option("--expect", args.expect,
                  "what the reply must be: echo, reverse or any (default: echo for TCP, any "
                  "for UDP)")
      ->type_name("echo|reverse|any")
      ->check(CLI::IsMember({"echo", "reverse", "any"}));
  add_backend_option(*cmd, args.backend);
  cmd->add_flag("--json", args.json,
                "print the result as one JSON document instead of the reply (docs/CLI.md)")
      ->excludes(output);
  return cmd;
}

int run_send(const SendArgs& args) {
  client::SendOptions o;
  o.target = parse_target_or_throw(args.target, "target");
  if (args.bytes) {
    o.payload = decode_or_throw(client::parse_byte_list(*args.bytes), "--bytes");
  } else if (args.text) {
    o.payload = client::from_text(*args.text);
  } else if (args.hex) {
    o.payload = decode_or_throw(client::parse_hex(*args.hex), "--hex");
  } else if (args.from_stdin) {
    o.payload = read_stdin();
  }
  o.timeout = parse_duration_or_throw(args.timeout, "--timeout");
  if (o.timeout.count() == 0) {
    throw cli::ConfigError("--timeout: must be longer than 0", cli::kExitUsage);
  }
  if (o.target.transport == net::Transport::udp && o.payload.size() > service::kMaxDatagram) {
    throw cli::ConfigError(
        fmt::format("payload of {} bytes does not fit in one UDP datagram (at most {})",
                    o.payload.size(), service::kMaxDatagram),
        cli::kExitUsage);
  }
  o.addresses = resolve_target_or_throw(o.target, args.family.family(), cli::kExitFailure);
  o.backend = choose_backend_or_throw(args.backend);
  o.output = args.output == "hex"   ? client::OutputFormat::hex
             : args.output == "raw" ? client::OutputFormat::raw
                                    : client::OutputFormat::list;
  o.json = args.json;
  if (args.expect == "echo") {
    o.expect = client::Expect::echo;
  } else if (args.expect == "reverse") {
    o.expect = client::Expect::reverse;
  } else if (args.expect == "any") {
    o.expect = client::Expect::any;
  }
  return exit_code(client::run_send(o, stdout, stderr));
}

}  // namespace netecho::cli
