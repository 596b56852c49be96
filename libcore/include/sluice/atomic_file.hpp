// atomic_file: replace a file's contents all at once. The temporary file is created next to
// the target when the object is constructed, so a path that cannot be written is reported
// (Error 73) before any work is done; commit() writes and renames it over the target, so a
// reader sees the old contents or the new ones, never a mix. Without commit() the temporary
// file is removed.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

class AtomicFile {
 public:
  // `mode` is filtered through the umask, as open(2) would.
  explicit AtomicFile(std::string path, unsigned mode = 0666);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Writes `contents` and renames the file into place. Throws Error(74) on failure.
  void commit(std::string_view contents);
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  void sync_directory() const;
  std::string path_;
  std::string temporary_;
  int fd_ = -1;
};

}  // namespace sluice
