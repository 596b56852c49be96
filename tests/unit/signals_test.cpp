#include "sluice/signals.hpp"

#include "sluice/error.hpp"
#include "sluice/fdio.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace sluice {
namespace {

using namespace std::chrono_literals;

// A tool reading a regular file never has read() interrupted: the reader checks the flag
// before each read. Run in a child, since the flag is process-wide and sticky.
TEST(Signals, AReaderOfARegularFileStopsAtAPendingSignal) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    install_termination_handlers();
    ::raise(SIGTERM);
    int fd = ::open("/proc/self/exe", O_RDONLY);
    LineReader reader(fd, "exe");
    std::string_view line;
    int code = 0;
    try {
      reader.next(line);
    } catch (const Error& error) {
      code = error.code();
    }
    ::_exit(code == 128 + SIGTERM ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Signals, SleepLastsTheWholeDurationWithoutSignals) {
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(sleep_unless_interrupted(30ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
}

// The signal flag is process-wide and sticky, so the interrupted sleep runs in a child.
TEST(Signals, SigtermEndsASleepAtOnce) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    install_termination_handlers();
    bool completed = sleep_unless_interrupted(30s);
    bool pending = pending_signal() == SIGTERM;
    // A sleep after the signal does not wait at all.
    bool second = sleep_unless_interrupted(30s);
    ::_exit(!completed && pending && !second ? 0 : 1);
  }
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(100ms);
  ::kill(child, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace sluice
