#include "sluice/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/fdio.hpp"

namespace sluice {

AtomicFile::AtomicFile(std::string path, unsigned mode) : path_(std::move(path)) {
  temporary_ = path_ + ".tmp.XXXXXX";
  fd_ = ::mkostemp(temporary_.data(), O_CLOEXEC);
  if (fd_ < 0) {
    throw Error(exit_code::cannot_create,
                fmt::format("cannot create '{}': {}", path_, std::strerror(errno)));
  }
  // mkostemp creates the file 0600; give it the mode a plain open() would, umask applied.
  mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd_, static_cast<mode_t>(mode) & ~mask);
}

void AtomicFile::sync_directory() const {
  auto slash = path_.rfind('/');
  std::string directory = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path_.substr(0, slash);
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the rename happened; durability of the entry is best effort here
  ::fsync(fd);
  ::close(fd);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temporary_.c_str());
  }
}

void AtomicFile::commit(std::string_view contents) {
  // Data on disk before the rename, and the rename itself on disk after it, so that a power
  // failure leaves the old contents or the new ones, never an empty file.
  int error = write_all(fd_, contents);
  if (error == 0 && ::fsync(fd_) != 0) error = errno;
  if (::close(fd_) != 0 && error == 0) error = errno;
  fd_ = -1;
  if (error == 0 && ::rename(temporary_.c_str(), path_.c_str()) != 0) error = errno;
  if (error == 0) sync_directory();
  if (error != 0) {
    ::unlink(temporary_.c_str());
    throw Error(exit_code::io, fmt::format("cannot write '{}': {}", path_, std::strerror(error)));
  }
}

}  // namespace sluice
