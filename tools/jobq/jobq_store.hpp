// The jobq state: jobs in jobq_jobs, their history in jobq_events, the smooth weighted round
// robin's counters in jobq_turns and the groups' turns in jobq_groups. Every change is one short
// write transaction; a claim is one transaction (BEGIN IMMEDIATE on SQLite, row locks with
// SKIP LOCKED on PostgreSQL) that reaps expired leases, picks queues and claims jobs.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/clock.hpp"
#include "sluice/db.hpp"
#include "sluice/names.hpp"
#include "sluice/random.hpp"

#include "jobq_weights.hpp"

namespace sluice::jobq {

enum class JobState { waiting, running, done, dead, cancelled };
inline constexpr NameTable<JobState, 5> job_state_names({{{"waiting", JobState::waiting},
                                                          {"running", JobState::running},
                                                          {"done", JobState::done},
                                                          {"dead", JobState::dead},
                                                          {"cancelled", JobState::cancelled}}});

// What add does with a job whose --key a waiting or running job already has.
enum class OnDuplicate { ignore, replace, error };
inline constexpr NameTable<OnDuplicate, 3> on_duplicate_names({{{"ignore", OnDuplicate::ignore},
                                                                {"replace", OnDuplicate::replace},
                                                                {"error", OnDuplicate::error}}});

inline constexpr int default_max_attempts = 20;
inline constexpr Duration default_backoff_base = std::chrono::seconds(15);
inline constexpr Duration default_backoff_cap = std::chrono::hours(6);

struct NewJob {
  std::string queue;
  std::int64_t priority = 0;
  std::string group;
  std::string payload;  // a JSON object's text
  Instant run_at;
  std::optional<std::string> key;
  int max_attempts = default_max_attempts;
  Duration backoff_base = default_backoff_base;
  Duration backoff_cap = default_backoff_cap;
  std::string batch;
  std::string where;  // SOURCE:LINE, for a refusal
};

enum class AddOutcome { added, existing, replaced };
inline constexpr NameTable<AddOutcome, 3> add_outcome_names({{{"added", AddOutcome::added},
                                                              {"existing", AddOutcome::existing},
                                                              {"replaced", AddOutcome::replaced}}});

struct AddedJob {
  std::int64_t id = 0;
  std::string queue;
  JobState state = JobState::waiting;
  Instant run_at;
  AddOutcome outcome = AddOutcome::added;
};

struct JobRow {
  std::int64_t id = 0;
  std::string queue;
  std::int64_t priority = 0;
  std::string group;
  JobState state = JobState::waiting;
  int attempt = 0;
  int max_attempts = 0;
  std::int64_t token = 0;
  Instant run_at;
  Instant created_at;
  std::optional<Instant> lease_until;
  std::optional<Instant> finished_at;
  std::optional<std::string> key;
  std::string worker;
  std::string batch;
  bool cancel_requested = false;
  std::optional<int> exit_status;
  std::string last_error;
  Duration backoff_base{};
  Duration backoff_cap{};
  std::string payload;
};

struct ClaimedJob {
  std::int64_t id = 0;
  std::string queue;
  std::string group;
  std::int64_t token = 0;
  int attempt = 0;
  int max_attempts = 0;
  Instant lease_until;
  std::string payload;
};

struct Event {
  Instant at;
  std::string event;
  JobState state = JobState::waiting;
  int attempt = 0;
  std::int64_t token = 0;
  std::string detail;
};

// How a command naming a job by its token fared: `stale` when the token no longer holds the
// job (a newer claim took it, or it finished), `missing` when there is no such job.
enum class Fence { held, stale, missing };

struct FailOutcome {
  Fence fence = Fence::held;
  JobState state = JobState::waiting;
  int attempt = 0;
  Instant run_at;
};

struct HeartbeatOutcome {
  Fence fence = Fence::held;
  bool cancel_requested = false;
  Instant lease_until;
};

struct ListFilter {
  std::optional<JobState> state;
  std::string queue;  // empty: every queue
  std::int64_t after = 0;
  std::int64_t limit = 100;
};

struct QueueCounts {
  std::string queue;
  std::int64_t counts[5] = {0, 0, 0, 0, 0};  // by JobState
  std::optional<Instant> oldest_due;         // the earliest run_at of a due waiting job
};

struct JobResult {
  std::int64_t id = 0;
  JobState state = JobState::waiting;
  std::optional<int> exit_status;
  std::string result;
};

// The wait before the next attempt after `failures` failed ones: min(cap, base * 2^(f-1)) with
// full jitter (libcore's retry_schedule, which backoff sleeps by).
Duration retry_delay(Duration base, Duration cap, int failures, Random& random);

class Store {
 public:
  Store(const std::string& location, db::OpenOptions options);

  db::Database& database() { return database_; }
  Clock clock(const Clock& requested) { return database_.clock(requested); }

  // Adds every job in one transaction: a refusal (OnDuplicate::error) adds none of them.
  std::vector<AddedJob> add(const std::vector<NewJob>& jobs, OnDuplicate on_duplicate, Instant now);

  // The ranges of a split, each with its key: a range of the same batch that was added
  // before, in any state (done included), is printed as it is (existing), not added again.
  std::vector<AddedJob> add_ranges(const std::vector<NewJob>& jobs, Instant now);

  // Up to `count` due jobs, queues chosen by smooth weighted round robin over those with due
  // jobs, groups in turn within a queue, then priority, run_at, id. Expired leases are reaped
  // first (in the same transaction).
  // `run` names the `jobq work` run that claims (empty for `jobq claim`).
  std::vector<ClaimedJob> claim(const std::vector<QueueWeight>& queues, int count, Duration lease,
                                std::string_view worker, Instant now, std::string_view run = {});

  Fence ack(std::int64_t id, std::int64_t token, std::optional<std::string_view> result,
            std::optional<int> exit_status, Instant now);
  // Many acks in one transaction (a batch of claims); each job is fenced by its own token.
  struct Holder {
    std::int64_t id = 0;
    std::int64_t token = 0;
  };
  std::vector<Fence> ack_all(const std::vector<Holder>& holders, Instant now);
  // A failed attempt: cancelled when a cancel was requested, dead when permanent or out of
  // attempts, else waiting until now plus `retry_after` (or the job's backoff).
  FailOutcome fail(std::int64_t id, std::int64_t token, std::optional<Duration> retry_after,
                   bool permanent, std::string_view error, std::optional<int> exit_status,
                   Instant now);
  HeartbeatOutcome heartbeat(std::int64_t id, std::int64_t token, Instant lease_until);
  // The worker stopped a job whose cancel was requested: cancelled.
  Fence finish_cancelled(std::int64_t id, std::int64_t token, Instant now);
  // The worker could not run the job (its earlier command still runs): waiting again until
  // `run_at`, the attempt not counted; cancelled instead when a cancel was requested.
  Fence give_back(std::int64_t id, std::int64_t token, Instant run_at, std::string_view why,
                  Instant now);

  // Waiting jobs are cancelled at once, running ones flagged for their worker. Every id must
  // exist (Error(66), nothing changed). Returns the jobs as they now are.
  std::vector<JobRow> cancel(const std::vector<std::int64_t>& ids, Instant now);
  // Dead or cancelled jobs back to waiting, due now, attempts counted afresh. Any other state
  // is Error(65), nothing changed.
  std::vector<JobRow> retry(const std::vector<std::int64_t>& ids, Instant now);
  // Expired leases back to waiting as a failed attempt (dead when out of attempts, cancelled
  // when a cancel was requested). Returns the jobs reaped.
  std::int64_t reap(Instant now);
  // Deletes done, dead and cancelled jobs finished at or before `cutoff`, `batch` per
  // transaction, with their history.
  std::int64_t purge(Instant cutoff, int batch);

  std::optional<JobRow> find(std::int64_t id);
  std::vector<Event> history(std::int64_t id);
  void list(const ListFilter& filter, const std::function<void(const JobRow&)>& visit);
  std::vector<QueueCounts> stats(Instant now);
  std::optional<JobResult> result(std::int64_t id);
  // The jobs of `batch` in add order, with their results.
  std::vector<JobResult> batch_results(std::string_view batch);
  // The done jobs that the work run `run` claimed last, in add order.
  std::vector<JobResult> results_of_run(std::string_view run);

 private:
  struct Head;
  std::optional<Head> find_head(std::string_view queue, Instant now);
  std::optional<ClaimedJob> claim_one(const Head& head, Duration lease, std::string_view worker,
                                      std::string_view run, Instant now);
  void reap_expired(Instant now);
  bool has_groups(std::string_view queue);
  std::deque<std::int64_t> due_jobs(std::string_view queue, int count, Instant now);
  std::map<std::int64_t, ClaimedJob> claim_all(const std::vector<std::int64_t>& ids, Duration lease,
                                               std::string_view worker, std::string_view run,
                                               Instant now);
  void record(std::int64_t id, Instant at, std::string_view event, std::string_view detail = {});
  Fence ack_one(std::int64_t id, std::int64_t token, std::optional<std::string_view> result,
                std::optional<int> exit_status, Instant now);
  std::optional<AddedJob> insert(const NewJob& job, Instant now);
  void note_group(const NewJob& job);
  AddedJob handle_duplicate(const NewJob& job, OnDuplicate on_duplicate, Instant now);
  std::optional<JobRow> find_locked(std::int64_t id);

  db::Database database_;
  Random random_;
};

}  // namespace sluice::jobq
