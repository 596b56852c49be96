// --local and --flock: kernel flock(2) locks on one host, as flock(1) takes them. No lease,
// no token: the kernel releases a lock when the last descriptor of its open file closes, so
// a killed holder frees it at once (unless CMD, which inherits the descriptor, still runs).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "lock.hpp"
#include "sluice/error.hpp"
#include "sluice/proc.hpp"
#include "sluice/signals.hpp"

namespace sluice::lock {
namespace {

// The longest pause between two tries while waiting: flock(1) blocks in the kernel instead,
// but a poll lets every lock of a set share one deadline.
constexpr Duration longest_local_poll = std::chrono::milliseconds(20);

class LockFile {
 public:
  explicit LockFile(const std::string& path) : path_(path) {
    // As flock(1): create the file if needed (read access is enough to lock it); a directory
    // can only be opened for reading.
    fd_ = ::open(path.c_str(), O_RDONLY | O_NOCTTY | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno == EISDIR) fd_ = ::open(path.c_str(), O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd_ < 0) {
      throw Error(exit_code::cannot_create,
                  fmt::format("cannot open lock file '{}': {}", path, std::strerror(errno)));
    }
  }
  ~LockFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;

  // True when taken; false when another open file holds a conflicting lock.
  bool try_lock(Mode mode) {
    int operation = (mode == Mode::shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
    while (::flock(fd_, operation) != 0) {
      if (errno == EWOULDBLOCK) return false;
      if (errno != EINTR) {
        throw Error(exit_code::io,
                    fmt::format("cannot lock '{}': {}", path_, std::strerror(errno)));
      }
      throw_if_interrupted();
    }
    return true;
  }
  [[nodiscard]] int descriptor() const { return fd_; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// Takes `file`'s lock, polling until `deadline` (none: until interrupted).
bool lock_before(LockFile& file, Mode mode,
                 std::optional<std::chrono::steady_clock::time_point> deadline) {
  Duration pause = std::chrono::microseconds(500);
  for (;;) {
    if (file.try_lock(mode)) return true;
    auto now = std::chrono::steady_clock::now();
    if (deadline && now >= *deadline) return false;
    Duration sleep = pause;
    if (deadline) sleep = std::min(sleep, std::chrono::duration_cast<Duration>(*deadline - now));
    if (!sleep_unless_interrupted(sleep)) throw_if_interrupted();
    pause = std::min(pause * 2, longest_local_poll);
  }
}

}  // namespace

std::string local_lock_file(std::string_view directory, std::string_view name) {
  std::string file;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '%') {
      file += "%25";
    } else if (c == '/') {
      file += "%2F";
    } else if (c == '.' && i == 0) {
      file += "%2E";
    } else {
      file += c;
    }
  }
  return fmt::format("{}/{}", directory, file);
}

int run_local(const std::vector<std::string>& files, const RunOptions& options) {
  std::vector<std::string> paths = canonical_names(files);
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (options.wait != wait_forever) deadline = std::chrono::steady_clock::now() + options.wait;
  std::vector<std::unique_ptr<LockFile>> locks;
  for (const auto& path : paths) {
    locks.push_back(std::make_unique<LockFile>(path));
    // In sorted order, so that two runs wanting overlapping sets never deadlock; a lock that
    // cannot be had in time lets go of those taken before it (all or nothing).
    if (!lock_before(*locks.back(), options.mode, deadline)) {
      throw Error(options.conflict_exit, fmt::format("'{}' is locked by another process", path));
    }
  }
  proc::Command command;
  command.argv = options.command;
  for (const auto& lock : locks) command.inherited_fds.push_back(lock->descriptor());
  proc::Outcome outcome = proc::run(command);
  if (outcome.launch_failed) {
    print_diagnostic(Severity::error, options.command.front(), outcome.launch_error);
  }
  return outcome.exit_status;
}

}  // namespace sluice::lock
