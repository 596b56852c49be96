#include "reindex_schema.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice::reindex {

std::string lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

namespace {

bool same_names(std::vector<std::string> first, std::vector<std::string> second) {
  auto by_lower = [](std::vector<std::string>& names) {
    for (auto& name : names) name = lower(name);
    std::sort(names.begin(), names.end());
  };
  by_lower(first);
  by_lower(second);
  return first == second;
}

std::vector<std::string> primary_key(const TableInfo& table) {
  std::vector<const TableInfo::Column*> in_key;
  for (const auto& column : table.columns) {
    if (column.primary_key_position > 0) in_key.push_back(&column);
  }
  std::sort(in_key.begin(), in_key.end(), [](const auto* first, const auto* second) {
    return first->primary_key_position < second->primary_key_position;
  });
  std::vector<std::string> names;
  for (const auto* column : in_key) names.push_back(column->name);
  return names;
}

// Full (not partial) unique indexes, each as its column names.
std::vector<std::vector<std::string>> unique_indexes(db::Database& database,
                                                     std::string_view table) {
  std::vector<std::string> index_names = first_column(database.query(
      "SELECT name FROM pragma_index_list(?1) WHERE \"unique\" = 1 AND partial = 0", table));
  std::vector<std::vector<std::string>> indexes;
  for (const auto& index : index_names) {
    std::vector<std::string> columns;
    auto query = database.query("SELECT name FROM pragma_index_info(?1) ORDER BY seqno", index);
    bool expression = false;
    while (query.step()) {
      if (query->is_null(0)) expression = true;
      columns.push_back(query->text(0));
    }
    if (!expression) indexes.push_back(columns);
  }
  return indexes;
}

// A rowid table's PRIMARY KEY columns may hold NULL (an old SQLite quirk) unless declared
// NOT NULL; an INTEGER PRIMARY KEY (the rowid itself) and WITHOUT ROWID keys cannot.
bool key_is_never_null(const TableInfo& table, const std::vector<std::string>& key) {
  for (const auto& name : key) {
    const auto* column = table.column(name);
    bool rowid_alias = key.size() == 1 && column->primary_key_position == 1 &&
                       same_name(column->type, "INTEGER") && !table.without_rowid;
    bool declared = column->not_null || (table.without_rowid && column->primary_key_position > 0);
    if (!rowid_alias && !declared) return false;
  }
  return true;
}

// --- a small SQL tokenizer, enough to find the name in a CREATE statement

std::size_t skip_space(std::string_view sql, std::size_t at) {
  while (at < sql.size()) {
    if (std::isspace(static_cast<unsigned char>(sql[at])) != 0) {
      ++at;
    } else if (sql.substr(at, 2) == "--") {
      at = sql.find('\n', at);
      if (at == std::string_view::npos) return sql.size();
    } else if (sql.substr(at, 2) == "/*") {
      at = sql.find("*/", at + 2);
      if (at == std::string_view::npos) return sql.size();
      at += 2;
    } else {
      break;
    }
  }
  return at;
}

std::size_t token_end(std::string_view sql, std::size_t at) {
  if (at >= sql.size()) return at;
  char first = sql[at];
  char closing = first == '[' ? ']' : first;
  if (first == '"' || first == '`' || first == '\'' || first == '[') {
    std::size_t position = at + 1;
    for (;;) {
      position = sql.find(closing, position);
      if (position == std::string_view::npos) return sql.size();
      // A doubled quote inside a quoted name is one quote character.
      if (closing != ']' && position + 1 < sql.size() && sql[position + 1] == closing) {
        position += 2;
        continue;
      }
      return position + 1;
    }
  }
  std::size_t position = at;
  while (position < sql.size()) {
    auto c = static_cast<unsigned char>(sql[position]);
    if (std::isalnum(c) == 0 && c != '_' && c != '$' && c < 0x80) break;
    ++position;
  }
  return position == at ? at + 1 : position;
}

struct Token {
  std::size_t begin;
  std::size_t end;
};

std::vector<Token> leading_tokens(std::string_view sql, std::size_t count) {
  std::vector<Token> tokens;
  std::size_t at = 0;
  while (tokens.size() < count) {
    at = skip_space(sql, at);
    if (at >= sql.size()) break;
    std::size_t end = token_end(sql, at);
    tokens.push_back({at, end});
    at = end;
  }
  return tokens;
}

// The index of the object's name among the leading tokens of a CREATE statement: after
// CREATE [UNIQUE] TABLE|INDEX [IF NOT EXISTS].
std::size_t name_token(std::string_view sql, const std::vector<Token>& tokens) {
  std::size_t index = 1;
  auto word = [&](std::size_t position) {
    return position < tokens.size()
               ? lower(sql.substr(tokens[position].begin,
                                  tokens[position].end - tokens[position].begin))
               : std::string();
  };
  if (word(index) == "unique") ++index;
  ++index;  // TABLE or INDEX
  if (word(index) == "if") index += 3;
  return index;
}

std::string rewrite_table(std::string_view sql, std::string_view dest) {
  auto tokens = leading_tokens(sql, 8);
  std::size_t name = name_token(sql, tokens);
  if (name >= tokens.size())
    refuse(fmt::format("cannot read the definition: {}", single_line(sql)));
  return std::string(sql.substr(0, tokens[name].begin)) + db::quote_identifier(dest) +
         std::string(sql.substr(tokens[name].end));
}

std::string rewrite_index(std::string_view sql, std::string_view index_name,
                          std::string_view dest) {
  auto tokens = leading_tokens(sql, 10);
  std::size_t name = name_token(sql, tokens);
  std::size_t table = name + 2;  // NAME ON TABLE
  if (table >= tokens.size())
    refuse(fmt::format("cannot read the definition: {}", single_line(sql)));
  return std::string(sql.substr(0, tokens[name].begin)) + db::quote_identifier(index_name) +
         std::string(sql.substr(tokens[name].end, tokens[table].begin - tokens[name].end)) +
         db::quote_identifier(dest) + std::string(sql.substr(tokens[table].end));
}

std::string hex(std::string_view bytes) {
  std::string text;
  for (unsigned char byte : bytes) text += fmt::format("{:02x}", byte);
  return text;
}

bool calls_date_function(const std::set<std::string>& functions) {
  for (const char* name : {"date", "time", "datetime", "julianday", "strftime", "unixepoch",
                           "timediff", "current_date", "current_time", "current_timestamp"}) {
    if (functions.contains(name)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> first_column(db::Query query) {
  std::vector<std::string> values;
  while (query.step()) values.push_back(query->text(0));
  return values;
}

void refuse(std::string message) {
  throw Error(exit_code::data, std::move(message));
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

const TableInfo::Column* TableInfo::column(std::string_view wanted) const {
  for (const auto& candidate : columns) {
    if (same_name(candidate.name, wanted)) return &candidate;
  }
  return nullptr;
}

bool TableInfo::needs_value(const Column& wanted) const {
  bool rowid_alias = !without_rowid && wanted.primary_key_position == 1 &&
                     same_name(wanted.type, "INTEGER") &&
                     std::count_if(columns.begin(), columns.end(), [](const Column& candidate) {
                       return candidate.primary_key_position > 0;
                     }) == 1;
  bool not_null = wanted.not_null || (without_rowid && wanted.primary_key_position > 0);
  return not_null && !wanted.default_value && !rowid_alias;
}

bool same_name(std::string_view first, std::string_view second) {
  return first.size() == second.size() && lower(first) == lower(second);
}

TableInfo table_info(db::Database& database, std::string_view name) {
  TableInfo table;
  {
    auto query = database.query(
        "SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main' AND "
        "lower(name) = lower(?1)",
        name);
    if (!query.step()) return table;
    table.exists = true;
    table.name = query->text(0);
    table.kind = query->text(1);
    table.without_rowid = query->integer(2) != 0;
    table.strict = query->integer(3) != 0;
  }
  auto query = database.query(
      "SELECT name, type, \"notnull\", pk, dflt_value FROM pragma_table_xinfo(?1) WHERE hidden "
      "IN (0, 1) ORDER BY cid",
      table.name);
  while (query.step()) {
    std::optional<std::string> default_value;
    if (!query->is_null(4)) default_value = query->text(4);
    table.columns.push_back({query->text(0), query->text(1), query->integer(2) != 0,
                             static_cast<int>(query->integer(3)), std::move(default_value)});
  }
  return table;
}

bool schema_object_exists(db::Database& database, std::string_view name) {
  auto query = database.query("SELECT 1 FROM sqlite_schema WHERE lower(name) = lower(?1)", name);
  return query.step();
}

std::vector<std::string> stable_key(db::Database& database, const TableInfo& table,
                                    const std::vector<std::string>& requested) {
  std::vector<std::string> key = requested.empty() ? primary_key(table) : requested;
  if (key.empty()) {
    refuse(fmt::format(
        "table '{}' has no declared key: its rowids are implicit and VACUUM may renumber them; "
        "give it an INTEGER PRIMARY KEY, or name a unique NOT NULL column with --key",
        table.name));
  }
  for (auto& name : key) {
    const auto* column = table.column(name);
    if (column == nullptr)
      refuse(fmt::format("--key: table '{}' has no column '{}'", table.name, name));
    name = column->name;
  }
  bool unique = same_names(key, primary_key(table));
  for (const auto& index : unique_indexes(database, table.name))
    unique = unique || same_names(key, index);
  if (!unique) {
    refuse(fmt::format("--key: ({}) is not the primary key or a unique index of '{}'", joined(key),
                       table.name));
  }
  if (!key_is_never_null(table, key)) {
    refuse(fmt::format("key ({}) of '{}' may hold NULL: declare its columns NOT NULL", joined(key),
                       table.name));
  }
  return key;
}

bool is_unique_key(db::Database& database, const TableInfo& table,
                   const std::vector<std::string>& columns) {
  if (columns.size() == 1 && same_name(columns[0], "rowid") && !table.without_rowid &&
      table.column("rowid") == nullptr) {
    return true;
  }
  if (!primary_key(table).empty() && same_names(columns, primary_key(table))) return true;
  for (const auto& index : unique_indexes(database, table.name)) {
    if (same_names(columns, index)) return true;
  }
  return false;
}

std::vector<std::string> referencing_tables(db::Database& database, std::string_view table) {
  return first_column(database.query(
      "SELECT DISTINCT m.name FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f "
      "WHERE m.type = 'table' AND lower(f.\"table\") = lower(?1) ORDER BY m.name",
      table));
}

std::vector<std::string> user_triggers(db::Database& database, std::string_view table) {
  return first_column(database.query(
      "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND lower(tbl_name) = lower(?1) "
      "AND substr(name, 1, 9) <> '_reindex_' ORDER BY name",
      table));
}

// With "id, name FROM t WHERE 0 --" the copy and verify would both see no rows, agree, and
// the switch would lose the table.
void refuse_comments_and_statement_ends(std::string_view select) {
  for (std::size_t at = 0; at < select.size(); at = token_end(select, at)) {
    std::string_view rest = select.substr(at);
    if (rest.starts_with("--") || rest.starts_with("/*") || rest.front() == ';') {
      refuse(
          fmt::format("the projection '{}' has a comment or a ';': it must be the column "
                      "list of one SELECT",
                      single_line(select)));
    }
  }
}

Projection check_projection(db::Database& database, std::string_view select, std::string_view table,
                            const std::vector<std::string>& key) {
  refuse_comments_and_statement_ends(select);
  const std::string shown = single_line(select);  // for messages
  db::Database::SelectShape shape;
  try {
    shape = database.describe_select(
        fmt::format("SELECT {} FROM {}", select, db::quote_identifier(table)));
  } catch (const Error& error) {
    refuse(
        fmt::format("the projection '{}' over '{}' does not work: {}", shown, table, error.what()));
  }
  for (const auto& read : shape.tables_read) {
    if (!same_name(read, table)) {
      refuse(fmt::format("the projection '{}' reads table '{}': it may read only '{}'", shown, read,
                         table));
    }
  }
  if (shape.selects > 1) {
    refuse(
        fmt::format("the projection '{}' has a subquery: each row must come from its own "
                    "source row only",
                    shown));
  }
  for (const auto& function : shape.functions) {
    if (!database.is_deterministic_scalar(function)) {
      refuse(
          fmt::format("the projection '{}' calls {}(), which is not a deterministic scalar "
                      "function: copies made at different times would differ",
                      shown, function));
    }
  }
  if (calls_date_function(shape.functions) && lower(select).find("'now'") != std::string::npos) {
    refuse(
        fmt::format("the projection '{}' uses 'now': copies made at different times would "
                    "differ",
                    shown));
  }
  Projection projection;
  for (const auto& column : shape.columns) {
    for (const auto& seen : projection.columns) {
      if (same_name(seen, column.name)) {
        refuse(fmt::format("the projection '{}' names column '{}' twice", shown, column.name));
      }
    }
    projection.columns.push_back(column.name);
  }
  for (const auto& key_column : key) {
    auto carried = std::find_if(shape.columns.begin(), shape.columns.end(), [&](const auto& c) {
      return same_name(c.origin_table, table) && same_name(c.origin_column, key_column);
    });
    if (carried == shape.columns.end()) {
      refuse(
          fmt::format("the projection '{}' must carry key column '{}' of '{}' unchanged (as "
                      "a plain column, renamed with AS if you like)",
                      shown, key_column, table));
    }
    projection.carried_key.push_back(carried->name);
  }
  return projection;
}

std::string all_columns(const TableInfo& table) {
  std::string list;
  for (const auto& column : table.columns) {
    list += (list.empty() ? "" : ", ") + db::quote_identifier(column.name);
  }
  return list;
}

std::string copied_definition(db::Database& database, std::string_view source,
                              std::string_view dest, std::string_view index_suffix) {
  std::string script;
  {
    auto query = database.query(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND lower(name) = lower(?1)", source);
    if (!query.step()) refuse(fmt::format("no table '{}'", source));
    script = rewrite_table(query->text(0), dest) + ";\n";
  }
  auto query = database.query(
      "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND lower(tbl_name) = lower(?1) "
      "AND sql IS NOT NULL ORDER BY name",
      source);
  while (query.step()) {
    std::string index_name = query->text(0) + std::string(index_suffix);
    script += rewrite_index(query->text(1), index_name, dest) + ";\n";
  }
  return script;
}

std::vector<std::string> sql_words(std::string_view sql) {
  std::vector<std::string> words;
  for (std::size_t at = skip_space(sql, 0); at < sql.size(); at = skip_space(sql, at)) {
    std::size_t end = token_end(sql, at);
    auto first = static_cast<unsigned char>(sql[at]);
    if (std::isalpha(first) != 0 || first == '_') words.push_back(lower(sql.substr(at, end - at)));
    at = end;
  }
  return words;
}

std::string with_name(std::string ddl, std::string_view dest) {
  const std::string placeholder = "{name}";
  const std::string quoted = db::quote_identifier(dest);
  for (std::size_t at = ddl.find(placeholder); at != std::string::npos;
       at = ddl.find(placeholder, at + quoted.size())) {
    ddl.replace(at, placeholder.size(), quoted);
  }
  return ddl;
}

JsonValue value_json(const db::Value& value) {
  struct ToJson {
    JsonValue operator()(std::monostate) const { return JsonValue::null(); }
    JsonValue operator()(std::int64_t number) const { return JsonValue::integer(number); }
    JsonValue operator()(double number) const {
      if (!std::isfinite(number)) return JsonValue::string(fmt::format("{}", number));
      std::string text;
      append_json_number(text, number);
      return JsonValue::number(std::move(text));
    }
    JsonValue operator()(const std::string& text) const { return JsonValue::string(text); }
    JsonValue operator()(const db::Blob& blob) const {
      return JsonValue::object({{"blob", JsonValue::string(hex(blob.bytes))}});
    }
  };
  return std::visit(ToJson{}, value);
}

JsonValue strings_json(const std::vector<std::string>& texts) {
  std::vector<JsonValue> items;
  for (const auto& text : texts) items.push_back(JsonValue::string(text));
  return JsonValue::array(std::move(items));
}

JsonValue key_json(const std::vector<std::string>& names, const std::vector<db::Value>& values) {
  std::vector<JsonValue::Member> members;
  for (std::size_t index = 0; index < names.size() && index < values.size(); ++index) {
    members.emplace_back(names[index], value_json(values[index]));
  }
  return JsonValue::object(std::move(members));
}

}  // namespace sluice::reindex
