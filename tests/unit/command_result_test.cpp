#include "sluice/command_result.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <csignal>

#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace sluice {
namespace {

using namespace std::chrono_literals;

std::string file_contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Points `target` (stdout or stderr) at a file for the life of the object.
class Redirect {
 public:
  Redirect(int target, const std::string& path) : target_(target), saved_(::dup(target)) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, target);
    ::close(fd);
  }
  ~Redirect() {
    ::dup2(saved_, target_);
    ::close(saved_);
  }
  Redirect(const Redirect&) = delete;
  Redirect& operator=(const Redirect&) = delete;

 private:
  int target_;
  int saved_;
};

// Expected digests from Python's hashlib over the framing written out by hand (length, ':',
// bytes for each part).
TEST(CommandResult, HashCommandRequestFramesEveryPart) {
  ::setenv("QR_B", "v", 1);
  ::unsetenv("QR_A");
  Sha256 hasher;
  hasher.update_framed("test-v1");
  hash_command_request(hasher, {"a", "b c"}, {"QR_B", "QR_A", "QR_B"}, std::string("x\0y", 3));
  EXPECT_EQ(to_hex(hasher.finish()),
            "c3e9782ff9241488122eadaf86874ab870c9a48c8d95032ac3d49fbe0e25a58d");
  ::unsetenv("QR_B");
  Sha256 plain;
  plain.update_framed("test-v1");
  hash_command_request(plain, {"a"}, {}, std::nullopt);
  EXPECT_EQ(to_hex(plain.finish()),
            "0b2a1e4fb910e34c8efb3f8514c3fbdb9812c1d67470500603afa40faeac13a4");
}

TEST(CommandResult, CaptureKeepsAndPassesOnEveryChunk) {
  testing::TempDir dir;
  std::string path = dir.file("out");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0600);
  OutputCapture capture(fd, 100);
  capture.take(std::string_view("a\0b", 3));
  capture.take("\xff\n");
  ::close(fd);
  EXPECT_EQ(capture.bytes(), std::string("a\0b\xff\n", 5));
  EXPECT_FALSE(capture.overflowed());
  EXPECT_EQ(file_contents(path), std::string("a\0b\xff\n", 5));
}

TEST(CommandResult, CapturePastTheLimitKeepsNothingButStillPassesOn) {
  testing::TempDir dir;
  std::string path = dir.file("out");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0600);
  OutputCapture capture(fd, 4);
  capture.take("abc");
  capture.take("de");
  capture.take("f");
  ::close(fd);
  EXPECT_TRUE(capture.overflowed());
  EXPECT_EQ(capture.bytes(), "");
  EXPECT_EQ(file_contents(path), "abcdef");
}

TEST(CommandResult, CaptureHeldUntilOverflowPassesOnNothingWhileItFits) {
  testing::TempDir dir;
  std::string path = dir.file("out");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0600);
  OutputCapture capture(fd, 4, PassOn::after_overflow);
  capture.take("ab");
  capture.take("cd");
  ::close(fd);
  EXPECT_FALSE(capture.overflowed());
  EXPECT_EQ(capture.bytes(), "abcd");
  EXPECT_EQ(file_contents(path), "");
}

TEST(CommandResult, CaptureHeldUntilOverflowPassesOnEverythingOnceItOverflows) {
  testing::TempDir dir;
  std::string path = dir.file("out");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0600);
  OutputCapture capture(fd, 4, PassOn::after_overflow);
  capture.take("abc");
  capture.take(std::string_view("d\0e", 3));
  capture.take("f");
  ::close(fd);
  EXPECT_TRUE(capture.overflowed());
  EXPECT_EQ(capture.bytes(), "");
  EXPECT_EQ(file_contents(path), std::string("abcd\0ef", 7));
}

TEST(CommandResult, CaptureWithoutDescriptorOnlyKeeps) {
  OutputCapture capture(-1, 10);
  capture.take("quiet");
  EXPECT_EQ(capture.bytes(), "quiet");
}

TEST(CommandResult, CaptureGoesOnAfterTheReaderWentAway) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction saved {};
  ::sigaction(SIGPIPE, &ignore, &saved);
  OutputCapture capture(fds[1], 10);
  capture.take("one");
  capture.take("two");
  ::sigaction(SIGPIPE, &saved, nullptr);
  ::close(fds[1]);
  EXPECT_EQ(capture.bytes(), "onetwo");
}

TEST(CommandResult, HandlersCaptureARealCommandsStreams) {
  OutputCapture out(-1, 1000);
  OutputCapture err(-1, 1000);
  proc::Command command{.argv = {"sh", "-c", "printf 'o\\000ut'; printf err >&2; exit 3"}};
  command.capture_stdout = true;
  command.capture_stderr = true;
  proc::Outcome outcome = proc::run(command, capture_handlers(out, err));
  EXPECT_EQ(outcome.exit_status, 3);
  EXPECT_EQ(out.bytes(), std::string("o\0ut", 4));
  EXPECT_EQ(err.bytes(), "err");
}

TEST(CommandResult, ReplayWritesBothStreamsByteForByteAndReturnsTheStatus) {
  testing::TempDir dir;
  int status = 0;
  {
    Redirect out(STDOUT_FILENO, dir.file("out"));
    Redirect err(STDERR_FILENO, dir.file("err"));
    status = replay_result(std::string_view("x\0\xfe", 3), "warning\n", 42);
  }
  EXPECT_EQ(status, 42);
  EXPECT_EQ(file_contents(dir.file("out")), std::string("x\0\xfe", 3));
  EXPECT_EQ(file_contents(dir.file("err")), "warning\n");
}

TEST(CommandResult, RenewalTicksAtAThirdOfTheLeaseAndStopsOnceLost) {
  proc::Handlers handlers;
  int renewals = 0;
  int lost = 0;
  renew_while_running(handlers, {.lease = 3s,
                                 .renew = [&] { return ++renewals < 2; },
                                 .on_lost = [&] { ++lost; },
                                 .on_error = {}});
  EXPECT_EQ(handlers.tick_interval, Duration(1s));
  for (int tick = 0; tick < 5; ++tick) handlers.on_tick();
  EXPECT_EQ(renewals, 2);  // the second said "lost": no more renewals after it
  EXPECT_EQ(lost, 1);
}

TEST(CommandResult, RenewalReportsErrorsAndTriesAgain) {
  proc::Handlers handlers;
  int calls = 0;
  std::string reported;
  renew_while_running(handlers, {.lease = 90ms,
                                 .renew =
                                     [&] {
                                       if (++calls == 1) throw Error(75, "busy");
                                       return true;
                                     },
                                 .on_lost = {},
                                 .on_error = [&](const Error& error) { reported = error.what(); }});
  EXPECT_EQ(handlers.tick_interval, Duration(100ms));  // never more often than every 100 ms
  handlers.on_tick();
  handlers.on_tick();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(reported, "busy");
}

}  // namespace
}  // namespace sluice
