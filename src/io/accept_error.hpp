#pragma once
// How a backend treats an accept(2) error, the same for every backend.

#include <cerrno>

namespace netecho::io {

// accept(2) errors that concern only the connection being accepted (it was aborted or reset
// before it could be taken, or the network under it went away): accept the next one, tell
// nobody. Every other error (EMFILE, ENFILE, ENOBUFS, ENOMEM) stops accepting and is reported
// to the owner, who decides when to try again.
inline bool accept_error_is_transient(int err) noexcept {
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

}  // namespace netecho::io
