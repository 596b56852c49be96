// reindex_transform: the new table's DDL and the projection made from the old table's
// definition and column operations (--type, --rename, --drop, --not-null, --default), as
// sqlite-utils transform makes them, so that a common change needs no DDL file.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reindex_schema.hpp"
#include "sluice/db.hpp"

namespace sluice::reindex {

struct ColumnChanges {
  using Assignments = std::vector<std::pair<std::string, std::string>>;  // column, value
  Assignments types;                                                     // --type COLUMN=TYPE
  Assignments renames;                                                   // --rename OLD=NEW
  std::vector<std::string> drops;
  std::vector<std::string> not_null;
  Assignments defaults;  // --default COLUMN=VALUE (a literal)
  [[nodiscard]] bool empty() const;
};

// "COLUMN=VALUE" split at its first '='. Error(2) naming `option` when either side is empty.
[[nodiscard]] std::pair<std::string, std::string> parse_assignment(std::string_view option,
                                                                   std::string_view text);

// Error(2) naming `option` unless `type` is a type name: letters, digits, '_', spaces, and
// parenthesised numbers ("DECIMAL(10, 2)").
void check_type_name(std::string_view option, std::string_view type);

// VALUE of --default as an SQL literal: a decimal number as it is, anything else a string.
[[nodiscard]] std::string default_literal(std::string_view value);

struct Transformed {
  std::string ddl;     // CREATE TABLE {name} (...); and its indexes
  std::string select;  // the projection filling it from the old table
};

// The old table rebuilt with `changes` applied: each column keeps its type, NOT NULL, DEFAULT
// and place in the primary key unless changed; UNIQUE constraints and indexes follow renamed
// columns (indexes named with "__v2" appended, as --like names them); STRICT and WITHOUT ROWID
// stay. Throws Error(65) naming the column for an unknown one, a rename onto an existing name,
// a dropped column an index or the key uses, and naming the clause for a definition the
// columns alone cannot carry (CHECK, COLLATE, REFERENCES, generated columns, AUTOINCREMENT,
// ON CONFLICT, a partial or expression index): that table needs --dest-ddl.
[[nodiscard]] Transformed transformed_table(db::Database& database, const TableInfo& table,
                                            const ColumnChanges& changes);

}  // namespace sluice::reindex
