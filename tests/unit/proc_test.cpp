#include "sluice/proc.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace sluice::proc {
namespace {

using namespace std::chrono_literals;

struct Captured {
  std::string out, err;
  Outcome outcome;
};

Captured capture(Command command, const Limits& limits = {}) {
  Captured result;
  command.capture_stdout = true;
  command.capture_stderr = true;
  Handlers handlers;
  handlers.on_stdout = [&](std::string_view chunk) { result.out.append(chunk); };
  handlers.on_stderr = [&](std::string_view chunk) { result.err.append(chunk); };
  result.outcome = run(command, handlers, limits);
  return result;
}

TEST(Proc, CapturesOutputAndExitStatus) {
  auto result = capture({.argv = {"sh", "-c", "printf out; printf err >&2; exit 7"}});
  EXPECT_EQ(result.out, "out");
  EXPECT_EQ(result.err, "err");
  EXPECT_EQ(result.outcome.exit_status, 7);
  EXPECT_EQ(result.outcome.signal, 0);
}

TEST(Proc, FeedsStdinAndPassesEnvironment) {
  auto result = capture({.argv = {"sh", "-c", "cat; printf \"$GREETING\""},
                         .environment = {{"GREETING", "hi there"}},
                         .input = std::string("from stdin|")});
  EXPECT_EQ(result.out, "from stdin|hi there");
}

TEST(Proc, FeedsLargeStdinWithoutDeadlock) {
  std::string big(1 << 20, 'z');
  auto result = capture({.argv = {"cat"}, .input = big});
  EXPECT_EQ(result.out.size(), big.size());
}

TEST(Proc, BinaryOutputIsKeptByteForByte) {
  auto result = capture({.argv = {"printf", "a\\000b\\377"}});
  EXPECT_EQ(result.out, std::string("a\0b\xFF", 4));
}

TEST(Proc, MissingCommandIs127AndNonExecutableIs126) {
  auto missing = capture({.argv = {"sluice-no-such-command-xyz"}});
  EXPECT_TRUE(missing.outcome.launch_failed);
  EXPECT_EQ(missing.outcome.exit_status, 127);
  testing::TempDir dir;
  std::string plain = dir.file("plain.txt");
  std::fclose(std::fopen(plain.c_str(), "w"));  // created 0644: not executable
  auto not_executable = capture({.argv = {plain}});
  EXPECT_TRUE(not_executable.outcome.launch_failed);
  EXPECT_EQ(not_executable.outcome.exit_status, 126);
}

TEST(Proc, SignalDeathIs128PlusN) {
  auto result = capture({.argv = {"sh", "-c", "kill -KILL $$"}});
  EXPECT_EQ(result.outcome.signal, 9);
  EXPECT_EQ(result.outcome.exit_status, 137);
}

TEST(Proc, TimeoutTerminatesTheWholeProcessGroup) {
  // The grandchild would keep the pipe open for 30 s if it were not killed with its group.
  auto started = std::chrono::steady_clock::now();
  auto result = capture({.argv = {"sh", "-c", "sleep 30 & sleep 30"}, .own_process_group = true},
                        {.timeout = 200ms, .kill_after = 1s});
  EXPECT_TRUE(result.outcome.timed_out);
  EXPECT_EQ(result.outcome.exit_status, 128 + 15);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST(Proc, KillAfterEscalatesToSigkill) {
  auto result = capture({.argv = {"sh", "-c", "trap '' TERM; sleep 30"}, .own_process_group = true},
                        {.timeout = 100ms, .kill_after = 200ms});
  EXPECT_TRUE(result.outcome.timed_out);
  EXPECT_EQ(result.outcome.exit_status, 128 + 9);
}

TEST(Proc, ReportsProcessesOfTheGroupThatOutliveTheChild) {
  // The background sleep leaves the output pipes, so run() returns when the shell exits.
  auto lingering = capture(
      {.argv = {"sh", "-c", "sleep 2 >/dev/null 2>&1 & exit 0"}, .own_process_group = true});
  EXPECT_EQ(lingering.outcome.exit_status, 0);
  EXPECT_TRUE(lingering.outcome.descendants_remain);
  auto alone = capture({.argv = {"sh", "-c", "exit 0"}, .own_process_group = true});
  EXPECT_FALSE(alone.outcome.descendants_remain);
}

// Whether `pid` is a live process (a zombie is not: it waits only to be reaped).
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::size_t after_name = text.rfind(") ");
  return after_name != std::string::npos && text[after_name + 2] != 'Z';
}

bool ends_within(pid_t pid, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (alive(pid)) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST(Proc, AHandlerThatStopsTheRunKillsTheGroupAfterItsLeaderEnded) {
  // The shell ends at once; its background sleep keeps the output pipe open, so supervision
  // goes on until the tick handler stops it.
  testing::TempDir dir;
  std::string pid_file = dir.file("sleeper.pid");
  Handlers handlers;
  handlers.tick_interval = 20ms;
  int ticks = 0;
  handlers.on_tick = [&] {
    if (++ticks == 10) throw std::runtime_error("stop");
  };
  Command command{.argv = {"sh", "-c", "sleep 30 & echo $! > " + pid_file + "; exit 0"},
                  .own_process_group = true,
                  .capture_stdout = true};
  EXPECT_THROW(run(command, handlers), std::runtime_error);
  pid_t sleeper = 0;
  std::ifstream(pid_file) >> sleeper;
  ASSERT_GT(sleeper, 0);
  EXPECT_TRUE(ends_within(sleeper, 2000ms));
}

TEST(Proc, TimeoutReachesTheGroupAfterItsLeaderEnded) {
  testing::TempDir dir;
  std::string pid_file = dir.file("sleeper.pid");
  auto started = std::chrono::steady_clock::now();
  auto result = capture({.argv = {"sh", "-c", "sleep 30 & echo $! > " + pid_file + "; exit 3"},
                         .own_process_group = true},
                        {.timeout = 200ms, .kill_after = 1s});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_EQ(result.outcome.exit_status, 3);  // the leader's own status
  pid_t sleeper = 0;
  std::ifstream(pid_file) >> sleeper;
  ASSERT_GT(sleeper, 0);
  EXPECT_TRUE(ends_within(sleeper, 2000ms));
}

TEST(Proc, TicksWhileTheChildRuns) {
  int ticks = 0;
  Handlers handlers;
  handlers.tick_interval = 20ms;
  handlers.on_tick = [&] { ++ticks; };
  auto outcome = run({.argv = {"sleep", "0.2"}}, handlers);
  EXPECT_EQ(outcome.exit_status, 0);
  EXPECT_GE(ticks, 3);
}

TEST(Proc, DecodesWaitStatuses) {
  EXPECT_EQ(decode_wait_status(3 << 8), 3);
  EXPECT_EQ(decode_wait_status(15), 143);
}

}  // namespace
}  // namespace sluice::proc
