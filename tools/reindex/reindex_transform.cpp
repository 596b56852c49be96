#include "reindex_transform.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice::reindex {

// Named, not anonymous: in a unity build the other files' helpers share the translation unit.
namespace transform {

// Clauses of a column or table definition that the rebuilt definition would lose: the word
// that starts each, and how a message names it.
struct Clause {
  std::string_view word;
  std::string_view shown;
};
constexpr Clause uncarried_clauses[] = {
    {"check", "CHECK"},           {"collate", "COLLATE"},
    {"references", "REFERENCES"}, {"generated", "a generated column"},
    {"as", "a generated column"}, {"autoincrement", "AUTOINCREMENT"},
    {"conflict", "ON CONFLICT"}};

void refuse_uncarried_clauses(db::Database& database, const TableInfo& table) {
  auto query = database.query(
      "SELECT sql FROM sqlite_schema WHERE type = 'table' AND lower(name) = lower(?1)", table.name);
  if (!query.step()) refuse(fmt::format("no table '{}'", table.name));
  for (const auto& word : sql_words(query->text(0))) {
    for (const Clause& clause : uncarried_clauses) {
      if (word == clause.word) {
        refuse(fmt::format(
            "table '{}' has {} in its definition, which column operations cannot carry over: "
            "write the new table's DDL and give it with --dest-ddl",
            table.name, clause.shown));
      }
    }
  }
}

const TableInfo::Column& known_column(const TableInfo& table, std::string_view option,
                                      std::string_view name) {
  const auto* column = table.column(name);
  if (column == nullptr)
    refuse(fmt::format("{}: table '{}' has no column '{}'", option, table.name, name));
  return *column;
}

bool listed(const std::vector<std::string>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& candidate) { return same_name(candidate, name); });
}

// The value the last assignment to `name` gives, or nullptr.
const std::string* assigned(const ColumnChanges::Assignments& assignments, std::string_view name) {
  const std::string* value = nullptr;
  for (const auto& assignment : assignments) {
    if (same_name(assignment.first, name)) value = &assignment.second;
  }
  return value;
}

// Every column an operation names must exist; a dropped one may not be in the primary key.
void check_columns(const TableInfo& table, const ColumnChanges& changes) {
  for (const auto& assignment : changes.types) known_column(table, "--type", assignment.first);
  for (const auto& assignment : changes.renames) {
    known_column(table, "--rename", assignment.first);
  }
  for (const auto& name : changes.not_null) known_column(table, "--not-null", name);
  for (const auto& assignment : changes.defaults) {
    known_column(table, "--default", assignment.first);
  }
  for (const auto& name : changes.drops) {
    if (known_column(table, "--drop", name).primary_key_position > 0) {
      refuse(fmt::format("--drop: column '{}' is in the primary key of '{}'", name, table.name));
    }
  }
}

// The columns the new table has, each with the name it had in the old one.
struct NewColumn {
  const TableInfo::Column* old;
  std::string name;
};

std::vector<NewColumn> new_columns(const TableInfo& table, const ColumnChanges& changes) {
  std::vector<NewColumn> columns;
  for (const auto& column : table.columns) {
    if (listed(changes.drops, column.name)) continue;
    const std::string* renamed = assigned(changes.renames, column.name);
    std::string name = renamed != nullptr ? *renamed : column.name;
    for (const auto& earlier : columns) {
      if (same_name(earlier.name, name)) {
        refuse(fmt::format("--rename: the new table would have two columns named '{}'", name));
      }
    }
    columns.push_back({&column, name});
  }
  return columns;
}

std::string new_name(const std::vector<NewColumn>& columns, std::string_view old_name,
                     std::string_view index) {
  for (const auto& column : columns) {
    if (same_name(column.old->name, old_name)) return column.name;
  }
  refuse(fmt::format("--drop: column '{}' is used by index '{}'; drop the index first", old_name,
                     index));
}

std::string column_definition(const ColumnChanges& changes, const NewColumn& column,
                              bool sole_key) {
  const std::string* type = assigned(changes.types, column.old->name);
  const std::string* value = assigned(changes.defaults, column.old->name);
  std::string definition = db::quote_identifier(column.name);
  std::string type_name = type != nullptr ? *type : column.old->type;
  if (!type_name.empty()) definition += " " + type_name;
  if (sole_key) definition += " PRIMARY KEY";
  if (column.old->not_null || listed(changes.not_null, column.old->name)) definition += " NOT NULL";
  if (value != nullptr) {
    definition += " DEFAULT " + default_literal(*value);
  } else if (column.old->default_value) {
    definition += " DEFAULT " + *column.old->default_value;
  }
  return definition;
}

struct Index {
  std::string name;
  bool unique = false;
  std::string origin;   // "c" CREATE INDEX, "u" UNIQUE constraint, "pk" the primary key
  std::string columns;  // the new table's names: "a", "b" DESC
};

std::vector<Index> indexes(db::Database& database, const TableInfo& table,
                           const std::vector<NewColumn>& columns) {
  std::vector<Index> found;
  {
    auto query = database.query(
        "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1) ORDER BY name",
        table.name);
    while (query.step()) {
      if (query->integer(3) != 0) {
        refuse(fmt::format(
            "index '{}' of '{}' is partial, which column operations cannot carry over: write "
            "the new table's DDL and give it with --dest-ddl",
            query->text(0), table.name));
      }
      found.push_back({query->text(0), query->integer(1) != 0, query->text(2), ""});
    }
  }
  std::erase_if(found, [](const Index& index) { return index.origin == "pk"; });
  for (auto& index : found) {
    auto query = database.query(
        "SELECT cid, name, \"desc\" FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno",
        index.name);
    while (query.step()) {
      if (query->integer(0) < 0) {
        refuse(fmt::format(
            "index '{}' of '{}' is on an expression, which column operations cannot carry "
            "over: write the new table's DDL and give it with --dest-ddl",
            index.name, table.name));
      }
      index.columns += (index.columns.empty() ? "" : ", ") +
                       db::quote_identifier(new_name(columns, query->text(1), index.name)) +
                       (query->integer(2) != 0 ? " DESC" : "");
    }
  }
  return found;
}

bool is_number(std::string_view text) {
  std::size_t at = text.starts_with('-') ? 1 : 0;
  auto digits = [&] {
    std::size_t begin = at;
    while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])) != 0) ++at;
    return at > begin;
  };
  if (!digits()) return false;
  if (at < text.size() && text[at] == '.') {
    ++at;
    if (!digits()) return false;
  }
  if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
    ++at;
    if (at < text.size() && (text[at] == '+' || text[at] == '-')) ++at;
    if (!digits()) return false;
  }
  return at == text.size();
}

}  // namespace transform

bool ColumnChanges::empty() const {
  return types.empty() && renames.empty() && drops.empty() && not_null.empty() && defaults.empty();
}

std::pair<std::string, std::string> parse_assignment(std::string_view option,
                                                     std::string_view text) {
  std::size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0 || equals + 1 == text.size()) {
    throw Error(exit_code::usage,
                fmt::format("{}: '{}' is not COLUMN=VALUE", option, single_line(text)));
  }
  return {std::string(text.substr(0, equals)), std::string(text.substr(equals + 1))};
}

void check_type_name(std::string_view option, std::string_view type) {
  bool valid = !type.empty() && std::isalpha(static_cast<unsigned char>(type.front())) != 0;
  for (char character : type) {
    auto c = static_cast<unsigned char>(character);
    valid = valid && (std::isalnum(c) != 0 ||
                      std::string_view("_ (),+-.").find(character) != std::string_view::npos);
  }
  if (!valid) {
    throw Error(exit_code::usage,
                fmt::format("{}: '{}' is not a type name (letters, digits, _, spaces and "
                            "parenthesised numbers)",
                            option, single_line(type)));
  }
}

std::string default_literal(std::string_view value) {
  if (transform::is_number(value)) return std::string(value);
  std::string literal = "'";
  for (char character : value) {
    if (character == '\'') literal += '\'';
    literal += character;
  }
  return literal + "'";
}

Transformed transformed_table(db::Database& database, const TableInfo& table,
                              const ColumnChanges& changes) {
  transform::refuse_uncarried_clauses(database, table);
  transform::check_columns(table, changes);
  const std::vector<transform::NewColumn> columns = transform::new_columns(table, changes);
  std::vector<const transform::NewColumn*> key(columns.size(), nullptr);
  std::size_t key_size = 0;
  for (const auto& column : columns) {
    if (column.old->primary_key_position > 0) {
      key[static_cast<std::size_t>(column.old->primary_key_position - 1)] = &column;
      ++key_size;
    }
  }
  Transformed result;
  std::string definitions;
  for (const auto& column : columns) {
    bool sole_key = key_size == 1 && column.old->primary_key_position == 1;
    definitions +=
        (definitions.empty() ? "" : ", ") + transform::column_definition(changes, column, sole_key);
    result.select += (result.select.empty() ? "" : ", ") + db::quote_identifier(column.old->name);
    if (column.name != column.old->name)
      result.select += " AS " + db::quote_identifier(column.name);
  }
  if (key_size > 1) {
    std::string names;
    for (std::size_t position = 0; position < key_size; ++position) {
      names += (names.empty() ? "" : ", ") + db::quote_identifier(key[position]->name);
    }
    definitions += ", PRIMARY KEY (" + names + ")";
  }
  std::string script;
  for (const auto& index : transform::indexes(database, table, columns)) {
    if (index.origin == "u") {
      definitions += ", UNIQUE (" + index.columns + ")";
      continue;
    }
    script += fmt::format(";\nCREATE {}INDEX {} ON {{name}} ({})", index.unique ? "UNIQUE " : "",
                          db::quote_identifier(index.name + "__v2"), index.columns);
  }
  std::vector<std::string> options;
  if (table.without_rowid) options.emplace_back("WITHOUT ROWID");
  if (table.strict) options.emplace_back("STRICT");
  result.ddl = "CREATE TABLE {name} (" + definitions + ")" +
               (options.empty() ? "" : " " + joined(options)) + script;
  return result;
}

}  // namespace sluice::reindex
