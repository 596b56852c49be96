// db: state in an SQLite file or on a PostgreSQL server (docs/ARCHITECTURE.md, "State"). Its
// SQLite backend is the only code that calls sqlite3_*; its PostgreSQL backend goes through pg.
//
// A Database opens (or creates, mode 0600) a file with WAL, the busy timeout (set before WAL),
// foreign_keys=ON, journal_size_limit and the chosen synchronous level; caches prepared
// statements; runs write transactions with BEGIN IMMEDIATE, optionally serialised through a
// blocking flock on "<file>.lock"; and versions each component's schema in sluice_meta.
// Every SQLite failure throws sluice::Error with an exit code from the shared table:
// busy/locked 75, cannot open 66 (must exist) or 73, not a database/corrupt 65, I/O 74,
// a violated constraint 65 (as ConstraintViolation, so a caller can tell it apart).
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "sluice/clock.hpp"
#include "sluice/error.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::db {

enum class Synchronous { normal, full };

struct OpenOptions {
  // must_exist: a missing file is Error(66) instead of being created.
  bool must_exist = false;
  Synchronous synchronous = Synchronous::full;
  Duration busy_timeout = std::chrono::seconds(5);
  // Serialise write transactions of all processes on a blocking flock of "<file>.lock"
  // (fair queueing; SQLite's own busy handler polls and starves writers under contention).
  bool serialize_writers = false;
  // Accept an SQLite file that is not sluice state (reindex works on the user's own file).
  // Otherwise such a file is refused with Error(65) before anything is written to it. A
  // foreign file keeps its journal mode: switching it to WAL is the owner's decision, and
  // messages call it a "database" where they call sluice's own file a "state file".
  bool foreign_file = false;
  // Page cache size in KiB (0: SQLite's default of 2 MiB). Bulk writers with random keys
  // want their index in memory; the cache grows only as pages are used.
  std::int64_t cache_kib = 0;
  // false: leave the WAL in place when the last connection closes, instead of checkpointing it
  // into the file and deleting it. A program run thousands of times for one short write each
  // (lock run) then saves, per run, the checkpoint's syncs and the WAL's re-creation (which
  // syncs the directory). Checkpoints still happen as the WAL grows (every 1000 pages), and
  // journal_size_limit still bounds it.
  bool checkpoint_on_close = true;
};

class Database;

// A statement broke a UNIQUE, NOT NULL, CHECK or FOREIGN KEY constraint (exit 65). The message
// is SQLite's ("UNIQUE constraint failed: t.email").
class ConstraintViolation : public Error {
 public:
  using Error::Error;
};

// A value in one of SQLite's five storage classes.
struct Blob {
  std::string bytes;
  friend auto operator<=>(const Blob&, const Blob&) = default;
};
using Value = std::variant<std::monostate, std::int64_t, double, std::string, Blob>;

// "name" with embedded quotes doubled: an identifier SQL can name whatever it holds.
std::string quote_identifier(std::string_view name);

// A PostgreSQL array literal of text values, {"a","b\"c"}: a list passed as one parameter
// (`= ANY (?::text[])`, `unnest(?::text[])`; `?::bigint[]` reads it as numbers).
std::string postgresql_array(std::span<const std::string> values);

// Where the state lives: an SQLite file, or a PostgreSQL server (a postgresql:// location).
enum class Backend { sqlite, postgresql };

// The text of a statement whose SQLite and PostgreSQL dialects differ.
struct Dialects {
  std::string_view sqlite;
  std::string_view postgresql;
  [[nodiscard]] std::string_view of(Backend backend) const {
    return backend == Backend::postgresql ? postgresql : sqlite;
  }
};

// Whether a read takes the locks of the rows it returns, for a decision it will act on: on a
// server, where writers do not queue for one lock as they do on SQLite. skip_locked passes
// over rows another transaction holds (workers sharing a queue of rows).
enum class RowLock { none, for_update, skip_locked };

// The clause to append to a SELECT for `lock` (" FOR UPDATE [OF table] [SKIP LOCKED]"), or ""
// on SQLite, whose write transaction already holds the one write lock. `table` names the
// table whose rows are locked when the SELECT joins others.
std::string row_lock_clause(Backend backend, RowLock lock, std::string_view table = {});

// Within a write transaction, before its first read: makes the writers of `table` take turns,
// as every SQLite writer does, for a decision that depends on rows that may not exist yet (a
// row lock cannot hold a row that is not there). On a server, LOCK TABLE in SHARE ROW
// EXCLUSIVE mode, which readers do not wait for; nothing on SQLite.
void take_turns_writing(Database& database, std::string_view table);

// A component's schema on each backend, version for version: step i moves it from version i
// to i+1. Both lists have the same length (a version means the same tables on both). Without
// PostgreSQL steps, the SQLite ones are translated (postgresql_ddl).
struct Schema {
  std::span<const std::string_view> sqlite;
  std::span<const std::string_view> postgresql = {};
};

// SQLite DDL in PostgreSQL's words: the table options STRICT and WITHOUT ROWID dropped, the
// types INTEGER and BLOB written BIGINT and BYTEA (whole words outside quotes and comments).
// Enough for schemas that use only TEXT, INTEGER and BLOB columns, keys, CHECKs and indexes.
std::string postgresql_ddl(std::string_view sqlite_ddl);

// A statement from the Database's cache. Bind indexes are 1-based. Use through Query, which
// resets the statement when it goes out of scope. On PostgreSQL the statement runs at its
// first step, with the values bound so far, and its rows are then read one by one.
class Statement {
 public:
  Statement() = default;
  virtual ~Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  virtual void bind(int index, std::int64_t value) = 0;
  void bind(int index, int value) { bind(index, static_cast<std::int64_t>(value)); }
  virtual void bind(int index, std::string_view text) = 0;
  void bind(int index, const char* text) { bind(index, std::string_view(text)); }
  void bind(int index, const std::string& text) { bind(index, std::string_view(text)); }
  virtual void bind(int index, std::nullopt_t) = 0;
  template <typename T>
  void bind(int index, const std::optional<T>& value) {
    if (value) {
      bind(index, *value);
    } else {
      bind(index, std::nullopt);
    }
  }
  virtual void bind_double(int index, double value) = 0;
  virtual void bind_blob(int index, std::string_view bytes) = 0;
  void bind(int index, const Value& value);

  // Advances; true when a row is available. Throws on error.
  virtual bool step() = 0;
  virtual void reset() = 0;

  [[nodiscard]] virtual bool is_null(int column) const = 0;
  [[nodiscard]] virtual std::int64_t integer(int column) const = 0;
  [[nodiscard]] virtual std::string text(int column) const = 0;
  // Valid until the next step or reset.
  [[nodiscard]] virtual std::string_view blob(int column) const = 0;
  [[nodiscard]] virtual Value value(int column) const = 0;
  [[nodiscard]] virtual int column_count() const = 0;
};

// One use of a cached statement, bound to arguments; resets the statement when destroyed.
class Query {
 public:
  explicit Query(Statement& statement) : statement_(&statement) {}
  ~Query() { statement_->reset(); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  bool step() { return statement_->step(); }
  Statement& row() { return *statement_; }
  Statement* operator->() { return statement_; }

 private:
  Statement* statement_;
};

// Binds `args` to ?1..?N of `statement` and returns the query ready to step.
template <typename... Args>
Query bind_all(Statement& statement, const Args&... args) {
  int index = 0;
  (statement.bind(++index, args), ...);
  return Query(statement);
}

class Connection;
class SqliteConnection;

// How BulkInsert writes rows on one backend (db.cpp and db_postgres.cpp).
class RowWriter {
 public:
  RowWriter() = default;
  virtual ~RowWriter() = default;
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;
  virtual void add(std::int64_t value) = 0;
  virtual void add(std::string_view text) = 0;
  virtual void end_row() = 0;
  // Returns the rows written.
  virtual std::int64_t finish() = 0;
};

class Database {
 public:
  // Opens `location`: a postgresql:// or postgres:// URL (libpq is loaded then, not before),
  // or the path of an SQLite file.
  Database(const std::string& location, const OpenOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  [[nodiscard]] Backend backend() const;

  // The clock for this state: `requested` when --now fixed it or the state is a file; on a
  // server, the server's clock (clock_timestamp()), so that hosts whose clocks disagree still
  // agree on leases and expiry. The clock reads through this Database: it must not outlive it.
  [[nodiscard]] Clock clock(const Clock& requested);

  // The cached statement for `sql` (prepared on first use). `sql` is one statement:
  // text after it that is a second statement throws Error(65), so that SQL spliced from
  // stored or user text cannot run more than was meant. Placeholders are ?N or ?; on
  // PostgreSQL they become $N.
  Statement& statement(std::string_view sql);

  // Binds `args` to ?1..?N and returns the query ready to step.
  template <typename... Args>
  Query query(std::string_view sql, const Args&... args) {
    return bind_all(statement(sql), args...);
  }

  // Runs a statement to completion, discarding rows; returns the number of rows changed.
  template <typename... Args>
  int execute(std::string_view sql, const Args&... args) {
    auto run = query(sql, args...);
    while (run.step()) {
    }
    return changes();
  }

  // Runs one or more statements without parameters (schema scripts).
  void execute_script(std::string_view sql);

  // SQLite only (Error(70) on another backend): reindex works in the user's own SQLite file.
  //
  // Runs a script given by a user to create tables: it may create tables, indexes and
  // virtual tables (and write the tables it creates), nothing else. Any other statement
  // (DML on other tables, ATTACH, PRAGMA, triggers, views, DROP, transaction control) throws
  // Error(65) naming it, before it runs. SQL SQLite cannot run (a syntax error, an unknown
  // collation or tokenizer) throws Error(65) with SQLite's message and the script on one line.
  void execute_creating_script(std::string_view sql);

  // What a single SELECT statement would read and call, learnt by preparing it (it is not
  // run). Throws Error(65) with SQLite's message when `sql` does not prepare.
  struct SelectShape {
    struct Column {
      std::string name;           // the result column's name (its AS name if it has one)
      std::string origin_table;   // for a plain column reference: its table, else empty
      std::string origin_column;  // ... and its column
    };
    std::vector<Column> columns;
    std::set<std::string> tables_read;  // every table or view a column is read from
    std::set<std::string> functions;    // every function called, lower case
    int selects = 0;                    // SELECTs in the statement: more than 1 = subqueries
  };
  SelectShape describe_select(std::string_view sql);

  // Whether `name` (any case) is a scalar function SQLite declares deterministic. Date and
  // time functions count as deterministic although 'now' makes them vary: callers that care
  // must look at their arguments.
  bool is_deterministic_scalar(std::string_view name);

  // Registers the aggregate sluice_checksum(v1, ..., vN) on this connection: the sum modulo
  // 2^64 (as a signed 64-bit integer) of a hash of each row's values with their storage
  // classes. The same rows in any order give the same sum; 0 for no rows.
  void add_checksum_function();

  // A file beside the state file, named after the file SQLite opened (absolute, symlinks
  // resolved) plus `suffix`, so that every path to one state file names the same side file.
  [[nodiscard]] std::string side_file(std::string_view suffix) const;

  // Rows the last statement changed.
  [[nodiscard]] int changes() const;
  // Changes how long later statements wait for a lock (and the writer lock) before Error(75).
  void set_busy_timeout(Duration timeout);
  // The state file's path, or the server's URL without its password: for messages.
  [[nodiscard]] const std::string& path() const;
  [[nodiscard]] const OpenOptions& options() const;

  // The backend, for WriteTransaction, ReadTransaction and migrate.
  [[nodiscard]] Connection& connection() { return *connection_; }

 private:
  SqliteConnection& sqlite() const;
  std::unique_ptr<Connection> connection_;
};

// Many rows into one table inside the current write transaction, as fast as the backend
// allows: a cached INSERT per row on SQLite, one COPY ... FROM STDIN on PostgreSQL (rows go
// to the server in batches, not one round trip each). Add each row's values in column order,
// integers or text, then end_row(); finish() at the end reports what the server refused. A
// BulkInsert destroyed unfinished leaves its transaction to be rolled back.
class BulkInsert {
 public:
  BulkInsert(Database& database, std::string_view table, std::span<const std::string_view> columns);
  BulkInsert& add(std::int64_t value) {
    writer_->add(value);
    return *this;
  }
  BulkInsert& add(std::string_view text) {
    writer_->add(text);
    return *this;
  }
  void end_row() { writer_->end_row(); }
  // Returns the rows written.
  std::int64_t finish() { return writer_->finish(); }

 private:
  std::unique_ptr<RowWriter> writer_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() was called.
class WriteTransaction {
 public:
  explicit WriteTransaction(Database& database);
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit();
  // Ends the transaction now, discarding its changes.
  void rollback();

 private:
  Database& database_;
  bool open_ = true;
};

// BEGIN (deferred, read-only use) on construction; ends it on destruction. Keep it short:
// an open reader stops WAL checkpoints.
class ReadTransaction {
 public:
  explicit ReadTransaction(Database& database);
  ~ReadTransaction();
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

 private:
  Database& database_;
};

// Brings `component`'s schema to version steps.size(): steps[i] is the script that moves it
// from version i to i+1, all applied in one write transaction. The version lives in
// meta_table(component, version), by default sluice_meta in a file marked as sluice state
// (PRAGMA application_id). A tool working in someone else's file passes its own prefixed
// meta table, and the file's header is left alone. A file written by a newer version (stored
// version greater than steps.size()) throws Error(65).
void migrate(Database& database, std::string_view component,
             std::span<const std::string_view> steps, std::string_view meta_table = "sluice_meta");

// migrate() with the steps for the database's backend.
void migrate(Database& database, std::string_view component, const Schema& schema);

// Error(65), migrate()'s refusal, when `component`'s stored `version` is greater than `known`
// (the versions this program has steps for): for a reader that must not migrate.
void refuse_newer_schema(Database& database, std::string_view component, int version, int known);

// The schema version recorded for `component`, or 0.
int schema_version(Database& database, std::string_view component,
                   std::string_view meta_table = "sluice_meta");

}  // namespace sluice::db
