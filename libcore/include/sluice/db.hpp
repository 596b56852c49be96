// db: SQLite state files (docs/ARCHITECTURE.md, "State"). The only module that calls sqlite3_*.
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

#include "sluice/error.hpp"
#include "sluice/timeutil.hpp"

struct sqlite3;
struct sqlite3_stmt;

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

// A prepared statement from the Database's cache. Bind indexes are 1-based. Use through
// Query, which resets the statement when it goes out of scope.
class Statement {
 public:
  Statement(Database& database, sqlite3_stmt* handle) : database_(database), handle_(handle) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void bind(int index, std::int64_t value);
  void bind(int index, int value) { bind(index, static_cast<std::int64_t>(value)); }
  void bind(int index, std::string_view text);
  void bind(int index, const char* text) { bind(index, std::string_view(text)); }
  void bind(int index, const std::string& text) { bind(index, std::string_view(text)); }
  void bind(int index, std::nullopt_t);
  template <typename T>
  void bind(int index, const std::optional<T>& value) {
    if (value) {
      bind(index, *value);
    } else {
      bind(index, std::nullopt);
    }
  }
  void bind_blob(int index, std::string_view bytes);
  void bind(int index, const Value& value);

  // Advances; true when a row is available. Throws on error.
  bool step();
  void reset();

  [[nodiscard]] bool is_null(int column) const;
  [[nodiscard]] std::int64_t integer(int column) const;
  [[nodiscard]] std::string text(int column) const;
  // Valid until the next step or reset.
  [[nodiscard]] std::string_view blob(int column) const;
  [[nodiscard]] Value value(int column) const;
  [[nodiscard]] int column_count() const;

 private:
  Database& database_;
  sqlite3_stmt* handle_;
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

class Database {
 public:
  Database(const std::string& path, const OpenOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // The cached prepared statement for `sql` (prepared on first use). `sql` is one statement:
  // text after it that is a second statement throws Error(65), so that SQL spliced from
  // stored or user text cannot run more than was meant.
  Statement& statement(std::string_view sql);

  // Prepares (cached), binds `args` to ?1..?N and returns the query ready to step.
  template <typename... Args>
  Query query(std::string_view sql, const Args&... args) {
    Statement& prepared = statement(sql);
    int index = 0;
    (prepared.bind(++index, args), ...);
    return Query(prepared);
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
  [[nodiscard]] int changes() const;
  // Changes how long later statements wait for a lock (and the writer lock) before Error(75).
  void set_busy_timeout(Duration timeout);
  [[nodiscard]] const std::string& path() const { return path_; }
  // A file beside the state file, named after the file SQLite opened (absolute, symlinks
  // resolved) plus `suffix`, so that every path to one state file names the same side file.
  [[nodiscard]] std::string side_file(std::string_view suffix) const;
  [[nodiscard]] const OpenOptions& options() const { return options_; }

  // Throws the Error matching SQLite result code `code` for `what` (SQL, quoted on one line).
  [[noreturn]] void fail(int code, std::string_view what) const;

  // Used by WriteTransaction.
  void lock_writers();
  void unlock_writers();

 private:
  void open_handle(bool created);
  void check_is_sluice_state();
  void switch_to_wal();
  void close();
  void harden();
  void apply_pragmas();
  void refuse_second_statement(sqlite3_stmt* first, std::string_view tail, std::string_view sql);
  sqlite3* handle_ = nullptr;
  std::string path_;
  OpenOptions options_;
  int lock_fd_ = -1;
  std::unordered_map<std::string, std::unique_ptr<Statement>> statements_;
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

// The schema version recorded for `component`, or 0.
int schema_version(Database& database, std::string_view component,
                   std::string_view meta_table = "sluice_meta");

}  // namespace sluice::db
