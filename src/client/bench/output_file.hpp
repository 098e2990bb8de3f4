#pragma once
// An output file (bench's --json and --plot) that is written whole or not at all. It is opened
// before the run as a temporary file beside its destination (same folder, so same file system:
// the rename is atomic), so a bad path fails at once; commit() writes the text and renames it
// over the destination. A run that ends without commit() (refused port, worker failure) removes
// the temporary file and leaves whatever was at the destination untouched, as a half-written
// or empty document would be worse than the old one.

#include <optional>
#include <string>
#include <string_view>

namespace netecho::client {

class OutputFile {
 public:
  // Creates "<path>.<pid>.tmp" (never replacing a file of that name). No result: it could not
  // be created; *error then holds "PATH: reason".
  static std::optional<OutputFile> create(const std::string& path, std::string* error);

  OutputFile() = default;
  OutputFile(OutputFile&& o) noexcept;
  OutputFile& operator=(OutputFile&& o) noexcept;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile();  // removes the temporary file unless committed

  // Writes text to the temporary file and renames it to the destination. On failure returns
  // the reason ("cannot write PATH: reason") and removes the temporary file.
  std::optional<std::string> commit(std::string_view text);

 private:
  void discard() noexcept;

  int fd_ = -1;
  std::string path_;
  std::string temp_path_;
};

}  // namespace netecho::client
