#include "sluice/tree_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice {

std::optional<TreeLock> TreeLock::try_acquire(const std::string& path, std::uint64_t key_hash) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    throw Error(exit_code::cannot_create,
                fmt::format("cannot open lock file '{}': {}", path, std::strerror(errno)));
  }
  TreeLock lock(fd);
  struct flock range {};
  range.l_type = F_WRLCK;
  range.l_whence = SEEK_SET;
  // Any offset up to the largest off_t is valid and needs no space in the file.
  range.l_start = static_cast<off_t>(key_hash >> 1);
  range.l_len = 1;
  int result;
  do {
    result = ::fcntl(fd, F_OFD_SETLK, &range);
  } while (result != 0 && errno == EINTR);
  if (result == 0) return lock;
  if (errno == EAGAIN || errno == EACCES) return std::nullopt;
  throw Error(exit_code::io, fmt::format("cannot lock '{}': {}", path, std::strerror(errno)));
}

TreeLock::TreeLock(TreeLock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

TreeLock& TreeLock::operator=(TreeLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

TreeLock::~TreeLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace sluice
