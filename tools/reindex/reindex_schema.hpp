// reindex_schema: what reindex needs to know about the user's schema (tables, keys, foreign
// keys, triggers), the checks a projection must pass, and rewriting of CREATE statements.
// Every function reads through the caller's connection, inside the caller's transaction.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/db.hpp"
#include "sluice/json.hpp"

namespace sluice::reindex {

// The first column (as text) of every row `query` gives.
[[nodiscard]] std::vector<std::string> first_column(db::Query query);

// Throws Error(65): reindex refuses what it was asked to do, saying why.
[[noreturn]] void refuse(std::string message);

// `text` in lower case (ASCII): SQL names and keywords compare without case.
[[nodiscard]] std::string lower(std::string_view text);

// "a, b, c".
[[nodiscard]] std::string joined(const std::vector<std::string>& names);

struct TableInfo {
  struct Column {
    std::string name;
    std::string type;
    bool not_null = false;
    int primary_key_position = 0;  // 1-based position in the PRIMARY KEY, 0 if not in it
    std::optional<std::string> default_value;  // the DEFAULT expression's text, if any
  };
  bool exists = false;
  std::string name;  // as spelt in the schema
  std::string kind;  // "table", "view", "virtual", "shadow"
  bool without_rowid = false;
  bool strict = false;
  std::vector<Column> columns;  // ordinary columns (generated columns left out)
  [[nodiscard]] const Column* column(std::string_view name) const;
  // Whether an INSERT that leaves `column` out fails: NOT NULL (a WITHOUT ROWID key is, too)
  // without a default, and not the rowid itself (an INTEGER PRIMARY KEY numbers itself).
  [[nodiscard]] bool needs_value(const Column& column) const;
};

[[nodiscard]] TableInfo table_info(db::Database& database, std::string_view name);

// Whether any schema object (table, index, view, trigger) has this name.
[[nodiscard]] bool schema_object_exists(db::Database& database, std::string_view name);

// ASCII case-insensitive equality, SQLite's rule for identifiers.
[[nodiscard]] bool same_name(std::string_view first, std::string_view second);

// The table's stable unique key: `requested` if it is the primary key or a full unique index
// on NOT NULL columns, or the primary key when `requested` is empty. Throws Error(65) saying
// why otherwise (an implicit rowid table has none: VACUUM may renumber rowids).
[[nodiscard]] std::vector<std::string> stable_key(db::Database& database, const TableInfo& table,
                                                  const std::vector<std::string>& requested);

// Whether `columns` are unique in `table`: its primary key, a full unique index, or "rowid"
// of a table that has one.
[[nodiscard]] bool is_unique_key(db::Database& database, const TableInfo& table,
                                 const std::vector<std::string>& columns);

// Tables whose foreign keys reference `table`.
[[nodiscard]] std::vector<std::string> referencing_tables(db::Database& database,
                                                          std::string_view table);

// Triggers on `table` that are not reindex's own.
[[nodiscard]] std::vector<std::string> user_triggers(db::Database& database,
                                                     std::string_view table);

// A projection checked against its table: the result column names (the columns it fills) and,
// for each key column of the table, the result column that carries it unchanged.
struct Projection {
  std::vector<std::string> columns;
  std::vector<std::string> carried_key;
};

// Throws Error(65) when `select` holds a comment or a ';': the projection is pasted into the
// copy, trigger and verify statements, which either would cut short or extend.
void refuse_comments_and_statement_ends(std::string_view select);

// Checks `select` (a SELECT list over `table`): it must prepare, read no other table, have no
// subquery, call only deterministic scalar functions (no 'now'), name each result column once
// and carry every `key` column as a plain column reference. Throws Error(65) saying which.
[[nodiscard]] Projection check_projection(db::Database& database, std::string_view select,
                                          std::string_view table,
                                          const std::vector<std::string>& key);

// The SELECT list of every ordinary column of `table`, quoted.
[[nodiscard]] std::string all_columns(const TableInfo& table);

// The CREATE TABLE statement of `source` and of its explicit indexes, rewritten to create
// `dest` (indexes get the suffix "__" + dest's suffix so that names stay unique).
[[nodiscard]] std::string copied_definition(db::Database& database, std::string_view source,
                                            std::string_view dest, std::string_view index_suffix);

// The words of `sql` outside quotes, string literals and comments, in lower case: keywords
// and bare names, in order.
[[nodiscard]] std::vector<std::string> sql_words(std::string_view sql);

// `ddl` with every "{name}" replaced by `dest`, quoted.
[[nodiscard]] std::string with_name(std::string ddl, std::string_view dest);

// A stored value as JSON: numbers, strings, null; a blob as {"blob":"HEX"}.
[[nodiscard]] JsonValue value_json(const db::Value& value);

// ["text", ...].
[[nodiscard]] JsonValue strings_json(const std::vector<std::string>& texts);

// {"column": value, ...} for a key.
[[nodiscard]] JsonValue key_json(const std::vector<std::string>& names,
                                 const std::vector<db::Value>& values);

}  // namespace sluice::reindex
