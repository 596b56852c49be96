#include "ttl_sweep.hpp"

#include <fmt/format.h>

#include "sluice/batch_size.hpp"
#include "sluice/error.hpp"
#include "sluice/signals.hpp"

namespace sluice::ttl {

namespace {

using SteadyClock = std::chrono::steady_clock;

// The statements of one sweep: ?1 is the cutoff (expired_condition); the key bounds and the
// batch size follow.
class Statements {
 public:
  Statements(const Table& table, db::Backend backend, const std::string& where)
      : table_name_(db::quote_identifier(table.name)), key_(table.key) {
    condition_ = expired_condition(table, backend);
    if (!where.empty()) condition_ += " AND (" + where + ")";
  }

  [[nodiscard]] std::string count() const {
    return fmt::format("SELECT count(*) FROM {} WHERE {}", table_name_, condition_);
  }
  // The key of the last row of the next batch: ?2 is the last batch's end, ?3 the batch size
  // (?2 the size for the first batch).
  [[nodiscard]] std::string batch_end(bool first) const {
    return fmt::format(
        "SELECT {0} FROM (SELECT {0} FROM {1} WHERE {2}{3} ORDER BY {0} LIMIT ?{4}) AS batch "
        "ORDER BY {0} DESC LIMIT 1",
        key_, table_name_, first ? "" : key_ + " > ?2 AND ", condition_, first ? 2 : 3);
  }
  // Deletes the expired rows with keys in (?2, ?3], or up to ?2 for the first batch.
  [[nodiscard]] std::string delete_range(bool first) const {
    return fmt::format("DELETE FROM {} WHERE {} AND {}", table_name_,
                       first ? key_ + " <= ?2" : key_ + " > ?2 AND " + key_ + " <= ?3", condition_);
  }

 private:
  std::string table_name_;
  std::string key_;
  std::string condition_;
};

std::int64_t count_expired(db::Database& database, const Statements& statements,
                           std::int64_t cutoff) {
  db::ReadTransaction read(database);
  auto query = database.query(statements.count(), cutoff);
  return query.step() ? query->integer(0) : 0;
}

std::optional<db::Value> next_batch_end(db::Database& database, const Statements& statements,
                                        std::int64_t cutoff, const std::optional<db::Value>& after,
                                        std::int64_t batch) {
  auto query = after ? database.query(statements.batch_end(false), cutoff, *after, batch)
                     : database.query(statements.batch_end(true), cutoff, batch);
  if (!query.step()) return std::nullopt;
  return query->value(0);
}

std::int64_t delete_batch(db::Database& database, const Statements& statements, std::int64_t cutoff,
                          const std::optional<db::Value>& after, const db::Value& end) {
  db::WriteTransaction transaction(database);
  int deleted = after ? database.execute(statements.delete_range(false), cutoff, *after, end)
                      : database.execute(statements.delete_range(true), cutoff, end);
  transaction.commit();
  return deleted;
}

void pause(Duration duration) {
  if (duration.count() > 0 && !sleep_unless_interrupted(duration)) throw_if_interrupted();
}

}  // namespace

SweepResult sweep(db::Database& database, const SweepOptions& options, Instant now) {
  SweepResult result{inspect_table(database, options.table, options.column),
                     cutoff_instant(now, options.older_than)};
  if (!options.where.empty()) check_where(database, result.table, options.where);
  const Statements statements(result.table, database.backend(), options.where);
  const std::int64_t cutoff =
      std::chrono::duration_cast<std::chrono::seconds>(result.cutoff.time_since_epoch()).count();
  if (options.dry_run) {
    result.rows = count_expired(database, statements, cutoff);
    result.batches = (result.rows + options.batch - 1) / options.batch;
    return result;
  }
  Progress progress(options.progress, "sweep " + options.table, 0);
  // The meter's total costs a scan of the table: counted only for a meter that is shown.
  const std::int64_t total = progress.enabled() ? count_expired(database, statements, cutoff) : 0;
  const auto started = SteadyClock::now();
  std::optional<db::Value> after;
  BatchSizer sizer(options.batch, options.chunk_time);
  while (true) {
    throw_if_interrupted();
    // Checked after the first batch: every run makes progress, however short its time.
    if (result.batches > 0 && options.max_time.count() > 0 &&
        SteadyClock::now() - started >= options.max_time) {
      result.complete = false;
      break;
    }
    auto end = next_batch_end(database, statements, cutoff, after, sizer.size());
    if (!end) break;
    const auto began = SteadyClock::now();
    const std::int64_t deleted = delete_batch(database, statements, cutoff, after, *end);
    sizer.record(deleted, std::chrono::duration_cast<Duration>(SteadyClock::now() - began));
    result.rows += deleted;
    ++result.batches;
    after = std::move(end);
    if (options.after_commit) options.after_commit();
    progress.update_rows(static_cast<std::uint64_t>(result.rows),
                         static_cast<std::uint64_t>(std::max(total, result.rows)));
    pause(options.pause);
  }
  progress.finish();
  return result;
}

JsonValue sweep_record(const SweepResult& result, bool dry_run) {
  return JsonValue::object({
      {"table", JsonValue::string(result.table.name)},
      {"column", JsonValue::string(result.table.column)},
      {"cutoff", JsonValue::string(format_instant(result.cutoff))},
      {dry_run ? "expired" : "deleted", JsonValue::integer(result.rows)},
      {"batches", JsonValue::integer(result.batches)},
      {"complete", JsonValue::boolean(result.complete)},
  });
}

}  // namespace sluice::ttl
