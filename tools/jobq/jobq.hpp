// jobq: a job queue kept in sluice state. Each function here is one subcommand's logic;
// jobq_cli.cpp maps the command line onto them. All take the Store, the Clock and an output
// stream so that tests can call them in-process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jobq_store.hpp"
#include "jobq_weights.hpp"
#include "sluice/clock.hpp"
#include "sluice/fdio.hpp"
#include "sluice/format.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::jobq {

// The statuses jobq adds to the shared table (jobq(1), EXIT STATUS).
inline constexpr int nothing_due = 3;     // claim, work --once: no job is due
inline constexpr int stale_token = 4;     // ack, fail, heartbeat: the token no longer holds the job
inline constexpr int dead_now_exit = 65;  // work: a command exiting 65 (bad data) is dead at once

inline constexpr Duration default_lease = std::chrono::seconds(30);
inline constexpr std::uint64_t default_max_result = 16u << 20;

struct AddOptions {
  NewJob job;  // everything but the payload, run_at and where
  std::optional<Duration> delay;
  std::optional<Instant> at;
  OnDuplicate on_duplicate = OnDuplicate::ignore;
  std::optional<std::string> payload;  // --payload: one job, stdin not read
  InputOptions input;
  std::vector<std::string> inputs;
};

// Reads every payload first (a bad line stops the run with 65 and nothing added), then adds
// them all in one transaction and prints one line per job.
int add(Store& store, const Clock& clock, const AddOptions& options, OutputStream& out);

struct ClaimOptions {
  std::vector<QueueWeight> queues;
  int count = 1;
  Duration lease = default_lease;
  std::string worker;
};
// Prints the claimed jobs; nothing_due when there were none.
int claim(Store& store, const Clock& clock, const ClaimOptions& options, OutputStream& out);

int ack(Store& store, const Clock& clock, std::int64_t id, std::int64_t token, OutputStream& out);
// Acks every {"id":N,"token":T} line of the inputs (claim's output will do) in one transaction;
// a stale or unknown token is reported and the others are acked: stale_token (or 66) at the end.
int ack_lines(Store& store, const Clock& clock, const std::vector<std::string>& inputs,
              const InputOptions& input, OutputStream& out);

struct FailOptions {
  std::optional<Duration> retry_after;
  bool permanent = false;
  std::string error;
};
int fail(Store& store, const Clock& clock, std::int64_t id, std::int64_t token,
         const FailOptions& options, OutputStream& out);
int heartbeat(Store& store, const Clock& clock, std::int64_t id, std::int64_t token, Duration lease,
              OutputStream& out);

int show(Store& store, std::int64_t id, Format format, OutputStream& out);
int list(Store& store, const ListFilter& filter, Format format, OutputStream& out);
int stats(Store& store, const Clock& clock, Format format, OutputStream& out);
int cancel(Store& store, const Clock& clock, const std::vector<std::int64_t>& ids,
           OutputStream& out);
int retry(Store& store, const Clock& clock, const std::vector<std::int64_t>& ids,
          OutputStream& out);
int reap(Store& store, const Clock& clock, OutputStream& out);
int purge(Store& store, const Clock& clock, Duration older_than, int batch, OutputStream& out);
// The job's stored stdout, as the command wrote it.
int print_result(Store& store, std::int64_t id, OutputStream& out);
// The results of a batch's jobs in add order, each as one JSON line; 75 (nothing printed) while
// some are not finished.
int print_batch_results(Store& store, const std::string& batch, OutputStream& out);

// How long `jobq work` goes on.
enum class WorkMode { drain, once, forever };

struct WorkOptions {
  std::vector<QueueWeight> queues;
  std::string queues_text;  // as given, for the worker processes of a pool
  int slots = 1;
  Duration lease = default_lease;
  WorkMode mode = WorkMode::drain;
  Duration poll = std::chrono::seconds(1);
  std::string worker;
  // This run's own name (the worker's and a random number), recorded with its claims: what
  // --ordered prints. A pool's worker processes get it in run_environment.
  std::string run;
  bool ordered = false;
  bool quiet = false;
  std::uint64_t max_result = default_max_result;
  std::vector<std::string> command;
  // The file whose byte-range locks say that a job's command still runs on this host.
  std::string lock_path;
  // For a pool (slots > 1): the arguments that make this program a one-slot worker of the
  // same state, before the subcommand.
  std::vector<std::string> state_arguments;
};

// The environment variable that passes a pool's run name to its worker processes.
inline constexpr const char* run_environment = "JOBQ_WORK_RUN";

int work(Store& store, const Clock& clock, const WorkOptions& options, OutputStream& out);

struct SplitOptions {
  std::string file;
  std::uint64_t chunk = 64u << 20;
  NewJob job;  // queue, priority, group, attempts, backoff, batch
};
// Enqueues FILE as line-aligned byte ranges {"file","offset","length"} (the last line counted
// whole even without its newline).
int split(Store& store, const Clock& clock, const SplitOptions& options, OutputStream& out);

// Copies the byte range a split job names ({"file","offset","length"} on stdin) to `out`: the
// reading half of a split, for a worker's command.
int print_chunk(OutputStream& out);

}  // namespace sluice::jobq
