#include "backoff_output.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/fdio.hpp"

namespace sluice::backoff {
namespace {

// A new file in TMPDIR (default /tmp) named after `stem`, mode 0600; `path` gets its name.
int create_temporary_file(std::string_view stem, std::string_view purpose, std::string& path) {
  const char* directory = std::getenv("TMPDIR");
  path = fmt::format("{}/{}-XXXXXX",
                     directory != nullptr && *directory != '\0' ? directory : "/tmp", stem);
  int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) {
    throw Error(exit_code::cannot_create,
                fmt::format("cannot create {} in {}: {}", purpose, path.substr(0, path.rfind('/')),
                            std::strerror(errno)));
  }
  return fd;
}

int create_spill_file() {
  std::string path;
  int fd = create_temporary_file("backoff-stdout", "a spill file for --hold-stdout", path);
  ::unlink(path.c_str());  // nothing to clean up, whatever happens to this process
  return fd;
}

}  // namespace

Spool::~Spool() {
  if (file_ >= 0) ::close(file_);
}

void Spool::append(std::string_view bytes) {
  if (file_ < 0 && memory_.size() + bytes.size() <= memory_limit_) {
    memory_.append(bytes);
    return;
  }
  if (file_ < 0) file_ = create_spill_file();
  if (int error = write_all(file_, bytes); error != 0) {
    throw Error(exit_code::io,
                fmt::format("cannot write the --hold-stdout spill file: {}", std::strerror(error)));
  }
  spilled_ += bytes.size();
}

void Spool::deliver(int fd, bool strict) {
  auto put = [&](std::string_view bytes) {
    if (strict) {
      write_or_throw(fd, bytes, "<stdout>");
    } else {
      [[maybe_unused]] int ignored = write_all(fd, bytes);
    }
  };
  put(memory_);
  if (file_ >= 0) {
    std::array<char, 65536> chunk{};
    for (off_t offset = 0; offset < static_cast<off_t>(spilled_);) {
      ssize_t got = ::pread(file_, chunk.data(), chunk.size(), offset);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        throw Error(exit_code::io, fmt::format("cannot read the --hold-stdout spill file: {}",
                                               std::strerror(errno)));
      }
      put(std::string_view(chunk.data(), static_cast<std::size_t>(got)));
      offset += got;
    }
  }
  clear();
}

void Spool::clear() {
  memory_.clear();
  if (file_ >= 0) ::close(file_);
  file_ = -1;
  spilled_ = 0;
}

RequestFile::RequestFile() {
  int fd = create_temporary_file("backoff-retry-after", "BACKOFF_RETRY_AFTER_FILE", path_);
  ::close(fd);
}

RequestFile::~RequestFile() {
  ::unlink(path_.c_str());
}

std::string RequestFile::contents(std::size_t max_bytes) const {
  // O_NOFOLLOW: the path is read as the file backoff made, never as a link put in its place.
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) return {};  // the command removed it: no request
  if (fd < 0) {
    throw Error(exit_code::io, fmt::format("cannot open {}: {}", path_, std::strerror(errno)));
  }
  std::string text(max_bytes + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t count = ::read(fd, text.data() + got, text.size() - got);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      int error = errno;
      ::close(fd);
      throw Error(exit_code::io, fmt::format("cannot read {}: {}", path_, std::strerror(error)));
    }
    if (count == 0) break;
    got += static_cast<std::size_t>(count);
  }
  ::close(fd);
  text.resize(got);
  return text;
}

bool stdout_is_closed_pipe() {
  struct stat info {};
  if (::fstat(STDOUT_FILENO, &info) != 0) return false;
  if (!S_ISFIFO(info.st_mode) && !S_ISSOCK(info.st_mode)) return false;
  // Linux reports POLLERR on a pipe's writing end once no reader is left.
  pollfd check{STDOUT_FILENO, POLLOUT, 0};
  return ::poll(&check, 1, 0) == 1 && (check.revents & (POLLERR | POLLHUP)) != 0;
}

Report::Report(const std::string& path) : name_(path) {
  if (path.empty()) return;
  if (path == "-") {
    fd_ = STDOUT_FILENO;
    name_ = "<stdout>";
    return;
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw Error(exit_code::cannot_create,
                fmt::format("cannot open the report file {}: {}", path, std::strerror(errno)));
  }
  owned_ = true;
}

Report::~Report() {
  if (owned_) ::close(fd_);
}

void Report::write(const std::string& object) {
  if (fd_ < 0) return;
  write_or_throw(fd_, object + "\n", name_);
}

}  // namespace sluice::backoff
