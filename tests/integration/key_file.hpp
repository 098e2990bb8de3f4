#pragma once
// A key file (STAMP's --auth-key, serve's --stamp-auth-key) for a test's life.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace netecho::test {

class KeyFile {
 public:
  explicit KeyFile(const std::string& key) {
    char name[] = "/tmp/netecho-stamp-key-XXXXXX";
    const int fd = ::mkstemp(name);
    EXPECT_GE(fd, 0);
    path_ = name;
    EXPECT_EQ(::write(fd, key.data(), key.size()), static_cast<ssize_t>(key.size()));
    ::close(fd);
  }
  ~KeyFile() { std::remove(path_.c_str()); }
  KeyFile(const KeyFile&) = delete;
  KeyFile& operator=(const KeyFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace netecho::test
