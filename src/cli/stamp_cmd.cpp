#include "cli/stamp_cmd.hpp"

#include <fmt/format.h>

#include <limits>

#include "cli/common.hpp"
#include "cli/errors.hpp"
#include "client/stamp/stamp.hpp"
#include "service/datagram.hpp"
#include "stamp/hmac.hpp"

namespace netecho::cli {
namespace {

constexpr std::size_t kMaxSize = service::kMaxDatagram;

[[noreturn]] void usage(std::string message) {
  throw cli::ConfigError(std::move(message), cli::kExitUsage);
}

// "HOST:PORT", "[V6]:PORT", or a host alone ("HOST", "[V6]"), which gets STAMP's port 862.
net::Endpoint parse_stamp_target(const std::string& text) {
  const bool bracketed = !text.empty() && text.back() == ']';
  const bool has_port = !bracketed && text.find(':') != std::string::npos;
  const std::string with_port =
      has_port ? text : fmt::format("{}:{}", text, stamp::kPort);
  auto endpoint = net::parse_endpoint(with_port);
  if (!endpoint) {
    usage(fmt::format("target: '{}' is not HOST[:PORT] ({})", text, endpoint.error()));
  }
  return std::move(endpoint).value();
}

}  // namespace

CLI::App* register_stamp(CLI::App& app, StampArgs& args) {
  auto* cmd = app.add_subcommand(
      "stamp", "Measure delay and loss to a STAMP reflector (RFC 8762), in ping's shape");
  cmd->footer(
      "Each packet carries its send time T1; the reflector's reply brings its receive and send\n"
      "times T2 and T3, and T4 is when the reply arrived. time= is the round trip without the\n"
      "reflector's own delay, (T4-T1)-(T3-T2); reflector= is T3-T2; far= (T2-T1) and near=\n"
      "(T4-T3) only when both clocks say they are synchronized. Against a stateful reflector\n"
      "the loss is split by direction. Packet k is sent at start + k * INTERVAL; Ctrl-C ends\n"
      "the run and prints the summary. Exit 0 when a reply arrived, 1 when none did (a reply\n"
      "with a wrong HMAC, malformed or of another session is counted, not used), 2 on bad\n"
      "usage or an unknown host: ping(8)'s codes. See docs/STAMP.md.");
  cmd->add_option("target", args.target, "the reflector: HOST[:PORT], port 862 by default")
      ->type_name("HOST[:PORT]")
      ->required();
  cmd->add_option("-c,--count", args.count, "stop after COUNT packets")
      ->type_name("COUNT")
      ->check(whole_range(1, std::numeric_limits<std::uint32_t>::max(), "packets"));
  cmd->add_option("-i,--interval", args.interval, "time between packets")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_option("-s,--size", args.size,
                  fmt::format("bytes per packet, both ways (RFC 8762 symmetric size): the base "
                              "packet (44, authenticated 112) and padding, to {}; default: the "
                              "base alone",
                              kMaxSize))
      ->type_name("SIZE");
  cmd->add_option("-W,--timeout", args.timeout, "how long to wait for each reply")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_option("--ssid", args.ssid,
                  "RFC 8972's session-sender identifier; its padding is then an Extra Padding "
                  "TLV, else plain zeros")
      ->type_name("SSID");
  cmd->add_option("--auth-key", args.auth_key,
                  "the authenticated format (112-byte base, HMAC-SHA-256/128) with the key in "
                  "this file (its bytes, but a trailing newline)")
      ->type_name("FILE");
  cmd->add_option("--timestamp", args.timestamp,
                  "T1's format: NTP (RFC 5905) or PTPv2 truncated (RFC 8186)")
      ->type_name("ntp|ptp")
      ->check(CLI::IsMember({"ntp", "ptp"}))
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", args.quiet, "print only the first line and the summary");
  add_family_flags(*cmd, args.family);
  auto* json = cmd->add_flag("--json", args.json, "print one JSON document at the end");
  auto* lines = cmd->add_flag("--json-lines", args.json_lines,
                              "print one JSON object per packet, then the summary");
  json->excludes(lines);
  add_backend_option(*cmd, args.backend);
  return cmd;
}

int run_stamp(const StampArgs& args) {
  client::StampOptions o;
  o.endpoint = parse_stamp_target(args.target);
  o.count = args.count;
  o.interval = parse_interval_or_throw(args.interval);
  o.timeout = parse_probe_timeout_or_throw(args.timeout);
  o.ssid = args.ssid;
  if (args.auth_key) {
    auto key = stamp::read_key_file(*args.auth_key);
    if (!key) {
      usage(fmt::format("--auth-key: {}", key.error()));
    }
    o.key = std::move(key).value();
  }
  o.format = args.timestamp == "ptp" ? stamp::TimestampFormat::ptp : stamp::TimestampFormat::ntp;
  if (args.size) {
    const std::size_t base = stamp::base_size(client::auth_of(o));
    const std::size_t size = parse_size_or_throw(*args.size, "-s/--size");
    if (size < base || size > kMaxSize) {
      usage(fmt::format("-s/--size: {} is out of range: {} packets take {} to {} bytes",
                        *args.size, o.key ? "authenticated" : "unauthenticated", base, kMaxSize));
    }
    // An Extra Padding TLV needs its 4-byte header; authenticated, the HMAC TLV its 20 bytes.
    if (o.ssid && !client::tlv_padding_fits(client::auth_of(o), size - base)) {
      usage(o.key ? fmt::format("-s/--size: {} leaves no room for the HMAC TLV and an Extra "
                                "Padding TLV (--ssid, --auth-key): {}, {} or at least {} bytes",
                                *args.size, base, base + client::kHmacTlvSize,
                                base + client::kHmacTlvSize + stamp::kTlvHeader)
                  : fmt::format("-s/--size: {} leaves no room for an Extra Padding TLV "
                                "(--ssid): {} bytes, or at least {}",
                                *args.size, base, base + stamp::kTlvHeader));
    }
    o.size = size;
  }
  o.quiet = args.quiet;
  // ping's convention: an unknown host is an "other error", exit 2.
  o.peer = resolve_target_or_throw({net::Transport::udp, o.endpoint}, args.family.family(),
                                   cli::kExitUsage)
               .front();
  o.output = args.json         ? client::StampOutput::json
             : args.json_lines ? client::StampOutput::json_lines
                               : client::StampOutput::text;
  o.backend = choose_backend_or_throw(args.backend);

  const auto stop = open_stop_signals_or_throw();
  o.stop_fd = stop.fd();
  return exit_code(client::run_stamp(o, stdout, stderr));
}

}  // namespace netecho::cli
