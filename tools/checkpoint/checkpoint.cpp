#include "checkpoint.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "sluice/crypto.hpp"
#include "sluice/json.hpp"
#include "sluice/proc.hpp"
#include "sluice/signals.hpp"

namespace sluice::checkpoint {
namespace {

std::string describe(const Fingerprint& fingerprint) {
  if (!fingerprint.size) return "a pipe (no fingerprint)";
  return fmt::format("{} bytes, modified at {} ns, first 64 KiB {}", *fingerprint.size,
                     *fingerprint.mtime_ns, fingerprint.head_sha256->substr(0, 16));
}

// Feeds chunks of lines to the command and moves the job's next line past each chunk the
// command finished with status 0.
class ChunkRunner {
 public:
  ChunkRunner(Store& store, const Clock& clock, const RunOptions& options, Job& job)
      : store_(store), clock_(clock), options_(options), job_(job) {}

  void add(std::string_view line) {
    if (lines_ == 0) started_ = std::chrono::steady_clock::now();
    chunk_.append(line);
    chunk_ += '\n';
    ++lines_;
  }
  [[nodiscard]] bool due() const {
    if (lines_ == 0) return false;
    if (lines_ >= options_.every) return true;
    return options_.every_time.count() > 0 &&
           std::chrono::steady_clock::now() - started_ >= options_.every_time;
  }
  // How long the open chunk may still wait for lines under --every-time (nullopt: no limit).
  [[nodiscard]] std::optional<std::chrono::milliseconds> time_left() const {
    if (lines_ == 0 || options_.every_time.count() == 0) return std::nullopt;
    auto left = options_.every_time - (std::chrono::steady_clock::now() - started_);
    return std::max(std::chrono::ceil<std::chrono::milliseconds>(left),
                    std::chrono::milliseconds(0));
  }
  // Runs the chunk; returns 0, or the command's status (the checkpoint then stays put).
  int flush() {
    if (lines_ == 0) return exit_code::success;
    proc::Command command;
    command.argv = options_.command;
    command.input = std::move(chunk_);
    proc::Outcome outcome = proc::run(command);
    chunk_.clear();
    if (outcome.launch_failed) {
      throw Error(outcome.exit_status,
                  fmt::format("cannot run '{}': {}", options_.command[0], outcome.launch_error));
    }
    if (outcome.exit_status != 0) return failed(outcome);
    job_.next_line += lines_;
    lines_ = 0;
    job_.updated_at = clock_.now();
    store_.save(job_);
    return exit_code::success;
  }

 private:
  int failed(const proc::Outcome& outcome) {
    if (outcome.forwarded_signal != 0) return exit_code::signal_base + outcome.forwarded_signal;
    if (!options_.quiet) {
      note(
          fmt::format("job '{}': '{}' exited {} on lines {} to {}; the next run starts at "
                      "line {}",
                      job_.name, options_.command[0], outcome.exit_status, job_.next_line,
                      job_.next_line + lines_ - 1, job_.next_line));
    }
    return outcome.exit_status;
  }

  Store& store_;
  const Clock& clock_;
  const RunOptions& options_;
  Job& job_;
  std::string chunk_;
  std::int64_t lines_ = 0;
  std::chrono::steady_clock::time_point started_;
};

// Before a read that would block: waits for the input to have more, but no longer than the
// open chunk's --every-time allows, so that lines a producer wrote before a pause are run when
// their time is up rather than when the next line comes.
void wait_for_input_or_due(const ChunkRunner& runner, int fd) {
  while (!runner.due()) {
    std::optional<std::chrono::milliseconds> left = runner.time_left();
    if (!left) return;
    pollfd ready{fd, POLLIN, 0};
    int got = ::poll(&ready, 1, static_cast<int>(std::min<std::int64_t>(left->count(), INT32_MAX)));
    if (got > 0) return;
    if (got < 0 && errno != EINTR) return;  // the read that follows reports the error
    throw_if_interrupted();
  }
}

// The job as this run starts it: resumed, restarted, or new; nullopt when it already completed.
std::optional<Job> starting_job(Store& store, const RunOptions& options, const InputFile& input,
                                const Fingerprint& fingerprint) {
  std::optional<Job> stored = store.find(options.job);
  if (stored && !options.restart) {
    if (stored->fingerprint != fingerprint) {
      throw Error(exit_code::data,
                  fmt::format("job '{}': the input changed since the checkpoint (then: {}; now: "
                              "{}); --restart starts it over from line 1",
                              options.job, describe(stored->fingerprint), describe(fingerprint)));
    }
    if (stored->state == JobState::complete) return std::nullopt;
    stored->input = input.name();
    return stored;
  }
  Job job;
  job.name = options.job;
  job.input = input.name();
  job.fingerprint = fingerprint;
  return job;
}

JsonValue job_record(const Job& job) {
  auto optional_number = [](const std::optional<std::int64_t>& value) {
    return value ? JsonValue::integer(*value) : JsonValue::null();
  };
  const Fingerprint& print = job.fingerprint;
  return JsonValue::object(
      {{"job", JsonValue::string(job.name)},
       {"next_line", JsonValue::integer(job.next_line)},
       {"state", JsonValue::string(std::string(job_state_name(job.state)))},
       {"input", JsonValue::string(job.input)},
       {"input_size", optional_number(print.size)},
       {"input_mtime_ns", optional_number(print.mtime_ns)},
       {"input_head_sha256",
        print.head_sha256 ? JsonValue::string(*print.head_sha256) : JsonValue::null()},
       {"updated_at", JsonValue::string(format_instant(job.updated_at))}});
}

}  // namespace

Fingerprint fingerprint_of(int fd, const std::string& name) {
  struct stat status {};
  if (::fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) return {};
  std::string head(fingerprint_head_bytes, '\0');
  std::size_t filled = 0;
  while (filled < head.size()) {
    ssize_t got =
        ::pread(fd, head.data() + filled, head.size() - filled, static_cast<off_t>(filled));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      throw Error(exit_code::io, fmt::format("cannot read {}: {}", name, std::strerror(errno)));
    }
    if (got == 0) break;
    filled += static_cast<std::size_t>(got);
  }
  head.resize(filled);
  Fingerprint fingerprint;
  fingerprint.size = static_cast<std::int64_t>(status.st_size);
  fingerprint.mtime_ns =
      static_cast<std::int64_t>(status.st_mtim.tv_sec) * 1000000000 + status.st_mtim.tv_nsec;
  fingerprint.head_sha256 = to_hex(sha256(head));
  return fingerprint;
}

int run(Store& store, const Clock& clock, const RunOptions& options) {
  InputFile input(options.input);
  Fingerprint fingerprint = fingerprint_of(input.fd(), input.name());
  std::optional<Job> started = starting_job(store, options, input, fingerprint);
  if (!started) {
    if (!options.quiet) {
      note(fmt::format("job '{}' is already complete; nothing was run (reset it, or --restart)",
                       options.job));
    }
    return already_complete_exit;
  }
  Job job = std::move(*started);
  job.state = JobState::running;
  job.updated_at = clock.now();
  store.save(job);
  ChunkRunner runner(store, clock, options, job);
  LineReader reader(input.fd(), input.name());
  // A paused producer (a pipe) does not hold back a chunk whose time is up.
  reader.on_idle([&] {
    wait_for_input_or_due(runner, input.fd());
    if (runner.due()) {
      if (int status = runner.flush(); status != 0) throw Error(status, "");
    }
  });
  std::string_view line;
  while (reader.next(line)) {
    if (reader.line_number() < job.next_line) continue;  // done by an earlier run
    runner.add(line);
    if (runner.due()) {
      if (int status = runner.flush(); status != 0) return status;
    }
    throw_if_interrupted();
  }
  if (reader.line_number() < job.next_line - 1) {
    // Fewer lines than the checkpoint counts done: not the input the job ran on (a pipe has
    // no fingerprint to tell), so it is not complete either.
    throw Error(exit_code::data,
                fmt::format("job '{}': the input has {} lines but its checkpoint is at line {}: "
                            "not the input the job ran on; --restart starts it over from line 1",
                            options.job, reader.line_number(), job.next_line));
  }
  if (int status = runner.flush(); status != 0) return status;
  job.state = JobState::complete;
  job.updated_at = clock.now();
  store.save(job);
  return exit_code::success;
}

int show(Store& store, const std::string& job, Format format, OutputStream& out) {
  std::optional<Job> found = store.find(job);
  if (!found) {
    print_diagnostic(Severity::error, {}, fmt::format("no job '{}'", job));
    return no_such_job_exit;
  }
  print_record(out, format, job_record(*found));
  return exit_code::success;
}

int list(Store& store, Format format, OutputStream& out) {
  RecordPrinter printer(out, format);
  store.list([&](const Job& job) { printer.print(job_record(job)); });
  printer.finish();
  return exit_code::success;
}

int reset(Store& store, const std::string& job) {
  if (store.reset(job)) return exit_code::success;
  print_diagnostic(Severity::error, {}, fmt::format("no job '{}'", job));
  return no_such_job_exit;
}

}  // namespace sluice::checkpoint
