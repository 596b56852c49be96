// jobq work: a pool of workers that claim jobs and run a command for each. One slot is this
// process's loop; a pool of N slots runs N one-slot workers of the same state as child
// processes, so that a slot's command, its lease renewal and its crash are its own.
#include <unistd.h>

#include <thread>

#include <fmt/format.h>

#include "jobq.hpp"
#include "sluice/error.hpp"
#include "sluice/proc.hpp"
#include "sluice/signals.hpp"
#include "sluice/tree_lock.hpp"

namespace sluice::jobq {
namespace {

// Thrown from the lease renewal to stop a job's command (proc kills its process group).
struct StopCommand {
  enum class Why { cancelled, lease_lost } why;
};

// Whether run_job ran the job's command or handed the job back without running it.
enum class RunOutcome { ran, handed_back };

struct Counts {
  std::int64_t done = 0, retried = 0, dead = 0, cancelled = 0, lost = 0;
};

// TreeLock locks the byte at hash/2: twice the id gives every job a byte of its own.
std::uint64_t job_lock_offset(const ClaimedJob& job) {
  return static_cast<std::uint64_t>(job.id) << 1;
}

proc::Command job_command(const WorkOptions& options, const ClaimedJob& job, const TreeLock& lock) {
  proc::Command command;
  command.argv = options.command;
  command.environment = {{"JOBQ_ID", std::to_string(job.id)},
                         {"JOBQ_ATTEMPT", std::to_string(job.attempt)},
                         {"JOBQ_TOKEN", std::to_string(job.token)},
                         {"JOBQ_QUEUE", job.queue}};
  // Its own group: a cancel or a lost lease stops every process the command started.
  command.own_process_group = true;
  command.input = job.payload + "\n";
  command.capture_stdout = true;
  command.inherited_fds = {lock.descriptor()};
  return command;
}

// Renews the lease every lease/3 and stops the command when the job was cancelled or another
// worker holds it now. A busy state only delays the renewal to the next tick.
proc::Handlers lease_keeper(Store& store, const Clock& clock, const WorkOptions& options,
                            const ClaimedJob& job, std::string& result, bool& result_too_large) {
  proc::Handlers handlers;
  handlers.tick_interval = std::max<Duration>(options.lease / 3, std::chrono::milliseconds(100));
  handlers.on_tick = [&store, &clock, &options, &job] {
    HeartbeatOutcome beat;
    try {
      beat = store.heartbeat(job.id, job.token, clock.now() + options.lease);
    } catch (const Error& error) {
      if (error.code() != exit_code::temporary) throw;
      warn(fmt::format("job {}: could not renew the lease: {}", job.id, error.what()));
      return;
    }
    if (beat.fence != Fence::held) throw StopCommand{StopCommand::Why::lease_lost};
    if (beat.cancel_requested) throw StopCommand{StopCommand::Why::cancelled};
  };
  handlers.on_stdout = [&result, &result_too_large, &options](std::string_view chunk) {
    if (result.size() + chunk.size() > options.max_result) {
      result_too_large = true;
      return;
    }
    result.append(chunk);
  };
  return handlers;
}

// Records a job's outcome, trying again while the state is busy (75) for as long as the lease
// lasts: the command has run, and giving up would leave the job to be run again after its
// lease expires.
template <typename Record>
auto recorded(const WorkOptions& options, Record&& record) {
  auto give_up_at = std::chrono::steady_clock::now() + options.lease;
  for (;;) {
    try {
      return record();
    } catch (const Error& error) {
      if (error.code() != exit_code::temporary || std::chrono::steady_clock::now() > give_up_at) {
        throw;
      }
    }
    sleep_unless_interrupted(std::chrono::milliseconds(50));
  }
}

void count_failure(const FailOutcome& outcome, Counts& counts) {
  if (outcome.fence != Fence::held) {
    ++counts.lost;
  } else if (outcome.state == JobState::cancelled) {
    ++counts.cancelled;
  } else if (outcome.state == JobState::dead) {
    ++counts.dead;
  } else {
    ++counts.retried;
  }
}

void record_exit(Store& store, const Clock& clock, const WorkOptions& options,
                 const ClaimedJob& job, const proc::Outcome& outcome, const std::string& result,
                 bool result_too_large, Counts& counts);

// Whether every process of a stopped command has ended: they hold the job's lock (inherited)
// until then. Releases this process's hold and waits a little for SIGKILL to take effect.
bool command_ended(const WorkOptions& options, const ClaimedJob& job,
                   std::optional<TreeLock>& lock) {
  lock.reset();
  auto give_up_at = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    if (TreeLock::try_acquire(options.lock_path, job_lock_offset(job))) return true;
    if (std::chrono::steady_clock::now() > give_up_at) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Runs one claimed job to its end and records the outcome.
RunOutcome run_job(Store& store, const Clock& clock, const WorkOptions& options,
                   const ClaimedJob& job, Counts& counts) {
  std::optional<TreeLock> lock = TreeLock::try_acquire(options.lock_path, job_lock_offset(job));
  if (!lock) {
    // A worker that was killed left its command running: never run the job twice at once.
    // Offered again once per lease, not at once: every worker would claim and hand it back.
    recorded(options, [&] {
      return store.give_back(job.id, job.token, clock.now() + options.lease,
                             "its earlier command still runs", clock.now());
    });
    return RunOutcome::handed_back;
  }
  std::string result;
  bool result_too_large = false;
  proc::Outcome outcome;
  try {
    outcome = proc::run(job_command(options, job, *lock),
                        lease_keeper(store, clock, options, job, result, result_too_large));
  } catch (const StopCommand& stop) {
    // proc has sent SIGKILL to the command's whole process group.
    if (stop.why == StopCommand::Why::cancelled) {
      if (!command_ended(options, job, lock)) {
        warn(
            fmt::format("job {}: some of its command's processes still run; it is recorded "
                        "cancelled when its lease expires",
                        job.id));
        return RunOutcome::ran;
      }
      recorded(options, [&] { return store.finish_cancelled(job.id, job.token, clock.now()); });
      ++counts.cancelled;
    } else {
      warn(fmt::format("job {}: another worker holds it now; its command was stopped", job.id));
      ++counts.lost;
    }
    return RunOutcome::ran;
  }
  if (outcome.forwarded_signal != 0 && outcome.signal != 0) {
    // This worker is being stopped and the signal ended the command: the job goes back, its
    // attempt not counted.
    recorded(options, [&] {
      return store.give_back(job.id, job.token, clock.now(), "the worker was stopped", clock.now());
    });
    throw Error(exit_code::signal_base + outcome.forwarded_signal, "");
  }
  // The command exited by itself (perhaps after acting on a forwarded signal): its status
  // counts as usual; a command that finished its work is done, not run again.
  record_exit(store, clock, options, job, outcome, result, result_too_large, counts);
  if (outcome.forwarded_signal != 0) {
    throw Error(exit_code::signal_base + outcome.forwarded_signal, "");
  }
  return RunOutcome::ran;
}

// Records how a command that exited by itself ended: done, or a failed attempt.
void record_exit(Store& store, const Clock& clock, const WorkOptions& options,
                 const ClaimedJob& job, const proc::Outcome& outcome, const std::string& result,
                 bool result_too_large, Counts& counts) {
  const int status = outcome.exit_status;
  if (status == 0 && !result_too_large) {
    Fence fence = recorded(
        options, [&] { return store.ack(job.id, job.token, result, status, clock.now()); });
    fence == Fence::held ? ++counts.done : ++counts.lost;
    return;
  }
  std::string error =
      result_too_large ? fmt::format("its output was larger than {} bytes", options.max_result)
      : outcome.launch_failed
          ? fmt::format("cannot run {}: {}", options.command.front(), outcome.launch_error)
          : fmt::format("exit status {}", status);
  bool permanent = status == dead_now_exit;
  count_failure(recorded(options,
                         [&] {
                           return store.fail(job.id, job.token, std::nullopt, permanent, error,
                                             status, clock.now());
                         }),
                counts);
}

// One slot: claim, run, record, until the mode says stop. Returns the exit status.
int work_alone(Store& store, const Clock& clock, const WorkOptions& options, Counts& counts) {
  bool ran = false;
  for (;;) {
    throw_if_interrupted();
    std::vector<ClaimedJob> jobs;
    try {
      jobs =
          store.claim(options.queues, 1, options.lease, options.worker, clock.now(), options.run);
    } catch (const Error& error) {
      if (error.code() != exit_code::temporary) throw;
      sleep_unless_interrupted(std::chrono::milliseconds(50));  // busy: claim again
      continue;
    }
    if (jobs.empty()) {
      if (options.mode == WorkMode::once) return ran ? exit_code::success : nothing_due;
      if (options.mode == WorkMode::drain) return exit_code::success;
      sleep_unless_interrupted(options.poll);
      continue;
    }
    // A job handed back was not run: --once goes on to the next due job.
    if (run_job(store, clock, options, jobs.front(), counts) == RunOutcome::handed_back) continue;
    ran = true;
    if (options.mode == WorkMode::once) return exit_code::success;
  }
}

std::string self_path() {
  std::string path(4096, '\0');
  ssize_t length = ::readlink("/proc/self/exe", path.data(), path.size());
  if (length <= 0) throw Error(exit_code::internal, "cannot find this program (/proc/self/exe)");
  path.resize(static_cast<std::size_t>(length));
  return path;
}

std::string_view mode_flag(WorkMode mode) {
  return mode == WorkMode::once ? "--once" : mode == WorkMode::forever ? "--forever" : "--drain";
}

// The command line of slot `slot`: this program as a one-slot worker of the same state.
std::vector<std::string> slot_arguments(const WorkOptions& options, int slot) {
  std::vector<std::string> arguments{self_path()};
  arguments.insert(arguments.end(), options.state_arguments.begin(), options.state_arguments.end());
  std::vector<std::string> rest{"--quiet",
                                "work",
                                "--queues",
                                options.queues_text,
                                "-j",
                                "1",
                                "--lease",
                                format_duration(options.lease),
                                "--poll",
                                format_duration(options.poll),
                                std::string(mode_flag(options.mode)),
                                "--max-result",
                                std::to_string(options.max_result),
                                "--worker",
                                fmt::format("{}/{}", options.worker, slot),
                                "--"};
  arguments.insert(arguments.end(), rest.begin(), rest.end());
  arguments.insert(arguments.end(), options.command.begin(), options.command.end());
  return arguments;
}

// N one-slot workers as child processes, each supervised by a thread of this one. Returns the
// first failing status of a slot, or success.
int work_in_pool(const WorkOptions& options) {
  std::vector<int> statuses(static_cast<std::size_t>(options.slots), 0);
  std::vector<std::thread> threads;
  for (int slot = 0; slot < options.slots; ++slot) {
    threads.emplace_back([&options, &statuses, slot] {
      proc::Command command;
      command.argv = slot_arguments(options, slot + 1);
      command.environment = {{run_environment, options.run}};
      // A signal may be delivered to any thread: waking up now and then is how each slot's
      // supervisor sees it and passes it on to its worker.
      proc::Handlers handlers;
      handlers.on_tick = [] {};
      handlers.tick_interval = std::chrono::milliseconds(200);
      try {
        statuses[static_cast<std::size_t>(slot)] = proc::run(command, handlers).exit_status;
      } catch (const Error& error) {
        statuses[static_cast<std::size_t>(slot)] = error.code();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  if (int signal = pending_signal(); signal != 0) {
    throw Error(exit_code::signal_base + signal, "");
  }
  for (int status : statuses) {
    // --once: a slot that found nothing is no failure when another ran a job.
    if (status != exit_code::success && status != nothing_due) return status;
  }
  bool any_ran = std::any_of(statuses.begin(), statuses.end(),
                             [](int status) { return status == exit_code::success; });
  return any_ran ? exit_code::success : nothing_due;
}

void print_ordered(Store& store, const WorkOptions& options, OutputStream& out) {
  for (const JobResult& result : store.results_of_run(options.run)) out.write(result.result);
}

}  // namespace

int work(Store& store, const Clock& clock, const WorkOptions& options, OutputStream& out) {
  int status = exit_code::success;
  Counts counts;
  if (options.slots > 1) {
    status = work_in_pool(options);
  } else {
    status = work_alone(store, clock, options, counts);
    if (!options.quiet &&
        counts.done + counts.retried + counts.dead + counts.cancelled + counts.lost > 0) {
      note(fmt::format("{} done, {} to retry, {} dead, {} cancelled, {} lost to another worker",
                       counts.done, counts.retried, counts.dead, counts.cancelled, counts.lost));
    }
  }
  if (options.ordered) print_ordered(store, options, out);
  return status;
}

}  // namespace sluice::jobq
