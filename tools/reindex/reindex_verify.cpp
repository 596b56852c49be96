// reindex verify: V2 against the projection of V1 (after the switch, with reverse triggers: V1
// against the reverse projection of V2) in one read transaction, a consistent snapshot. The
// projection is first stored in a temporary table declared like the target's columns, so that
// both sides have gone through the same type affinity before they are compared.
#include <fmt/format.h>

#include "reindex_commands.hpp"
#include "reindex_schema.hpp"
#include "reindex_sync.hpp"
#include "sluice/error.hpp"

namespace sluice::reindex {

namespace {

constexpr std::string_view expected_table = "temp._reindex_expected";
constexpr std::int64_t differences_shown = 10;

Sync sync_to_verify(const Job& job) {
  if (job.phase == Phase::backfilled) return forward_sync(job);
  if (job.phase == Phase::switched && !job.reverse_select.empty()) return reverse_sync(job);
  if (job.phase == Phase::switched) {
    refuse(
        fmt::format("job '{}' is switched without --reverse-select: the old table is not kept "
                    "in step, so there is nothing to verify",
                    job.name));
  }
  refuse(fmt::format("job '{}' is {}: verify needs a finished backfill", job.name,
                     phase_name(job.phase)));
}

// Drops the temporary table however verify ends.
struct ExpectedTable {
  db::Database& database;
  ExpectedTable(db::Database& database, const Sync& sync) : database(database) {
    TableInfo target = table_info(database, sync.to);
    std::string columns;
    for (const auto& name : sync.to_columns) {
      const auto* column = target.column(name);
      std::string type = column != nullptr ? column->type : "INTEGER";  // rowid
      columns +=
          fmt::format("{}{} {}", columns.empty() ? "" : ", ", db::quote_identifier(name), type);
    }
    database.execute(fmt::format("DROP TABLE IF EXISTS {}", expected_table));
    database.execute(fmt::format("CREATE TABLE {} ({}){}", expected_table, columns,
                                 target.strict ? " STRICT" : ""));
    database.execute(fmt::format("INSERT INTO {} ({}) SELECT {} FROM {}", expected_table,
                                 column_list(sync.to_columns), sync.select,
                                 db::quote_identifier(sync.from)));
  }
  ~ExpectedTable() {
    try {
      database.execute_script(fmt::format("DROP TABLE IF EXISTS {}", expected_table));
    } catch (const Error&) {
    }
  }
  ExpectedTable(const ExpectedTable&) = delete;
  ExpectedTable& operator=(const ExpectedTable&) = delete;
};

struct Summary {
  std::int64_t rows = 0;
  std::int64_t checksum = 0;
};

Summary summarize(db::Database& database, const Sync& sync, const std::string& table) {
  auto query = database.query(fmt::format("SELECT count(*), sluice_checksum({}) FROM {}",
                                          column_list(sync.to_columns), table));
  query.step();
  return {query->integer(0), query->integer(1)};
}

std::vector<std::size_t> key_positions(const Sync& sync) {
  std::vector<std::size_t> positions;
  for (const auto& key : sync.to_key) {
    for (std::size_t index = 0; index < sync.to_columns.size(); ++index) {
      if (same_name(sync.to_columns[index], key)) positions.push_back(index);
    }
  }
  return positions;
}

bool has_key(db::Database& database, const Sync& sync, const std::string& table,
             const std::vector<db::Value>& key) {
  std::string match;
  for (std::size_t index = 0; index < sync.to_key.size(); ++index) {
    match += fmt::format("{}{} IS ?{}", index == 0 ? "" : " AND ",
                         db::quote_identifier(sync.to_key[index]), index + 1);
  }
  auto& statement = database.statement(fmt::format("SELECT 1 FROM {} WHERE {}", table, match));
  db::Query query(statement);
  for (std::size_t index = 0; index < key.size(); ++index) {
    statement.bind(static_cast<int>(index + 1), key[index]);
  }
  return query.step();
}

// Rows of `first` that `second` lacks (EXCEPT), as differences named by key.
void add_differences(db::Database& database, const Sync& sync, const std::string& first,
                     const std::string& second, std::string_view absent_problem,
                     std::vector<JsonValue>& differences,
                     std::vector<std::vector<db::Value>>& seen) {
  const std::string columns = column_list(sync.to_columns);
  auto& statement =
      database.statement(fmt::format("SELECT {0} FROM {1} EXCEPT SELECT {0} FROM {2} LIMIT {3}",
                                     columns, first, second, differences_shown));
  std::vector<std::vector<db::Value>> keys;
  {
    db::Query query(statement);
    while (query.step()) {
      std::vector<db::Value> key;
      for (auto position : key_positions(sync))
        key.push_back(statement.value(static_cast<int>(position)));
      keys.push_back(std::move(key));
    }
  }
  for (auto& key : keys) {
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    bool in_second = has_key(database, sync, second, key);
    differences.push_back(JsonValue::object(
        {{"key", key_json(sync.from_key, key)},
         {"problem", JsonValue::string(std::string(in_second ? "different" : absent_problem))}}));
    seen.push_back(std::move(key));
  }
}

}  // namespace

int verify(Context& context) {
  context.database.add_checksum_function();
  db::ReadTransaction read(context.database);
  Job job = context.store.load(context.job);
  const Sync sync = sync_to_verify(job);
  ExpectedTable expected(context.database, sync);
  const std::string target = db::quote_identifier(sync.to);
  Summary want = summarize(context.database, sync, std::string(expected_table));
  Summary have = summarize(context.database, sync, target);
  bool same = want.rows == have.rows && want.checksum == have.checksum;
  std::vector<JsonValue::Member> record{
      {"job", JsonValue::string(job.name)},
      {"ok", JsonValue::boolean(same)},
      {"table", JsonValue::string(sync.to)},
      {"expected_rows", JsonValue::integer(want.rows)},
      {"rows", JsonValue::integer(have.rows)},
      {"expected_checksum",
       JsonValue::string(fmt::format("{:016x}", static_cast<std::uint64_t>(want.checksum)))},
      {"checksum",
       JsonValue::string(fmt::format("{:016x}", static_cast<std::uint64_t>(have.checksum)))}};
  std::vector<JsonValue> differences;
  if (!same) {
    std::vector<std::vector<db::Value>> seen;
    add_differences(context.database, sync, std::string(expected_table), target, "missing",
                    differences, seen);
    add_differences(context.database, sync, target, std::string(expected_table), "extra",
                    differences, seen);
    record.emplace_back("differences", JsonValue::array(differences));
  }
  context.out.write_line(to_json(JsonValue::object(std::move(record))));
  context.out.flush();
  if (same) return exit_code::success;
  throw Error(exit_code::definite_no,
              fmt::format("job '{}': '{}' differs from the projection of '{}' ({} rows expected, "
                          "{} found; differing keys on stdout)",
                          job.name, sync.to, sync.from, want.rows, have.rows));
}

}  // namespace sluice::reindex
