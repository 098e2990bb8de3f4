#pragma once
// Whether the io_uring backend can run here, and its factory. This header keeps liburing.h out
// of the files that only choose a backend.

#include <memory>
#include <string>

#include "io/backend.hpp"
#include "io/probe.hpp"

namespace netecho::io {

struct UringSupport {
  bool usable = false;
  std::string detail;  // what was checked, or why io_uring cannot run
};

// Creates a real ring the way the backend does and tries what it uses: the required features
// (IORING_FEAT_NODROP, EXT_ARG, FAST_POLL, CQE_SKIP), the opcodes, a provided-buffer ring, a
// multishot recv that delivers data and a multishot accept that accepts a connection (over
// AF_UNIX sockets, so no network is touched). Takes a few milliseconds. Refuses up front when
// NETECHO_IO_URING=0 is set, and under valgrind (seen from its LD_PRELOAD), whose scheduler
// lets a thread waiting in io_uring_enter stall all the others.
UringSupport probe_uring();

// Throws std::system_error when the kernel refuses the ring or its buffers.
std::unique_ptr<Backend> make_uring_backend(const BackendOptions& options);

}  // namespace netecho::io
