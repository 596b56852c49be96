#include "jobq_store.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <set>
#include <variant>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/retry_schedule.hpp"

namespace sluice::jobq {
namespace {

constexpr std::string_view sqlite_v1 = R"sql(
CREATE TABLE jobq_jobs (
  id INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  priority INTEGER NOT NULL,
  grp TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('waiting', 'running', 'done', 'dead', 'cancelled')),
  run_at INTEGER NOT NULL,
  key TEXT,
  attempt INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
  backoff_base INTEGER NOT NULL,
  backoff_cap INTEGER NOT NULL,
  token INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER,
  worker TEXT NOT NULL DEFAULT '',
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  batch TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  exit_status INTEGER,
  last_error TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL,
  result BLOB
) STRICT;
CREATE INDEX jobq_jobs_due ON jobq_jobs (state, queue, grp, priority, run_at, id);
CREATE INDEX jobq_jobs_leases ON jobq_jobs (state, lease_until);
CREATE UNIQUE INDEX jobq_jobs_live_key ON jobq_jobs (key)
  WHERE key IS NOT NULL AND state IN ('waiting', 'running');
CREATE INDEX jobq_jobs_batch ON jobq_jobs (batch, id) WHERE batch <> '';
CREATE TABLE jobq_events (
  job INTEGER NOT NULL,
  at INTEGER NOT NULL,
  event TEXT NOT NULL,
  state TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  token INTEGER NOT NULL,
  detail TEXT NOT NULL
) STRICT;
CREATE INDEX jobq_events_by_job ON jobq_events (job);
CREATE TABLE jobq_turns (queue TEXT PRIMARY KEY, current INTEGER NOT NULL) STRICT;
CREATE TABLE jobq_groups (
  queue TEXT NOT NULL,
  grp TEXT NOT NULL,
  served INTEGER NOT NULL,
  PRIMARY KEY (queue, grp)
) STRICT;
)sql";

// The same tables on a server; ids come from a sequence.
constexpr std::string_view postgresql_v1 = R"sql(
CREATE TABLE jobq_jobs (
  id BIGSERIAL PRIMARY KEY,
  queue TEXT NOT NULL,
  priority BIGINT NOT NULL,
  grp TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('waiting', 'running', 'done', 'dead', 'cancelled')),
  run_at BIGINT NOT NULL,
  key TEXT,
  attempt BIGINT NOT NULL DEFAULT 0,
  max_attempts BIGINT NOT NULL CHECK (max_attempts >= 1),
  backoff_base BIGINT NOT NULL,
  backoff_cap BIGINT NOT NULL,
  token BIGINT NOT NULL DEFAULT 0,
  lease_until BIGINT,
  worker TEXT NOT NULL DEFAULT '',
  cancel_requested BIGINT NOT NULL DEFAULT 0,
  batch TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  finished_at BIGINT,
  exit_status BIGINT,
  last_error TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL,
  result BYTEA
);
CREATE INDEX jobq_jobs_due ON jobq_jobs (state, queue, grp, priority, run_at, id);
CREATE INDEX jobq_jobs_leases ON jobq_jobs (state, lease_until);
CREATE UNIQUE INDEX jobq_jobs_live_key ON jobq_jobs (key)
  WHERE key IS NOT NULL AND state IN ('waiting', 'running');
CREATE INDEX jobq_jobs_batch ON jobq_jobs (batch, id) WHERE batch <> '';
CREATE TABLE jobq_events (
  job BIGINT NOT NULL,
  at BIGINT NOT NULL,
  event TEXT NOT NULL,
  state TEXT NOT NULL,
  attempt BIGINT NOT NULL,
  token BIGINT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX jobq_events_by_job ON jobq_events (job);
CREATE TABLE jobq_turns (queue TEXT PRIMARY KEY, current BIGINT NOT NULL);
CREATE TABLE jobq_groups (
  queue TEXT NOT NULL,
  grp TEXT NOT NULL,
  served BIGINT NOT NULL,
  PRIMARY KEY (queue, grp)
);
)sql";

// Keys looked up in any state (split's ranges), not only the live ones the unique index has.
// And the work run (one `jobq work`, its pool included) that claimed a job last, for
// --ordered.
constexpr std::string_view v2 = R"sql(
CREATE INDEX jobq_jobs_key ON jobq_jobs (key, batch) WHERE key IS NOT NULL;
ALTER TABLE jobq_jobs ADD COLUMN run TEXT NOT NULL DEFAULT '';
CREATE INDEX jobq_jobs_run ON jobq_jobs (run, id) WHERE run <> '';
)sql";

constexpr std::array<std::string_view, 2> sqlite_steps{sqlite_v1, v2};
constexpr std::array<std::string_view, 2> postgresql_steps{postgresql_v1, v2};
constexpr db::Schema schema{sqlite_steps, postgresql_steps};

constexpr std::string_view row_columns =
    "id, queue, priority, grp, state, attempt, max_attempts, token, run_at, created_at, "
    "lease_until, finished_at, key, worker, batch, cancel_requested, exit_status, last_error, "
    "backoff_base, backoff_cap, payload";

std::optional<Instant> optional_instant(db::Statement& row, int column) {
  if (row.is_null(column)) return std::nullopt;
  return instant_from_micros(row.integer(column));
}

JobState state_of(std::string_view word) {
  return job_state_names.find(word).value_or(JobState::waiting);
}

JobRow read_row(db::Statement& row) {
  JobRow job;
  job.id = row.integer(0);
  job.queue = row.text(1);
  job.priority = row.integer(2);
  job.group = row.text(3);
  job.state = state_of(row.text(4));
  job.attempt = static_cast<int>(row.integer(5));
  job.max_attempts = static_cast<int>(row.integer(6));
  job.token = row.integer(7);
  job.run_at = instant_from_micros(row.integer(8));
  job.created_at = instant_from_micros(row.integer(9));
  job.lease_until = optional_instant(row, 10);
  job.finished_at = optional_instant(row, 11);
  if (!row.is_null(12)) job.key = row.text(12);
  job.worker = row.text(13);
  job.batch = row.text(14);
  job.cancel_requested = row.integer(15) != 0;
  if (!row.is_null(16)) job.exit_status = static_cast<int>(row.integer(16));
  job.last_error = row.text(17);
  job.backoff_base = Duration(row.integer(18));
  job.backoff_cap = Duration(row.integer(19));
  job.payload = row.text(20);
  return job;
}

db::OpenOptions open_options(db::OpenOptions options) {
  // A job queue's acknowledgements are the record that work happened: FULL, as for money.
  options.synchronous = db::Synchronous::full;
  options.serialize_writers = true;
  return options;
}

// A row of a claim's RETURNING list (id, queue, grp, token, attempt, max_attempts, payload), held
// until `lease_until`.
ClaimedJob claimed_job(db::Statement& row, Instant lease_until) {
  ClaimedJob job;
  job.id = row.integer(0);
  job.queue = row.text(1);
  job.group = row.text(2);
  job.token = row.integer(3);
  job.attempt = static_cast<int>(row.integer(4));
  job.max_attempts = static_cast<int>(row.integer(5));
  job.payload = row.text(6);
  job.lease_until = lease_until;
  return job;
}

std::string lock_clause(db::Database& database, db::RowLock lock) {
  return db::row_lock_clause(database.backend(), lock);
}

}  // namespace

Duration retry_delay(Duration base, Duration cap, int failures, Random& random) {
  retry::ScheduleSettings settings;
  settings.base_ms = std::chrono::duration_cast<std::chrono::milliseconds>(base).count();
  settings.cap_ms = std::chrono::duration_cast<std::chrono::milliseconds>(cap).count();
  settings.multiplier = 2.0;
  settings.jitter = retry::Jitter::full;
  return std::chrono::milliseconds(retry::delay_after_failures_ms(settings, failures, random));
}

Store::Store(const std::string& location, db::OpenOptions options)
    : database_(location, open_options(options)), random_(Random::os_seed()) {
  db::migrate(database_, "jobq", schema);
}

void Store::record(std::int64_t id, Instant at, std::string_view event, std::string_view detail) {
  database_.execute(
      "INSERT INTO jobq_events (job, at, event, state, attempt, token, detail) "
      "SELECT id, ?2, ?3, state, attempt, token, ?4 FROM jobq_jobs WHERE id = ?1",
      id, micros(at), event, detail);
}

std::optional<JobRow> Store::find(std::int64_t id) {
  static const std::string sql = fmt::format("SELECT {} FROM jobq_jobs WHERE id = ?1", row_columns);
  auto query = database_.query(sql, id);
  if (!query.step()) return std::nullopt;
  return read_row(query.row());
}

std::optional<JobRow> Store::find_locked(std::int64_t id) {
  std::string sql = fmt::format("SELECT {} FROM jobq_jobs WHERE id = ?1{}", row_columns,
                                lock_clause(database_, db::RowLock::for_update));
  auto query = database_.query(sql, id);
  if (!query.step()) return std::nullopt;
  return read_row(query.row());
}

// ---- add ----

void Store::note_group(const NewJob& job) {
  if (job.group.empty()) return;
  // A queue's first group brings the ungrouped jobs' group with it: from then on the queue's
  // claims take turns between groups.
  for (std::string_view group : {std::string_view(job.group), std::string_view()}) {
    database_.execute(
        "INSERT INTO jobq_groups (queue, grp, served) VALUES (?1, ?2, 0) ON CONFLICT DO NOTHING",
        job.queue, group);
  }
}

std::optional<AddedJob> Store::insert(const NewJob& job, Instant now) {
  std::optional<std::int64_t> id;
  {
    auto query = database_.query(
        "INSERT INTO jobq_jobs (queue, priority, grp, state, run_at, key, max_attempts, "
        "backoff_base, backoff_cap, batch, created_at, payload) VALUES (?1, ?2, ?3, 'waiting', "
        "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (key) WHERE key IS NOT NULL AND state IN "
        "('waiting', 'running') DO NOTHING RETURNING id",
        job.queue, job.priority, job.group, micros(job.run_at), job.key, job.max_attempts,
        job.backoff_base.count(), job.backoff_cap.count(), job.batch, micros(now), job.payload);
    if (query.step()) id = query->integer(0);
  }
  if (!id) return std::nullopt;
  record(*id, now, "added");
  note_group(job);
  return AddedJob{*id, job.queue, JobState::waiting, job.run_at, AddOutcome::added};
}

AddedJob Store::handle_duplicate(const NewJob& job, OnDuplicate on_duplicate, Instant now) {
  std::string sql =
      fmt::format("SELECT {} FROM jobq_jobs WHERE key = ?1 AND state IN ('waiting', 'running'){}",
                  row_columns, lock_clause(database_, db::RowLock::for_update));
  std::optional<JobRow> existing;
  {
    auto query = database_.query(sql, *job.key);
    if (query.step()) existing = read_row(query.row());
  }
  if (!existing) {
    // Finished since the insert found it (on a server): insert again.
    if (std::optional<AddedJob> added = insert(job, now)) return *added;
    return handle_duplicate(job, on_duplicate, now);
  }
  auto as_added = [](const JobRow& row, AddOutcome outcome) {
    return AddedJob{row.id, row.queue, row.state, row.run_at, outcome};
  };
  if (on_duplicate == OnDuplicate::ignore) return as_added(*existing, AddOutcome::existing);
  std::string state(job_state_names.name(existing->state));
  if (on_duplicate == OnDuplicate::error || existing->state != JobState::waiting) {
    throw Error(
        exit_code::data,
        fmt::format(
            "key '{}' is taken by job {}, which is {}{}", *job.key, existing->id, state,
            on_duplicate == OnDuplicate::replace ? " (only a waiting job is replaced)" : ""),
        job.where);
  }
  // A new job in the old one's place: its attempts are counted afresh.
  database_.execute(
      "UPDATE jobq_jobs SET queue = ?2, priority = ?3, grp = ?4, run_at = ?5, max_attempts = ?6, "
      "backoff_base = ?7, backoff_cap = ?8, batch = ?9, payload = ?10, attempt = 0, "
      "last_error = '', exit_status = NULL, cancel_requested = 0 WHERE id = ?1",
      existing->id, job.queue, job.priority, job.group, micros(job.run_at), job.max_attempts,
      job.backoff_base.count(), job.backoff_cap.count(), job.batch, job.payload);
  record(existing->id, now, "replaced");
  note_group(job);
  return AddedJob{existing->id, job.queue, JobState::waiting, job.run_at, AddOutcome::replaced};
}

std::vector<AddedJob> Store::add(const std::vector<NewJob>& jobs, OnDuplicate on_duplicate,
                                 Instant now) {
  std::vector<AddedJob> added;
  added.reserve(jobs.size());
  db::WriteTransaction transaction(database_);
  for (const NewJob& job : jobs) {
    if (std::optional<AddedJob> inserted = insert(job, now)) {
      added.push_back(*inserted);
    } else {
      added.push_back(handle_duplicate(job, on_duplicate, now));
    }
  }
  transaction.commit();
  return added;
}

std::vector<AddedJob> Store::add_ranges(const std::vector<NewJob>& jobs, Instant now) {
  std::vector<AddedJob> added;
  added.reserve(jobs.size());
  db::WriteTransaction transaction(database_);
  for (const NewJob& job : jobs) {
    std::optional<AddedJob> found;
    {
      auto query = database_.query(
          "SELECT id, queue, state, run_at FROM jobq_jobs WHERE key = ?1 AND batch = ?2 "
          "ORDER BY id DESC LIMIT 1",
          *job.key, job.batch);
      if (query.step()) {
        found = AddedJob{query->integer(0), query->text(1), state_of(query->text(2)),
                         instant_from_micros(query->integer(3)), AddOutcome::existing};
      }
    }
    if (found) {
      added.push_back(*found);
    } else if (std::optional<AddedJob> inserted = insert(job, now)) {
      added.push_back(*inserted);
    } else {
      added.push_back(handle_duplicate(job, OnDuplicate::ignore, now));
    }
  }
  transaction.commit();
  return added;
}

// ---- claim ----

struct Store::Head {
  std::int64_t id = 0;
  std::string queue;
  std::optional<std::string> group;  // set when the queue's groups take turns
};

std::optional<Store::Head> Store::find_head(std::string_view queue, Instant now) {
  const bool server = database_.backend() == db::Backend::postgresql;
  static const std::string group_sql =
      "SELECT g.grp FROM jobq_groups g WHERE g.queue = ?1 AND EXISTS (SELECT 1 FROM jobq_jobs j "
      "WHERE j.state = 'waiting' AND j.queue = ?1 AND j.grp = g.grp AND j.run_at <= ?2 AND "
      "j.cancel_requested = 0) "
      "ORDER BY g.served, g.grp LIMIT 1";
  const std::string skip = lock_clause(database_, db::RowLock::skip_locked);
  const std::string in_group_sql = fmt::format(
      "SELECT id FROM jobq_jobs WHERE state = 'waiting' AND queue = ?1 AND grp = ?2 AND "
      "run_at <= ?3 AND cancel_requested = 0 ORDER BY priority, run_at, id LIMIT 1{}",
      skip);
  const std::string any_sql = fmt::format(
      "SELECT id FROM jobq_jobs WHERE state = 'waiting' AND queue = ?1 AND run_at <= ?2 "
      "AND cancel_requested = 0 ORDER BY priority, run_at, id LIMIT 1{}",
      skip);
  std::optional<std::string> group;
  {
    auto query = database_.query(group_sql, queue, micros(now));
    if (query.step()) group = query->text(0);
  }
  Head head{0, std::string(queue), group};
  if (!group) {
    // A queue without groups is ordered by priority, run_at and id alone: all of its jobs
    // have the group ''.
    auto query = database_.query(in_group_sql, queue, std::string_view(), micros(now));
    if (query.step()) {
      head.id = query->integer(0);
      return head;
    }
    if (!server) return std::nullopt;
  } else {
    auto query = database_.query(in_group_sql, queue, *group, micros(now));
    if (query.step()) {
      head.id = query->integer(0);
      return head;
    }
  }
  // On a server the rows found may all be locked by other workers' claims: any other due job.
  auto query = database_.query(any_sql, queue, micros(now));
  if (!query.step()) return std::nullopt;
  head.id = query->integer(0);
  head.group.reset();
  return head;
}

std::optional<ClaimedJob> Store::claim_one(const Head& head, Duration lease,
                                           std::string_view worker, std::string_view run,
                                           Instant now) {
  std::optional<ClaimedJob> claimed;
  {
    auto query = database_.query(
        "UPDATE jobq_jobs SET state = 'running', attempt = attempt + 1, token = token + 1, "
        "lease_until = ?2, worker = ?3, run = ?4 WHERE id = ?1 AND state = 'waiting' AND "
        "cancel_requested = 0 RETURNING id, queue, grp, token, attempt, max_attempts, payload",
        head.id, micros(now + lease), worker, run);
    if (query.step()) {
      ClaimedJob job = claimed_job(query.row(), now + lease);
      claimed = std::move(job);
    }
  }
  if (!claimed) return std::nullopt;
  record(claimed->id, now, "claimed", worker);
  if (head.group) {
    database_.execute(
        "UPDATE jobq_groups SET served = (SELECT coalesce(max(served), 0) + 1 FROM jobq_groups "
        "WHERE queue = ?1) WHERE queue = ?1 AND grp = ?2",
        head.queue, *head.group);
  }
  return claimed;
}

void Store::reap_expired(Instant now) {
  std::string sql = fmt::format(
      "SELECT {} FROM jobq_jobs WHERE state = 'running' AND lease_until <= ?1 ORDER BY id "
      "LIMIT 1000{}",
      row_columns, lock_clause(database_, db::RowLock::skip_locked));
  std::vector<JobRow> expired;
  {
    auto query = database_.query(sql, micros(now));
    while (query.step()) expired.push_back(read_row(query.row()));
  }
  for (const JobRow& job : expired) {
    if (job.cancel_requested) {
      database_.execute(
          "UPDATE jobq_jobs SET state = 'cancelled', lease_until = NULL, finished_at = ?2 "
          "WHERE id = ?1",
          job.id, micros(now));
    } else if (job.attempt >= job.max_attempts) {
      database_.execute(
          "UPDATE jobq_jobs SET state = 'dead', lease_until = NULL, finished_at = ?2, "
          "last_error = 'lease expired' WHERE id = ?1",
          job.id, micros(now));
    } else {
      Instant run_at = now + retry_delay(job.backoff_base, job.backoff_cap, job.attempt, random_);
      database_.execute(
          "UPDATE jobq_jobs SET state = 'waiting', lease_until = NULL, run_at = ?2, "
          "last_error = 'lease expired' WHERE id = ?1",
          job.id, micros(run_at));
    }
    record(job.id, now, "lease_expired", job.worker);
  }
}

namespace {

// A list of job ids as one parameter: a JSON array for SQLite's json_each, an array literal
// for PostgreSQL's unnest.
std::string id_list(db::Backend backend, const std::vector<std::int64_t>& ids) {
  std::string text = backend == db::Backend::postgresql ? "{" : "[";
  for (std::size_t index = 0; index < ids.size(); ++index) {
    if (index > 0) text += ',';
    text += std::to_string(ids[index]);
  }
  return text + (backend == db::Backend::postgresql ? "}" : "]");
}

// The ids of an id_list, as a subquery.
constexpr db::Dialects listed_ids{"SELECT value FROM json_each(?1)", "SELECT unnest(?1::bigint[])"};

}  // namespace

bool Store::has_groups(std::string_view queue) {
  auto query = database_.query("SELECT 1 FROM jobq_groups WHERE queue = ?1 LIMIT 1", queue);
  return query.step();
}

std::deque<std::int64_t> Store::due_jobs(std::string_view queue, int count, Instant now) {
  const std::string sql = fmt::format(
      "SELECT id FROM jobq_jobs WHERE state = 'waiting' AND queue = ?1 AND grp = '' AND "
      "run_at <= ?2 AND cancel_requested = 0 ORDER BY priority, run_at, id LIMIT ?3{}",
      lock_clause(database_, db::RowLock::skip_locked));
  std::deque<std::int64_t> ids;
  auto query = database_.query(sql, queue, micros(now), count);
  while (query.step()) ids.push_back(query->integer(0));
  return ids;
}

std::map<std::int64_t, ClaimedJob> Store::claim_all(const std::vector<std::int64_t>& ids,
                                                    Duration lease, std::string_view worker,
                                                    std::string_view run, Instant now) {
  std::map<std::int64_t, ClaimedJob> claimed;
  if (ids.empty()) return claimed;
  const db::Backend backend = database_.backend();
  const std::string list = id_list(backend, ids);
  {
    const std::string sql = fmt::format(
        "UPDATE jobq_jobs SET state = 'running', attempt = attempt + 1, token = token + 1, "
        "lease_until = ?2, worker = ?3, run = ?4 WHERE state = 'waiting' AND cancel_requested = 0 "
        "AND "
        "id IN ({}) "
        "RETURNING id, queue, grp, token, attempt, max_attempts, payload",
        listed_ids.of(backend));
    auto query = database_.query(sql, list, micros(now + lease), worker, run);
    while (query.step()) {
      ClaimedJob job = claimed_job(query.row(), now + lease);
      claimed.emplace(job.id, std::move(job));
    }
  }
  const std::string events = fmt::format(
      "INSERT INTO jobq_events (job, at, event, state, attempt, token, detail) "
      "SELECT id, ?2, 'claimed', state, attempt, token, ?3 FROM jobq_jobs WHERE id IN ({})",
      listed_ids.of(backend));
  database_.execute(events, list, micros(now), worker);
  return claimed;
}

std::vector<ClaimedJob> Store::claim(const std::vector<QueueWeight>& queues, int count,
                                     Duration lease, std::string_view worker, Instant now,
                                     std::string_view run) {
  std::vector<ClaimedJob> claimed;
  db::WriteTransaction transaction(database_);
  reap_expired(now);
  std::vector<Turn> turns(queues.size());
  std::vector<std::optional<Head>> heads(queues.size());
  const bool weighted = queues.size() > 1;
  if (weighted) {
    // The counters are shared by every worker: on a server, lock them (in one order).
    std::map<std::string, std::int64_t, std::less<>> stored;
    std::string sql = fmt::format("SELECT queue, current FROM jobq_turns ORDER BY queue{}",
                                  lock_clause(database_, db::RowLock::for_update));
    auto read_turns = [&] {
      stored.clear();
      auto query = database_.query(sql);
      while (query.step()) stored.emplace(query->text(0), query->integer(1));
    };
    read_turns();
    bool missing = std::any_of(queues.begin(), queues.end(), [&](const QueueWeight& queue) {
      return !stored.contains(queue.queue);
    });
    if (missing) {
      for (const QueueWeight& queue : queues) {
        database_.execute(
            "INSERT INTO jobq_turns (queue, current) VALUES (?1, 0) ON CONFLICT DO NOTHING",
            queue.queue);
      }
      read_turns();
    }
    for (std::size_t index = 0; index < queues.size(); ++index) {
      turns[index].weight = queues[index].weight;
      turns[index].current = stored[queues[index].queue];
    }
  }
  // A queue without groups is read ahead: its first `count` due jobs in one query, claimed
  // together in one UPDATE at the end. A queue whose groups take turns is claimed job by job.
  std::vector<std::deque<std::int64_t>> ahead(queues.size());
  std::vector<bool> grouped(queues.size(), false);
  for (std::size_t index = 0; index < queues.size(); ++index) {
    grouped[index] = has_groups(queues[index].queue);
    if (grouped[index]) {
      heads[index] = find_head(queues[index].queue, now);
    } else {
      ahead[index] = due_jobs(queues[index].queue, count, now);
    }
  }
  // What each pick took, in pick order: a job claimed at once, or an id claimed at the end.
  std::vector<std::variant<ClaimedJob, std::int64_t>> picks;
  std::vector<std::int64_t> pending;
  while (static_cast<int>(picks.size()) < count) {
    for (std::size_t index = 0; index < queues.size(); ++index) {
      turns[index].eligible = grouped[index] ? heads[index].has_value() : !ahead[index].empty();
    }
    std::optional<std::size_t> picked = pick_queue(turns);
    if (!picked) break;
    if (!grouped[*picked]) {
      picks.emplace_back(ahead[*picked].front());
      pending.push_back(ahead[*picked].front());
      ahead[*picked].pop_front();
      continue;
    }
    if (std::optional<ClaimedJob> job = claim_one(*heads[*picked], lease, worker, run, now)) {
      picks.emplace_back(std::move(*job));
    }
    heads[*picked] = find_head(queues[*picked].queue, now);
  }
  std::map<std::int64_t, ClaimedJob> claimed_together = claim_all(pending, lease, worker, run, now);
  for (auto& pick : picks) {
    if (auto* job = std::get_if<ClaimedJob>(&pick)) {
      claimed.push_back(std::move(*job));
    } else if (auto found = claimed_together.find(std::get<std::int64_t>(pick));
               found != claimed_together.end()) {
      claimed.push_back(std::move(found->second));
    }
  }
  if (weighted) {
    // Every eligible queue's counter moved, not only the picked one's.
    for (std::size_t index = 0; index < queues.size(); ++index) {
      database_.execute("UPDATE jobq_turns SET current = ?2 WHERE queue = ?1", queues[index].queue,
                        turns[index].current);
    }
  }
  transaction.commit();
  return claimed;
}

// ---- the holder's commands ----

namespace {

// Whether a job that a token-guarded update did not change is missing or held by another.
Fence missed(Store& store, std::int64_t id) {
  return store.find(id) ? Fence::stale : Fence::missing;
}

}  // namespace

Fence Store::ack_one(std::int64_t id, std::int64_t token, std::optional<std::string_view> result,
                     std::optional<int> exit_status, Instant now) {
  auto& statement = database_.statement(
      "UPDATE jobq_jobs SET state = 'done', lease_until = NULL, finished_at = ?3, result = ?4, "
      "exit_status = ?5, last_error = '' WHERE id = ?1 AND token = ?2 AND state = 'running'");
  {
    db::Query update(statement);
    statement.bind(1, id);
    statement.bind(2, token);
    statement.bind(3, micros(now));
    if (result) {
      statement.bind_blob(4, *result);
    } else {
      statement.bind(4, std::nullopt);
    }
    statement.bind(5, exit_status);
    while (update.step()) {
    }
  }
  if (database_.changes() != 1) return missed(*this, id);
  record(id, now, "done");
  return Fence::held;
}

Fence Store::ack(std::int64_t id, std::int64_t token, std::optional<std::string_view> result,
                 std::optional<int> exit_status, Instant now) {
  db::WriteTransaction transaction(database_);
  Fence fence = ack_one(id, token, result, exit_status, now);
  if (fence == Fence::held) transaction.commit();
  return fence;
}

namespace {

// (id, token) pairs as a subquery: on SQLite one JSON array of [id, token] pairs in ?1; on
// PostgreSQL the arrays of ids (?1) and tokens (?3).
constexpr db::Dialects listed_pairs{
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1)",
    "SELECT * FROM unnest(?1::bigint[], ?3::bigint[])"};

}  // namespace

std::vector<Fence> Store::ack_all(const std::vector<Holder>& holders, Instant now) {
  const db::Backend backend = database_.backend();
  std::vector<std::int64_t> ids, tokens;
  for (const Holder& holder : holders) {
    ids.push_back(holder.id);
    tokens.push_back(holder.token);
  }
  db::WriteTransaction transaction(database_);
  std::map<std::int64_t, std::int64_t> done;  // id -> the token that acknowledged it
  if (!holders.empty()) {
    // One statement for the whole batch; each job is still fenced by its own token.
    const std::string sql = fmt::format(
        "UPDATE jobq_jobs SET state = 'done', lease_until = NULL, finished_at = ?2, "
        "last_error = '' WHERE state = 'running' AND (id, token) IN ({}) RETURNING id, token",
        listed_pairs.of(backend));
    auto read = [&](db::Query query) {
      while (query.step()) done.emplace(query->integer(0), query->integer(1));
    };
    if (backend == db::Backend::postgresql) {
      read(database_.query(sql, id_list(backend, ids), micros(now), id_list(backend, tokens)));
    } else {
      std::string pairs = "[";
      for (const Holder& holder : holders) {
        if (pairs.size() > 1) pairs += ',';
        pairs += fmt::format("[{},{}]", holder.id, holder.token);
      }
      read(database_.query(sql, pairs + "]", micros(now)));
    }
  }
  if (!done.empty()) {
    const std::string events = fmt::format(
        "INSERT INTO jobq_events (job, at, event, state, attempt, token, detail) "
        "SELECT id, ?2, 'done', state, attempt, token, '' FROM jobq_jobs WHERE id IN ({})",
        listed_ids.of(backend));
    std::vector<std::int64_t> done_ids;
    for (const auto& [id, token] : done) done_ids.push_back(id);
    database_.execute(events, id_list(backend, done_ids), micros(now));
  }
  std::vector<Fence> fences;
  fences.reserve(holders.size());
  std::set<std::int64_t> reported;
  for (const Holder& holder : holders) {
    // A job listed twice is acknowledged once: its second line is stale.
    auto found = done.find(holder.id);
    bool first =
        found != done.end() && found->second == holder.token && reported.insert(holder.id).second;
    fences.push_back(first ? Fence::held : missed(*this, holder.id));
  }
  transaction.commit();
  return fences;
}

FailOutcome Store::fail(std::int64_t id, std::int64_t token, std::optional<Duration> retry_after,
                        bool permanent, std::string_view error, std::optional<int> exit_status,
                        Instant now) {
  db::WriteTransaction transaction(database_);
  std::optional<JobRow> job = find_locked(id);
  FailOutcome outcome;
  if (!job) {
    outcome.fence = Fence::missing;
    return outcome;
  }
  if (job->token != token || job->state != JobState::running) {
    outcome.fence = Fence::stale;
    return outcome;
  }
  outcome.attempt = job->attempt;
  if (job->cancel_requested) {
    // Cancelled while it ran: the failure ends it, as an expired lease would (reap_expired).
    outcome.state = JobState::cancelled;
    outcome.run_at = job->run_at;
    database_.execute(
        "UPDATE jobq_jobs SET state = 'cancelled', lease_until = NULL, finished_at = ?2, "
        "last_error = ?3, exit_status = ?4 WHERE id = ?1",
        id, micros(now), error, exit_status);
  } else if (permanent || job->attempt >= job->max_attempts) {
    outcome.state = JobState::dead;
    outcome.run_at = job->run_at;
    database_.execute(
        "UPDATE jobq_jobs SET state = 'dead', lease_until = NULL, finished_at = ?2, "
        "last_error = ?3, exit_status = ?4 WHERE id = ?1",
        id, micros(now), error, exit_status);
  } else {
    outcome.state = JobState::waiting;
    outcome.run_at = now + retry_after.value_or(retry_delay(job->backoff_base, job->backoff_cap,
                                                            job->attempt, random_));
    database_.execute(
        "UPDATE jobq_jobs SET state = 'waiting', lease_until = NULL, run_at = ?2, "
        "last_error = ?3, exit_status = ?4 WHERE id = ?1",
        id, micros(outcome.run_at), error, exit_status);
  }
  record(id, now, outcome.state == JobState::cancelled ? "cancelled" : "failed", error);
  transaction.commit();
  return outcome;
}

HeartbeatOutcome Store::heartbeat(std::int64_t id, std::int64_t token, Instant lease_until) {
  db::WriteTransaction transaction(database_);
  HeartbeatOutcome outcome;
  outcome.lease_until = lease_until;
  bool held = false;
  {
    auto query = database_.query(
        "UPDATE jobq_jobs SET lease_until = ?3 WHERE id = ?1 AND token = ?2 AND "
        "state = 'running' RETURNING cancel_requested",
        id, token, micros(lease_until));
    if (query.step()) {
      held = true;
      outcome.cancel_requested = query->integer(0) != 0;
    }
  }
  if (!held) {
    outcome.fence = missed(*this, id);
    return outcome;
  }
  transaction.commit();
  return outcome;
}

Fence Store::finish_cancelled(std::int64_t id, std::int64_t token, Instant now) {
  db::WriteTransaction transaction(database_);
  int changed = database_.execute(
      "UPDATE jobq_jobs SET state = 'cancelled', lease_until = NULL, finished_at = ?3 "
      "WHERE id = ?1 AND token = ?2 AND state = 'running'",
      id, token, micros(now));
  if (changed != 1) return missed(*this, id);
  record(id, now, "cancelled", "the worker stopped the command");
  transaction.commit();
  return Fence::held;
}

Fence Store::give_back(std::int64_t id, std::int64_t token, Instant run_at, std::string_view why,
                       Instant now) {
  db::WriteTransaction transaction(database_);
  std::optional<JobRow> job = find_locked(id);
  if (!job) return Fence::missing;
  if (job->token != token || job->state != JobState::running) return Fence::stale;
  if (job->cancel_requested) {
    // Not offered again: it ends cancelled, its attempt not counted.
    database_.execute(
        "UPDATE jobq_jobs SET state = 'cancelled', attempt = attempt - 1, lease_until = NULL, "
        "finished_at = ?2 WHERE id = ?1",
        id, micros(now));
    record(id, now, "cancelled", why);
  } else {
    database_.execute(
        "UPDATE jobq_jobs SET state = 'waiting', attempt = attempt - 1, lease_until = NULL, "
        "run_at = ?2 WHERE id = ?1",
        id, micros(run_at));
    record(id, now, "given_back", why);
  }
  transaction.commit();
  return Fence::held;
}

// ---- administration ----

namespace {

std::vector<std::int64_t> sorted_unique(std::vector<std::int64_t> ids) {
  // One order for every process: two cancels of overlapping lists never deadlock.
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace

std::vector<JobRow> Store::cancel(const std::vector<std::int64_t>& ids, Instant now) {
  db::WriteTransaction transaction(database_);
  std::vector<JobRow> rows;
  for (std::int64_t id : sorted_unique(ids)) {
    std::optional<JobRow> job = find_locked(id);
    if (!job) throw Error(exit_code::no_input, fmt::format("no job {}", id));
    if (job->state == JobState::waiting) {
      database_.execute("UPDATE jobq_jobs SET state = 'cancelled', finished_at = ?2 WHERE id = ?1",
                        id, micros(now));
      record(id, now, "cancelled");
    } else if (job->state == JobState::running && !job->cancel_requested) {
      database_.execute("UPDATE jobq_jobs SET cancel_requested = 1 WHERE id = ?1", id);
      record(id, now, "cancel_requested");
    }
  }
  for (std::int64_t id : ids) rows.push_back(*find(id));
  transaction.commit();
  return rows;
}

std::vector<JobRow> Store::retry(const std::vector<std::int64_t>& ids, Instant now) {
  db::WriteTransaction transaction(database_);
  for (std::int64_t id : sorted_unique(ids)) {
    std::optional<JobRow> job = find_locked(id);
    if (!job) throw Error(exit_code::no_input, fmt::format("no job {}", id));
    if (job->state != JobState::dead && job->state != JobState::cancelled) {
      throw Error(exit_code::data,
                  fmt::format("job {} is {}: only dead or cancelled jobs are retried", id,
                              job_state_names.name(job->state)));
    }
    try {
      database_.execute(
          "UPDATE jobq_jobs SET state = 'waiting', attempt = 0, run_at = ?2, lease_until = NULL, "
          "finished_at = NULL, cancel_requested = 0 WHERE id = ?1",
          id, micros(now));
    } catch (const db::ConstraintViolation&) {
      throw Error(exit_code::data, fmt::format("job {}: key '{}' is taken by a waiting or "
                                               "running job",
                                               id, job->key.value_or("")));
    }
    record(id, now, "retried");
  }
  std::vector<JobRow> rows;
  for (std::int64_t id : ids) rows.push_back(*find(id));
  transaction.commit();
  return rows;
}

std::int64_t Store::reap(Instant now) {
  std::int64_t before = 0;
  auto count_expired = [&] {
    auto query = database_.query(
        "SELECT count(*) FROM jobq_jobs WHERE state = 'running' AND lease_until <= ?1",
        micros(now));
    query.step();
    return query->integer(0);
  };
  std::int64_t total = 0;
  for (;;) {
    db::WriteTransaction transaction(database_);
    before = count_expired();
    if (before == 0) break;
    reap_expired(now);
    std::int64_t after = count_expired();
    transaction.commit();
    total += before - after;
    if (after == 0 || after == before) break;
  }
  return total;
}

std::int64_t Store::purge(Instant cutoff, int batch) {
  batch = std::max(batch, 1);
  const db::Backend backend = database_.backend();
  // The selection is evaluated once: the jobs deleted are the ones whose history goes (two
  // selections could differ on a server, where each statement sees the latest commits).
  static const std::string jobs =
      "DELETE FROM jobq_jobs WHERE id IN (SELECT id FROM jobq_jobs WHERE state IN ('done', "
      "'dead', 'cancelled') AND finished_at <= ?1 ORDER BY id LIMIT ?2) RETURNING id";
  const std::string events =
      fmt::format("DELETE FROM jobq_events WHERE job IN ({})", listed_ids.of(backend));
  std::int64_t deleted = 0;
  for (;;) {
    db::WriteTransaction transaction(database_);
    std::vector<std::int64_t> ids;
    {
      auto query = database_.query(jobs, micros(cutoff), batch);
      while (query.step()) ids.push_back(query->integer(0));
    }
    if (!ids.empty()) database_.execute(events, id_list(backend, ids));
    transaction.commit();
    deleted += static_cast<std::int64_t>(ids.size());
    if (static_cast<int>(ids.size()) < batch) return deleted;
  }
}

std::vector<Event> Store::history(std::int64_t id) {
  std::vector<Event> events;
  auto query = database_.query(
      "SELECT at, event, state, attempt, token, detail FROM jobq_events WHERE job = ?1 "
      "ORDER BY at, attempt, token",
      id);
  while (query.step()) {
    Event event;
    event.at = instant_from_micros(query->integer(0));
    event.event = query->text(1);
    event.state = state_of(query->text(2));
    event.attempt = static_cast<int>(query->integer(3));
    event.token = query->integer(4);
    event.detail = query->text(5);
    events.push_back(std::move(event));
  }
  return events;
}

void Store::list(const ListFilter& filter, const std::function<void(const JobRow&)>& visit) {
  static const std::string sql = fmt::format(
      "SELECT {} FROM jobq_jobs WHERE id > ?1 AND (?2 = '' OR state = ?2) AND "
      "(?3 = '' OR queue = ?3) ORDER BY id LIMIT ?4",
      row_columns);
  std::string state = filter.state ? std::string(job_state_names.name(*filter.state)) : "";
  db::ReadTransaction read(database_);
  auto query = database_.query(sql, filter.after, state, filter.queue, filter.limit);
  while (query.step()) visit(read_row(query.row()));
}

std::vector<QueueCounts> Store::stats(Instant now) {
  std::map<std::string, QueueCounts> by_queue;
  db::ReadTransaction read(database_);
  {
    auto query =
        database_.query("SELECT queue, state, count(*) FROM jobq_jobs GROUP BY queue, state");
    while (query.step()) {
      QueueCounts& counts = by_queue[query->text(0)];
      counts.queue = query->text(0);
      counts.counts[static_cast<int>(state_of(query->text(1)))] = query->integer(2);
    }
  }
  {
    auto query = database_.query(
        "SELECT queue, min(run_at) FROM jobq_jobs WHERE state = 'waiting' AND run_at <= ?1 "
        "GROUP BY queue",
        micros(now));
    while (query.step())
      by_queue[query->text(0)].oldest_due = instant_from_micros(query->integer(1));
  }
  std::vector<QueueCounts> rows;
  for (auto& [queue, counts] : by_queue) rows.push_back(counts);
  return rows;
}

std::optional<JobResult> Store::result(std::int64_t id) {
  auto query =
      database_.query("SELECT id, state, exit_status, result FROM jobq_jobs WHERE id = ?1", id);
  if (!query.step()) return std::nullopt;
  JobResult result{query->integer(0), state_of(query->text(1)), std::nullopt,
                   query->is_null(3) ? std::string() : std::string(query->blob(3))};
  if (!query->is_null(2)) result.exit_status = static_cast<int>(query->integer(2));
  return result;
}

namespace {

std::vector<JobResult> read_results(db::Query& query) {
  std::vector<JobResult> results;
  while (query.step()) {
    JobResult result{query->integer(0), state_of(query->text(1)), std::nullopt,
                     query->is_null(3) ? std::string() : std::string(query->blob(3))};
    if (!query->is_null(2)) result.exit_status = static_cast<int>(query->integer(2));
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace

std::vector<JobResult> Store::batch_results(std::string_view batch) {
  db::ReadTransaction read(database_);
  auto query = database_.query(
      "SELECT id, state, exit_status, result FROM jobq_jobs WHERE batch = ?1 ORDER BY id", batch);
  return read_results(query);
}

std::vector<JobResult> Store::results_of_run(std::string_view run) {
  db::ReadTransaction read(database_);
  auto query = database_.query(
      "SELECT id, state, exit_status, result FROM jobq_jobs WHERE run = ?1 AND state = 'done' "
      "ORDER BY id",
      run);
  return read_results(query);
}

}  // namespace sluice::jobq
