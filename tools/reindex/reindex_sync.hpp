// reindex_sync: keeping one version of the table in step with the other. A Sync names a
// direction (forward: V1 -> V2 through the projection; reverse: V2 -> V1 through the reverse
// projection); from it come the triggers that apply each write, backfill's copy statement and
// verify's comparison.
#pragma once

#include <string>
#include <vector>

#include "reindex_job.hpp"
#include "sluice/db.hpp"

namespace sluice::reindex {

struct Sync {
  std::string from;                     // the table written to
  std::string to;                       // the table kept in step
  std::string select;                   // SELECT list over `from` giving `to_columns`
  std::vector<std::string> from_key;    // key columns of `from`
  std::vector<std::string> to_key;      // the `to` columns they are carried to
  std::vector<std::string> to_columns;  // the `to` columns `select` fills
};

[[nodiscard]] Sync forward_sync(const Job& job);
// Requires job.reverse_select.
[[nodiscard]] Sync reverse_sync(const Job& job);

// "k1 = ROW.k1 AND ..." comparing `table`'s `columns` with `row`'s `row_columns` (row is a
// table name or NEW/OLD, already quoted or a keyword).
[[nodiscard]] std::string key_match(std::string_view table, const std::vector<std::string>& columns,
                                    std::string_view row,
                                    const std::vector<std::string>& row_columns);

// Quoted, comma-separated names.
[[nodiscard]] std::string column_list(const std::vector<std::string>& names);

// "INSERT OR IGNORE INTO to (columns) SELECT select FROM from": append a WHERE clause.
[[nodiscard]] std::string copy_statement(const Sync& sync, std::string_view conflict = "OR IGNORE");

// The AFTER INSERT/UPDATE/DELETE triggers on sync.from that make sync.to hold the projection
// of each written key: for each key a write touches, the `to` row is deleted and copied again
// (INSERT OR IGNORE, so that a constraint of the new table never fails the application's
// write; verify reports a row that was not copied).
[[nodiscard]] std::vector<std::string> sync_trigger_statements(const Job& job, const Sync& sync);

// Triggers on `table` that record in _reindex_jobs that it took a write (so that a rollback
// without reverse triggers can refuse to lose it).
[[nodiscard]] std::vector<std::string> write_marker_trigger_statements(const Job& job,
                                                                       std::string_view table);

// DROP TRIGGER for every trigger the job installed.
[[nodiscard]] std::vector<std::string> drop_trigger_statements(db::Database& database,
                                                               const Job& job);

// Runs each statement on its own (a statement text may hold only one).
void execute_each(db::Database& database, const std::vector<std::string>& statements);

// Installs sync_trigger_statements.
void create_sync_triggers(db::Database& database, const Job& job, const Sync& sync);

// Runs drop_trigger_statements.
void drop_job_triggers(db::Database& database, const Job& job);

}  // namespace sluice::reindex
