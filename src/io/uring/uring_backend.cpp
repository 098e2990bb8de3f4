#include "io/uring/uring_backend.hpp"

#include <sys/eventfd.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "base/log.hpp"

namespace netecho::io {
namespace {

constexpr std::uint16_t kStreamGroup = 0;
constexpr std::uint16_t kDatagramGroup = 1;
constexpr std::uint32_t kDefaultBuffers = 1024;
constexpr std::uint32_t kDefaultBufferSize = 8192;
constexpr std::uint32_t kDatagramBuffers = 64;
constexpr std::uint32_t kDatagramPayload = 65536;  // as the epoll backend's receive buffer
constexpr std::uint32_t kDatagramControl = 128;    // IP_PKTINFO or IPV6_PKTINFO
constexpr unsigned kSubmissionEntries = 1024;
constexpr unsigned kCompletionEntries = 16384;

// accept(2) errors that concern only the connection being accepted: arm again, tell nobody.
bool accept_error_is_transient(int err) {
  switch (err) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

[[noreturn]] void fail(int err, const char* what) {
  throw std::system_error(err, std::system_category(), what);
}

}  // namespace

int init_uring(io_uring& ring, unsigned entries, unsigned cq_entries, bool disabled) noexcept {
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
            IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  if (disabled) {
    p.flags |= IORING_SETUP_R_DISABLED;
  }
  p.cq_entries = cq_entries;
  return io_uring_queue_init_params(entries, &ring, &p);
}

UringBackend::UringBackend(const BackendOptions& options)
    : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_fd_) {
    fail(errno, "io_uring backend: eventfd");
  }
  // Disabled until the first poll(): the thread that enables a SINGLE_ISSUER ring is the only
  // one allowed to submit to it, and that is the worker, not the thread building the backend.
  if (const int rc = init_uring(ring_, kSubmissionEntries, kCompletionEntries, true); rc < 0) {
    fail(-rc, "io_uring backend: io_uring_setup");
  }
  const std::uint32_t count = options.uring_buffers != 0 ? options.uring_buffers : kDefaultBuffers;
  const std::uint32_t size =
      options.uring_buffer_size != 0 ? options.uring_buffer_size : kDefaultBufferSize;
  auto stream = BufRing::create(ring_, kStreamGroup, count, size);
  if (!stream) {
    io_uring_queue_exit(&ring_);
    throw std::system_error(stream.error(), "io_uring backend: receive buffer ring");
  }
  stream_bufs_.emplace(std::move(stream).value());
  lent_cap_ = count / 2;

  datagram_hdr_.msg_namelen = sizeof(sockaddr_storage);
  datagram_hdr_.msg_controllen = kDatagramControl;
  const auto datagram_size = static_cast<std::uint32_t>(
      sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_storage) + kDatagramControl +
      kDatagramPayload);
  auto datagram = BufRing::create(ring_, kDatagramGroup, kDatagramBuffers, datagram_size);
  if (!datagram) {
    stream_bufs_.reset();
    io_uring_queue_exit(&ring_);
    throw std::system_error(datagram.error(), "io_uring backend: datagram buffer ring");
  }
  datagram_bufs_.emplace(std::move(datagram).value());
}

UringBackend::~UringBackend() {
  // Tearing the ring down cancels every request, and only then is the buffer memory unmapped.
  io_uring_queue_exit(&ring_);
  stream_bufs_->ring_exited();
  datagram_bufs_->ring_exited();
  if (exhaustions_ != 0) {
    base::log("io_uring: the receive buffers ran out {} time(s); the receives were re-armed",
              exhaustions_);
  }
  // Descriptors the kernel accepted for a listener the owner had already forgotten were closed
  // as their completions came in; those still in the ring are closed with it.
}

UringBackend::Channel& UringBackend::channel(int fd) {
  const auto index = static_cast<std::size_t>(fd);
  if (index >= slot_of_fd_.size()) {
    slot_of_fd_.resize(index + 1 + index / 2, -1);
  }
  if (slot_of_fd_[index] >= 0) {
    return channels_[static_cast<std::size_t>(slot_of_fd_[index])];
  }
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(channels_.size());
    channels_.emplace_back();
  }
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

void UringBackend::accept(int fd, Token t) {
  Channel& ch = channel(fd);
  ch.want = Read::accept;
  ch.read_token = t;
  mark_dirty(slot_of(ch));
}

void UringBackend::recv(int fd, Token t) {
  Channel& ch = channel(fd);
  ch.want = Read::recv;
  ch.read_token = t;
  mark_dirty(slot_of(ch));
}

void UringBackend::recv_from(int fd, Token t) {
  Channel& ch = channel(fd);
  ch.want = Read::recv_from;
  ch.read_token = t;
  mark_dirty(slot_of(ch));
}

void UringBackend::stop_accept(int fd) { stop_recv(fd); }

void UringBackend::stop_recv(int fd) {
  Channel& ch = channel(fd);
  ch.want = Read::none;
  mark_dirty(slot_of(ch));
}

void UringBackend::connect(int fd, Token t) {
  Channel& ch = channel(fd);
  ch.connect_queued = true;
  ch.write_token = t;
  mark_dirty(slot_of(ch));
}

long UringBackend::try_send(int /*fd*/, std::span<const std::byte> /*data*/) noexcept {
  return 0;  // sends are submitted with the turn's batch: the owner keeps the bytes for send()
}

void UringBackend::send(int fd, Token t, std::span<const std::byte> data) {
  Channel& ch = channel(fd);
  ch.send_queued = true;
  ch.write_token = t;
  ch.out = data;
  mark_dirty(slot_of(ch));
}

bool UringBackend::send_lent(int fd, Token t, const Completion& c,
                             std::span<const std::byte> data) {
  if (delivering_.completion != &c || delivering_.lent || lent_ >= lent_cap_ || data.empty()) {
    return false;
  }
  const auto buffer = stream_bufs_->bytes(delivering_.bid, stream_bufs_->buffer_size());
  const auto begin = reinterpret_cast<std::uintptr_t>(buffer.data());
  const auto first = reinterpret_cast<std::uintptr_t>(data.data());
  if (first < begin || first + data.size() > begin + buffer.size()) {
    return false;  // not in the buffer of c
  }
  Channel& ch = channel(fd);
  if (ch.send_queued || ch.send_armed) {
    return false;
  }
  delivering_.lent = true;
  ++lent_;
  ch.send_lent = true;
  ch.lent_bid = delivering_.bid;
  ch.lent_done = 0;
  ch.send_queued = true;
  ch.write_token = t;
  ch.out = data;
  mark_dirty(slot_of(ch));
  return true;
}

void UringBackend::release_lent(std::uint16_t bid) noexcept {
  stream_bufs_->recycle(bid);
  --lent_;
}

long UringBackend::send_to(int fd, std::span<const std::byte> data,
                           const net::Datagram& to) noexcept {
  return net::send_datagram(fd, data, to);
}

void UringBackend::forget(int fd) {
  const auto index = static_cast<std::size_t>(fd);
  if (index >= slot_of_fd_.size() || slot_of_fd_[index] < 0) {
    return;
  }
  const auto slot = static_cast<std::uint32_t>(slot_of_fd_[index]);
  Channel& ch = channels_[slot];
  // Requests already in the kernel hold their own reference to the socket, so closing fd does
  // not stop them: cancel them at the next flush, before anything else is submitted.
  if (ch.armed == Read::accept) {
    // A listener would keep listening until the cancel reaches the kernel: stop it now, so
    // that connections arriving from here on are refused, as after a plain close().
    ::shutdown(fd, SHUT_RD);
  }
  if (ch.armed != Read::none && !ch.cancelling) {
    cancels_.push_back(pack(read_kind(ch.armed), ch.gen, slot));
  }
  if (ch.send_armed) {
    cancels_.push_back(pack(Kind::send, ch.gen, slot));
  }
  if (ch.send_lent) {
    if (ch.send_armed) {
      orphans_.emplace_back(pack(Kind::send, ch.gen, slot), ch.lent_bid);  // still being read
    } else {
      release_lent(ch.lent_bid);  // never submitted
    }
  }
  if (ch.connect_armed) {
    cancels_.push_back(pack(Kind::connect, ch.gen, slot));
  }
  const std::uint32_t gen = (ch.gen + 1) & kGenMask;
  ch = Channel{};
  ch.gen = gen;
  slot_of_fd_[index] = -1;
  free_slots_.push_back(slot);
}

io_uring_sqe* UringBackend::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // The submission queue is full: hand it to the kernel now (a rare extra system call).
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      fail(EBUSY, "io_uring backend: submission queue stuck");
    }
  }
  return sqe;
}

void UringBackend::arm(std::uint32_t slot) {
  Channel& ch = channels_[slot];
  if (ch.want != Read::none && ch.armed == Read::none) {
    io_uring_sqe* sqe = get_sqe();
    switch (ch.want) {
      case Read::accept:
        io_uring_prep_multishot_accept(sqe, ch.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        break;
      case Read::recv:
        io_uring_prep_recv_multishot(sqe, ch.fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = kStreamGroup;
        break;
      case Read::recv_from:
        io_uring_prep_recvmsg_multishot(sqe, ch.fd, &datagram_hdr_, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = kDatagramGroup;
        break;
      case Read::none:
        break;
    }
    io_uring_sqe_set_data64(sqe, pack(read_kind(ch.want), ch.gen, slot));
    ch.armed = ch.want;
  } else if (ch.want == Read::none && ch.armed != Read::none && !ch.cancelling) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, pack(read_kind(ch.armed), ch.gen, slot), 0);
    io_uring_sqe_set_data64(sqe, pack(Kind::cancel, 0, 0));
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    ch.cancelling = true;
  }
  // A read armed again while its cancel is on the way waits for the final completion of the
  // old one, which marks the channel dirty again: two reads never race on one socket.
  if (ch.send_queued && !ch.send_armed) {
    io_uring_sqe* sqe = get_sqe();
    // MSG_WAITALL: the kernel keeps sending until all is gone (or an error), one completion.
    io_uring_prep_send(sqe, ch.fd, ch.out.data(), ch.out.size(), MSG_NOSIGNAL | MSG_WAITALL);
    io_uring_sqe_set_data64(sqe, pack(Kind::send, ch.gen, slot));
    ch.send_queued = false;
    ch.send_armed = true;
  }
  if (ch.connect_queued && !ch.connect_armed) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_add(sqe, ch.fd, POLLOUT);
    io_uring_sqe_set_data64(sqe, pack(Kind::connect, ch.gen, slot));
    ch.connect_queued = false;
    ch.connect_armed = true;
  }
}

void UringBackend::flush() {
  for (const std::uint64_t target : cancels_) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, target, 0);
    io_uring_sqe_set_data64(sqe, pack(Kind::cancel, 0, 0));
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
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
    io_uring_sqe_set_data64(sqe, pack(Kind::wake, 0, 0));
    wake_armed_ = true;
  }
  stream_bufs_->commit();
  datagram_bufs_->commit();
}

void UringBackend::enable() {
  // io_uring_enable_rings() is declared by liburing 2.3 but missing from its library: the
  // registration opcode does the same.
  if (const int rc = io_uring_register(static_cast<unsigned>(ring_.ring_fd),
                                       IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
      rc < 0) {
    fail(-rc, "io_uring backend: enabling the ring");
  }
  // Lets io_uring_enter skip the descriptor lookup; an optimisation, so a refusal is fine.
  io_uring_register_ring_fd(&ring_);
  enabled_ = true;
}

void UringBackend::wait(std::chrono::nanoseconds timeout) {
  if (timeout.count() < 0) {
    io_uring_submit_and_wait(&ring_, 1);
  } else if (timeout.count() == 0) {
    io_uring_submit_and_get_events(&ring_);
  } else {
    __kernel_timespec ts{};
    ts.tv_sec = timeout.count() / 1'000'000'000;
    ts.tv_nsec = timeout.count() % 1'000'000'000;
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
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
  wait(timeout);
  int delivered = 0;
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    const io_uring_cqe copy = *cqe;
    ++seen;
    const auto kind = static_cast<Kind>(copy.user_data >> 56);
    if (kind == Kind::wake) {
      wake_armed_ = false;
      continue;
    }
    if (kind == Kind::cancel) {
      continue;  // a cancel that found nothing (the request had already ended): fine
    }
    dispatch(handler, copy);
    ++delivered;
  }
  io_uring_cq_advance(&ring_, seen);
  stream_bufs_->commit();
  datagram_bufs_->commit();
  return delivered;
}

void UringBackend::recycle(BufRing& ring, const io_uring_cqe& cqe) noexcept {
  if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
    ring.recycle(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
  }
}

void UringBackend::on_stale(Kind kind, const io_uring_cqe& cqe) noexcept {
  switch (kind) {
    case Kind::accept:
      if (cqe.res >= 0) {
        ::close(cqe.res);  // accepted for a listener that is gone: nobody will serve it
      }
      break;
    case Kind::recv:
      recycle(*stream_bufs_, cqe);
      break;
    case Kind::recv_from:
      recycle(*datagram_bufs_, cqe);
      break;
    case Kind::send:
      for (auto it = orphans_.begin(); it != orphans_.end(); ++it) {
        if (it->first == cqe.user_data) {
          release_lent(it->second);  // the kernel is done with the buffer of a forgotten send
          orphans_.erase(it);
          break;
        }
      }
      break;
    default:
      break;
  }
}

void UringBackend::dispatch(Handler& handler, const io_uring_cqe& cqe) {
  const auto kind = static_cast<Kind>(cqe.user_data >> 56);
  const auto slot = static_cast<std::uint32_t>(cqe.user_data);
  const auto gen = static_cast<std::uint32_t>(cqe.user_data >> 32) & kGenMask;
  if (slot >= channels_.size() || channels_[slot].gen != gen) {
    on_stale(kind, cqe);
    return;
  }
  Channel& ch = channels_[slot];
  switch (kind) {
    case Kind::accept:
    case Kind::recv:
    case Kind::recv_from:
      on_read(handler, kind, slot, cqe);
      return;
    case Kind::send:
      on_send(handler, slot, cqe);
      return;
    case Kind::connect: {
      ch.connect_armed = false;
      int err = 0;
      if (cqe.res < 0) {
        err = -cqe.res;
      } else {
        socklen_t len = sizeof(err);
        ::getsockopt(ch.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
      handler.on_completion({Op::connect, ch.write_token, -err, {}, nullptr});
      return;
    }
    case Kind::wake:
    case Kind::cancel:
      return;
  }
}

void UringBackend::on_send(Handler& handler, std::uint32_t slot, const io_uring_cqe& cqe) {
  Channel& ch = channels_[slot];
  ch.send_armed = false;
  int res = cqe.res;
  if (ch.send_lent) {
    if (res > 0 && static_cast<std::size_t>(res) < ch.out.size()) {
      // Short: send the rest first, as the owner of a lent send hears only of the whole.
      ch.lent_done += static_cast<std::uint32_t>(res);
      ch.out = ch.out.subspan(static_cast<std::size_t>(res));
      ch.send_queued = true;
      mark_dirty(slot);
      return;
    }
    if (res >= 0) {
      res = res == 0 ? -EIO : static_cast<int>(ch.lent_done) + res;
    }
    release_lent(ch.lent_bid);
    ch.send_lent = false;
  }
  ch.out = {};
  handler.on_completion({Op::send, ch.write_token, res, {}, nullptr});
}

void UringBackend::on_read(Handler& handler, Kind kind, std::uint32_t slot,
                           const io_uring_cqe& cqe) {
  // Everything about the channel is settled before the handler runs: the handler may forget
  // this descriptor or open others (which can move channels_).
  Channel& ch = channels_[slot];
  const Token token = ch.read_token;
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (!more) {
    // The multishot request ended. Arm it again if it is still wanted, unless the result below
    // says it should stay stopped.
    ch.armed = Read::none;
    ch.cancelling = false;
    if (ch.want != Read::none) {
      mark_dirty(slot);
    }
  }
  const int res = cqe.res;
  if (res == -ECANCELED || res == -ENOBUFS) {
    // Stopped by the owner, or the buffer ring ran dry (the data waits in the socket for the
    // re-arm). Neither carries data; a buffer, should one come with it, goes straight back.
    if (res == -ENOBUFS) {
      ++exhaustions_;
    }
    recycle(kind == Kind::recv_from ? *datagram_bufs_ : *stream_bufs_, cqe);
    return;
  }
  switch (kind) {
    case Kind::accept:
      if (res >= 0) {
        handler.on_completion({Op::accept, token, res, {}, nullptr});
      } else if (!accept_error_is_transient(-res)) {
        // EMFILE, ENFILE, ENOBUFS, ENOMEM: stop; the owner decides when to accept again.
        ch.want = Read::none;
        if (more) {
          mark_dirty(slot);
        }
        handler.on_completion({Op::accept, token, res, {}, nullptr});
      }
      return;
    case Kind::recv: {
      if (res <= 0) {
        // End of stream or an error: stop reading; the owner decides what follows.
        ch.want = Read::none;
        if (more) {
          mark_dirty(slot);
        }
        recycle(*stream_bufs_, cqe);
        handler.on_completion({Op::recv, token, res, {}, nullptr});
        return;
      }
      const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
      const Completion c{Op::recv, token, res,
                         stream_bufs_->bytes(bid, static_cast<std::size_t>(res)), nullptr};
      delivering_ = {&c, bid, false};
      handler.on_completion(c);
      const bool lent = delivering_.lent;
      delivering_ = {};
      if (!lent) {
        stream_bufs_->recycle(bid);  // copied by the owner, or not needed: back to the kernel
      }
      return;
    }
    case Kind::recv_from:
      deliver_datagram(handler, token, cqe);
      return;
    default:
      return;
  }
}

void UringBackend::deliver_datagram(Handler& handler, Token token, const io_uring_cqe& cqe) {
  if (cqe.res < 0) {
    handler.on_completion({Op::recv_from, token, cqe.res, {}, nullptr});
    return;
  }
  const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  const auto whole = datagram_bufs_->bytes(bid, static_cast<std::size_t>(cqe.res));
  // The buffer holds the kernel's header, then the source address, the control messages and
  // the payload, each in the room datagram_hdr_ gave it.
  auto* base = const_cast<std::byte*>(whole.data());
  io_uring_recvmsg_out* out = io_uring_recvmsg_validate(base, cqe.res, &datagram_hdr_);
  if (out != nullptr) {
    net::Datagram dgram;
    const auto name_len = std::min<socklen_t>(out->namelen, datagram_hdr_.msg_namelen);
    dgram.peer = net::SockAddr(static_cast<const sockaddr*>(io_uring_recvmsg_name(out)), name_len);
    msghdr control{};
    control.msg_control = static_cast<std::byte*>(io_uring_recvmsg_name(out)) +
                          datagram_hdr_.msg_namelen;
    control.msg_controllen = out->controllen;
    net::read_packet_info(control, dgram);
    const auto* payload = static_cast<const std::byte*>(io_uring_recvmsg_payload(out, &datagram_hdr_));
    const auto len = io_uring_recvmsg_payload_length(out, cqe.res, &datagram_hdr_);
    dgram.truncated = (out->flags & MSG_TRUNC) != 0 || out->payloadlen > len;
    dgram.size = len;
    // As with recvmsg(MSG_TRUNC): res is the datagram's real length, even when it was cut.
    const auto real = static_cast<std::int32_t>(std::max<std::uint32_t>(out->payloadlen, len));
    handler.on_completion({Op::recv_from, token, real, {payload, len}, &dgram});
  }
  datagram_bufs_->recycle(bid);
}

void UringBackend::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(wake_fd_.get(), &one, sizeof(one));
}

}  // namespace netecho::io
