#include "io/xdp/fast_path.hpp"

#include <fmt/format.h>

#if NETECHO_HAVE_XDP
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "net/interfaces.hpp"
#include "netecho_echo.skel.h"
#endif

namespace netecho::io::xdp {

std::string_view to_string(AttachMode mode) noexcept {
  return mode == AttachMode::native ? "native" : "generic";
}

FastPath::FastPath(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

#if NETECHO_HAVE_XDP

bool built_in() noexcept { return true; }

namespace {

// libbpf would write its diagnostics (and the verifier's whole log) to stderr; netecho's log
// is one line per event, and the errors below say what failed.
int quiet(enum libbpf_print_level, const char*, va_list) { return 0; }

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

// The address in 16 bytes, IPv4 as ::ffff:a.b.c.d.
std::array<std::uint8_t, 16> address_bytes(const sockaddr* sa) noexcept {
  std::array<std::uint8_t, 16> out{};
  if (sa->sa_family == AF_INET) {
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  } else {
    std::memcpy(out.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
  }
  return out;
}

void fill_ports(volatile __u64* words, const std::bitset<65536>& ports) {
  for (std::size_t w = 0; w < 1024; ++w) {
    std::uint64_t bits = 0;
    for (std::size_t b = 0; b < 64; ++b) {
      bits |= std::uint64_t{ports.test(w * 64 + b)} << b;
    }
    words[w] = bits;
  }
}

}  // namespace

struct FastPath::Impl {
  netecho_echo* skel = nullptr;
  int link = -1;  // the bpf_link: closing it detaches the program
  AttachMode mode = AttachMode::native;
  int cpus = 1;

  ~Impl() {
    if (link >= 0) {
      ::close(link);
    }
    netecho_echo__destroy(skel);
  }
};

base::Result<std::unique_ptr<FastPath>, std::string> FastPath::load(const Config& config) {
  if (config.listeners.size() > kMaxListeners) {
    return fmt::format("{} UDP listeners; the XDP program serves at most {}",
                       config.listeners.size(), kMaxListeners);
  }
  static std::once_flag silenced;
  std::call_once(silenced, [] { libbpf_set_print(quiet); });
  auto impl = std::make_unique<Impl>();
  impl->skel = netecho_echo__open();
  if (impl->skel == nullptr) {
    return fmt::format("opening the XDP program: {}", errno_text(errno));
  }
  auto& c = impl->skel->rodata->config;
  const std::uint64_t interval = config.rate == 0 ? 0 : 1'000'000'000ULL / config.rate;
  const std::uint64_t burst = config.burst != 0 ? config.burst : std::max(config.rate, 1U);
  c.interval_ns = interval;
  c.tolerance_ns = interval * (burst - 1);
  c.max_payload = config.max_payload;
  fill_ports(c.deny_ports, config.deny_ports);
  std::bitset<65536> own;
  for (const auto port : config.own_ports) {
    own.set(port);
  }
  fill_ports(c.own_ports, own);
  if (const int err = netecho_echo__load(impl->skel); err != 0) {
    const bool denied = err == -EPERM || err == -EACCES;
    return fmt::format("loading the XDP program: {}{}", errno_text(err),
                       denied ? " (needs root, or CAP_BPF and CAP_NET_ADMIN)" : "");
  }
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const net::SockAddr& addr = config.listeners[i].addr;
    netecho_xdp_listener_key key{};
    netecho_xdp_listener value{};
    if (!addr.is_wildcard()) {
      const auto bytes = address_bytes(addr.get());
      std::memcpy(key.addr, bytes.data(), bytes.size());
    }
    key.port = addr.port();
    key.family = addr.family() == AF_INET ? 4 : 6;
    value.index = static_cast<__u32>(i);
    value.mode = config.listeners[i].reverse ? NETECHO_XDP_REVERSE : NETECHO_XDP_ECHO;
    value.wildcard = addr.is_wildcard() ? 1 : 0;
    if (const int err = bpf_map__update_elem(impl->skel->maps.listeners, &key, sizeof key,
                                             &value, sizeof value, BPF_ANY);
        err != 0) {
      return fmt::format("XDP listener {}: {}", addr.to_string(), errno_text(err));
    }
  }
  // Every address of the host, whatever the interface: a datagram for any of them may arrive
  // on this one.
  for (const auto& addr : net::host_addresses()) {
    const auto bytes = address_bytes(addr.get());
    const std::uint8_t one = 1;
    // A full map only leaves more to the socket path (a wildcard's datagrams pass).
    (void)bpf_map__update_elem(impl->skel->maps.host_addrs, bytes.data(), bytes.size(), &one,
                               sizeof one, BPF_ANY);
  }
  impl->cpus = std::max(libbpf_num_possible_cpus(), 1);
  return std::unique_ptr<FastPath>(new FastPath(std::move(impl)));
}

base::Result<std::unique_ptr<FastPath>, std::string> FastPath::attach(const std::string& ifname,
                                                                      const Config& config) {
  const unsigned ifindex = ::if_nametoindex(ifname.c_str());
  if (ifindex == 0) {
    return fmt::format("no network interface '{}'", ifname);
  }
  auto loaded = load(config);
  if (!loaded) {
    return loaded.error();
  }
  Impl& impl = *loaded.value()->impl_;
  const int prog = bpf_program__fd(impl.skel->progs.netecho_echo);
  bpf_link_create_opts opts{};
  opts.sz = sizeof opts;
  opts.flags = XDP_FLAGS_DRV_MODE;
  impl.link = bpf_link_create(prog, static_cast<int>(ifindex), BPF_XDP, &opts);
  if (impl.link >= 0) {
    impl.mode = AttachMode::native;
    return std::move(loaded.value());
  }
  const int native_err = errno;
  opts.flags = XDP_FLAGS_SKB_MODE;
  impl.link = bpf_link_create(prog, static_cast<int>(ifindex), BPF_XDP, &opts);
  if (impl.link < 0) {
    const int generic_err = errno;
    return fmt::format("attaching the XDP program to {}: native mode: {}; generic mode: {}{}",
                       ifname, errno_text(native_err), errno_text(generic_err),
                       generic_err == EBUSY || generic_err == EEXIST
                           ? " (another XDP program holds the interface)"
                           : "");
  }
  impl.mode = AttachMode::generic;
  return std::move(loaded.value());
}

Figures FastPath::read(std::size_t listener) const {
  Figures figures{};
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(impl_->cpus));
  for (std::uint32_t c = 0; c < NETECHO_XDP_COUNTERS; ++c) {
    const auto key = static_cast<std::uint32_t>(listener * NETECHO_XDP_COUNTERS + c);
    if (bpf_map__lookup_elem(impl_->skel->maps.counters, &key, sizeof key, per_cpu.data(),
                             per_cpu.size() * sizeof(std::uint64_t), 0) != 0) {
      continue;
    }
    for (const auto v : per_cpu) {
      figures[c] += v;
    }
  }
  return figures;
}

base::Result<TestRun, std::string> FastPath::test_run(std::span<const std::uint8_t> frame) const {
  TestRun run;
  run.frame.resize(frame.size() + 256);
  bpf_test_run_opts opts{};
  opts.sz = sizeof opts;
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<__u32>(frame.size());
  opts.data_out = run.frame.data();
  opts.data_size_out = static_cast<__u32>(run.frame.size());
  opts.repeat = 1;
  if (bpf_prog_test_run_opts(bpf_program__fd(impl_->skel->progs.netecho_echo), &opts) != 0) {
    return fmt::format("BPF_PROG_TEST_RUN: {}", errno_text(errno));
  }
  run.verdict = opts.retval;
  run.frame.resize(opts.data_size_out);
  return run;
}

#else  // built without the BPF tools: every way in says so

bool built_in() noexcept { return false; }

struct FastPath::Impl {};

namespace {
constexpr std::string_view kNotBuilt =
    "this netecho was built without XDP (NETECHO_XDP=OFF, or clang's BPF target, bpftool or "
    "libbpf missing)";
}

base::Result<std::unique_ptr<FastPath>, std::string> FastPath::load(const Config&) {
  return std::string(kNotBuilt);
}

base::Result<std::unique_ptr<FastPath>, std::string> FastPath::attach(const std::string&,
                                                                      const Config&) {
  return std::string(kNotBuilt);
}

Figures FastPath::read(std::size_t) const { return {}; }

base::Result<TestRun, std::string> FastPath::test_run(std::span<const std::uint8_t>) const {
  return std::string(kNotBuilt);
}

#endif

FastPath::~FastPath() = default;

AttachMode FastPath::mode() const noexcept {
#if NETECHO_HAVE_XDP
  return impl_->mode;
#else
  return AttachMode::native;
#endif
}

}  // namespace netecho::io::xdp
