#include "idemkey.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "sluice/atomic_file.hpp"
#include "sluice/command_result.hpp"
#include "sluice/crypto.hpp"
#include "sluice/error.hpp"
#include "sluice/format.hpp"
#include "sluice/proc.hpp"
#include "sluice/signals.hpp"
#include "sluice/tree_lock.hpp"

namespace sluice::idemkey {
namespace {

struct RunReport {
  std::string_view decision;
  int attempt = 1;
  int exit_status = 0;
  bool stored = false;
  bool output_stored = false;
};

// The --status-file, created before anything runs so that an unwritable path fails first.
using StatusFile = std::optional<AtomicFile>;

void report_status(StatusFile& status_file, const RunOptions& options, const RunReport& report) {
  if (!status_file) return;
  ObjectWriter json;
  json.add_string("key", options.key)
      .add_string("scope", options.scope)
      .add_string("decision", report.decision)
      .add_int("attempt", report.attempt)
      .add_int("exit", report.exit_status)
      .add_bool("stored", report.stored)
      .add_bool("output_stored", report.output_stored);
  status_file->commit(json.finish() + "\n");
}

int replay(StatusFile& status_file, const RunOptions& options, const KeyRow& row) {
  // Byte for byte: nothing of idemkey's own is added to either stream.
  int status = replay_result(row.stdout_bytes, row.stderr_bytes, row.exit_status.value_or(0));
  if (!row.output_stored) {
    warn(
        fmt::format("key '{}' ran before (attempt {}, exit status {}) but its output was not "
                    "stored; replaying the exit status only",
                    options.key, row.attempt, status));
  }
  report_status(status_file, options, {"replayed", row.attempt, status, true, row.output_stored});
  return status;
}

// A claim, and the key's run lock when this run may go ahead: the lock is passed on to the
// command so that it outlives this process for as long as the command does. The run lock is
// this host's: with state on a server, a command still running on another host is known only
// by its lease (renewed while it runs).
struct HeldClaim {
  Claim claim;
  std::optional<TreeLock> lock;
};

HeldClaim try_claim(Store& store, const Clock& clock, const RunOptions& options,
                    const ClaimRequest& request) {
  HeldClaim held;
  held.lock = TreeLock::try_acquire(
      options.run_lock_path, static_cast<std::uint64_t>(key_hash(request.scope, request.key)));
  ClaimRequest checked = request;
  checked.holder = held.lock ? Holder::none : Holder::alive;
  held.claim = store.claim(checked, clock.now());
  if (held.claim.decision != Decision::proceed) held.lock.reset();
  return held;
}

HeldClaim claim_with_wait(Store& store, const Clock& clock, const RunOptions& options,
                          const std::string& fingerprint) {
  ClaimRequest request{options.scope, options.key, fingerprint,
                       options.lease, options.ttl, options.stale};
  auto started = std::chrono::steady_clock::now();
  auto pause = std::chrono::milliseconds(10);
  for (;;) {
    HeldClaim held = try_claim(store, clock, options, request);
    Decision decision = held.claim.decision;
    bool waitable = decision == Decision::busy || decision == Decision::still_running;
    if (!waitable || !options.wait) return held;
    auto waited = std::chrono::steady_clock::now() - started;
    if (*options.wait != Duration::max() && waited >= *options.wait) return held;
    std::this_thread::sleep_for(pause);
    throw_if_interrupted();
    pause = std::min(pause * 2, std::chrono::milliseconds(250));
  }
}

[[noreturn]] void refuse(const Claim& claim, const RunOptions& options) {
  if (claim.decision == Decision::conflict) {
    throw Error(exit_code::data,
                fmt::format("key '{}' was first used for a different request", options.key));
  }
  if (claim.decision == Decision::still_running) {
    // The run lock is held: by the command of an attempt whose lease lapsed (its idemkey was
    // killed or stopped), or by a run that is claiming the key right now.
    if (claim.row && claim.row->state == KeyState::in_progress) {
      throw Error(
          options.conflict_exit,
          fmt::format("key '{}' is in progress (attempt {}): its lease expired at {}, "
                      "but its command is still running; try again later or use --wait",
                      options.key, claim.row->attempt, format_instant(*claim.row->lease_until)));
    }
    throw Error(options.conflict_exit,
                fmt::format("key '{}' is in progress in another process, or a process of an "
                            "earlier attempt is still running; try again later or use --wait",
                            options.key));
  }
  const KeyRow& row = *claim.row;
  if (claim.decision == Decision::stale_locked) {
    throw Error(
        options.conflict_exit,
        fmt::format("key '{}' was left in progress by attempt {} whose lease expired at {}; "
                    "run 'idemkey{} release --key {}' to allow a new attempt",
                    options.key, row.attempt, format_instant(*row.lease_until),
                    options.scope == "default" ? "" : " --scope " + options.scope, options.key));
  }
  throw Error(options.conflict_exit,
              fmt::format("key '{}' is in progress (attempt {}, lease until {}); try again later "
                          "or use --wait",
                          options.key, row.attempt, format_instant(*row.lease_until)));
}

proc::Command child_command(const RunOptions& options, const KeyRow& row,
                            const std::optional<std::string>& input, const TreeLock& lock) {
  proc::Command command;
  // The command holds the key's run lock too: if this process is killed, a later run sees
  // that the command is still running and does not start it a second time.
  command.inherited_fds = {lock.descriptor()};
  command.argv = options.command;
  command.environment = {{"IDEMKEY_KEY", options.key},
                         {"IDEMKEY_SCOPE", options.scope},
                         {"IDEMKEY_ATTEMPT", std::to_string(row.attempt)},
                         {"IDEMKEY_DOWNSTREAM_KEY", downstream_key(options.scope, options.key)}};
  command.input = input;
  // Its own process group, so that a forwarded SIGTERM reaches every process of the command
  // and settle() can tell whether any outlived it; not when the command may read our terminal
  // (a background group cannot), where Ctrl-C reaches the whole foreground group anyway.
  command.own_process_group = input.has_value() || ::isatty(STDIN_FILENO) == 0;
  command.capture_stdout = true;
  command.capture_stderr = true;
  return command;
}

// Captures the command's output as it passes through, and renews the lease a third of the way
// through, so a live holder is never taken over.
proc::Handlers lease_keeper(Store& store, const Clock& clock, const RunOptions& options,
                            const KeyRow& row, OutputCapture& out, OutputCapture& err) {
  proc::Handlers handlers = capture_handlers(out, err);
  LeaseRenewal renewal;
  renewal.lease = options.lease;
  renewal.renew = [&store, &clock, &options, &row] {
    return store.renew(options.scope, options.key, row.token, clock.now() + options.lease);
  };
  renewal.on_lost = [&options] {
    warn(
        fmt::format("key '{}' was taken over by another attempt; this attempt's result "
                    "will not be stored",
                    options.key));
  };
  renewal.on_error = [&options](const Error& error) {
    warn(fmt::format("could not renew the lease of key '{}': {}", options.key, error.what()));
  };
  renew_while_running(handlers, std::move(renewal));
  return handlers;
}

// Runs a state write that follows the command. The command has run, so a busy state file must
// not turn into exit 75 (a retry wrapper would run the command again): keep trying while our
// lease is certainly still live, then let the error through.
template <typename Write>
auto persist_after_run(const RunOptions& options, Write&& write) {
  auto deadline = std::chrono::steady_clock::now() + options.lease;
  for (;;) {
    try {
      return write();
    } catch (const Error& error) {
      if (error.code() != exit_code::temporary) throw;
      if (std::chrono::steady_clock::now() >= deadline) throw;
      throw_if_interrupted();
    }
  }
}

// The command ran but not even its exit status could be saved: the one outcome a script must
// not answer by running the key again (exit 74, documented in idemkey(1)).
[[noreturn]] void throw_ran_but_unsaved(const RunOptions& options, const proc::Outcome& outcome,
                                        const Error& error) {
  std::string scope = options.scope == "default" ? "" : " --scope " + options.scope;
  throw Error(exit_code::io,
              fmt::format("the command ran (exit status {}) but its outcome could not be saved: "
                          "{}; key '{}' stays in progress: check whether the work was done "
                          "before running it again ('idemkey{} release --key {}' allows that)",
                          outcome.exit_status, error.what(), options.key, scope, options.key));
}

// The command's run as it is settled: the claim it ran under, how it ended, what it wrote.
struct FinishedRun {
  const KeyRow& row;
  const proc::Outcome& outcome;
  const OutputCapture& out;
  const OutputCapture& err;
};

// Saves the exit status of a command that ran, with its output when it is kept; when the
// output cannot be written (a full disk), the status alone. Returns whether this attempt still
// held the key.
bool save_outcome(Store& store, const Clock& clock, const RunOptions& options,
                  const FinishedRun& run, RunReport& report) {
  // References, not a structured binding: clang 14 cannot capture bindings in lambdas.
  const KeyRow& row = run.row;
  const proc::Outcome& outcome = run.outcome;
  const OutputCapture& out = run.out;
  const OutputCapture& err = run.err;
  auto save = [&](OutputKept kept) {
    return persist_after_run(options, [&] {
      return store.complete(options.scope, options.key, row.token, outcome.exit_status, out.bytes(),
                            err.bytes(), clock.now(), kept);
    });
  };
  bool overflowed = out.overflowed() || err.overflowed();
  if (overflowed) {
    warn(
        fmt::format("the output of key '{}' is larger than --max-output ({} bytes); only its "
                    "exit status is stored",
                    options.key, options.max_output));
  }
  std::string output_error;
  try {
    report.output_stored = !overflowed;
    return save(overflowed ? OutputKept::dropped : OutputKept::stored);
  } catch (const Error& error) {
    if (overflowed) throw_ran_but_unsaved(options, outcome, error);
    output_error = error.what();
  }
  report.output_stored = false;
  bool completed = false;
  try {
    completed = save(OutputKept::dropped);
  } catch (const Error& error) {
    throw_ran_but_unsaved(options, outcome, error);
  }
  warn(fmt::format("could not store the output of key '{}': {}; stored its exit status alone",
                   options.key, output_error));
  return completed;
}

// Settles the claim after the command ended: store the result, or release the key.
int settle(Store& store, const Clock& clock, const RunOptions& options, const FinishedRun& run,
           StatusFile& status_file) {
  const KeyRow& row = run.row;
  const proc::Outcome& outcome = run.outcome;
  RunReport report{"executed", row.attempt, outcome.exit_status, false};
  auto release_and_report = [&] {
    try {
      persist_after_run(options,
                        [&] { return store.release(options.scope, options.key, row.token); });
    } catch (const Error& error) {
      throw Error(exit_code::io,
                  fmt::format("could not release key '{}' after its command ended (exit status "
                              "{}): {}; it stays in progress until its lease expires",
                              options.key, outcome.exit_status, error.what()));
    }
    report_status(status_file, options, report);
  };
  if (outcome.launch_failed) {
    release_and_report();
    throw Error(outcome.exit_status,
                fmt::format("{}: {}", options.command.front(),
                            outcome.exit_status == exit_code::not_found ? "command not found"
                                                                        : outcome.launch_error));
  }
  if (outcome.forwarded_signal != 0 && outcome.signal != 0) {
    if (outcome.descendants_remain) {
      // Part of the command still runs and may yet finish the work: releasing the key would
      // let the next run do it again. The lease (not renewed any more) and the run lock, which
      // the remaining processes hold, decide instead.
      warn(
          fmt::format("interrupted, but some of the command's processes are still running; "
                      "key '{}' stays in progress while they run",
                      options.key));
      report_status(status_file, options, report);
    } else {
      release_and_report();  // interrupted, not completed: the next run executes again
    }
    return exit_code::signal_base + outcome.forwarded_signal;
  }
  if (options.release_on_exit.contains(outcome.exit_status)) {
    release_and_report();
    return outcome.exit_status;
  }
  report.stored = save_outcome(store, clock, options, run, report);
  if (!report.stored) {
    report.output_stored = false;
    warn(
        fmt::format("the result of attempt {} of key '{}' was not stored: another attempt took "
                    "the key over",
                    row.attempt, options.key));
  }
  report_status(status_file, options, report);
  return outcome.exit_status;
}

}  // namespace

std::string run_fingerprint(const RunOptions& options, const std::optional<std::string>& input) {
  Sha256 hasher;
  if (options.given_fingerprint) {
    hasher.update_framed("idemkey-run-given-v1");
    hasher.update_framed(*options.given_fingerprint);
    return to_hex(hasher.finish());
  }
  hasher.update_framed("idemkey-run-v1");
  // The order and repetition of --env options do not change the request.
  hash_command_request(hasher, options.command, options.environment_names, input);
  return to_hex(hasher.finish());
}

int run(Store& store, const Clock& clock, const RunOptions& options) {
  StatusFile status_file;
  if (!options.status_file.empty()) status_file.emplace(options.status_file, 0644);
  std::optional<std::string> input;
  if (options.use_stdin) input = read_all(STDIN_FILENO, "<stdin>", options.max_output);
  const std::string fingerprint = run_fingerprint(options, input);
  HeldClaim held = claim_with_wait(store, clock, options, fingerprint);
  const Claim& claim = held.claim;
  if (claim.decision == Decision::replay) return replay(status_file, options, *claim.row);
  if (claim.decision != Decision::proceed) refuse(claim, options);
  const KeyRow& row = *claim.row;
  OutputCapture out(STDOUT_FILENO, options.max_output);
  OutputCapture err(STDERR_FILENO, options.max_output);
  proc::Outcome outcome;
  try {
    outcome = proc::run(child_command(options, row, input, *held.lock),
                        lease_keeper(store, clock, options, row, out, err));
  } catch (...) {
    // The command could not be supervised (proc killed and reaped it): give the key back, but
    // report the original failure even if the release fails too.
    try {
      store.release(options.scope, options.key, row.token);
    } catch (const Error& error) {
      warn(fmt::format("could not release key '{}': {}", options.key, error.what()));
    }
    throw;
  }
  return settle(store, clock, options, {row, outcome, out, err}, status_file);
}

}  // namespace sluice::idemkey
