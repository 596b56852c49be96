// proc: child processes. The only module that calls posix_spawn/exec/waitpid.
//
// run() starts a command (PATH lookup), optionally in its own process group, with extra
// environment variables, optional stdin bytes and captured stdout/stderr delivered to
// callbacks as they arrive; enforces an optional timeout (SIGTERM to the child or its group,
// SIGKILL after kill_after); forwards SIGINT/SIGTERM/SIGHUP received by this process to the
// child; and decodes the exit status shell-style.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/timeutil.hpp"

namespace sluice::proc {

struct Command {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  std::vector<std::pair<std::string, std::string>> environment;  // added to ours, overriding
  // A new process group, so a timeout or a forwarded signal reaches every descendant. Leave it
  // off for commands that may read the terminal (a background group cannot).
  bool own_process_group = false;
  std::optional<std::string> input;  // fed to stdin, then closed; nullopt inherits our stdin
  bool capture_stdout = false;       // false: the child writes to our stdout directly
  bool capture_stderr = false;
  // Descriptors the command and its descendants keep (at the same numbers), close-on-exec or
  // not: a TreeLock's, so that the lock lives as long as they do.
  std::vector<int> inherited_fds;
};

struct Handlers {
  std::function<void(std::string_view)> on_stdout;  // called with each chunk as it arrives
  std::function<void(std::string_view)> on_stderr;
  std::function<void()> on_tick;  // called every tick_interval while the child runs
  Duration tick_interval{0};
};

struct Limits {
  std::optional<Duration> timeout;
  Duration kill_after = std::chrono::seconds(5);
};

struct Outcome {
  // Shell-style status: the exit code, 128+N when killed by signal N, 126 when the command
  // could not be executed, 127 when it was not found.
  int exit_status = 0;
  int signal = 0;  // the signal that ended the child, or 0
  bool timed_out = false;
  bool launch_failed = false;
  std::string launch_error;  // strerror text when launch_failed
  int forwarded_signal = 0;  // a termination signal this process received and passed on
  // With own_process_group: processes of the child's group were still running when run()
  // returned (after a forwarded signal, once they had 200 ms to end). A caller that must not
  // run the work twice treats the work as possibly still going on.
  bool descendants_remain = false;
};

// Throws Error(2) for an empty argv, Error(75) when the system cannot start a process now
// (EAGAIN, ENOMEM) and Error(70) when pipes or poll fail, after killing and reaping a child
// already started; exceptions from handlers propagate the same way (a handler may throw to
// stop the command). With own_process_group, that kill (SIGKILL) and a timeout's signals go to
// the whole group, also after the child itself has ended. A missing or non-executable command
// is an Outcome with launch_failed set.
Outcome run(const Command& command, const Handlers& handlers = {}, const Limits& limits = {});

// Decodes a waitpid status into the shell-style exit status.
int decode_wait_status(int status);

// Replaces this process's program by `path`, run with `argv` (null-terminated) and the same
// environment and open files. Returns only when that fails, with errno's description.
std::string replace_program(const std::string& path, char** argv);

}  // namespace sluice::proc
