// ttl_sweep: deletes a table's expired rows in short batches by key range, so that the
// application's writers never wait longer than one batch.
//
// Each batch finds the key of the BATCH-th expired row after the last batch's end (a read,
// no write lock), then deletes, in one short write transaction, the rows in that key range
// that are expired (the condition is checked again by the DELETE, so a row a writer changed
// meanwhile is judged as it is now), commits and pauses. Nothing is recorded between batches:
// each batch is complete when it commits, so a sweep killed at any instant has deleted whole
// batches, and the next run (with the same cutoff) finds the rest and ends with the same table.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "sluice/db.hpp"
#include "sluice/fdio.hpp"
#include "sluice/json.hpp"
#include "sluice/progress.hpp"
#include "sluice/timeutil.hpp"
#include "ttl_table.hpp"

namespace sluice::ttl {

struct SweepOptions {
  std::string table;
  std::string column;
  Duration older_than{};
  std::string where;          // empty: every expired row; else checked (check_where) before use
  std::int64_t batch = 1000;  // with chunk_time: the first batch's size
  // Resize batches so that each delete transaction takes about this long (0: every batch
  // holds `batch` rows), as reindex backfill's --chunk-time does (sluice/batch_size.hpp).
  Duration chunk_time{};
  // Between batches the write lock stays free this long: longer than the 25 ms a waiting
  // SQLite writer's busy handler sleeps between tries, so it gets in.
  Duration pause = std::chrono::milliseconds(30);
  Duration max_time{};  // 0: no limit
  bool dry_run = false;
  ProgressMode progress = ProgressMode::automatic;
  // Called after each batch's commit: tests write or kill between batches through it.
  std::function<void()> after_commit;
};

struct SweepResult {
  Table table;
  Instant cutoff{};
  std::int64_t rows = 0;  // deleted (or, with dry_run, that would be)
  std::int64_t batches = 0;
  bool complete = true;  // false: --max-time ended the sweep first
};

// Inspects the table, checks --where, then sweeps (or counts, with dry_run). Throws Error(65)
// for a table, column or --where the database refuses, before anything is deleted.
SweepResult sweep(db::Database& database, const SweepOptions& options, Instant now);

// The record `ttl sweep` prints.
JsonValue sweep_record(const SweepResult& result, bool dry_run);

}  // namespace sluice::ttl
