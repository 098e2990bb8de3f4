#include "io/uring/ring.hpp"

#include <liburing.h>

namespace netecho::io {

net::Result<Ring> Ring::create(unsigned entries, unsigned cq_entries, bool disabled) {
  auto ring = std::make_unique<io_uring>();
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
            IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  if (disabled) {
    p.flags |= IORING_SETUP_R_DISABLED;
  }
  p.cq_entries = cq_entries;
  if (const int rc = io_uring_queue_init_params(entries, ring.get(), &p); rc < 0) {
    return net::errno_code(-rc);
  }
  return Ring(std::shared_ptr<io_uring>(ring.release(), [](io_uring* r) {
    io_uring_queue_exit(r);
    delete r;
  }));
}

}  // namespace netecho::io
