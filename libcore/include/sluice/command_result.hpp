// command_result: a wrapped command's result as a tool keeps it and gives it back (idemkey
// run, qcache run): its standard output and standard error captured while they pass through
// live, with a size limit; the saved bytes and exit status replayed byte for byte; and the
// lease a tool holds on the command's key renewed while it runs (docs/ARCHITECTURE.md,
// "libcore modules"). How the bytes are stored (BLOB columns) is each tool's store's.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/crypto.hpp"
#include "sluice/error.hpp"
#include "sluice/proc.hpp"
#include "sluice/timeutil.hpp"

namespace sluice {

// When an OutputCapture writes the chunks it takes on to its descriptor.
enum class PassOn {
  live,            // each chunk at once
  after_overflow,  // none while they fit the limit (the caller decides what to print from
                   // bytes()); once they do not, the bytes held so far and every later chunk,
                   // so that output too large to keep is never lost
};

// Feeds `hasher` what identifies a wrapped command's request (idemkey's fingerprint,
// qcache's key), each part framed so that no two requests feed the same bytes: the argv (its
// length, then each word), the named environment variables as a set (order and repetition do
// not matter; each one's value, or that it is unset), and the stdin bytes when they are read
// (empty stdin differs from none).
void hash_command_request(Sha256& hasher, const std::vector<std::string>& command,
                          const std::vector<std::string>& environment_names,
                          const std::optional<std::string>& input);

// One output stream of a command as it runs: each chunk is written on to `fd` (until a write
// fails: the reader went away, which must not stop the command) and kept, up to `limit`
// bytes. Past the limit nothing is kept and overflowed() says so.
class OutputCapture {
 public:
  // fd -1: keep the bytes without passing them on (a refresh nobody is waiting for).
  OutputCapture(int fd, std::uint64_t limit, PassOn pass_on = PassOn::live)
      : fd_(fd), limit_(limit), pass_on_(pass_on) {}
  void take(std::string_view chunk);
  [[nodiscard]] const std::string& bytes() const { return bytes_; }
  [[nodiscard]] bool overflowed() const { return overflowed_; }

 private:
  void pass(std::string_view chunk);

  int fd_;
  std::uint64_t limit_;
  PassOn pass_on_;
  std::string bytes_;
  bool overflowed_ = false;
  bool passing_on_ = true;
};

// The handlers that feed a captured command's stdout and stderr to two OutputCaptures (set
// capture_stdout and capture_stderr on the proc::Command).
proc::Handlers capture_handlers(OutputCapture& out, OutputCapture& err);

// Writes a saved result back as the command wrote it: the stdout bytes to our stdout, then
// the stderr bytes to our stderr, nothing of the tool's own on either; returns the exit status
// to exit with. A closed stdout pipe is Error(141) (quiet), another write error Error(74).
int replay_result(std::string_view stdout_bytes, std::string_view stderr_bytes, int exit_status);

// Keeping a lease on a running command's key: `renew` extends it (false when another process
// took the key over: nothing is renewed after that), called every lease/3 (at least every
// 100 ms), so a live holder is never taken over. `on_lost` runs once when renew returns false,
// `on_error` when it throws an Error (a busy state: the next tick tries again).
struct LeaseRenewal {
  Duration lease{};
  std::function<bool()> renew;
  std::function<void()> on_lost;
  std::function<void(const Error&)> on_error;
};

// Adds the renewal to `handlers` as its on_tick.
void renew_while_running(proc::Handlers& handlers, LeaseRenewal renewal);

}  // namespace sluice
