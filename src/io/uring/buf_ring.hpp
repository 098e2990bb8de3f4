#pragma once
// BufRing: a provided-buffer ring (IORING_REGISTER_PBUF_RING), set up by hand because liburing
// 2.3 lacks io_uring_setup_buf_ring(). The kernel picks a buffer from the ring for each
// multishot receive and names it in the completion (IORING_CQE_F_BUFFER); the owner reads the
// bytes and hands the buffer back with recycle(). Recycled buffers become visible to the kernel
// only at commit(), so a whole batch of completions costs one store to the ring's tail.
//
// Memory: the ring and the buffers are anonymous mappings, touched only as the kernel fills
// them. The kernel takes buffers in ring order, so a ring holding all of them would cycle
// through every one and make the whole pool resident (4 MiB for 1,024 small buffers) even for
// idle connections that each sent one byte. So buffers are published lazily: a few at first,
// and more (doubling) only when the ones in circulation run low, so what becomes resident
// follows the most buffers ever in use at once, not the pool's size.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "io/uring/ring.hpp"
#include "net/error.hpp"

struct io_uring_buf_ring;

namespace netecho::io {

class BufRing {
 public:
  // Registers count buffers of size bytes as buffer group `group` of ring. count must be a
  // power of two, at most 32768. Returns the kernel's refusal as an error (EINVAL on kernels
  // without provided-buffer rings, before 5.19).
  // The registration lives as long as the ring: a BufRing that outlives it (as it should, so
  // that no request is filling a buffer when the memory is unmapped) only unmaps.
  static net::Result<BufRing> create(const Ring& ring, std::uint16_t group, std::uint32_t count,
                                     std::uint32_t size);

  BufRing(BufRing&& other) noexcept;
  BufRing& operator=(BufRing&& other) noexcept;
  BufRing(const BufRing&) = delete;
  BufRing& operator=(const BufRing&) = delete;
  ~BufRing();

  std::uint16_t group() const noexcept { return group_; }
  std::uint32_t count() const noexcept { return count_; }
  std::uint32_t buffer_size() const noexcept { return size_; }

  // The first n bytes of buffer bid, as the kernel filled them.
  std::span<const std::byte> bytes(std::uint16_t bid, std::size_t n) const noexcept {
    return {buffers_ + std::size_t{bid} * size_, n};
  }

  // Queues buffer bid to go back to the kernel at the next commit(). Each buffer the kernel
  // handed out must be recycled exactly once.
  void recycle(std::uint16_t bid) noexcept;
  // Makes every buffer recycled since the last commit available to the kernel again, and
  // publishes fresh ones if fewer than a quarter of those in circulation are left in the ring.
  void commit() noexcept;

  // The owner saw a completion that took buffer bid of this ring (IORING_CQE_F_BUFFER).
  void taken(std::uint16_t bid) noexcept {
    if (available_ != 0) {
      --available_;
    }
    if (bid < count_) {
      out_[bid] = true;
    }
    touched_ = true;
  }
  // Whether the kernel has filled any buffer, or one that was out came back, since the last
  // trim().
  bool touched() const noexcept { return touched_; }
  // Gives the memory of every buffer now waiting in the ring back to the system
  // (MADV_DONTNEED: the kernel's next fill of one faults in a fresh page). Buffers still out
  // (lent to a send, or not yet recycled) are kept. Call it only between io_uring_enter calls:
  // with DEFER_TASKRUN the kernel fills buffers only inside them, so none is being filled.
  void trim() noexcept;
  // A receive ended with ENOBUFS: the ring is empty, whatever the count says.
  void ran_dry() noexcept { available_ = 0; }

 private:
  BufRing() = default;
  void release() noexcept;
  void publish(std::uint32_t n) noexcept;  // queues up to n fresh buffers, as recycle() does

  RingHandle ring_;  // expired once the ring is torn down; empty when not registered
  io_uring_buf_ring* br_ = nullptr;  // shared with the kernel
  std::size_t ring_bytes_ = 0;
  std::byte* buffers_ = nullptr;
  std::size_t buffer_bytes_ = 0;
  std::uint16_t group_ = 0;
  std::uint32_t count_ = 0;
  std::uint32_t size_ = 0;
  std::uint32_t uncommitted_ = 0;  // recycled since the last commit()
  std::uint32_t published_ = 0;    // buffers 0..published_-1 have been given to the kernel
  std::uint32_t available_ = 0;    // in the ring, not yet taken by the kernel (as counted)
  std::vector<bool> out_;          // taken by the kernel and not recycled yet, per buffer
  bool touched_ = false;           // a buffer was filled since the last trim()
};

}  // namespace netecho::io
