#pragma once
// `netecho send`: one payload out, the reply in, checked and printed.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>

#include "client/outcome.hpp"
#include "client/send/payload.hpp"
#include "io/probe.hpp"
#include "net/address.hpp"

namespace netecho::client {

enum class Expect : std::uint8_t { echo, reverse, any };
enum class OutputFormat : std::uint8_t { list, hex, raw };

struct SendOptions {
  net::Target target{net::Transport::tcp, {"127.0.0.1", 12345}};
  std::vector<net::SockAddr> addresses;  // the target, resolved (by the caller), tried in order
  Bytes payload{std::byte{0}, std::byte{1}, std::byte{2}, std::byte{3}};
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);
  OutputFormat output = OutputFormat::list;
  std::optional<Expect> expect;  // unset: echo for TCP, any for UDP
  io::BackendChoice backend;  // chosen by the command layer
  bool json = false;          // the result as one JSON document on out, instead of the reply
};

// Runs the exchange. Prints the reply (or, with json, the result as a JSON document: schema in
// docs/CLI.md) to out and a failure (one line) to err. ok when the full expected reply arrived,
// failed otherwise.
Outcome run_send(const SendOptions& options, std::FILE* out, std::FILE* err);

}  // namespace netecho::client
