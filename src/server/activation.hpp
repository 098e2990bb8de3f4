#pragma once
// Socket activation: listening sockets handed over by a supervisor (systemd's LISTEN_FDS
// protocol, sd_listen_fds(3)). The supervisor binds them (as root, on port 7 if it likes) and
// keeps them across restarts of the server, with the connections queued meanwhile; netecho
// serves them instead of binding its own.
//
//   LISTEN_PID      the process the sockets are for; any other process ignores them
//   LISTEN_FDS      how many: descriptors 3 to 3 + LISTEN_FDS - 1
//   LISTEN_FDNAMES  optional, colon-separated names (FileDescriptorName=), one per descriptor
//
// A stream socket serves TCP echo, a datagram socket UDP echo; the name `echo`, `reverse`
// (datagram only) or `once` (stream only) chooses the mode, and any other name (systemd's
// default is the socket unit's name) leaves the default: echo, or `--once` for stream sockets.
// The three variables are removed from the environment once read, whoever they were for.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.hpp"
#include "net/fd.hpp"
#include "server/start_error.hpp"
#include "service/datagram.hpp"
#include "service/stream.hpp"

namespace netecho::server {

inline constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START

// What the three variables say, checked but not yet looked at as descriptors.
struct ListenEnv {
  int count = 0;                    // 0: nothing passed to this process
  std::vector<std::string> names;   // one per descriptor ("" when none was given)
};

// Reads the variables as given (nullopt: unset). pid is this process's. Returns a message
// naming the bad variable when one is malformed. Pure, for tests.
net::Parsed<ListenEnv> parse_listen_env(int pid, std::optional<std::string_view> listen_pid,
                                        std::optional<std::string_view> listen_fds,
                                        std::optional<std::string_view> listen_fdnames);

struct PassedSocket {
  net::Fd fd;  // non-blocking and close-on-exec from here on
  int number = 0;  // the descriptor as passed, for messages
  std::string name;
  net::Transport transport = net::Transport::tcp;
  net::SockAddr addr;  // what it is bound to
  service::StreamMode stream_mode = service::StreamMode::echo;        // stream sockets
  service::DatagramMode datagram_mode = service::DatagramMode::echo;  // datagram sockets
};

// Takes the sockets passed to this process, if any, checking each: an IPv4 or IPv6 socket,
// TCP and listening, or UDP and bound. Unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES.
// stream_default is the mode of stream sockets whose name chooses none. Throws
// StartError naming the descriptor (its number and name) and what is wrong with it.
std::vector<PassedSocket> take_passed_sockets(service::StreamMode stream_default);

}  // namespace netecho::server
