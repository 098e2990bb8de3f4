#pragma once
// FastPath: netecho's XDP program (echo.bpf.c) loaded from the skeleton built into the binary,
// attached to one interface, and its per-CPU counters read back.
//
// It lives in io/ (DESIGN.md's place for it): like the backends it is a way for bytes to come
// in and go out, it knows sockets' addresses but nothing of the server's counters or guards;
// server/ hands it plain data (ports, rates) and maps its figures into its own counter table.
//
// The program is attached through a bpf_link, never pinned: the link belongs to this process,
// so the kernel detaches the program when the process ends, however it ends (SIGKILL too), and
// no bpffs is needed. Native mode (in the driver) first; where the driver has no XDP (lo, most
// virtual devices but veth), generic mode, which runs on the kernel's socket buffers and costs
// most of the gain.

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "io/xdp/xdp_abi.h"
#include "net/address.hpp"

namespace netecho::io::xdp {

// Whether this binary has the program (the BPF tools were there when it was built).
bool built_in() noexcept;

inline constexpr std::size_t kMaxListeners = NETECHO_XDP_MAX_LISTENERS;
inline constexpr std::size_t kReverseMax = NETECHO_XDP_REVERSE_MAX;

struct Listener {
  net::SockAddr addr;    // as bound, with the real port; a wildcard matches the host's addresses
  bool reverse = false;  // answer reversed rather than echoed
};

struct Config {
  std::vector<Listener> listeners;  // at most kMaxListeners; counters by position
  std::uint32_t rate = 0;           // replies per second per source (IPv6: /64); 0: no limit
  std::uint32_t burst = 0;          // at once from a quiet source; 0: rate
  std::uint32_t max_payload = 65536;  // larger payloads go to the socket path
  std::bitset<65536> deny_ports;    // source ports never answered (port 0 never is)
  std::vector<std::uint16_t> own_ports;  // the server's UDP ports: the own-address guard
};

// The counters of one listener, summed over CPUs, indexed by netecho_xdp_counter.
using Figures = std::array<std::uint64_t, NETECHO_XDP_COUNTERS>;

enum class AttachMode : std::uint8_t { native, generic };
std::string_view to_string(AttachMode mode) noexcept;

// A program run by BPF_PROG_TEST_RUN: the verdict (XDP_PASS, XDP_TX, ...) and the frame after.
struct TestRun {
  std::uint32_t verdict = 0;
  std::vector<std::uint8_t> frame;
};

class FastPath {
 public:
  // Loads the program with config, without attaching it (for test_run()). The error is one
  // line: why it could not (built without XDP, no privilege, the verifier's refusal).
  static base::Result<std::unique_ptr<FastPath>, std::string> load(const Config& config);
  // Loads it and attaches it to the interface ifname: native mode, else generic.
  static base::Result<std::unique_ptr<FastPath>, std::string> attach(const std::string& ifname,
                                                                     const Config& config);
  ~FastPath();
  FastPath(const FastPath&) = delete;
  FastPath& operator=(const FastPath&) = delete;

  AttachMode mode() const noexcept;
  // Listener i's counters (position in Config::listeners), summed over every CPU. Any thread.
  Figures read(std::size_t listener) const;
  // Runs the loaded program once on frame.
  base::Result<TestRun, std::string> test_run(std::span<const std::uint8_t> frame) const;

 private:
  struct Impl;
  explicit FastPath(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace netecho::io::xdp
