#include "sluice/tree_lock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "sluice/proc.hpp"
#include "test_support.hpp"

namespace sluice {
namespace {

using testing::TempDir;

TEST(TreeLock, SecondAcquireOfTheSameKeyFailsUntilTheFirstIsClosed) {
  TempDir dir;
  std::string path = dir.file("runs.lock");
  auto first = TreeLock::try_acquire(path, 42);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(TreeLock::try_acquire(path, 42).has_value());
  EXPECT_TRUE(TreeLock::try_acquire(path, 43 << 1).has_value());  // another key's byte
  first.reset();
  EXPECT_TRUE(TreeLock::try_acquire(path, 42).has_value());
}

TEST(TreeLock, FileIsCreatedWithMode0600) {
  TempDir dir;
  std::string path = dir.file("runs.lock");
  auto lock = TreeLock::try_acquire(path, 7);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST(TreeLock, HighHashesAreValidOffsets) {
  TempDir dir;
  auto lock = TreeLock::try_acquire(dir.file("runs.lock"), ~std::uint64_t{0});
  EXPECT_TRUE(lock.has_value());
}

TEST(TreeLock, UnopenablePathIs73) {
  EXPECT_EQ(testing::exit_status_of([] { TreeLock::try_acquire("/nonexistent-dir/x.lock", 1); }),
            73);
}

// The lock outlives the process that took it for as long as a command that inherited its
// descriptor runs: the SIGKILLed-wrapper case of idemkey run.
TEST(TreeLock, ACommandThatInheritedTheDescriptorKeepsTheLock) {
  TempDir dir;
  std::string path = dir.file("runs.lock");
  std::string ready = dir.file("ready");
  pid_t wrapper = ::fork();
  ASSERT_GE(wrapper, 0);
  if (wrapper == 0) {
    auto lock = TreeLock::try_acquire(path, 99);
    proc::Command command;
    // The shell writes its pid (its group's id) and becomes the sleep, which keeps the lock.
    command.argv = {"sh", "-c", "echo $$ > \"$0.tmp\" && mv \"$0.tmp\" \"$0\" && exec sleep 30",
                    ready};
    command.inherited_fds = {lock->descriptor()};
    command.own_process_group = true;
    proc::run(command);
    ::_exit(0);
  }
  for (int tries = 0; tries < 500 && ::access(ready.c_str(), F_OK) != 0; ++tries) ::usleep(10000);
  ASSERT_EQ(::access(ready.c_str(), F_OK), 0);
  ::kill(wrapper, SIGKILL);
  ::waitpid(wrapper, nullptr, 0);
  EXPECT_FALSE(TreeLock::try_acquire(path, 99).has_value()) << "the orphaned command holds it";
  pid_t group = 0;
  std::ifstream(ready) >> group;
  ASSERT_GT(group, 1);
  ::kill(-group, SIGKILL);
  for (int tries = 0; tries < 500 && !TreeLock::try_acquire(path, 99); ++tries) ::usleep(10000);
  EXPECT_TRUE(TreeLock::try_acquire(path, 99).has_value()) << "released when the tree ended";
}

}  // namespace
}  // namespace sluice
