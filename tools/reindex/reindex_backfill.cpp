// reindex backfill: copy the source into V2 in key order, one short write transaction per
// batch that also records how far it got. Rows the triggers already copied are skipped: they
// are current, because the triggers keep them so.
#include <unistd.h>

#include <fmt/format.h>

#include "reindex_commands.hpp"
#include "reindex_schema.hpp"
#include "reindex_sync.hpp"
#include "sluice/error.hpp"
#include "sluice/signals.hpp"

namespace sluice::reindex {

namespace {

using Key = std::vector<db::Value>;
using SteadyClock = std::chrono::steady_clock;

// "(?F, ?F+1, ...)" or "?F" for a one-column key.
std::string parameters(std::size_t first, std::size_t count) {
  std::string list;
  for (std::size_t index = 0; index < count; ++index) {
    list += fmt::format("{}?{}", index == 0 ? "" : ", ", first + index);
  }
  return count == 1 ? list : "(" + list + ")";
}

std::string key_tuple(const Sync& sync) {
  std::string list;
  for (const auto& column : sync.from_key) {
    list += (list.empty() ? "" : ", ") + db::quote_identifier(sync.from) + "." +
            db::quote_identifier(column);
  }
  return sync.from_key.size() == 1 ? list : "(" + list + ")";
}

// The key `batch` rows after `after` (the batch's last key), or nothing when fewer remain.
std::optional<Key> batch_end(db::Database& database, const Sync& sync, const Key& after,
                             std::int64_t batch) {
  std::size_t width = sync.from_key.size();
  std::string where =
      after.empty() ? "" : " WHERE " + key_tuple(sync) + " > " + parameters(1, width);
  auto& statement = database.statement(
      fmt::format("SELECT {} FROM {}{} ORDER BY {} LIMIT 1 OFFSET ?{}", column_list(sync.from_key),
                  db::quote_identifier(sync.from), where, column_list(sync.from_key),
                  after.empty() ? 1 : width + 1));
  db::Query query(statement);
  for (std::size_t index = 0; index < after.size(); ++index) {
    statement.bind(static_cast<int>(index + 1), after[index]);
  }
  statement.bind(static_cast<int>(after.empty() ? 1 : width + 1), batch - 1);
  if (!query.step()) return std::nullopt;
  Key end;
  for (std::size_t index = 0; index < width; ++index) {
    end.push_back(statement.value(static_cast<int>(index)));
  }
  return end;
}

// Copies the source rows with keys in (after, until] (open ends when empty) that V2 lacks.
int copy_range(db::Database& database, const Sync& sync, const Key& after, const Key& until) {
  std::size_t width = sync.from_key.size();
  std::string where =
      "WHERE NOT EXISTS (SELECT 1 FROM " + db::quote_identifier(sync.to) + " WHERE " +
      key_match(sync.to, sync.to_key, db::quote_identifier(sync.from), sync.from_key) + ")";
  std::size_t next = 1;
  if (!after.empty()) {
    where += " AND " + key_tuple(sync) + " > " + parameters(next, width);
    next += width;
  }
  if (!until.empty()) where += " AND " + key_tuple(sync) + " <= " + parameters(next, width);
  auto& statement = database.statement(copy_statement(sync, "") + " " + where);
  db::Query query(statement);
  int index = 0;
  for (const auto& value : after) statement.bind(++index, value);
  for (const auto& value : until) statement.bind(++index, value);
  while (query.step()) {
  }
  return database.changes();
}

// After a batch broke a constraint of V2: finds the first row that does, for the message.
// The batch held at most `batch` rows after `after`.
[[noreturn]] void report_violation(Context& context, const Job& job, const Sync& sync,
                                   const Key& after, std::int64_t batch) {
  db::WriteTransaction transaction(context.database);  // never committed
  Key previous = after;
  for (std::int64_t row = 0; row < batch; ++row) {
    auto next = batch_end(context.database, sync, previous, 1);
    if (!next) break;
    try {
      copy_range(context.database, sync, previous, *next);
    } catch (const db::ConstraintViolation& violation) {
      refuse(fmt::format(
          "job '{}': the row of '{}' with key {} breaks a constraint of the new "
          "table '{}' ({}); fix the row (or the DDL) and run backfill again",
          job.name, sync.from, to_json(key_json(job.key, *next)), sync.to, violation.what()));
    }
    previous = *next;
  }
  refuse(
      fmt::format("job '{}': a batch broke a constraint of the new table '{}'", job.name, sync.to));
}

// Where a (resumed) copy stands: source rows in all, and at or before the checkpoint.
struct Position {
  std::int64_t total = 0;
  std::int64_t done = 0;
};

Position position(db::Database& database, const Job& job) {
  db::ReadTransaction read(database);
  const Sync sync = forward_sync(job);
  const std::string table = db::quote_identifier(sync.from);
  Position counted;
  auto total = database.query("SELECT count(*) FROM " + table);
  if (total.step()) counted.total = total->integer(0);
  if (job.checkpoint.empty()) return counted;
  auto& statement =
      database.statement(fmt::format("SELECT count(*) FROM {} WHERE {} <= {}", table,
                                     key_tuple(sync), parameters(1, job.checkpoint.size())));
  db::Query done(statement);
  for (std::size_t index = 0; index < job.checkpoint.size(); ++index) {
    statement.bind(static_cast<int>(index + 1), job.checkpoint[index]);
  }
  if (done.step()) counted.done = statement.integer(0);
  return counted;
}

// An application's busy handler polls: SQLite's default sleeps 1, 2, 5, 10, 15, 20, 25, 25 ms
// between tries, so a lock taken again right after each commit would starve it. Backfill
// holds the write lock in slices of at most lock_slice (consecutive batches) and then leaves
// it free for --lock-pause (default 30 ms, longer than those sleeps), so that a waiting writer
// gets in within about lock_slice + 25 ms.
constexpr auto lock_slice = std::chrono::milliseconds(50);

void sleep_or_stop(Duration duration) {
  if (!sleep_unless_interrupted(duration)) throw_if_interrupted();
}

struct Pacer {
  const BackfillOptions& options;
  SteadyClock::time_point started = SteadyClock::now();
  SteadyClock::time_point last_report{};
  SteadyClock::time_point batch_began{};
  Duration last_batch{};  // how long the last batch's transaction took
  Duration held{};        // lock time since the last pause

  [[nodiscard]] double seconds() const {
    return std::chrono::duration<double>(SteadyClock::now() - started).count();
  }
  [[nodiscard]] bool out_of_time() const {
    return options.max_runtime && SteadyClock::now() - started >= *options.max_runtime;
  }
  void begin_batch() { batch_began = SteadyClock::now(); }
  void end_batch() {
    last_batch = std::chrono::duration_cast<Duration>(SteadyClock::now() - batch_began);
    held += last_batch;
  }

  // Sleeps: a pause after each lock slice, while the pause file exists, and while the copy
  // runs ahead of --max-rows-per-sec.
  void wait(std::int64_t rows_this_run) {
    if (held >= lock_slice && options.lock_pause.count() > 0) {
      sleep_or_stop(options.lock_pause);
      held = {};
    }
    while (!options.pause_file.empty() && ::access(options.pause_file.c_str(), F_OK) == 0 &&
           !out_of_time()) {
      sleep_or_stop(std::chrono::milliseconds(100));
    }
    if (options.max_rows_per_second <= 0) return;
    double ahead = static_cast<double>(rows_this_run) / options.max_rows_per_second - seconds();
    if (ahead > 0) {
      sleep_or_stop(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(ahead)));
    }
  }
};

// `done` of `total` rows, this run copying at `rate` rows a second, `batch` rows a batch now.
void report(Context& context, const Job& job, std::int64_t done, std::int64_t total, double rate,
            std::int64_t batch) {
  double eta = rate > 0 && total > done ? static_cast<double>(total - done) / rate : 0;
  context.out.write_line(to_json(JsonValue::object({
      {"job", JsonValue::string(job.name)},
      {"phase", JsonValue::string(std::string(phase_name(job.phase)))},
      {"rows_scanned", JsonValue::integer(done)},
      {"rows_total", JsonValue::integer(total)},
      {"rows_copied", JsonValue::integer(job.rows_copied)},
      {"rows_per_second", JsonValue::integer(static_cast<long long>(rate))},
      {"eta_seconds", JsonValue::integer(static_cast<long long>(eta))},
      {"batch", JsonValue::integer(batch)},
  })));
  context.out.flush();
}

// One batch of `batch` rows in one write transaction, committed with the job's progress.
// Returns whether rows remain after it.
bool copy_batch(Context& context, const BackfillOptions& options, std::int64_t batch, Job& job,
                Progress& progress) {
  db::WriteTransaction transaction(context.database);
  job = context.store.load(context.job);
  if (job.phase != Phase::backfilling) return false;
  const Sync sync = forward_sync(job);
  auto end = batch_end(context.database, sync, job.checkpoint, batch);
  try {
    job.rows_copied += copy_range(context.database, sync, job.checkpoint, end.value_or(Key{}));
  } catch (const db::ConstraintViolation&) {
    transaction.rollback();
    progress.finish();
    report_violation(context, job, sync, job.checkpoint, batch);
  }
  if (end) {
    job.checkpoint = *end;
  } else {
    job.phase = Phase::backfilled;
  }
  context.store.save_progress(job, context.clock.now());
  if (options.before_commit) options.before_commit();
  transaction.commit();
  return end.has_value();
}

}  // namespace

int backfill(Context& context, const BackfillOptions& options) {
  Job job = context.store.load(context.job);
  if (job.phase != Phase::backfilling) {
    if (job.phase != Phase::backfilled) {
      refuse(fmt::format("job '{}' is {}: nothing to backfill", job.name, phase_name(job.phase)));
    }
    return exit_code::success;
  }
  const Position start = position(context.database, job);
  Pacer pacer{options};
  BatchSizer sizer(options.batch, options.chunk_time);
  Progress progress(options.progress, "backfill " + job.name, 0);
  std::int64_t scanned = 0;  // by this run
  while (job.phase == Phase::backfilling) {
    throw_if_interrupted();
    pacer.wait(scanned);
    if (pacer.out_of_time()) {
      progress.finish();
      note(
          fmt::format("job '{}': stopped by --max-runtime after {} rows; run backfill again to "
                      "go on",
                      job.name, scanned));
      return exit_code::temporary;
    }
    const std::int64_t batch = sizer.size();
    pacer.begin_batch();
    bool more = copy_batch(context, options, batch, job, progress);
    pacer.end_batch();
    if (more) sizer.record(batch, pacer.last_batch);
    if (options.after_commit) options.after_commit();
    scanned = more ? scanned + batch : start.total - start.done;
    const std::int64_t done = std::min(start.done + scanned, start.total);
    progress.update_rows(static_cast<std::uint64_t>(done), static_cast<std::uint64_t>(start.total));
    bool due = SteadyClock::now() - pacer.last_report >= std::chrono::seconds(1);
    if (options.report && (due || !more)) {
      double seconds = pacer.seconds();
      report(context, job, done, start.total,
             seconds > 0 ? static_cast<double>(scanned) / seconds : 0, sizer.size());
      pacer.last_report = SteadyClock::now();
    }
  }
  progress.finish();
  return exit_code::success;
}

}  // namespace sluice::reindex
