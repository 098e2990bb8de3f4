#pragma once
// Privilege drop for --user: bind the listeners as root (port 7 is below 1024), then become an
// ordinary user for good before any client is served.
//
// The order is CERT POS36-C's: supplementary groups first (setgroups needs privilege), then the
// group id, then the user id (after which nothing else can be changed), then a check that none
// of it can be undone: setuid(0) and setgid(0) must fail, the real, effective and saved ids
// must all be the new ones, and no capability may remain. The user's own supplementary groups
// are not taken on (the list is emptied): the server needs none, and each is a privilege.

#include <sys/types.h>

#include <string>
#include <string_view>

#include "server/start_error.hpp"

namespace netecho::server {

struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;  // the user's primary group
};

// Looks the user up (a name, or a numeric uid) before anything is bound, so a typing error is
// found at once. Throws StartError naming the user when it does not exist, or
// when the process is not root and the user is not itself.
RunAs lookup_user(std::string_view name);

// Drops to run_as as above. Throws StartError saying which step failed. A no-op
// when the process already runs as exactly that user and group, without supplementary groups.
void drop_privileges(const RunAs& run_as);

}  // namespace netecho::server
