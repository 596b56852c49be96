#include "backoff_output.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

OutputPattern::OutputPattern(std::string_view option, const std::string& text) {
  // REG_NOSUB: only whether a line matches counts, which lets the matcher skip submatches.
  int error = ::regcomp(&regex_, text.c_str(), REG_EXTENDED | REG_NOSUB);
  if (error != 0) {
    std::array<char, 256> message{};
    ::regerror(error, &regex_, message.data(), message.size());
    throw Error(exit_code::usage, fmt::format("{}: '{}' is not an extended regular expression: {}",
                                              option, text, message.data()));
  }
}

OutputPattern::~OutputPattern() {
  ::regfree(&regex_);
}

bool OutputPattern::matches(std::string_view line) const {
  regmatch_t bounds{};
  bounds.rm_so = 0;
  bounds.rm_eo = static_cast<regoff_t>(line.size());
  // REG_STARTEND reads the line's bounds from `bounds`: no copy, no terminating NUL needed.
  return ::regexec(&regex_, line.data(), 1, &bounds, REG_STARTEND) == 0;
}

void LineSplitter::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    std::size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      keep(bytes);
      return;
    }
    std::string_view piece = bytes.substr(0, newline);
    bytes.remove_prefix(newline + 1);
    if (partial_.empty() && piece.size() <= max_line_bytes_) {
      end_line(piece);  // the common case: a whole line within one chunk, matched in place
    } else {
      keep(piece);
      end_line(partial_);
      partial_.clear();
    }
  }
}

void LineSplitter::finish() {
  if (!partial_.empty()) end_line(partial_);
  partial_.clear();
  cut_ = false;
}

void LineSplitter::keep(std::string_view piece) {
  while (!piece.empty()) {
    std::size_t take = std::min(piece.size(), max_line_bytes_ - partial_.size());
    partial_.append(piece.substr(0, take));
    piece.remove_prefix(take);
    if (partial_.size() == max_line_bytes_) {
      on_line_(partial_);
      partial_.clear();
      cut_ = true;
    }
  }
}

void LineSplitter::end_line(std::string_view line) {
  bool rest_of_a_cut_line = cut_;
  cut_ = false;
  if (line.empty() && rest_of_a_cut_line) return;  // the line ended exactly at a cut
  if (line.ends_with('\r')) line.remove_suffix(1);
  on_line_(line);
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
