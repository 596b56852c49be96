#include "ttl_table.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice::ttl {

namespace {

bool same_name(std::string_view left, std::string_view right) {
  return std::ranges::equal(left, right, [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

Table inspect_sqlite(db::Database& database, std::string_view name, std::string_view column) {
  Table table{std::string(name), "", "", TimeStorage::sqlite_value};
  db::ReadTransaction read(database);
  {
    auto kind = database.query(
        "SELECT type FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE "
        "AND type IN ('table', 'view')",
        name);
    if (!kind.step()) refuse(fmt::format("no table '{}' in database '{}'", name, database.path()));
    if (kind->text(0) == "view") {
      refuse(
          fmt::format("'{}' is a view: ttl sweep deletes from a table (ttl drop removes a "
                      "partitioned view's old tables)",
                      name));
    }
  }
  std::vector<std::string> primary_key;
  // The names of the rowid that no column takes (a column named "rowid" hides that name).
  std::vector<std::string_view> rowid_names = {"rowid", "_rowid_", "oid"};
  auto columns = database.query("SELECT name, pk FROM pragma_table_info(?1) ORDER BY pk", name);
  while (columns.step()) {
    std::string found = columns->text(0);
    if (same_name(found, column)) table.column = found;
    if (columns->integer(1) > 0) primary_key.push_back(found);
    std::erase_if(rowid_names, [&](std::string_view alias) { return same_name(alias, found); });
  }
  if (table.column.empty()) refuse(fmt::format("table '{}' has no column '{}'", name, column));
  // The rowid when the table has one: never NULL, unique and the table's own order. A
  // declared key other than INTEGER PRIMARY KEY (the rowid itself) may hold NULLs in a rowid
  // table, which a walk by key ranges would never reach. A WITHOUT ROWID table's key is NOT
  // NULL, and must be one column.
  if (!rowid_names.empty()) {
    try {
      database.statement(fmt::format("SELECT {} FROM {} LIMIT 0", rowid_names.front(),
                                     db::quote_identifier(name)));
      table.key = rowid_names.front();
      return table;
    } catch (const Error&) {
    }
  }
  if (primary_key.size() != 1) {
    refuse(
        fmt::format("table '{}' has neither a one-column primary key nor a rowid to walk in "
                    "ranges",
                    name));
  }
  table.key = db::quote_identifier(primary_key.front());
  return table;
}

TimeStorage postgresql_storage(std::string_view table, std::string_view column,
                               std::string_view type) {
  auto is = [&](std::string_view prefix) { return type.starts_with(prefix); };
  if (is("timestamp") && type.ends_with("with time zone") && !type.ends_with("without time zone")) {
    return TimeStorage::postgresql_timestamptz;
  }
  if (is("timestamp") || type == "date") return TimeStorage::postgresql_timestamp;
  if (is("smallint") || is("integer") || is("bigint") || is("numeric") || is("real") ||
      is("double precision")) {
    return TimeStorage::postgresql_number;
  }
  if (is("text") || is("character varying")) return TimeStorage::postgresql_text;
  refuse(
      fmt::format("column '{}' of table '{}' is of type {}: ttl reads a timestamp, an epoch "
                  "number or RFC 3339 text",
                  column, table, type));
}

}  // namespace

TimeStorage postgresql_column_storage(db::Database& database, std::string_view table,
                                      std::string_view column) {
  auto type = database.query(
      "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
      "WHERE attrelid = to_regclass(quote_ident(?1::text)) AND attname = ?2::text "
      "AND attnum > 0 AND NOT attisdropped",
      table, column);
  if (!type.step()) refuse(fmt::format("table '{}' has no column '{}'", table, column));
  return postgresql_storage(table, column, type->text(0));
}

namespace {

Table inspect_postgresql(db::Database& database, std::string_view name, std::string_view column) {
  Table table{std::string(name), "", std::string(column), TimeStorage::postgresql_timestamptz};
  db::ReadTransaction read(database);
  {
    auto kind = database.query(
        "SELECT relkind FROM pg_class WHERE oid = to_regclass(quote_ident(?1::text))", name);
    if (!kind.step()) refuse(fmt::format("no table '{}' in database '{}'", name, database.path()));
    std::string relkind = kind->text(0);
    if (relkind != "r" && relkind != "p") {
      refuse(fmt::format("'{}' is not a table: ttl sweep deletes from a table", name));
    }
  }
  table.storage = postgresql_column_storage(database, name, column);
  std::vector<std::string> primary_key;
  auto key = database.query(
      "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
      "AND a.attnum = ANY (i.indkey) "
      "WHERE i.indrelid = to_regclass(quote_ident(?1::text)) AND i.indisprimary",
      name);
  while (key.step()) primary_key.push_back(key->text(0));
  if (primary_key.size() != 1) {
    refuse(fmt::format("table '{}' has no one-column primary key to walk in ranges", name));
  }
  table.key = db::quote_identifier(primary_key.front());
  return table;
}

// The characters and words --where may not contain, and why (for the message).
struct Forbidden {
  std::string_view text;
  std::string_view what;
};
constexpr Forbidden forbidden_anywhere[] = {
    {";", "a ';'"},
    {"--", "a comment"},
    {"/*", "a comment"},
    {"\\", "a backslash"},
};
constexpr std::string_view forbidden_outside_quotes = "?$[]`";

bool is_word_character(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

[[noreturn]] void refuse_where(std::string_view where, std::string_view why) {
  throw Error(exit_code::usage, fmt::format("--where '{}': {}", where, why));
}

// PostgreSQL: the relations and volatile functions `where` would use, as PostgreSQL itself
// resolves them: a temporary view of the probe is created (which runs nothing) in a
// transaction that is rolled back, and its query tree read from pg_rewrite. This sees every
// spelling of a subquery (SELECT, TABLE, VALUES, WITH) and every function, called by name or
// behind an operator. Throws Error(65) for a relation other than the table, or a volatile
// function (pg_sleep, set_config, nextval, lo_unlink, ...): a filter runs on rows it does not
// delete, so it must not change anything.
void check_postgresql_where_effects(db::Database& database, const Table& table,
                                    const std::string& probe) {
  db::WriteTransaction scratch(database);  // never committed: the view goes with the rollback
  database.execute("CREATE TEMPORARY VIEW sluice_ttl_where_probe AS " + probe);
  // The view's query tree as text: every relation (:relid) and function (:funcid, :opfuncid
  // behind an operator, ...) the expression uses, built-in ones included (pg_depend leaves
  // those out).
  constexpr std::string_view used =
      "SELECT DISTINCT m[2]::oid AS object FROM pg_rewrite r, regexp_matches(r.ev_action::text, "
      "':({}) (\\d+)', 'g') AS m WHERE r.ev_class = "
      "to_regclass('pg_temp.sluice_ttl_where_probe')";
  auto relations = database.query(
      fmt::format("SELECT u.object::regclass::text FROM ({}) AS u WHERE u.object <> 0 AND "
                  "u.object NOT IN (to_regclass('pg_temp.sluice_ttl_where_probe'), "
                  "to_regclass(quote_ident(?1::text))) LIMIT 1",
                  fmt::format(fmt::runtime(used), "relid")),
      table.name);
  if (relations.step()) {
    throw Error(exit_code::data, fmt::format("it reads '{}'", relations->text(0)));
  }
  auto functions = database.query(fmt::format(
      "SELECT p.oid::regprocedure::text FROM ({}) AS u JOIN pg_proc p ON p.oid = u.object "
      "WHERE p.provolatile = 'v' LIMIT 1",
      fmt::format(fmt::runtime(used), "funcid|opfuncid|aggfnoid|winfnoid")));
  if (functions.step()) {
    throw Error(exit_code::data,
                fmt::format("it calls {}, a volatile function (it could change something on "
                            "rows that are not deleted); immutable and stable ones are taken",
                            functions->text(0)));
  }
}

}  // namespace

void refuse(std::string message) {
  throw Error(exit_code::data, std::move(message));
}

Table inspect_table(db::Database& database, std::string_view table, std::string_view column) {
  return database.backend() == db::Backend::postgresql ? inspect_postgresql(database, table, column)
                                                       : inspect_sqlite(database, table, column);
}

std::string expired_condition(const Table& table, db::Backend backend) {
  const std::string column = db::quote_identifier(table.column);
  if (backend == db::Backend::sqlite) return "(" + sqlite_epoch_seconds(column) + " < ?1)";
  switch (table.storage) {
    case TimeStorage::postgresql_timestamptz:
      return fmt::format("({} < to_timestamp(?1::bigint))", column);
    case TimeStorage::postgresql_timestamp:
      return fmt::format("({} < (to_timestamp(?1::bigint) AT TIME ZONE 'UTC'))", column);
    case TimeStorage::postgresql_number:
      return fmt::format(
          "(CASE WHEN abs({0}::numeric) >= 100000000000 THEN {0}::numeric < ?1::numeric * 1000 "
          "ELSE {0}::numeric < ?1::numeric END)",
          column);
    case TimeStorage::postgresql_text:
      // Only text shaped like RFC 3339 is cast: a cast of other text would end the sweep.
      return fmt::format(
          "(CASE WHEN {0} ~ '^\\d{{4}}-\\d\\d-\\d\\d[Tt ]\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?"
          "([Zz]|[+-]\\d\\d:\\d\\d)$' THEN {0}::timestamptz < to_timestamp(?1::bigint) END)",
          column);
    case TimeStorage::sqlite_value:
      break;
  }
  throw Error(exit_code::internal, "an SQLite time column on PostgreSQL");
}

std::string sqlite_epoch_seconds(std::string_view value) {
  return fmt::format(
      "(CASE WHEN typeof({0}) IN ('integer', 'real') THEN (CASE WHEN abs({0}) >= 100000000000 "
      "THEN {0} / 1000.0 ELSE {0} END) WHEN typeof({0}) = 'text' THEN unixepoch({0}) END)",
      value);
}

Instant cutoff_instant(Instant now, Duration older_than) {
  return std::chrono::floor<std::chrono::seconds>(now - older_than);
}

void check_where_text(std::string_view where) {
  if (where.find_first_not_of(" \t\n") == std::string_view::npos) {
    refuse_where(where, "is empty");
  }
  for (const Forbidden& forbidden : forbidden_anywhere) {
    if (where.find(forbidden.text) != std::string_view::npos) {
      refuse_where(
          where, fmt::format("contains {}: give one expression, without comments", forbidden.what));
    }
  }
  int depth = 0;
  char quote = 0;
  for (std::size_t at = 0; at < where.size(); ++at) {
    char c = where[at];
    if (quote != 0) {
      if (c == quote) quote = 0;  // a doubled quote closes and reopens
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && --depth < 0) {
      refuse_where(where, "closes a parenthesis it did not open");
    } else if (forbidden_outside_quotes.find(c) != std::string_view::npos) {
      refuse_where(where, fmt::format("contains '{}' outside quotes (parameters, brackets and "
                                      "dollar quotes are not taken)",
                                      c));
    } else if ((c == 's' || c == 'S') && (at == 0 || !is_word_character(where[at - 1])) &&
               at + 6 <= where.size() && same_name(where.substr(at, 6), "select") &&
               (at + 6 == where.size() || !is_word_character(where[at + 6]))) {
      refuse_where(where, "contains a subquery: give an expression over the table's own columns");
    }
  }
  if (quote != 0) refuse_where(where, "leaves a quote open");
  if (depth != 0) refuse_where(where, "leaves a parenthesis open");
}

void check_where(db::Database& database, const Table& table, std::string_view where) {
  const std::string probe =
      fmt::format("SELECT 1 FROM {} WHERE ({}) LIMIT 0", db::quote_identifier(table.name), where);
  try {
    if (database.backend() == db::Backend::postgresql) {
      check_postgresql_where_effects(database, table, probe);
    }
    db::ReadTransaction read(database);
    if (database.backend() == db::Backend::postgresql) {
      database.execute("SET TRANSACTION READ ONLY");
    } else {
      db::Database::SelectShape shape = database.describe_select(probe);
      for (const std::string& read_table : shape.tables_read) {
        if (!same_name(read_table, table.name)) {
          throw Error(exit_code::data, fmt::format("it reads table '{}'", read_table));
        }
      }
    }
    auto run = database.query(probe);
    while (run.step()) {
    }
  } catch (const Error& error) {
    if (error.code() == exit_code::temporary) throw;
    refuse(fmt::format("--where '{}' is not a boolean expression over table '{}': {}", where,
                       table.name, error.what()));
  }
}

}  // namespace sluice::ttl
