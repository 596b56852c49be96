// reindex switch, rollback, cleanup and abort: each one short write transaction that moves the
// alias and the triggers together, so that readers see the old table or the new one, never
// neither, and a kill leaves the job at one phase or the next.
#include <fmt/format.h>

#include "reindex_commands.hpp"
#include "reindex_schema.hpp"
#include "reindex_sync.hpp"
#include "sluice/error.hpp"

namespace sluice::reindex {

namespace {

// Renames must not rewrite what refers to the alias: with legacy_alter_table, views and
// triggers that name the table keep naming it (and so see the new table after a switch), and
// with foreign keys off, REFERENCES clauses of other tables keep the name too. Both pragmas
// only take effect outside a transaction, so this wraps the write transaction.
class RenameSession {
 public:
  explicit RenameSession(db::Database& database) : database_(database) {
    database_.execute_script("PRAGMA foreign_keys=OFF; PRAGMA legacy_alter_table=ON");
  }
  ~RenameSession() {
    try {
      database_.execute_script("PRAGMA legacy_alter_table=OFF; PRAGMA foreign_keys=ON");
    } catch (const Error&) {
    }
  }
  RenameSession(const RenameSession&) = delete;
  RenameSession& operator=(const RenameSession&) = delete;

 private:
  db::Database& database_;
};

std::string rename_statement(std::string_view from, std::string_view to) {
  return fmt::format("ALTER TABLE {} RENAME TO {}", db::quote_identifier(from),
                     db::quote_identifier(to));
}

// A view over the table, exposing an FTS5 table's rowid and hidden column (under the alias's
// name) so that `SELECT ... FROM alias WHERE alias MATCH 'q'` works through the view.
std::vector<std::string> view_statements(db::Database& database, const Job& job,
                                         const std::string& table) {
  TableInfo target = table_info(database, table);
  std::string quoted = db::quote_identifier(table);
  std::string select = target.kind == "virtual"
                           ? fmt::format("SELECT rowid AS rowid, *, {} AS {} FROM {}", quoted,
                                         db::quote_identifier(job.alias), quoted)
                           : fmt::format("SELECT * FROM {}", quoted);
  return {"DROP VIEW IF EXISTS " + db::quote_identifier(job.alias),
          fmt::format("CREATE VIEW {} AS {}", db::quote_identifier(job.alias), select)};
}

void restore_view(db::Database& database, const Job& job) {
  if (job.alias_sql.empty()) {
    execute_each(database, view_statements(database, job, job.source));
    return;
  }
  database.execute("DROP VIEW IF EXISTS " + db::quote_identifier(job.alias));
  database.execute(job.alias_sql);
}

// SQLite has no triggers on virtual tables (an FTS5 destination): whether such a V2 took
// writes after the switch cannot be known.
bool new_table_is_virtual(db::Database& database, const Job& job) {
  return table_info(database, v2_table(job)).kind == "virtual";
}

// What keeps V1 informed of writes to V2 after the switch (`switched` is the job at that
// phase; `virtual_table`: V2 is virtual and can have no triggers).
std::vector<std::string> watch_statements(const Job& switched, bool virtual_table) {
  if (virtual_table) return {};
  if (switched.reverse_select.empty()) {
    return write_marker_trigger_statements(switched, v2_table(switched));
  }
  return sync_trigger_statements(switched, reverse_sync(switched));
}

void expect_phase(const Job& job, Phase wanted, std::string_view action) {
  if (job.phase != wanted) {
    refuse(fmt::format("job '{}' is {}: {} needs it {}", job.name, phase_name(job.phase), action,
                       phase_name(wanted)));
  }
}

}  // namespace

std::vector<std::string> switch_statements(db::Database& database, const Job& job) {
  std::vector<std::string> statements = drop_trigger_statements(database, job);
  std::vector<std::string> move =
      job.mode == AliasMode::rename
          ? std::vector<std::string>{rename_statement(job.source, job.old_name),
                                     rename_statement(job.dest, job.source)}
          : view_statements(database, job, job.dest);
  Job switched = job;
  switched.phase = Phase::switched;
  std::vector<std::string> watch = watch_statements(switched, new_table_is_virtual(database, job));
  statements.insert(statements.end(), move.begin(), move.end());
  statements.insert(statements.end(), watch.begin(), watch.end());
  return statements;
}

std::vector<std::string> columns_breaking_inserts(db::Database& database, const Job& job) {
  std::vector<std::string> columns;
  if (job.mode != AliasMode::rename) return columns;  // the application writes no view
  TableInfo old_table = table_info(database, v1_table(job));
  TableInfo new_table = table_info(database, v2_table(job));
  for (const auto& column : new_table.columns) {
    if (new_table.needs_value(column) && old_table.column(column.name) == nullptr) {
      columns.push_back(column.name);
    }
  }
  return columns;
}

void refuse_breaking_inserts(db::Database& database, const Job& job) {
  std::vector<std::string> columns = columns_breaking_inserts(database, job);
  if (columns.empty()) return;
  std::string quoted;
  for (const auto& column : columns)
    quoted += fmt::format("{}'{}'", quoted.empty() ? "" : ", ", column);
  bool one = columns.size() == 1;
  refuse(fmt::format(
      "job '{}': after the switch the application's INSERTs into '{}' would fail: the new "
      "table's {} {} {} NOT NULL without a default, and the old table has no such column; give "
      "{} a DEFAULT, or pass --allow-breaking-inserts once the application fills {}",
      job.name, job.source, one ? "column" : "columns", quoted, one ? "is" : "are",
      one ? "it" : "them", one ? "it" : "them"));
}

void switch_alias(Context& context, Inserts inserts) {
  RenameSession session(context.database);
  db::WriteTransaction transaction(context.database);
  Job job = context.store.load(context.job);
  if (job.phase == Phase::switched) return;  // a re-run after a kill
  expect_phase(job, Phase::backfilled, "switch");
  if (inserts == Inserts::must_fit) refuse_breaking_inserts(context.database, job);
  execute_each(context.database, switch_statements(context.database, job));
  job.phase = Phase::switched;
  job.writes_after_switch = false;
  context.store.save(job, context.clock.now());
  transaction.commit();
}

void rollback(Context& context, bool force) {
  RenameSession session(context.database);
  db::WriteTransaction transaction(context.database);
  Job job = context.store.load(context.job);
  expect_phase(job, Phase::switched, "rollback");
  bool unknown = new_table_is_virtual(context.database, job);
  bool lose_writes = job.reverse_select.empty() && (job.writes_after_switch || unknown);
  if (lose_writes && !force) {
    refuse(
        fmt::format("job '{}': {} and no --reverse-select kept the old one in step; --force "
                    "rolls back anyway, losing those writes (the copy then starts again)",
                    job.name,
                    unknown ? "the new table is virtual, so its writes since the switch "
                              "cannot be known,"
                            : "the new table took writes since the switch"));
  }
  drop_job_triggers(context.database, job);
  if (job.mode == AliasMode::rename) {
    context.database.execute(rename_statement(job.source, job.dest));
    context.database.execute(rename_statement(job.old_name, job.source));
  } else {
    restore_view(context.database, job);
  }
  job.phase = Phase::backfilled;
  if (lose_writes) {
    // The new table holds writes the old one never saw: copy it again from the old one.
    context.database.execute_script("DELETE FROM " + db::quote_identifier(job.dest));
    job.phase = Phase::backfilling;
    job.checkpoint.clear();
    job.rows_copied = 0;
  }
  job.writes_after_switch = false;
  create_sync_triggers(context.database, job, forward_sync(job));
  context.store.save(job, context.clock.now());
  transaction.commit();
}

void cleanup(Context& context, bool drop_old) {
  db::WriteTransaction transaction(context.database);
  Job job = context.store.load(context.job);
  if (job.phase == Phase::done && !drop_old) return;
  if (job.phase != Phase::done) expect_phase(job, Phase::switched, "cleanup");
  drop_job_triggers(context.database, job);
  if (drop_old) {
    context.database.execute_script("DROP TABLE IF EXISTS " + db::quote_identifier(v1_table(job)));
  }
  job.phase = Phase::done;
  context.store.save(job, context.clock.now());
  transaction.commit();
}

void abort_job(Context& context) {
  db::WriteTransaction transaction(context.database);
  Job job = context.store.load(context.job);
  if (job.phase == Phase::aborted) return;
  if (job.phase == Phase::switched || job.phase == Phase::done) {
    refuse(fmt::format("job '{}' is {}: roll it back first (reindex rollback)", job.name,
                       phase_name(job.phase)));
  }
  drop_job_triggers(context.database, job);
  context.database.execute_script("DROP TABLE IF EXISTS " + db::quote_identifier(job.dest));
  job.phase = Phase::aborted;
  context.store.save(job, context.clock.now());
  transaction.commit();
}

}  // namespace sluice::reindex
