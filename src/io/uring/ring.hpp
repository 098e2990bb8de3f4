#pragma once
// Ring: one io_uring instance as an RAII object, torn down (io_uring_queue_exit) when the Ring is
// destroyed, so its owner's declaration order says what outlives the ring. The teardown cancels
// every request, and a provided-buffer ring registered with the instance goes with it: what holds
// such a registration (BufRing) keeps a RingHandle, a weak reference that reports the teardown,
// so it never unregisters through a descriptor that is closed, or by now another ring's.

#include <memory>

#include "net/error.hpp"

struct io_uring;

namespace netecho::io {

using RingHandle = std::weak_ptr<io_uring>;

class Ring {
 public:
  // Sets the ring up the way every netecho ring is: SINGLE_ISSUER, DEFER_TASKRUN, SUBMIT_ALL, a
  // completion queue of cq_entries (clamped to the kernel's limit), and, with disabled, not yet
  // enabled. The error is the kernel's refusal.
  static net::Result<Ring> create(unsigned entries, unsigned cq_entries, bool disabled);

  io_uring* get() const noexcept { return ring_.get(); }
  RingHandle handle() const noexcept { return ring_; }

 private:
  explicit Ring(std::shared_ptr<io_uring> ring) noexcept : ring_(std::move(ring)) {}

  std::shared_ptr<io_uring> ring_;  // the only owner: handles are weak
};

}  // namespace netecho::io
