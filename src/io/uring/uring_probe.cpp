#include "io/uring/uring_probe.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "io/uring/uring_backend.hpp"

namespace netecho::io {
namespace {

// A ring (and its buffer ring) torn down on every path out of the probe, in the reverse order of
// declaration: the ring first, which cancels the requests, then the buffer memory.
struct ScopedRing {
  std::optional<BufRing> bufs;
  std::optional<Ring> ring;
};

std::string errno_text(int err) { return std::strerror(err); }

// Waits at most one second for one completion, so a misbehaving kernel cannot hang start-up.
int wait_one(io_uring& ring, io_uring_cqe& out) {
  __kernel_timespec ts{};
  ts.tv_sec = 1;
  io_uring_cqe* cqe = nullptr;
  const int rc = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, nullptr);
  if (cqe == nullptr) {
    return rc < 0 ? rc : -ETIME;
  }
  out = *cqe;
  io_uring_cqe_seen(&ring, cqe);
  return 0;
}

// A listening AF_UNIX socket on an abstract, kernel-chosen name, a client connected to it and
// the accepted end: what the multishot tries need, without touching the network.
struct UnixTrio {
  net::Fd listener;
  net::Fd client;
  sockaddr_un addr{};
  socklen_t addr_len = 0;
};

std::string open_listener(UnixTrio& t) {
  t.listener.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!t.listener) {
    return "socket(AF_UNIX): " + errno_text(errno);
  }
  sockaddr_un bind_addr{};
  bind_addr.sun_family = AF_UNIX;
  // Binding only the family asks for an autobound abstract name.
  if (::bind(t.listener.get(), reinterpret_cast<const sockaddr*>(&bind_addr),
             sizeof(sa_family_t)) != 0 ||
      ::listen(t.listener.get(), 4) != 0) {
    return "AF_UNIX listener: " + errno_text(errno);
  }
  t.addr_len = sizeof(t.addr);
  if (::getsockname(t.listener.get(), reinterpret_cast<sockaddr*>(&t.addr), &t.addr_len) != 0) {
    return "getsockname: " + errno_text(errno);
  }
  return {};
}

// Arms a multishot accept, connects, and expects the accepted socket with IORING_CQE_F_MORE.
std::string try_multishot_accept(io_uring& ring, UnixTrio& t, net::Fd& accepted) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_multishot_accept(sqe, t.listener.get(), nullptr, nullptr,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, 1);
  io_uring_submit(&ring);
  t.client.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!t.client ||
      ::connect(t.client.get(), reinterpret_cast<const sockaddr*>(&t.addr), t.addr_len) != 0) {
    return "AF_UNIX connect: " + errno_text(errno);
  }
  io_uring_cqe cqe{};
  if (const int rc = wait_one(ring, cqe); rc < 0) {
    return "multishot accept: no completion: " + errno_text(-rc);
  }
  if (cqe.res < 0) {
    return "multishot accept refused: " + errno_text(-cqe.res) + " (needs Linux 5.19)";
  }
  accepted.reset(cqe.res);
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) {
    return "multishot accept ended after one connection";
  }
  return {};
}

// Arms a multishot recv with a provided buffer on the accepted socket, writes one byte, and
// expects it in a buffer, with IORING_CQE_F_MORE.
std::string try_multishot_recv(ScopedRing& r, UnixTrio& t, const net::Fd& accepted) {
  io_uring& ring = *r.ring->get();
  auto created = BufRing::create(*r.ring, 0, 8, 4096);
  if (!created) {
    return "provided-buffer ring refused: " + created.error().message() + " (needs Linux 5.19)";
  }
  BufRing& bufs = r.bufs.emplace(std::move(created).value());
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_recv_multishot(sqe, accepted.get(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = 0;
  io_uring_sqe_set_data64(sqe, 2);
  io_uring_submit(&ring);
  const char byte = 'x';
  if (::send(t.client.get(), &byte, 1, MSG_NOSIGNAL) != 1) {
    return "AF_UNIX send: " + errno_text(errno);
  }
  io_uring_cqe cqe{};
  if (const int rc = wait_one(ring, cqe); rc < 0) {
    return "multishot recv: no completion: " + errno_text(-rc);
  }
  if (cqe.res != 1 || (cqe.flags & IORING_CQE_F_BUFFER) == 0) {
    return cqe.res < 0 ? "multishot recv refused: " + errno_text(-cqe.res) + " (needs Linux 6.0)"
                       : "multishot recv returned no buffer";
  }
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) {
    return "multishot recv ended after one completion";
  }
  const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  if (bufs.bytes(bid, 1)[0] != std::byte{'x'}) {
    return "multishot recv delivered the wrong byte";
  }
  return {};
}

std::string check(ScopedRing& r) {
  if (const char* env = std::getenv("NETECHO_IO_URING");
      env != nullptr && std::string_view(env) == "0") {
    return "disabled by NETECHO_IO_URING=0";
  }
  if (const char* preload = std::getenv("LD_PRELOAD");
      preload != nullptr && std::string_view(preload).find("vgpreload") != std::string_view::npos) {
    // Valgrind (3.19) runs one thread at a time and does not let go while a thread waits in
    // io_uring_enter, so a waiting worker would stall every other thread of the process.
    return "running under valgrind, where a waiting io_uring_enter stalls every thread";
  }
  auto created = Ring::create(8, 16, false);
  if (!created) {
    const int err = created.error().value();
    if (err == EINVAL) {
      return "io_uring_setup refused SINGLE_ISSUER/DEFER_TASKRUN (needs Linux 6.1): " +
             errno_text(err);
    }
    return "io_uring_setup failed: " + errno_text(err) +
           " (seccomp, a container policy or kernel.io_uring_disabled may forbid it)";
  }
  io_uring& ring = *r.ring.emplace(std::move(created).value()).get();
  struct Feature {
    unsigned bit;
    const char* name;
  };
  for (const Feature f :
       {Feature{IORING_FEAT_NODROP, "NODROP"}, Feature{IORING_FEAT_EXT_ARG, "EXT_ARG"},
        Feature{IORING_FEAT_FAST_POLL, "FAST_POLL"}, Feature{IORING_FEAT_CQE_SKIP, "CQE_SKIP"}}) {
    if ((ring.features & f.bit) == 0) {
      return fmt::format("the kernel lacks IORING_FEAT_{}", f.name);
    }
  }
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) {
    return "IORING_REGISTER_PROBE refused";
  }
  struct Opcode {
    int op;
    const char* name;
  };
  std::string missing;
  for (const Opcode o : {Opcode{IORING_OP_ACCEPT, "ACCEPT"}, Opcode{IORING_OP_RECV, "RECV"},
                         Opcode{IORING_OP_RECVMSG, "RECVMSG"}, Opcode{IORING_OP_SEND, "SEND"},
                         Opcode{IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
                         Opcode{IORING_OP_READ, "READ"}, Opcode{IORING_OP_POLL_ADD, "POLL_ADD"}}) {
    if (io_uring_opcode_supported(probe, o.op) == 0) {
      missing += fmt::format("{}IORING_OP_{}", missing.empty() ? "" : ", ", o.name);
    }
  }
  io_uring_free_probe(probe);
  if (!missing.empty()) {
    return "the kernel lacks " + missing;
  }
  UnixTrio trio;
  if (auto err = open_listener(trio); !err.empty()) {
    return err;
  }
  net::Fd accepted;
  if (auto err = try_multishot_accept(ring, trio, accepted); !err.empty()) {
    return err;
  }
  return try_multishot_recv(r, trio, accepted);
}

}  // namespace

UringSupport probe_uring() {
  ScopedRing ring;
  std::string why_not = check(ring);
  if (!why_not.empty()) {
    return {false, std::move(why_not)};
  }
  utsname u{};
  ::uname(&u);
  return {true, fmt::format("Linux {}: multishot accept and recv, provided-buffer rings, "
                            "deferred task running",
                            u.release)};
}

std::unique_ptr<Backend> make_uring_backend(const BackendOptions& options) {
  return std::make_unique<UringBackend>(options);
}

}  // namespace netecho::io
