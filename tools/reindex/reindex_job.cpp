#include "reindex_job.hpp"

#include <array>

#include <fmt/format.h>

#include "reindex_schema.hpp"
#include "sluice/error.hpp"

namespace sluice::reindex {

namespace {

constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE _reindex_jobs (
  job TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  dest TEXT NOT NULL,
  old_name TEXT NOT NULL,
  mode TEXT NOT NULL,
  alias TEXT NOT NULL,
  alias_sql TEXT NOT NULL,
  select_sql TEXT NOT NULL,
  reverse_select TEXT NOT NULL,
  phase TEXT NOT NULL,
  rows_copied INTEGER NOT NULL,
  writes_after_switch INTEGER NOT NULL,
  created TEXT NOT NULL,
  updated TEXT NOT NULL
) STRICT;
-- role: key, dest_key, column, reverse_column; position orders a role's names.
CREATE TABLE _reindex_columns (
  job TEXT NOT NULL,
  role TEXT NOT NULL,
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (job, role, position)
) STRICT, WITHOUT ROWID;
-- The last key backfill copied, one row per key column, in its own storage class.
CREATE TABLE _reindex_checkpoint (
  job TEXT NOT NULL,
  position INTEGER NOT NULL,
  value ANY,
  PRIMARY KEY (job, position)
) STRICT, WITHOUT ROWID;
)sql";

constexpr std::array<std::string_view, 5> phase_names{"backfilling", "backfilled", "switched",
                                                      "done", "aborted"};

Phase parse_phase(const std::string& text) {
  for (std::size_t index = 0; index < phase_names.size(); ++index) {
    if (phase_names[index] == text) return static_cast<Phase>(index);
  }
  throw Error(exit_code::data, fmt::format("_reindex_jobs holds an unknown phase '{}'", text));
}

// The SQL a job keeps is run again by later commands: a state file from elsewhere (or edited)
// must not get more run than a projection and a view definition.
void check_stored_sql(const Job& job) {
  refuse_comments_and_statement_ends(job.select);
  refuse_comments_and_statement_ends(job.reverse_select);
  if (!job.alias_sql.empty() && lower(job.alias_sql.substr(0, 12)) != "create view ") {
    throw Error(exit_code::data,
                fmt::format("_reindex_jobs holds a view definition for job '{}' that is not a "
                            "CREATE VIEW statement",
                            job.name));
  }
}

constexpr std::string_view select_job =
    "SELECT job, source, dest, old_name, mode, alias, alias_sql, select_sql, reverse_select, "
    "phase, rows_copied, writes_after_switch, created, updated FROM _reindex_jobs";

Job job_from_row(db::Statement& row) {
  Job job;
  job.name = row.text(0);
  job.source = row.text(1);
  job.dest = row.text(2);
  job.old_name = row.text(3);
  job.mode = alias_mode_names.find(row.text(4)).value_or(AliasMode::rename);
  job.alias = row.text(5);
  job.alias_sql = row.text(6);
  job.select = row.text(7);
  job.reverse_select = row.text(8);
  job.phase = parse_phase(row.text(9));
  job.rows_copied = row.integer(10);
  job.writes_after_switch = row.integer(11) != 0;
  job.created = row.text(12);
  job.updated = row.text(13);
  return job;
}

}  // namespace

std::string_view phase_name(Phase phase) {
  return phase_names[static_cast<std::size_t>(phase)];
}

std::string_view mode_name(AliasMode mode) {
  return alias_mode_names.name(mode);
}

std::string v1_table(const Job& job) {
  bool renamed =
      job.mode == AliasMode::rename && (job.phase == Phase::switched || job.phase == Phase::done);
  return renamed ? job.old_name : job.source;
}

std::string v2_table(const Job& job) {
  bool renamed =
      job.mode == AliasMode::rename && (job.phase == Phase::switched || job.phase == Phase::done);
  return renamed ? job.source : job.dest;
}

void check_job_name(std::string_view name) {
  bool valid = !name.empty() && name.size() <= 64;
  for (char character : name) {
    bool allowed = (character >= 'a' && character <= 'z') ||
                   (character >= 'A' && character <= 'Z') ||
                   (character >= '0' && character <= '9') || character == '_' || character == '-' ||
                   character == '.';
    valid = valid && allowed;
  }
  if (!valid) {
    throw Error(exit_code::usage,
                fmt::format("--job: '{}' is not a job name (1 to 64 of A-Z a-z 0-9 _ . -)", name));
  }
}

JobStore::JobStore(db::Database& database, Bookkeeping bookkeeping) : database_(database) {
  std::array<std::string_view, 1> steps{schema_v1};
  if (bookkeeping == Bookkeeping::create) {
    db::migrate(database_, "reindex", steps, "_reindex_meta");
    return;
  }
  // A dry run writes nothing, not even a migration: it reads the bookkeeping it finds (with
  // one version so far, present bookkeeping is current) and refuses a newer one.
  db::ReadTransaction read(database_);
  const int version = db::schema_version(database_, "reindex", "_reindex_meta");
  db::refuse_newer_schema(database_, "reindex", version, static_cast<int>(steps.size()));
  absent_ = version == 0;
}

std::optional<Job> JobStore::find(std::string_view name) {
  if (absent_) return std::nullopt;
  std::optional<Job> job;
  {
    auto query = database_.query(fmt::format("{} WHERE job = ?1", select_job), name);
    if (!query.step()) return std::nullopt;
    job = job_from_row(query.row());
  }
  check_stored_sql(*job);
  load_columns(*job);
  return job;
}

Job JobStore::load(std::string_view name) {
  auto job = find(name);
  if (!job) {
    throw Error(exit_code::data,
                fmt::format("no reindex job '{}' in '{}' (reindex status lists them)", name,
                            database_.path()));
  }
  return std::move(*job);
}

std::vector<Job> JobStore::all() {
  if (absent_) return {};
  std::vector<std::string> names =
      first_column(database_.query("SELECT job FROM _reindex_jobs ORDER BY created, job"));
  std::vector<Job> jobs;
  for (const auto& name : names) jobs.push_back(load(name));
  return jobs;
}

std::optional<Job> JobStore::active_on(std::string_view table) {
  if (absent_) return std::nullopt;
  std::string name;
  {
    auto query = database_.query(
        "SELECT job FROM _reindex_jobs WHERE phase NOT IN ('done', 'aborted') AND "
        "(lower(source) = lower(?1) OR lower(dest) = lower(?1) OR lower(old_name) = lower(?1))",
        table);
    if (!query.step()) return std::nullopt;
    name = query->text(0);
  }
  return load(name);
}

void JobStore::load_columns(Job& job) {
  auto query = database_.query(
      "SELECT role, name FROM _reindex_columns WHERE job = ?1 ORDER BY role, position", job.name);
  while (query.step()) {
    std::string role = query->text(0);
    std::string name = query->text(1);
    if (role == "key") job.key.push_back(name);
    if (role == "dest_key") job.dest_key.push_back(name);
    if (role == "column") job.columns.push_back(name);
    if (role == "reverse_column") job.reverse_columns.push_back(name);
  }
  auto checkpoint = database_.query(
      "SELECT value FROM _reindex_checkpoint WHERE job = ?1 ORDER BY position", job.name);
  while (checkpoint.step()) job.checkpoint.push_back(checkpoint->value(0));
}

void JobStore::save(Job& job, Instant now) {
  job.updated = format_instant(now);
  if (job.created.empty()) job.created = job.updated;
  database_.execute("DELETE FROM _reindex_columns WHERE job = ?1", job.name);
  database_.execute(
      "INSERT OR REPLACE INTO _reindex_jobs (job, source, dest, old_name, mode, alias, alias_sql, "
      "select_sql, reverse_select, phase, rows_copied, writes_after_switch, created, updated) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
      job.name, job.source, job.dest, job.old_name, mode_name(job.mode), job.alias, job.alias_sql,
      job.select, job.reverse_select, phase_name(job.phase), job.rows_copied,
      static_cast<std::int64_t>(job.writes_after_switch), job.created, job.updated);
  auto save_role = [&](std::string_view role, const std::vector<std::string>& names) {
    for (std::size_t position = 0; position < names.size(); ++position) {
      database_.execute("INSERT INTO _reindex_columns VALUES (?1, ?2, ?3, ?4)", job.name, role,
                        static_cast<std::int64_t>(position), names[position]);
    }
  };
  save_role("key", job.key);
  save_role("dest_key", job.dest_key);
  save_role("column", job.columns);
  save_role("reverse_column", job.reverse_columns);
  save_checkpoint(job);
}

void JobStore::save_progress(Job& job, Instant now) {
  job.updated = format_instant(now);
  database_.execute(
      "UPDATE _reindex_jobs SET phase = ?2, rows_copied = ?3, writes_after_switch = ?4, "
      "updated = ?5 WHERE job = ?1",
      job.name, phase_name(job.phase), job.rows_copied,
      static_cast<std::int64_t>(job.writes_after_switch), job.updated);
  save_checkpoint(job);
}

void JobStore::save_checkpoint(const Job& job) {
  database_.execute("DELETE FROM _reindex_checkpoint WHERE job = ?1", job.name);
  for (std::size_t position = 0; position < job.checkpoint.size(); ++position) {
    database_.execute("INSERT INTO _reindex_checkpoint VALUES (?1, ?2, ?3)", job.name,
                      static_cast<std::int64_t>(position), job.checkpoint[position]);
  }
}

}  // namespace sluice::reindex
