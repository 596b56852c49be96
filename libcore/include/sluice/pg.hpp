// pg: PostgreSQL connections through libpq (docs/ARCHITECTURE.md, "State"). The only module
// that calls PQ* functions.
//
// libpq is loaded with dlopen("libpq.so.5") when the first connection is opened, never at
// start-up: it pulls in about twenty shared libraries, which SQLite users must not pay for.
// Statements are sent unnamed with their parameters as text (PQexecParams), so a connection
// works behind pgbouncer in transaction pooling: no named prepared statements, no session
// state. Every failure throws sluice::Error with the shared exit statuses: the server cannot
// be reached or libpq is missing 69; a lock, statement or serialization timeout, a deadlock
// or a connection lost mid-transaction 75; permission or authentication refused 73; a
// violated constraint 65 (as db::ConstraintViolation); bad data 65; anything else 70.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "sluice/timeutil.hpp"

namespace sluice::pg {

// Whether `location` names a PostgreSQL server (a postgresql:// or postgres:// URL) rather
// than a state file.
bool is_url(std::string_view location);

// `url` without its password, for messages. (A URL given on a command line must not carry
// one: see check_no_password.)
std::string url_for_messages(std::string_view url);

// Refuses (Error(2)) a URL that carries a password, in its user part or as password=: the
// command line is visible to every user of the host. Passwords belong in ~/.pgpass or a
// service file.
void check_no_password(std::string_view url, std::string_view option);

// Whether this process can load libpq: false in a fully static executable (backoff's, for
// its start-up time), which has no dynamic loader. Such a tool re-executes its dynamically
// linked twin for a server (cli::state_target).
bool can_load_libpq();

// One parameter of a statement: its text, or SQL NULL.
using Param = std::optional<std::string>;

// The rows of a statement's result, as text.
class Result {
 public:
  Result() = default;
  ~Result();
  Result(Result&& other) noexcept;
  Result& operator=(Result&& other) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  [[nodiscard]] int rows() const;
  [[nodiscard]] int columns() const;
  [[nodiscard]] bool is_null(int row, int column) const;
  // Valid while the Result lives.
  [[nodiscard]] std::string_view text(int row, int column) const;
  // The column's type, as PostgreSQL's type OID (20 is int8, 701 float8, 17 bytea, ...).
  [[nodiscard]] unsigned type(int column) const;
  // Rows an INSERT, UPDATE or DELETE changed (0 for other statements).
  [[nodiscard]] std::int64_t changed() const;

 private:
  friend class Connection;
  explicit Result(void* handle) : handle_(handle) {}
  void* handle_ = nullptr;  // PGresult
};

class Connection {
 public:
  // Connects to `url` (passed to libpq unchanged, so host=/path, service=, sslmode,
  // target_session_attrs and options all work). `busy_timeout` bounds the connection attempt
  // and, per transaction, how long a statement waits for a lock (SET LOCAL lock_timeout).
  Connection(const std::string& url, Duration busy_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with $1..$N bound to `params`.
  Result execute(std::string_view sql, std::span<const Param> params = {});
  // Runs one or more statements without parameters (schema scripts).
  void execute_script(std::string_view sql);

  // COPY ... FROM STDIN: copy_in starts it, copy_data sends rows in COPY's text format (any
  // number of whole or partial rows per call), copy_end finishes it and returns the rows
  // copied. A row the server refuses fails copy_end, like execute.
  void copy_in(std::string_view copy_sql);
  void copy_data(std::string_view rows);
  std::int64_t copy_end();
  // Ends a COPY in progress without its rows (the transaction is then failed: roll it back).
  void copy_abort() noexcept;

  // BEGIN (with the lock timeout for this transaction only), COMMIT, ROLLBACK. A COMMIT whose
  // outcome is unknown because the connection dropped throws Error(75): the caller's work
  // must be safe to run again. A repeatable-read transaction reads one snapshot throughout.
  enum class Isolation { read_committed, repeatable_read };
  void begin(Isolation isolation = Isolation::read_committed);
  void commit();
  void rollback() noexcept;
  void set_busy_timeout(Duration timeout) { busy_timeout_ = timeout; }

  // The server's version, e.g. 150018 for 15.18.
  [[nodiscard]] int server_version() const;
  [[nodiscard]] const std::string& url() const { return url_; }

 private:
  [[noreturn]] void fail(void* result, std::string_view sql) const;
  std::string copy_sql_;    // the COPY in progress, for messages
  void* handle_ = nullptr;  // PGconn
  std::string url_;
  Duration busy_timeout_;
};

}  // namespace sluice::pg
