#include "io/uring/buf_ring.hpp"

#include <liburing.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace netecho::io {
namespace {

// Buffers given to the kernel at first; more follow as they are needed.
constexpr std::uint32_t kFirstPublished = 32;

void* map_anonymous(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

net::Result<BufRing> BufRing::create(const Ring& ring, std::uint16_t group, std::uint32_t count,
                                     std::uint32_t size) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || size == 0) {
    return net::errno_code(EINVAL);
  }
  BufRing r;
  r.group_ = group;
  r.count_ = count;
  r.size_ = size;
  // The ring must be page-aligned: a fresh mapping is.
  r.ring_bytes_ = std::size_t{count} * sizeof(io_uring_buf);
  r.buffer_bytes_ = std::size_t{count} * size;
  void* ring_mem = map_anonymous(r.ring_bytes_);
  if (ring_mem == nullptr) {
    return net::errno_code();
  }
  r.br_ = static_cast<io_uring_buf_ring*>(ring_mem);
  void* buffer_mem = map_anonymous(r.buffer_bytes_);
  if (buffer_mem == nullptr) {
    return net::errno_code();  // r's destructor unmaps the ring
  }
  r.buffers_ = static_cast<std::byte*>(buffer_mem);
  r.out_.assign(count, false);

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring_mem);
  reg.ring_entries = count;
  reg.bgid = group;
  if (const int rc = io_uring_register_buf_ring(ring.get(), &reg, 0); rc < 0) {
    return net::errno_code(-rc);  // not registered: r has no handle, nothing to unregister
  }
  r.ring_ = ring.handle();
  io_uring_buf_ring_init(r.br_);
  r.publish(std::min(count, kFirstPublished));
  r.commit();
  return r;
}

BufRing::BufRing(BufRing&& other) noexcept { *this = std::move(other); }

BufRing& BufRing::operator=(BufRing&& other) noexcept {
  if (this != &other) {
    release();
    ring_ = std::exchange(other.ring_, {});
    br_ = std::exchange(other.br_, nullptr);
    ring_bytes_ = std::exchange(other.ring_bytes_, 0);
    buffers_ = std::exchange(other.buffers_, nullptr);
    buffer_bytes_ = std::exchange(other.buffer_bytes_, 0);
    group_ = other.group_;
    count_ = other.count_;
    size_ = other.size_;
    uncommitted_ = std::exchange(other.uncommitted_, 0);
    published_ = std::exchange(other.published_, 0);
    available_ = std::exchange(other.available_, 0);
    out_ = std::move(other.out_);
    touched_ = std::exchange(other.touched_, false);
  }
  return *this;
}

BufRing::~BufRing() { release(); }

void BufRing::release() noexcept {
  if (const auto ring = ring_.lock(); ring && br_ != nullptr) {
    io_uring_unregister_buf_ring(ring.get(), group_);
  }
  if (br_ != nullptr) {
    ::munmap(br_, ring_bytes_);
  }
  if (buffers_ != nullptr) {
    ::munmap(buffers_, buffer_bytes_);
  }
  ring_.reset();
  br_ = nullptr;
  buffers_ = nullptr;
}

void BufRing::recycle(std::uint16_t bid) noexcept {
  // A buffer coming back may be resident (a trim skips buffers that are out, e.g. lent to a
  // send that waited on a slow reader): the next idle trim must look at it again.
  touched_ = touched_ || out_[bid];
  out_[bid] = false;
  io_uring_buf_ring_add(br_, buffers_ + std::size_t{bid} * size_, size_, bid,
                        io_uring_buf_ring_mask(count_), static_cast<int>(uncommitted_));
  ++uncommitted_;
}

void BufRing::publish(std::uint32_t n) noexcept {
  for (std::uint32_t i = 0; i < n && published_ < count_; ++i) {
    recycle(static_cast<std::uint16_t>(published_++));
  }
}

void BufRing::commit() noexcept {
  // Low: under a quarter of the buffers in circulation (and under 16) wait in the ring. Then
  // double what circulates, so a burst of new connections soon finds enough.
  if (published_ < count_ && available_ + uncommitted_ < std::max(16u, published_ / 4)) {
    publish(std::max(16u, published_));
  }
  if (uncommitted_ != 0) {
    io_uring_buf_ring_advance(br_, static_cast<int>(uncommitted_));
    available_ += uncommitted_;
    uncommitted_ = 0;
  }
}

void BufRing::trim() noexcept {
  touched_ = false;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  // Each run of buffers that are all in the ring, shrunk to whole pages.
  std::uint32_t bid = 0;
  while (bid < published_) {
    if (out_[bid]) {
      ++bid;
      continue;
    }
    const std::uint32_t first = bid;
    while (bid < published_ && !out_[bid]) {
      ++bid;
    }
    const auto from = reinterpret_cast<std::uintptr_t>(buffers_ + std::size_t{first} * size_);
    const auto to = reinterpret_cast<std::uintptr_t>(buffers_ + std::size_t{bid} * size_);
    const std::uintptr_t start = (from + page - 1) / page * page;
    const std::uintptr_t end = to / page * page;
    if (end > start) {
      ::madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
    }
  }
}

}  // namespace netecho::io
