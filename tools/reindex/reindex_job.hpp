// reindex_job: a reindex job as recorded in the user's database (tables _reindex_*), and the
// names of the two versions of the table at each phase.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sluice/db.hpp"
#include "sluice/names.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::reindex {

// backfilling -> backfilled -> switched -> done; aborted from backfilling or backfilled.
// A rollback goes from switched back to backfilled (or to backfilling when forced).
enum class Phase { backfilling, backfilled, switched, done, aborted };
enum class AliasMode { rename, view };
inline constexpr NameTable<AliasMode, 2> alias_mode_names({{{"rename", AliasMode::rename},
                                                            {"view", AliasMode::view}}});

std::string_view phase_name(Phase phase);
std::string_view mode_name(AliasMode mode);

struct Job {
  std::string name;
  std::string source;    // the table the job rebuilds (V1), by its name at start
  std::string dest;      // the new table (V2) as created by start
  std::string old_name;  // rename mode: the name V1 takes at switch (source + "__v1")
  AliasMode mode = AliasMode::rename;
  std::string alias;      // rename mode: the source's name; view mode: the view
  std::string alias_sql;  // view mode: the view's definition before start ("" if start made it)
  std::string select;     // the projection: a SELECT list over V1 giving V2's columns
  std::string reverse_select;                // a SELECT list over V2 giving V1's columns, or ""
  std::vector<std::string> key;              // V1's key columns
  std::vector<std::string> dest_key;         // the V2 columns they are copied to
  std::vector<std::string> columns;          // V2 columns the projection fills, in its order
  std::vector<std::string> reverse_columns;  // V1 columns the reverse projection fills
  Phase phase = Phase::backfilling;
  std::int64_t rows_copied = 0;
  bool writes_after_switch = false;
  std::vector<db::Value> checkpoint;  // the last key backfill copied; empty before the first
  std::string created;
  std::string updated;
};

// The table V1 and V2 live in now (rename mode renames them at switch and rollback).
std::string v1_table(const Job& job);
std::string v2_table(const Job& job);

// A job name: 1 to 64 of [A-Za-z0-9_.-]. Error(2) naming --job otherwise.
void check_job_name(std::string_view name);

// Whether opening the job store may create the _reindex_* tables (a dry run must not).
enum class Bookkeeping { create, only_if_present };

// The bookkeeping tables. Every function must run inside the caller's transaction.
class JobStore {
 public:
  // Creates or upgrades the _reindex_* tables (its own write transaction). With
  // only_if_present, nothing is written: a file without them holds no jobs, and tables of a
  // newer version are refused (Error(65)).
  explicit JobStore(db::Database& database, Bookkeeping bookkeeping = Bookkeeping::create);

  [[nodiscard]] std::optional<Job> find(std::string_view name);
  // find, or Error(65) naming the job when there is none.
  [[nodiscard]] Job load(std::string_view name);
  [[nodiscard]] std::vector<Job> all();
  // The job that is neither done nor aborted on `table` (by source or live name), if any.
  [[nodiscard]] std::optional<Job> active_on(std::string_view table);
  // Writes the whole job (replacing a finished job of the same name), stamped `now`.
  void save(Job& job, Instant now);
  // Writes only the phase, counters and checkpoint (backfill's per-batch write).
  void save_progress(Job& job, Instant now);

 private:
  void load_columns(Job& job);
  void save_checkpoint(const Job& job);
  db::Database& database_;
  bool absent_ = false;  // only_if_present found no _reindex_* tables
};

}  // namespace sluice::reindex
