// Database, the transactions and migrations over either backend (db_backend.hpp).
#include "sluice/db.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include <fmt/format.h>

#include "db_backend.hpp"
#include "sluice/error.hpp"
#include "sluice/pg.hpp"

namespace sluice::db {

std::string quote_identifier(std::string_view name) {
  std::string quoted = "\"";
  for (char character : name) {
    if (character == '"') quoted += '"';
    quoted += character;
  }
  quoted += '"';
  return quoted;
}

void Statement::bind(int index, const Value& value) {
  struct Binder {
    Statement& statement;
    int index;
    void operator()(std::monostate) { statement.bind(index, std::nullopt); }
    void operator()(std::int64_t number) { statement.bind(index, number); }
    void operator()(double number) { statement.bind_double(index, number); }
    void operator()(const std::string& text) { statement.bind(index, std::string_view(text)); }
    void operator()(const Blob& blob) { statement.bind_blob(index, blob.bytes); }
  };
  std::visit(Binder{*this, index}, value);
}

std::string postgresql_array(std::span<const std::string> values) {
  std::string literal = "{";
  for (const std::string& value : values) {
    if (literal.size() > 1) literal += ',';
    literal += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  return literal + "}";
}

std::string row_lock_clause(Backend backend, RowLock lock, std::string_view table) {
  if (backend == Backend::sqlite || lock == RowLock::none) return {};
  std::string clause = " FOR UPDATE";
  if (!table.empty()) clause += fmt::format(" OF {}", table);
  if (lock == RowLock::skip_locked) clause += " SKIP LOCKED";
  return clause;
}

void take_turns_writing(Database& database, std::string_view table) {
  if (database.backend() == Backend::sqlite) return;
  database.execute(fmt::format("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", table));
}

// ---------------------------------------------------------------- BulkInsert

namespace {

// One cached INSERT, stepped once per row.
class StatementRowWriter final : public RowWriter {
 public:
  explicit StatementRowWriter(Statement& insert) : insert_(insert) {}
  void add(std::int64_t value) override { insert_.bind(++column_, value); }
  void add(std::string_view text) override { insert_.bind(++column_, text); }
  void end_row() override {
    Query row(insert_);
    row.step();
    column_ = 0;
    ++rows_;
  }
  std::int64_t finish() override { return rows_; }

 private:
  Statement& insert_;
  int column_ = 0;
  std::int64_t rows_ = 0;
};

}  // namespace

std::unique_ptr<RowWriter> Connection::row_writer(std::string_view table,
                                                  std::span<const std::string_view> columns) {
  std::string placeholders;
  for (std::size_t i = 0; i < columns.size(); ++i) placeholders += i == 0 ? "?" : ", ?";
  return std::make_unique<StatementRowWriter>(statement(fmt::format(
      "INSERT INTO {} ({}) VALUES ({})", table, fmt::join(columns, ", "), placeholders)));
}

BulkInsert::BulkInsert(Database& database, std::string_view table,
                       std::span<const std::string_view> columns)
    : writer_(database.connection().row_writer(table, columns)) {}

// ---------------------------------------------------------------- Database

Database::Database(const std::string& location, const OpenOptions& options)
    : connection_(pg::is_url(location) ? open_postgres(location, options)
                                       : std::make_unique<SqliteConnection>(location, options)) {}

Database::~Database() = default;

Backend Database::backend() const {
  return connection_->backend();
}

Clock Database::clock(const Clock& requested) {
  if (requested.is_fixed() || !connection_->has_clock()) return requested;
  return Clock([this] { return connection_->server_now(); });
}

Statement& Database::statement(std::string_view sql) {
  return connection_->statement(sql);
}

void Database::execute_script(std::string_view sql) {
  connection_->execute_script(sql);
}

SqliteConnection& Database::sqlite() const {
  return sqlite_of(*connection_);
}

void Database::execute_creating_script(std::string_view sql) {
  sqlite().execute_creating_script(sql);
}

Database::SelectShape Database::describe_select(std::string_view sql) {
  return sqlite().describe_select(sql);
}

bool Database::is_deterministic_scalar(std::string_view name) {
  return sqlite().is_deterministic_scalar(name);
}

void Database::add_checksum_function() {
  sqlite().add_checksum_function();
}

std::string Database::side_file(std::string_view suffix) const {
  return sqlite().side_file(suffix);
}

int Database::changes() const {
  return connection_->changes();
}

void Database::set_busy_timeout(Duration timeout) {
  connection_->set_busy_timeout(timeout);
}

const std::string& Database::path() const {
  return connection_->location();
}

const OpenOptions& Database::options() const {
  return connection_->options();
}

// ---------------------------------------------------------------- transactions

WriteTransaction::WriteTransaction(Database& database) : database_(database) {
  database_.connection().begin_write();
}

WriteTransaction::~WriteTransaction() {
  rollback();
}

void WriteTransaction::rollback() {
  if (!open_) return;
  open_ = false;
  database_.connection().rollback();
}

void WriteTransaction::commit() {
  database_.connection().commit();
  open_ = false;
}

ReadTransaction::ReadTransaction(Database& database) : database_(database) {
  database_.connection().begin_read();
}

ReadTransaction::~ReadTransaction() {
  database_.connection().end_read();
}

// ---------------------------------------------------------------- schema versions

int schema_version(Database& database, std::string_view component, std::string_view meta_table) {
  if (!database.connection().has_table(meta_table)) return 0;
  auto query = database.query(
      fmt::format("SELECT version FROM {} WHERE component = ?1", quote_identifier(meta_table)),
      component);
  return query.step() ? static_cast<int>(query->integer(0)) : 0;
}

namespace {

bool is_word_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Where the text at `at` starting with `opening` ends: after the closing quote, or at the end
// of a -- comment's line.
std::size_t end_of_quoted(std::string_view text, std::size_t at, std::string_view opening) {
  std::size_t end = text.find(opening == "--" ? '\n' : opening[0], at + opening.size());
  if (end == std::string_view::npos) return text.size();
  return opening == "--" ? end : end + 1;
}

}  // namespace

std::string postgresql_ddl(std::string_view sqlite_ddl) {
  static constexpr std::array<std::string_view, 4> table_options{
      ") STRICT, WITHOUT ROWID;", ") WITHOUT ROWID, STRICT;", ") STRICT;", ") WITHOUT ROWID;"};
  std::string out;
  out.reserve(sqlite_ddl.size());
  std::size_t at = 0;
  while (at < sqlite_ddl.size()) {
    std::string_view rest = sqlite_ddl.substr(at);
    auto option = std::find_if(table_options.begin(), table_options.end(),
                               [&](std::string_view text) { return rest.starts_with(text); });
    std::size_t end = at + 1;
    if (option != table_options.end()) {
      out += ");";
      at += option->size();
      continue;
    }
    for (std::string_view opening : {"'", "\"", "--"}) {
      if (rest.starts_with(opening)) end = end_of_quoted(sqlite_ddl, at, opening);
    }
    if (end == at + 1 && is_word_character(rest[0])) {
      while (end < sqlite_ddl.size() && is_word_character(sqlite_ddl[end])) ++end;
      std::string_view word = sqlite_ddl.substr(at, end - at);
      out += word == "INTEGER" ? "BIGINT" : word == "BLOB" ? "BYTEA" : word;
    } else {
      out += sqlite_ddl.substr(at, end - at);
    }
    at = end;
  }
  return out;
}

void migrate(Database& database, std::string_view component, const Schema& schema) {
  if (schema.postgresql.empty() && database.backend() == Backend::postgresql) {
    std::vector<std::string> translated;
    for (std::string_view step : schema.sqlite) translated.push_back(postgresql_ddl(step));
    std::vector<std::string_view> steps(translated.begin(), translated.end());
    migrate(database, component, steps);
    return;
  }
  if (!schema.postgresql.empty() && schema.sqlite.size() != schema.postgresql.size()) {
    throw Error(
        exit_code::internal,
        fmt::format("{}: its SQLite and PostgreSQL schemas have different versions", component));
  }
  bool server = database.backend() == Backend::postgresql;
  migrate(database, component, server ? schema.postgresql : schema.sqlite);
}

void refuse_newer_schema(Database& database, std::string_view component, int version, int known) {
  if (version > known) {
    throw Error(
        exit_code::data,
        fmt::format("{} '{}' was written by a newer version of sluice ({} schema "
                    "version {}, this program knows up to {}); refusing to use it",
                    database.connection().noun(), database.path(), component, version, known));
  }
}

void migrate(Database& database, std::string_view component,
             std::span<const std::string_view> steps, std::string_view meta_table) {
  const int target = static_cast<int>(steps.size());
  auto check_version = [&](int version) {
    refuse_newer_schema(database, component, version, target);
  };
  {
    ReadTransaction read(database);
    int version = schema_version(database, component, meta_table);
    check_version(version);
    if (version == target) return;
  }
  WriteTransaction transaction(database);
  database.connection().prepare_migration(
      meta_table, meta_table == "sluice_meta" ? MarkState::yes : MarkState::no);
  int version = schema_version(database, component, meta_table);
  check_version(version);
  for (int step = version; step < target; ++step) database.execute_script(steps[step]);
  database.execute(fmt::format("INSERT INTO {} (component, version) VALUES (?1, ?2) ON CONFLICT "
                               "(component) DO UPDATE SET version = excluded.version",
                               quote_identifier(meta_table)),
                   component, target);
  transaction.commit();
}

}  // namespace sluice::db
