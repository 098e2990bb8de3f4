// UringBackend, the completion half: every CQE is dispatched on its kind, checked against its
// channel's generation, and turned into at most one Completion for the owner. Error handling
// per kind: ECANCELED (we stopped it) and ENOBUFS (the buffers ran dry) are the backend's own
// business and never reach the owner; the rest is the owner's to judge.

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "io/accept_error.hpp"
#include "io/uring/uring_backend.hpp"

namespace netecho::io {

void UringBackend::recycle(Kind kind, const io_uring_cqe& cqe) noexcept {
  if ((cqe.flags & IORING_CQE_F_BUFFER) == 0) {
    return;
  }
  if (Pool* p = pool_of(kind)) {
    p->bufs->recycle(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
  }
}

void UringBackend::on_stale(Kind kind, const io_uring_cqe& cqe) noexcept {
  switch (kind) {
    case Kind::accept:
      if (cqe.res >= 0) {
        ::close(cqe.res);  // accepted for a listener that is gone: nobody will serve it
      }
      return;
    case Kind::send:
      for (auto it = orphans_.begin(); it != orphans_.end(); ++it) {
        if (it->user_data == cqe.user_data) {
          release_lent(it->group, it->bid);  // the kernel is done with that buffer now
          orphans_.erase(it);
          return;
        }
      }
      return;
    default:
      recycle(kind, cqe);
      return;
  }
}

void UringBackend::dispatch(Handler& handler, const io_uring_cqe& cqe) {
  const auto kind = static_cast<Kind>(cqe.user_data >> 56);
  if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
    if (Pool* p = pool_of(kind)) {
      // Counted here, before anything can recycle it.
      p->bufs->taken(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
    }
  }
  const auto slot = static_cast<std::uint32_t>(cqe.user_data);
  const auto gen = static_cast<std::uint32_t>(cqe.user_data >> 32) & kGenMask;
  if (channels_.find({slot, gen}) == nullptr) {
    on_stale(kind, cqe);  // for a descriptor the owner forgot: drop it
    return;
  }
  if (is_read(kind)) {
    on_read(handler, kind, slot, cqe);
    return;
  }
  if (kind == Kind::send) {
    on_send(handler, slot, cqe);
    return;
  }
  if (kind == Kind::ready) {
    Channel& ch = channels_[slot];
    ch.watch = Watch::none;
    handler.on_completion({Op::ready, ch.watch_token, cqe.res, {}, nullptr});
    return;
  }
  if (kind == Kind::connect) {
    Channel& ch = channels_[slot];
    ch.write = Write::none;
    int err = 0;
    if (cqe.res < 0) {
      err = -cqe.res;
    } else {
      socklen_t len = sizeof(err);
      ::getsockopt(ch.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    handler.on_completion({Op::connect, ch.write_token, -err, {}, nullptr});
  }
}

void UringBackend::on_read(Handler& handler, Kind kind, std::uint32_t slot,
                           const io_uring_cqe& cqe) {
  // Everything about the channel is settled before the handler runs: the handler may forget
  // this descriptor or open others (which can move channels_).
  Channel& ch = channels_[slot];
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (!more) {
    // The multishot request ended. Arm it again if it is still wanted, unless the result below
    // says it should stay stopped.
    ch.armed = Kind::wake;
    ch.cancelling = false;
    if (ch.want != Read::none) {
      rearms_.add();
      mark_dirty(slot);
    }
  }
  const int res = cqe.res;
  Pool* const pool = pool_of(kind);
  if (res == -ECANCELED || (res == -ENOBUFS && pool != nullptr)) {
    // Stopped by the owner or moved to other buffers, or the buffer ring ran dry (the data
    // waits in the socket for the re-arm). No data; a buffer, should one come, goes back.
    // (An accept's ENOBUFS is the kernel short of memory, not a ring: it goes to the owner.)
    if (res == -ENOBUFS) {
      exhaustions_.add();
      pool->bufs->ran_dry();  // the next commit publishes more, if any are left
    }
    recycle(kind, cqe);
    return;
  }
  switch (kind) {
    case Kind::accept:
      if (res >= 0) {
        handler.on_completion({Op::accept, ch.read_token, res, {}, nullptr});
      } else if (!accept_error_is_transient(-res)) {
        // EMFILE, ENFILE, ENOBUFS, ENOMEM: stop; the owner decides when to accept again.
        ch.want = Read::none;
        if (more) {
          mark_dirty(slot);
        }
        handler.on_completion({Op::accept, ch.read_token, res, {}, nullptr});
      }
      return;
    case Kind::recv_from:
      on_datagram(handler, ch.read_token, cqe);
      return;
    default:
      on_stream(handler, kind, slot, cqe);
      return;
  }
}

void UringBackend::on_stream(Handler& handler, Kind kind, std::uint32_t slot,
                             const io_uring_cqe& cqe) {
  Channel& ch = channels_[slot];
  const Token token = ch.read_token;
  const int res = cqe.res;
  if (res <= 0) {
    // End of stream or an error: stop reading; the owner decides what follows.
    ch.want = Read::none;
    if ((cqe.flags & IORING_CQE_F_MORE) != 0) {
      mark_dirty(slot);
    }
    recycle(kind, cqe);
    handler.on_completion({Op::recv, token, res, {}, nullptr});
    return;
  }
  const Group group = kind == Kind::recv_large ? Group::large : Group::small;
  BufRing& bufs = *pool(group).bufs;
  if (group == Group::small && static_cast<std::uint32_t>(res) == bufs.buffer_size() && !ch.large) {
    // A full small buffer: this connection streams. Its receive moves to the large buffers
    // (arm() cancels this one and arms the new one once it has ended).
    ch.large = true;
    mark_dirty(slot);
  }
  const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  const Completion c{Op::recv, token, res, bufs.bytes(bid, static_cast<std::size_t>(res)), nullptr};
  delivering_ = {&c, group, bid, false};
  handler.on_completion(c);
  const bool lent = delivering_.lent;
  delivering_ = {};
  if (!lent) {
    bufs.recycle(bid);  // copied by the owner, or not needed: back to the kernel
  }
}

void UringBackend::on_datagram(Handler& handler, Token token, const io_uring_cqe& cqe) {
  if (cqe.res < 0) {
    handler.on_completion({Op::recv_from, token, cqe.res, {}, nullptr});
    return;
  }
  BufRing& bufs = *datagram_.bufs;
  const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  const auto whole = bufs.bytes(bid, static_cast<std::size_t>(cqe.res));
  // The buffer holds the kernel's header, then the source address, the control messages and
  // the payload, each in the room datagram_hdr_ gave it.
  auto* base = const_cast<std::byte*>(whole.data());
  io_uring_recvmsg_out* out = io_uring_recvmsg_validate(base, cqe.res, &datagram_hdr_);
  if (out != nullptr) {
    net::Datagram dgram;
    const auto name_len = std::min<socklen_t>(out->namelen, datagram_hdr_.msg_namelen);
    dgram.peer = net::SockAddr(static_cast<const sockaddr*>(io_uring_recvmsg_name(out)), name_len);
    msghdr control{};
    control.msg_control =
        static_cast<std::byte*>(io_uring_recvmsg_name(out)) + datagram_hdr_.msg_namelen;
    control.msg_controllen = out->controllen;
    net::read_packet_info(control, dgram);
    const auto* payload =
        static_cast<const std::byte*>(io_uring_recvmsg_payload(out, &datagram_hdr_));
    const auto len = io_uring_recvmsg_payload_length(out, cqe.res, &datagram_hdr_);
    dgram.truncated = (out->flags & MSG_TRUNC) != 0 || out->payloadlen > len;
    dgram.size = len;
    // As with recvmsg(MSG_TRUNC): res is the datagram's real length, even when it was cut.
    const auto real = static_cast<std::int32_t>(std::max<std::uint32_t>(out->payloadlen, len));
    handler.on_completion({Op::recv_from, token, real, {payload, len}, &dgram});
  }
  bufs.recycle(bid);
}

void UringBackend::on_send(Handler& handler, std::uint32_t slot, const io_uring_cqe& cqe) {
  Channel& ch = channels_[slot];
  ch.write = Write::none;
  int res = cqe.res;
  if (ch.send_lent) {
    if (res > 0 && static_cast<std::size_t>(res) < ch.out.size()) {
      // Short: send the rest first, as the owner of a lent send hears only of the whole.
      ch.lent_done += static_cast<std::uint32_t>(res);
      ch.out = ch.out.subspan(static_cast<std::size_t>(res));
      ch.write = Write::send_queued;
      mark_dirty(slot);
      return;
    }
    if (res >= 0) {
      res = res == 0 ? -EIO : static_cast<int>(ch.lent_done) + res;
    }
    release_lent(ch.lent_group, ch.lent_bid);
    ch.send_lent = false;
  }
  ch.out = {};
  handler.on_completion({Op::send, ch.write_token, res, {}, nullptr});
}

}  // namespace netecho::io
