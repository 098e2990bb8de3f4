// UringBackend, the submission half: what the owner asks for, and how it becomes SQEs once per
// turn. The completion half is in uring_completion.cpp.

#include "io/uring/uring_backend.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <system_error>

#include "base/duration.hpp"
#include "base/log.hpp"

namespace netecho::io {
namespace {

constexpr std::uint32_t kSmallBuffers = 1024;
constexpr std::uint32_t kSmallSize = 4096;  // one read of the original server (--once)
constexpr std::uint32_t kLargeSize = 65536;
constexpr std::uint32_t kSmallPerLarge = 16;  // 1024 small buffers: 64 large ones
constexpr std::uint32_t kDatagramBuffers = 64;
constexpr std::uint32_t kDatagramPayload = 65536;  // as the epoll backend's receive buffer
// IP_PKTINFO or IPV6_PKTINFO, and for STAMP a timestamp and a TTL (net::enable_receive_stamps)
constexpr std::uint32_t kDatagramControl = 256;
constexpr unsigned kSubmissionEntries = 1024;
constexpr unsigned kCompletionEntries = 16384;
// Completions handed out before what they asked for is submitted, and how many such slices a
// turn may take before it returns to the loop (whose timers then get their turn).
constexpr unsigned kSliceCompletions = 64;
// How long a worker that has received must stay idle before it gives back buffer memory.
constexpr std::chrono::nanoseconds kTrimAfter = std::chrono::seconds(1);
constexpr int kMaxSlices = 256;
// How long quiesce() waits for the kernel to give back the requests it cancels.
constexpr std::chrono::milliseconds kQuiesceLimit{1000};

[[noreturn]] void fail(int err, const char* what) {
  throw std::system_error(err, std::system_category(), what);
}

Ring make_ring() {
  // Disabled until the first poll(): the thread that enables a SINGLE_ISSUER ring is the only
  // one allowed to submit to it, and that is the worker, not the thread building the backend.
  auto ring = Ring::create(kSubmissionEntries, kCompletionEntries, true);
  if (!ring) {
    throw std::system_error(ring.error(), "io_uring backend: io_uring_setup");
  }
  return std::move(ring).value();
}

}  // namespace

UringBackend::UringBackend(const BackendOptions& options)
    : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), ring_(make_ring()) {
  if (!wake_fd_) {
    fail(errno, "io_uring backend: eventfd");
  }
  datagram_hdr_.msg_namelen = sizeof(sockaddr_storage);
  datagram_hdr_.msg_controllen = kDatagramControl;
  const std::uint32_t small = options.uring_buffers != 0 ? options.uring_buffers : kSmallBuffers;
  struct Spec {
    Pool& pool;
    Group group;
    std::uint32_t count;
    std::uint32_t size;
    const char* what;
  };
  const Spec specs[] = {
      {small_, Group::small, small,
       options.uring_buffer_size != 0 ? options.uring_buffer_size : kSmallSize,
       "io_uring backend: small receive buffers"},
      {large_, Group::large, std::max(1u, small / kSmallPerLarge), kLargeSize,
       "io_uring backend: large receive buffers"},
      {datagram_, Group::datagram, kDatagramBuffers,
       static_cast<std::uint32_t>(sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_storage) +
                                  kDatagramControl + kDatagramPayload),
       "io_uring backend: datagram buffers"},
  };
  for (const Spec& spec : specs) {
    auto bufs =
        BufRing::create(ring_, static_cast<std::uint16_t>(spec.group), spec.count, spec.size);
    if (!bufs) {
      throw std::system_error(bufs.error(), spec.what);  // the members tear down in order
    }
    spec.pool.bufs.emplace(std::move(bufs).value());
    spec.pool.lent_cap = spec.count / 2;
  }
  datagram_.lent_cap = 0;  // datagram buffers are never lent
}

UringBackend::~UringBackend() {
  // ring_ goes first (declared last): its teardown cancels every request (and closes the
  // descriptors of connections accepted for a listener that is gone); only then is the buffer
  // memory unmapped.
}

BackendStats UringBackend::stats() const noexcept {
  return {exhaustions_.get(), rearms_.get()};
}

UringBackend::Pool* UringBackend::pool_of(Kind kind) noexcept {
  switch (kind) {
    case Kind::recv_small:
      return &small_;
    case Kind::recv_large:
      return &large_;
    case Kind::recv_from:
      return &datagram_;
    default:
      return nullptr;
  }
}

UringBackend::Channel& UringBackend::channel(int fd) {
  const auto index = static_cast<std::size_t>(fd);
  if (index >= slot_of_fd_.size()) {
    slot_of_fd_.resize(index + 1 + index / 2, -1);
  }
  if (slot_of_fd_[index] >= 0) {
    return channels_[static_cast<std::size_t>(slot_of_fd_[index])];
  }
  const std::uint32_t slot = channels_.acquire().slot;
  slot_of_fd_[index] = static_cast<std::int32_t>(slot);
  Channel& ch = channels_[slot];
  ch.fd = fd;
  return ch;
}

void UringBackend::mark_dirty(std::uint32_t slot) {
  Channel& ch = channels_[slot];
  if (!ch.dirty) {
    ch.dirty = true;
    dirty_.push_back(slot);
  }
}

void UringBackend::want_read(int fd, Read read, Token t) {
  Channel& ch = channel(fd);
  ch.want = read;
  if (read != Read::none) {
    ch.read_token = t;
  }
  mark_dirty(slot_of(ch));
}

void UringBackend::accept(int fd, Token t) { want_read(fd, Read::accept, t); }
void UringBackend::recv(int fd, Token t) { want_read(fd, Read::recv, t); }
void UringBackend::recv_from(int fd, Token t) { want_read(fd, Read::recv_from, t); }
void UringBackend::stop_read(int fd) { want_read(fd, Read::none, {}); }

void UringBackend::connect(int fd, Token t) {
  Channel& ch = channel(fd);
  assert(ch.write == Write::none);
  ch.write = Write::connect_queued;
  ch.write_token = t;
  mark_dirty(slot_of(ch));
}

void UringBackend::watch(int fd, Token t, short events) {
  Channel& ch = channel(fd);
  assert(ch.watch != Watch::in_kernel);
  ch.watch = Watch::queued;
  ch.watch_events = events;
  ch.watch_token = t;
  mark_dirty(slot_of(ch));
}

long UringBackend::try_send(int /*fd*/, std::span<const std::byte> /*data*/) noexcept {
  return 0;  // sends are submitted with the turn's batch: the owner keeps the bytes for send()
}

void UringBackend::send(int fd, Token t, std::span<const std::byte> data) {
  Channel& ch = channel(fd);
  assert(ch.write == Write::none || ch.write == Write::send_queued);
  ch.write = Write::send_queued;
  ch.write_token = t;
  ch.out = data;
  mark_dirty(slot_of(ch));
}

bool UringBackend::send_lent(int fd, Token t, const Completion& c,
                             std::span<const std::byte> data) {
  if (delivering_.completion != &c || delivering_.lent || data.empty()) {
    return false;
  }
  Pool& p = pool(delivering_.group);
  if (p.lent >= p.lent_cap) {
    return false;  // half the ring is lent already: the owner copies
  }
  const auto buffer = p.bufs->bytes(delivering_.bid, p.bufs->buffer_size());
  const auto begin = reinterpret_cast<std::uintptr_t>(buffer.data());
  const auto first = reinterpret_cast<std::uintptr_t>(data.data());
  if (first < begin || first + data.size() > begin + buffer.size()) {
    return false;  // not in the buffer of c
  }
  Channel& ch = channel(fd);
  if (ch.write != Write::none) {
    return false;
  }
  delivering_.lent = true;
  ++p.lent;
  ch.send_lent = true;
  ch.lent_group = delivering_.group;
  ch.lent_bid = delivering_.bid;
  ch.lent_done = 0;
  ch.write = Write::send_queued;
  ch.write_token = t;
  ch.out = data;
  mark_dirty(slot_of(ch));
  return true;
}

void UringBackend::release_lent(Group group, std::uint16_t bid) noexcept {
  Pool& p = pool(group);
  p.bufs->recycle(bid);
  --p.lent;
}

long UringBackend::send_to(int fd, std::span<const std::byte> data,
                           const net::Datagram& to) noexcept {
  return to_res(net::send_datagram(fd, data, to));
}

void UringBackend::forget(int fd) {
  const auto index = static_cast<std::size_t>(fd);
  if (index >= slot_of_fd_.size() || slot_of_fd_[index] < 0) {
    return;
  }
  const auto slot = static_cast<std::uint32_t>(slot_of_fd_[index]);
  Channel& ch = channels_[slot];
  const std::uint32_t gen = channels_.gen(slot);
  // Requests already in the kernel hold their own reference to the socket, so closing fd does
  // not stop them: cancel them at the next flush, before anything else is submitted.
  if (ch.armed != Kind::wake && !ch.cancelling) {
    cancels_.push_back(pack(ch.armed, gen, slot));
  }
  if (ch.write == Write::send_in_kernel) {
    cancels_.push_back(pack(Kind::send, gen, slot));
  }
  if (ch.send_lent) {
    if (ch.write == Write::send_in_kernel) {
      orphans_.push_back({pack(Kind::send, gen, slot), ch.lent_group, ch.lent_bid});
    } else {
      release_lent(ch.lent_group, ch.lent_bid);  // never submitted
    }
  }
  if (ch.write == Write::connect_in_kernel) {
    cancels_.push_back(pack(Kind::connect, gen, slot));
  }
  if (ch.watch == Watch::in_kernel) {
    cancels_.push_back(pack(Kind::ready, gen, slot));
  }
  // From here on, completions of what was in the kernel are stale; the slot is free.
  channels_.release(slot);
  slot_of_fd_[index] = -1;
}

io_uring_sqe* UringBackend::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  if (sqe == nullptr) {
    // The submission queue is full: hand it to the kernel now (a rare extra system call).
    io_uring_submit(ring_.get());
    sqe = io_uring_get_sqe(ring_.get());
    if (sqe == nullptr) {
      fail(EBUSY, "io_uring backend: submission queue stuck");
    }
  }
  return sqe;
}

void UringBackend::tag(io_uring_sqe* sqe, std::uint64_t user_data) noexcept {
  io_uring_sqe_set_data64(sqe, user_data);
  ++in_flight_;
}

void UringBackend::prep_cancel(std::uint64_t target) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, target, 0);
  io_uring_sqe_set_data64(sqe, pack(Kind::cancel, 0, 0));
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void UringBackend::arm(std::uint32_t slot) {
  Channel& ch = channels_[slot];
  Kind wanted = Kind::wake;  // none
  switch (ch.want) {
    case Read::none:
      break;
    case Read::accept:
      wanted = Kind::accept;
      break;
    case Read::recv:
      wanted = ch.large ? Kind::recv_large : Kind::recv_small;
      break;
    case Read::recv_from:
      wanted = Kind::recv_from;
      break;
  }
  if (ch.armed == Kind::wake && wanted != Kind::wake) {
    io_uring_sqe* sqe = get_sqe();
    switch (wanted) {
      case Kind::accept:
        io_uring_prep_multishot_accept(sqe, ch.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        break;
      case Kind::recv_small:
      case Kind::recv_large:
        io_uring_prep_recv_multishot(sqe, ch.fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group =
            static_cast<std::uint16_t>(wanted == Kind::recv_large ? Group::large : Group::small);
        break;
      default:  // recv_from
        io_uring_prep_recvmsg_multishot(sqe, ch.fd, &datagram_hdr_, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = static_cast<std::uint16_t>(Group::datagram);
        break;
    }
    tag(sqe, pack(wanted, channels_.gen(slot), slot));
    ch.armed = wanted;
  } else if (ch.armed != Kind::wake && ch.armed != wanted && !ch.cancelling) {
    // Stopped, or moving to the large buffers: cancel, and arm what is wanted (if anything)
    // once the old request's final completion is in. So two reads never race on one socket.
    prep_cancel(pack(ch.armed, channels_.gen(slot), slot));
    ch.cancelling = true;
  }
  if (ch.write == Write::send_queued) {
    io_uring_sqe* sqe = get_sqe();
    // MSG_WAITALL: the kernel keeps sending until all is gone (or an error), one completion.
    io_uring_prep_send(sqe, ch.fd, ch.out.data(), ch.out.size(), MSG_NOSIGNAL | MSG_WAITALL);
    tag(sqe, pack(Kind::send, channels_.gen(slot), slot));
    ch.write = Write::send_in_kernel;
  } else if (ch.write == Write::connect_queued) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_add(sqe, ch.fd, POLLOUT);
    tag(sqe, pack(Kind::connect, channels_.gen(slot), slot));
    ch.write = Write::connect_in_kernel;
  }
  if (ch.watch == Watch::queued) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_add(sqe, ch.fd, static_cast<unsigned>(ch.watch_events));
    tag(sqe, pack(Kind::ready, channels_.gen(slot), slot));
    ch.watch = Watch::in_kernel;
  }
}

void UringBackend::commit_buffers() noexcept {
  for (Pool* p : {&small_, &large_, &datagram_}) {
    p->bufs->commit();
  }
}

void UringBackend::flush() {
  for (const std::uint64_t target : cancels_) {
    prep_cancel(target);
  }
  cancels_.clear();
  // arm() never adds to dirty_, so the list is stable while it is walked.
  for (const std::uint32_t slot : dirty_) {
    if (channels_[slot].dirty) {
      channels_[slot].dirty = false;
      arm(slot);
    }
  }
  dirty_.clear();
  if (!wake_armed_) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_read(sqe, wake_fd_.get(), &wake_value_, sizeof(wake_value_), 0);
    tag(sqe, pack(Kind::wake, 0, 0));
    wake_armed_ = true;
  }
  commit_buffers();
}

void UringBackend::enable() {
  // io_uring_enable_rings() is declared by liburing 2.3 but missing from its library: the
  // registration opcode does the same.
  if (const int rc = io_uring_register(static_cast<unsigned>(ring_.get()->ring_fd),
                                       IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
      rc < 0) {
    fail(-rc, "io_uring backend: enabling the ring");
  }
  // Lets io_uring_enter skip the descriptor lookup; an optimisation, so a refusal is fine.
  io_uring_register_ring_fd(ring_.get());
  enabled_ = true;
}

void UringBackend::wait(std::chrono::nanoseconds timeout) {
  if (timeout.count() < 0) {
    io_uring_submit_and_wait(ring_.get(), 1);
  } else if (timeout.count() == 0) {
    io_uring_submit_and_get_events(ring_.get());
  } else {
    __kernel_timespec ts = base::to_timespec<__kernel_timespec>(timeout);
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, &ts, nullptr);
  }
  // Errors here are -ETIME (the timeout), -EINTR, or -EBUSY/-EAGAIN while completions wait to
  // be reaped: in every case the completions that are there are delivered and the next turn
  // submits again.
}

int UringBackend::poll(Handler& handler, std::chrono::nanoseconds timeout) {
  if (!enabled_) {
    enable();
  }
  flush();
  // After receiving, the wait is cut to end kTrimAfter after the last completion; if nothing
  // came by then, the worker is idle and hands the pages of its unused receive buffers back (a
  // burst of many connections makes many resident), then waits as asked. Idleness is judged
  // by the time since the last completion, not by one wait's length, so timers that wake the
  // loop more often (an idle sweep, say) neither prevent a trim nor bring one forward. A busy
  // worker never trims.
  const bool touched =
      small_.bufs->touched() || large_.bufs->touched() || datagram_.bufs->touched();
  std::chrono::nanoseconds wait_for = timeout;
  if (touched) {
    const auto left = std::max(std::chrono::nanoseconds{0},
                               last_completion_ + kTrimAfter - std::chrono::steady_clock::now());
    if (timeout.count() < 0 || timeout > left) {
      wait_for = left;
    }
  }
  wait(wait_for);
  int delivered = 0;
  // A big batch is handed out in slices. Between slices, what the handlers asked for so far is
  // submitted (one extra io_uring_enter per slice, without waiting), so that the first
  // connections of the batch get their replies while the rest is still being handled, instead
  // of the peer idling until the whole batch is done.
  for (int slice = 0; slice < kMaxSlices; ++slice) {
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
      const io_uring_cqe copy = *cqe;
      ++seen;
      const auto kind = static_cast<Kind>(copy.user_data >> 56);
      count_completion(kind, copy);
      if (kind == Kind::wake) {
        wake_armed_ = false;
      } else if (kind != Kind::cancel) {  // a cancel that found nothing to cancel: fine
        dispatch(handler, copy);
        ++delivered;
      }
      if (seen == kSliceCompletions) {
        break;
      }
    }
    io_uring_cq_advance(ring_.get(), seen);
    if (seen < kSliceCompletions) {
      break;  // all delivered
    }
    flush();
    if (io_uring_sq_ready(ring_.get()) != 0) {
      io_uring_submit(ring_.get());
    }
  }
  commit_buffers();
  if (delivered != 0) {
    last_completion_ = std::chrono::steady_clock::now();
  } else if (touched && io_uring_cq_ready(ring_.get()) == 0 &&
             std::chrono::steady_clock::now() - last_completion_ >= kTrimAfter) {
    for (Pool* p : {&small_, &large_, &datagram_}) {
      p->bufs->trim();
    }
  }
  return delivered;
}

void UringBackend::count_completion(Kind kind, const io_uring_cqe& cqe) noexcept {
  // A request's last completion is the one without F_MORE (a cancel's, posted only when it
  // fails, belongs to no request of ours).
  if (kind != Kind::cancel && (cqe.flags & IORING_CQE_F_MORE) == 0) {
    --in_flight_;
  }
}

void UringBackend::quiesce() noexcept {
  // Every request in the kernel holds a reference to its socket, so a socket the owner has
  // closed stays bound while a request on it lives. Left to io_uring_queue_exit(), the requests
  // would be cancelled by the kernel's ring teardown, which runs in a kernel worker after the
  // process has gone: a restart in those milliseconds found its port in use. So cancel them
  // all here, on the ring's own thread, and reap until none is left. The last references drop
  // as their completions are posted, so every closed socket is released when this returns.
  if (!enabled_ || in_flight_ == 0) {
    return;
  }
  cancels_.clear();
  dirty_.clear();  // nothing new is armed from here on
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  if (sqe == nullptr) {
    io_uring_submit(ring_.get());
    sqe = io_uring_get_sqe(ring_.get());
  }
  if (sqe != nullptr) {
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);  // ANY: every request, all of them
    io_uring_sqe_set_data64(sqe, pack(Kind::cancel, 0, 0));
  }
  const auto deadline = std::chrono::steady_clock::now() + kQuiesceLimit;
  while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) {
    __kernel_timespec ts{0, 50'000'000};
    io_uring_cqe* first = nullptr;
    io_uring_submit_and_wait_timeout(ring_.get(), &first, 1, &ts, nullptr);
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
      ++seen;
      const auto kind = static_cast<Kind>(cqe->user_data >> 56);
      count_completion(kind, *cqe);
      if (kind == Kind::accept && cqe->res >= 0) {
        ::close(cqe->res);  // accepted as the listener closed: nobody will serve it
      }
    }
    io_uring_cq_advance(ring_.get(), seen);
  }
  if (in_flight_ > 0) {
    base::log_event(
        base::Level::warn,
        "io_uring: requests still in the kernel at exit; their sockets are released when the "
        "kernel tears the ring down",
        {{"requests", in_flight_},
         {"waited_ms",
          std::chrono::duration_cast<std::chrono::milliseconds>(kQuiesceLimit).count()}});
  }
}

void UringBackend::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(wake_fd_.get(), &one, sizeof(one));
}

}  // namespace netecho::io
