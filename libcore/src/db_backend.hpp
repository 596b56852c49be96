// The two backends behind db::Database (docs/ARCHITECTURE.md, "State"): an SQLite file
// (db_sqlite.cpp, the only code that calls sqlite3_*) and a PostgreSQL server
// (db_postgres.cpp, through the pg module). Private to libcore.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sluice/db.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace sluice::db {

enum class MarkState { yes, no };

// What Database asks of a backend.
class Connection {
 public:
  Connection() = default;
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  [[nodiscard]] virtual Backend backend() const = 0;
  // The cached statement for `sql` (one statement; ?N or ? placeholders).
  virtual Statement& statement(std::string_view sql) = 0;
  virtual void execute_script(std::string_view sql) = 0;
  [[nodiscard]] virtual int changes() const = 0;
  virtual void set_busy_timeout(Duration timeout) = 0;
  virtual void begin_write() = 0;
  virtual void begin_read() = 0;
  // Ends a read transaction; never throws.
  virtual void end_read() noexcept = 0;
  virtual void commit() = 0;
  // Ends the open transaction, if any, discarding its changes; never throws.
  virtual void rollback() noexcept = 0;
  // Whether a table of that name exists (on PostgreSQL: on the search path).
  virtual bool has_table(std::string_view name) = 0;
  // Inside the write transaction of a migration: makes concurrent first runs wait for each
  // other, creates `meta_table` (component, version) when missing, and with MarkState::yes
  // marks the state as sluice's.
  virtual void prepare_migration(std::string_view meta_table, MarkState mark) = 0;
  // The state file's path or the server's URL without its password, and what messages call
  // it ("state file", "database", "state database").
  [[nodiscard]] virtual const std::string& location() const = 0;
  [[nodiscard]] virtual std::string_view noun() const = 0;
  [[nodiscard]] virtual const OpenOptions& options() const = 0;
  // The writer of BulkInsert: by default a cached INSERT statement per row.
  virtual std::unique_ptr<RowWriter> row_writer(std::string_view table,
                                                std::span<const std::string_view> columns);
  // Whether the state has a clock of its own (a server's), and reading it.
  [[nodiscard]] virtual bool has_clock() const = 0;
  virtual Instant server_now() = 0;
};

class SqliteConnection;

class SqliteStatement final : public Statement {
 public:
  SqliteStatement(SqliteConnection& connection, sqlite3_stmt* handle)
      : connection_(connection), handle_(handle) {}
  ~SqliteStatement() override;
  using Statement::bind;
  void bind(int index, std::int64_t value) override;
  void bind(int index, std::string_view text) override;
  void bind(int index, std::nullopt_t) override;
  void bind_double(int index, double value) override;
  void bind_blob(int index, std::string_view bytes) override;
  bool step() override;
  void reset() override;
  [[nodiscard]] bool is_null(int column) const override;
  [[nodiscard]] std::int64_t integer(int column) const override;
  [[nodiscard]] std::string text(int column) const override;
  [[nodiscard]] std::string_view blob(int column) const override;
  [[nodiscard]] Value value(int column) const override;
  [[nodiscard]] int column_count() const override;

 private:
  SqliteConnection& connection_;
  sqlite3_stmt* handle_;
};

// An SQLite file: WAL, the busy timeout set before the switch to WAL, foreign keys, the
// chosen synchronous level, writers optionally serialised on a flock of "<file>.lock".
class SqliteConnection final : public Connection {
 public:
  SqliteConnection(const std::string& path, const OpenOptions& options);
  ~SqliteConnection() override;

  [[nodiscard]] Backend backend() const override { return Backend::sqlite; }
  Statement& statement(std::string_view sql) override;
  void execute_script(std::string_view sql) override;
  [[nodiscard]] int changes() const override;
  void set_busy_timeout(Duration timeout) override;
  void begin_write() override;
  void begin_read() override;
  void end_read() noexcept override;
  void commit() override;
  void rollback() noexcept override;
  bool has_table(std::string_view name) override;
  void prepare_migration(std::string_view meta_table, MarkState mark) override;
  [[nodiscard]] const std::string& location() const override { return path_; }
  [[nodiscard]] std::string_view noun() const override;
  [[nodiscard]] const OpenOptions& options() const override { return options_; }
  [[nodiscard]] bool has_clock() const override { return false; }
  Instant server_now() override { return Clock().now(); }

  // The SQLite-only operations of Database (reindex works in the user's own file).
  void execute_creating_script(std::string_view sql);
  Database::SelectShape describe_select(std::string_view sql);
  bool is_deterministic_scalar(std::string_view name);
  void add_checksum_function();
  [[nodiscard]] std::string side_file(std::string_view suffix) const;

  // Throws the Error matching SQLite result code `code` for `what` (SQL, quoted on one line).
  [[noreturn]] void fail(int code, std::string_view what) const;

 private:
  void open_handle(bool created);
  void check_is_sluice_state();
  void switch_to_wal();
  void close();
  void harden();
  void apply_pragmas();
  void refuse_second_statement(sqlite3_stmt* first, std::string_view tail, std::string_view sql);
  void run(std::string_view sql);  // a cached statement without parameters, to completion
  void lock_writers();
  void unlock_writers();
  sqlite3* handle_ = nullptr;
  std::string path_;
  OpenOptions options_;
  int lock_fd_ = -1;
  bool writing_ = false;  // in a write transaction, holding the writer lock when serialised
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> statements_;
};

// The connection as the SQLite backend, or Error(70) for another backend.
SqliteConnection& sqlite_of(Connection& connection);

std::unique_ptr<Connection> open_postgres(const std::string& url, const OpenOptions& options);

}  // namespace sluice::db
