#pragma once
// StartError: why the server cannot start (a listener it cannot bind, a socket a supervisor
// passed that it cannot use, privileges it cannot drop), in one line naming the cause. The
// server decides no exit status: cli/ turns this into 1, as it turns usage errors into 2.

#include <stdexcept>

namespace netecho::server {

class StartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace netecho::server
