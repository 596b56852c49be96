// tree_lock: a lock that lives as long as a process tree, as flock(1)'s does. A wrapper that
// runs a command on behalf of a key (idemkey run, and later lock run, jobq work) holds it while
// the command runs and passes its descriptor to the command (proc::Command::inherited_fds), so
// when the wrapper itself is SIGKILLed the lock stays held for as long as any process of the
// command keeps the descriptor. Another wrapper that finds the key's lease expired tries the
// lock before taking the key over: held means the old command is still running.
//
// It is an open file description lock (F_OFD_SETLK) on one byte of a shared lock file, at an
// offset derived from the key: many keys share one file, a lock goes away with the last
// descriptor of its open file (not with the process that took it, unlike a POSIX record lock),
// and it does not interact with the flock(2) writer lock of the db module. Two keys whose
// 63-bit hashes collide share a lock; that only makes one wait for the other.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sluice {

class TreeLock {
 public:
  // Opens (creating, mode 0600) `path` and takes the lock for `key_hash` without waiting.
  // nullopt when a live process holds it. Error(73) when the file cannot be opened or created,
  // Error(74) when the lock call fails for another reason.
  static std::optional<TreeLock> try_acquire(const std::string& path, std::uint64_t key_hash);

  TreeLock(TreeLock&& other) noexcept;
  TreeLock& operator=(TreeLock&& other) noexcept;
  TreeLock(const TreeLock&) = delete;
  TreeLock& operator=(const TreeLock&) = delete;
  // Closes this process's descriptor: the lock is released unless a child still has it.
  ~TreeLock();

  // The descriptor to pass on to the command (close-on-exec is set; proc clears it in the
  // child only).
  [[nodiscard]] int descriptor() const { return fd_; }

 private:
  explicit TreeLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace sluice
