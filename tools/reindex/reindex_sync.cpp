#include "reindex_sync.hpp"

#include <fmt/format.h>

#include "reindex_schema.hpp"

namespace sluice::reindex {

namespace {

std::string trigger_prefix(const Job& job) {
  return "_reindex_" + job.name + "_";
}

std::string string_literal(std::string_view text) {
  std::string literal = "'";
  for (char character : text) {
    if (character == '\'') literal += '\'';
    literal += character;
  }
  return literal + "'";
}

// The statements that make sync.to's row for the key `row` has (NEW or OLD) match sync.from,
// guarded by `condition` (empty: always).
std::string resync(const Sync& sync, std::string_view row, std::string_view condition) {
  std::string guard = condition.empty() ? "" : fmt::format(" AND ({})", condition);
  return fmt::format(
      "DELETE FROM {to} WHERE {to_match}{guard};\n"
      "{copy} WHERE {from_match}{guard};\n",
      fmt::arg("to", db::quote_identifier(sync.to)),
      fmt::arg("to_match", key_match(sync.to, sync.to_key, row, sync.from_key)),
      fmt::arg("copy", copy_statement(sync)),
      fmt::arg("from_match", key_match(sync.from, sync.from_key, row, sync.from_key)),
      fmt::arg("guard", guard));
}

std::string key_changed(const Sync& sync) {
  std::string same;
  for (const auto& column : sync.from_key) {
    std::string quoted = db::quote_identifier(column);
    same += fmt::format("{}OLD.{} IS NEW.{}", same.empty() ? "" : " AND ", quoted, quoted);
  }
  return "NOT (" + same + ")";
}

}  // namespace

Sync forward_sync(const Job& job) {
  return {v1_table(job), v2_table(job), job.select, job.key, job.dest_key, job.columns};
}

Sync reverse_sync(const Job& job) {
  return {v2_table(job), v1_table(job), job.reverse_select,
          job.dest_key,  job.key,       job.reverse_columns};
}

std::string key_match(std::string_view table, const std::vector<std::string>& columns,
                      std::string_view row, const std::vector<std::string>& row_columns) {
  std::string match;
  for (std::size_t index = 0; index < columns.size(); ++index) {
    match += fmt::format("{}{}.{} = {}.{}", match.empty() ? "" : " AND ",
                         db::quote_identifier(table), db::quote_identifier(columns[index]), row,
                         db::quote_identifier(row_columns[index]));
  }
  return match;
}

std::string column_list(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& name : names) list += (list.empty() ? "" : ", ") + db::quote_identifier(name);
  return list;
}

std::string copy_statement(const Sync& sync, std::string_view conflict) {
  return fmt::format("INSERT {} INTO {} ({}) SELECT {} FROM {}", conflict,
                     db::quote_identifier(sync.to), column_list(sync.to_columns), sync.select,
                     db::quote_identifier(sync.from));
}

std::vector<std::string> sync_trigger_statements(const Job& job, const Sync& sync) {
  const std::string prefix = trigger_prefix(job);
  const std::string from = db::quote_identifier(sync.from);
  auto create = [&](std::string_view event, const std::string& body) {
    return fmt::format("CREATE TRIGGER {} AFTER {} ON {} BEGIN\n{}END",
                       db::quote_identifier(prefix + std::string(event)), event, from, body);
  };
  return {create("insert", resync(sync, "NEW", "")),
          create("update", resync(sync, "OLD", key_changed(sync)) + resync(sync, "NEW", "")),
          create("delete", resync(sync, "OLD", ""))};
}

std::vector<std::string> write_marker_trigger_statements(const Job& job, std::string_view table) {
  const std::string prefix = trigger_prefix(job);
  const std::string mark = fmt::format(
      "UPDATE _reindex_jobs SET writes_after_switch = 1 WHERE job = {} AND writes_after_switch "
      "= 0;",
      string_literal(job.name));
  std::vector<std::string> statements;
  for (const char* event : {"insert", "update", "delete"}) {
    statements.push_back(fmt::format("CREATE TRIGGER {} AFTER {} ON {} BEGIN {} END",
                                     db::quote_identifier(prefix + "marks_" + event), event,
                                     db::quote_identifier(table), mark));
  }
  return statements;
}

std::vector<std::string> drop_trigger_statements(db::Database& database, const Job& job) {
  const std::string prefix = trigger_prefix(job);
  std::vector<std::string> names = first_column(database.query(
      "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND substr(name, 1, ?2) = ?1", prefix,
      static_cast<std::int64_t>(prefix.size())));
  std::vector<std::string> statements;
  for (const auto& name : names) statements.push_back("DROP TRIGGER " + db::quote_identifier(name));
  return statements;
}

// One statement per execute: the projection spliced into a trigger body cannot add another.
void execute_each(db::Database& database, const std::vector<std::string>& statements) {
  for (const auto& statement : statements) database.execute(statement);
}

void create_sync_triggers(db::Database& database, const Job& job, const Sync& sync) {
  execute_each(database, sync_trigger_statements(job, sync));
}

void drop_job_triggers(db::Database& database, const Job& job) {
  execute_each(database, drop_trigger_statements(database, job));
}

}  // namespace sluice::reindex
