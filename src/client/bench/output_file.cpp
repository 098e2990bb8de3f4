#include "client/bench/output_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace netecho::client {

std::optional<OutputFile> OutputFile::create(const std::string& path, std::string* error) {
  OutputFile file;
  file.path_ = path;
  file.temp_path_ = fmt::format("{}.{}.tmp", path, ::getpid());
  // 0666 before the umask, as fopen(path, "w") would have created the destination.
  file.fd_ = ::open(file.temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (file.fd_ < 0) {
    *error = fmt::format("{}: {}", path, std::strerror(errno));
    file.temp_path_.clear();
    return std::nullopt;
  }
  return file;
}

OutputFile::OutputFile(OutputFile&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      path_(std::move(o.path_)),
      temp_path_(std::exchange(o.temp_path_, {})) {}

OutputFile& OutputFile::operator=(OutputFile&& o) noexcept {
  if (this != &o) {
    discard();
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    temp_path_ = std::exchange(o.temp_path_, {});
  }
  return *this;
}

OutputFile::~OutputFile() { discard(); }

void OutputFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

std::optional<std::string> OutputFile::commit(std::string_view text) {
  const auto failed = [&](int err) {
    discard();
    return fmt::format("cannot write {}: {}", path_, std::strerror(err));
  };
  while (!text.empty()) {
    const ssize_t n = ::write(fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return failed(n < 0 ? errno : EIO);
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  // close() can report a deferred write error (NFS, a full disk): check it before the rename.
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 || ::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return failed(errno);
  }
  temp_path_.clear();
  return std::nullopt;
}

}  // namespace netecho::client
