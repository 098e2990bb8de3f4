// io::choose_backend answers with a value: the backend and why, or the reason a requested one
// cannot run; what that means for the exit status is the command layer's decision.

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "io/probe.hpp"

namespace netecho::io {
namespace {

// NETECHO_IO_URING=0 makes the probe refuse io_uring, as on a kernel that forbids it; the
// previous value comes back at the end of the test.
class UringDisabled {
 public:
  UringDisabled() {
    if (const char* v = std::getenv("NETECHO_IO_URING")) {
      saved_ = v;
    }
    ::setenv("NETECHO_IO_URING", "0", 1);
  }
  ~UringDisabled() {
    if (saved_) {
      ::setenv("NETECHO_IO_URING", saved_->c_str(), 1);
    } else {
      ::unsetenv("NETECHO_IO_URING");
    }
  }
  UringDisabled(const UringDisabled&) = delete;
  UringDisabled& operator=(const UringDisabled&) = delete;

 private:
  std::optional<std::string> saved_;
};

TEST(ChooseBackend, IoUringThatCannotRunIsAnErrorNamingWhy) {
  const UringDisabled disabled;
  const auto choice = choose_backend(BackendKind::io_uring);
  ASSERT_FALSE(choice);
  EXPECT_EQ(choice.error(),
            "--backend io_uring: io_uring cannot run here: disabled by NETECHO_IO_URING=0");
}

TEST(ChooseBackend, AutoFallsBackToEpollSayingWhy) {
  const UringDisabled disabled;
  const auto choice = choose_backend(BackendKind::automatic);
  ASSERT_TRUE(choice) << choice.error();
  EXPECT_EQ(choice->kind, BackendKind::epoll);
  EXPECT_NE(choice->reason.find("disabled by NETECHO_IO_URING=0"), std::string::npos)
      << choice->reason;
}

TEST(ChooseBackend, EpollIsTakenAsAsked) {
  const auto choice = choose_backend(BackendKind::epoll);
  ASSERT_TRUE(choice) << choice.error();
  EXPECT_EQ(choice->kind, BackendKind::epoll);
}

}  // namespace
}  // namespace netecho::io
