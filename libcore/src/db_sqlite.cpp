#include "db_backend.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/signals.hpp"

namespace sluice::db {
namespace {

// PRAGMA application_id of every sluice state file: "slce".
constexpr std::int64_t sluice_application_id = 0x736c6365;

// What messages call the file: a sluice tool's own "state file", or, for a tool working in
// the user's own SQLite file (reindex), that "database".
std::string_view noun_of(const OpenOptions& options) {
  return options.foreign_file ? "database" : "state file";
}

int exit_code_for(int sqlite_code, bool must_exist) {
  switch (sqlite_code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return exit_code::temporary;
    case SQLITE_CANTOPEN:
      return must_exist ? exit_code::no_input : exit_code::cannot_create;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return exit_code::data;
    case SQLITE_IOERR:
    case SQLITE_FULL:
      return exit_code::io;
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return exit_code::cannot_create;
    default:
      return exit_code::internal;
  }
}

// errno values that mean the device or the file system failed, not the data.
bool is_device_errno(int error) {
  return error == EIO || error == ENOSPC || error == EDQUOT || error == EROFS;
}

void on_alarm(int) {}

// Takes an exclusive flock, waiting at most `timeout`. A repeating interval timer interrupts
// the blocking call so that the deadline and termination signals are checked; blocking
// (rather than polling with LOCK_NB) keeps the kernel's FIFO-like fairness between writers.
//
// The no-op SIGALRM handler is installed once and stays: restoring the previous (default,
// fatal) action while another thread's timer still runs would let its next tick kill the
// process. Child processes get the default action back (proc).
bool lock_with_timeout(int fd, Duration timeout) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
  if (errno != EWOULDBLOCK) return false;
  static const bool handler_installed = [] {
    struct sigaction action {};
    action.sa_handler = on_alarm;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGALRM, &action, nullptr) == 0;
  }();
  static_cast<void>(handler_installed);
  itimerval tick{{0, 50'000}, {0, 50'000}}, stopped{};
  setitimer(ITIMER_REAL, &tick, nullptr);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool locked = false;
  for (;;) {
    if (::flock(fd, LOCK_EX) == 0) {
      locked = true;
      break;
    }
    if (errno != EINTR || pending_signal() != 0) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      errno = EWOULDBLOCK;
      break;
    }
  }
  int saved = errno;
  setitimer(ITIMER_REAL, &stopped, nullptr);
  errno = saved;
  return locked;
}

}  // namespace

// ---------------------------------------------------------------- Statement

SqliteStatement::~SqliteStatement() {
  sqlite3_finalize(handle_);
}

void SqliteStatement::bind(int index, std::int64_t value) {
  int code = sqlite3_bind_int64(handle_, index, value);
  if (code != SQLITE_OK) connection_.fail(code, "bind");
}

void SqliteStatement::bind(int index, std::string_view text) {
  // An empty view may have a null data pointer, which SQLite would bind as NULL, not ''.
  int code = sqlite3_bind_text64(handle_, index, text.empty() ? "" : text.data(), text.size(),
                                 SQLITE_TRANSIENT, SQLITE_UTF8);
  if (code != SQLITE_OK) connection_.fail(code, "bind");
}

void SqliteStatement::bind(int index, std::nullopt_t) {
  int code = sqlite3_bind_null(handle_, index);
  if (code != SQLITE_OK) connection_.fail(code, "bind");
}

void SqliteStatement::bind_blob(int index, std::string_view bytes) {
  // A zero-length blob must still be a blob, not NULL: pass a valid pointer.
  static const char empty = 0;
  int code = sqlite3_bind_blob64(handle_, index, bytes.empty() ? &empty : bytes.data(),
                                 bytes.size(), SQLITE_TRANSIENT);
  if (code != SQLITE_OK) connection_.fail(code, "bind");
}

void SqliteStatement::bind_double(int index, double value) {
  int code = sqlite3_bind_double(handle_, index, value);
  if (code != SQLITE_OK) connection_.fail(code, "bind");
}

bool SqliteStatement::step() {
  int code = sqlite3_step(handle_);
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  sqlite3_reset(handle_);
  connection_.fail(code, sqlite3_sql(handle_));
}

void SqliteStatement::reset() {
  sqlite3_reset(handle_);
  sqlite3_clear_bindings(handle_);
}

bool SqliteStatement::is_null(int column) const {
  return sqlite3_column_type(handle_, column) == SQLITE_NULL;
}

std::int64_t SqliteStatement::integer(int column) const {
  return sqlite3_column_int64(handle_, column);
}

std::string SqliteStatement::text(int column) const {
  const auto* text = sqlite3_column_text(handle_, column);
  int size = sqlite3_column_bytes(handle_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::string_view SqliteStatement::blob(int column) const {
  const void* data = sqlite3_column_blob(handle_, column);
  int size = sqlite3_column_bytes(handle_, column);
  if (data == nullptr) return {};
  return std::string_view(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

Value SqliteStatement::value(int column) const {
  switch (sqlite3_column_type(handle_, column)) {
    case SQLITE_INTEGER:
      return integer(column);
    case SQLITE_FLOAT:
      return sqlite3_column_double(handle_, column);
    case SQLITE_TEXT:
      return text(column);
    case SQLITE_BLOB:
      return Blob{std::string(blob(column))};
    default:
      return std::monostate{};
  }
}

int SqliteStatement::column_count() const {
  return sqlite3_column_count(handle_);
}

// ---------------------------------------------------------------- Database

namespace {

// New state files are made 0600; one that existed before (made by `touch`, or by someone
// else) keeps its mode and owner, which decide who may read or change the state.
void check_existing_file(const std::string& path, const struct stat& info) {
  bool ours = info.st_uid == ::geteuid();
  if (ours && info.st_size == 0 && (info.st_mode & 077) != 0) {
    ::chmod(path.c_str(), 0600);  // an empty placeholder: as good as a new file
    return;
  }
  if (!ours) {
    warn(fmt::format("state file '{}' belongs to another user (uid {})", path, info.st_uid));
  }
  if ((info.st_mode & 022) != 0) {
    warn(fmt::format("state file '{}' may be written by others (mode {:04o}): chmod 600 it", path,
                     info.st_mode & 07777));
  }
}

}  // namespace

SqliteConnection::SqliteConnection(const std::string& path, const OpenOptions& options)
    : path_(path), options_(options) {
  bool created = false;
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (errno != ENOENT) {
      throw Error(
          options.must_exist ? exit_code::no_input : exit_code::cannot_create,
          fmt::format("cannot open {} '{}': {}", noun_of(options), path, std::strerror(errno)));
    }
    if (options.must_exist) {
      throw Error(exit_code::no_input,
                  fmt::format("{} '{}' does not exist", noun_of(options), path));
    }
    // Create the file ourselves so that it (and the -wal/-shm files SQLite derives from it)
    // gets mode 0600.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
      throw Error(
          exit_code::cannot_create,
          fmt::format("cannot create {} '{}': {}", noun_of(options), path, std::strerror(errno)));
    }
    if (fd >= 0) {
      ::close(fd);
      created = true;
    }
  } else if (!options.foreign_file) {
    check_existing_file(path, info);
  }
  open_handle(created);
}

void SqliteConnection::open_handle(bool created) {
  int code = sqlite3_open_v2(path_.c_str(), &handle_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
  if (code != SQLITE_OK) {
    std::string message = handle_ != nullptr ? sqlite3_errmsg(handle_) : sqlite3_errstr(code);
    sqlite3_close(handle_);
    handle_ = nullptr;
    throw Error(exit_code_for(code, options_.must_exist && !created),
                fmt::format("cannot open {} '{}': {}", noun_of(options_), path_, message));
  }
  sqlite3_extended_result_codes(handle_, 1);
  try {
    apply_pragmas();
  } catch (...) {
    close();  // the destructor does not run when the constructor throws
    throw;
  }
}

void SqliteConnection::close() {
  statements_.clear();
  sqlite3_close_v2(handle_);
  handle_ = nullptr;
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

// Whatever schema a file holds (reindex works on the user's own database, which may come from
// someone else), it cannot make this connection damage the file on purpose (defensive mode: no
// writable_schema, no writes to virtual tables' shadow tables), call a function with side
// effects from a view or a trigger (trusted_schema off), or reach the two-argument
// fts3_tokenizer(), which takes a pointer.
void SqliteConnection::harden() {
  int ignored = 0;
  sqlite3_db_config(handle_, SQLITE_DBCONFIG_DEFENSIVE, 1, &ignored);
  sqlite3_db_config(handle_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &ignored);
  sqlite3_db_config(handle_, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, &ignored);
}

void SqliteConnection::apply_pragmas() {
  harden();
  // The busy timeout must be in place before the switch to WAL: concurrent first opens
  // otherwise fail at once with SQLITE_BUSY.
  set_busy_timeout(options_.busy_timeout);
  // Before the switch to WAL, which rewrites the header of a file that may not be ours.
  if (!options_.foreign_file) {
    check_is_sluice_state();
    switch_to_wal();
  }
  execute_script(options_.synchronous == Synchronous::full ? "PRAGMA synchronous=FULL"
                                                           : "PRAGMA synchronous=NORMAL");
  execute_script("PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=67108864");
  if (options_.cache_kib > 0)
    execute_script(fmt::format("PRAGMA cache_size=-{}", options_.cache_kib));
  if (!options_.checkpoint_on_close) {
    int ignored = 0;
    sqlite3_db_config(handle_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &ignored);
  }
}

void SqliteConnection::switch_to_wal() {
  // SQLite answers SQLITE_BUSY at once, without the busy handler, when this connection saw the
  // file in rollback mode and another process switched it to WAL and is writing: seen with two
  // processes opening a new file together. A second try reads the WAL header and succeeds, so
  // retry (briefly sleeping) for as long as the busy timeout allows.
  const auto give_up_at = std::chrono::steady_clock::now() + options_.busy_timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    try {
      execute_script("PRAGMA journal_mode=WAL");
      return;
    } catch (const Error& error) {
      if (error.code() != exit_code::temporary ||
          std::chrono::steady_clock::now() + pause > give_up_at) {
        throw;
      }
    }
    if (!sleep_unless_interrupted(pause)) throw_if_interrupted();
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

void SqliteConnection::check_is_sluice_state() {
  // Both reads in one transaction: another process may be creating the schema right now, and
  // seeing its tables without its application_id would make our own file look foreign.
  begin_read();
  struct EndRead {
    SqliteConnection& connection;
    ~EndRead() { connection.end_read(); }
  } end_read{*this};
  std::int64_t application_id = 0;
  {
    auto query = bind_all(statement("PRAGMA application_id"));
    if (query.step()) application_id = query->integer(0);
  }
  if (application_id == sluice_application_id) return;
  auto query = bind_all(statement("SELECT count(*) FROM sqlite_schema"));
  bool empty = query.step() && query->integer(0) == 0;
  if (application_id == 0 && empty) return;
  throw Error(exit_code::data,
              fmt::format("'{}' is not a sluice state file (it is an SQLite database with other "
                          "content); refusing to use it",
                          path_));
}

SqliteConnection::~SqliteConnection() {
  close();
}

// A statement is one statement: text after it that SQLite would run as a second one (SQL
// spliced from stored or user text, "x; DROP TABLE t") is refused, not silently ignored.
// Whitespace and comments after the first statement are fine.
void SqliteConnection::refuse_second_statement(sqlite3_stmt* first, std::string_view tail,
                                               std::string_view sql) {
  sqlite3_stmt* second = nullptr;
  int code = SQLITE_OK;
  if (!tail.empty()) {
    code =
        sqlite3_prepare_v2(handle_, tail.data(), static_cast<int>(tail.size()), &second, nullptr);
  }
  sqlite3_finalize(second);
  if (code == SQLITE_OK && second == nullptr) return;
  sqlite3_finalize(first);
  throw Error(exit_code::data, fmt::format("'{}' is more than one SQL statement", sql));
}

Statement& SqliteConnection::statement(std::string_view sql) {
  auto found = statements_.find(std::string(sql));
  if (found != statements_.end()) return *found->second;
  sqlite3_stmt* handle = nullptr;
  const char* tail = nullptr;
  int code = sqlite3_prepare_v3(handle_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &handle, &tail);
  if (code != SQLITE_OK) fail(code, sql);
  refuse_second_statement(handle, sql.substr(static_cast<std::size_t>(tail - sql.data())), sql);
  auto& slot = statements_[std::string(sql)];
  slot = std::make_unique<SqliteStatement>(*this, handle);
  return *slot;
}

void SqliteConnection::execute_script(std::string_view sql) {
  char* message = nullptr;
  int code = sqlite3_exec(handle_, std::string(sql).c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);  // fail() reads the same text from the connection
  if (code != SQLITE_OK) fail(sqlite3_extended_errcode(handle_), sql);
}

namespace {

std::string column_text(const char* text) {
  return text == nullptr ? std::string() : std::string(text);
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The authorizer of execute_creating_script. SQLite asks it at prepare time for each action
// of each statement, including the statements a virtual table's constructor runs (FTS5
// creates and fills its shadow tables), so tables the script itself created may be written.
struct CreatingOnly {
  std::set<std::string, std::less<>> created;
  std::string refused;
  static int authorize(void* self, int action, const char* first, const char* second, const char*,
                       const char*) {
    return static_cast<CreatingOnly*>(self)->decide(action, column_text(first),
                                                    column_text(second));
  }
  int decide(int action, const std::string& first, const std::string& second) {
    switch (action) {
      case SQLITE_CREATE_TABLE:
        created.insert(lowercase(first));
        return SQLITE_OK;
      case SQLITE_CREATE_INDEX:
      case SQLITE_CREATE_VTABLE:
      case SQLITE_REINDEX:  // asked when an index is built
      case SQLITE_SELECT:
      case SQLITE_READ:
      case SQLITE_FUNCTION:
      case SQLITE_RECURSIVE:
        return SQLITE_OK;
      case SQLITE_INSERT:
      case SQLITE_UPDATE:
      case SQLITE_DELETE:
        if (is_schema_table(first) || created.contains(lowercase(first))) return SQLITE_OK;
        return deny(fmt::format("a write to table '{}'", first));
      case SQLITE_PRAGMA:
        if (is_schema_query(first, second)) return SQLITE_OK;
        return deny(fmt::format("PRAGMA {}", first));
      default:
        return deny(
            fmt::format("a statement other than CREATE TABLE or CREATE INDEX (SQLite "
                        "action {}{}{})",
                        action, first.empty() ? "" : " on ", first.empty() ? second : first));
    }
  }
  int deny(std::string what) {
    if (refused.empty()) refused = std::move(what);
    return SQLITE_DENY;
  }
  // The read-only PRAGMAs a virtual table's constructor asks (FTS5 reads data_version).
  static bool is_schema_query(const std::string& pragma, const std::string& value) {
    static const std::set<std::string, std::less<>> reading_a_table{
        "table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list"};
    std::string name = lowercase(pragma);
    if (reading_a_table.contains(name)) return true;
    return value.empty() && (name == "data_version" || name == "page_size");
  }
  static bool is_schema_table(const std::string& name) {
    std::string lowered = lowercase(name);
    return lowered == "sqlite_master" || lowered == "sqlite_schema" || lowered == "sqlite_sequence";
  }
};

struct ShapeCollector {
  Database::SelectShape* shape;
  static int authorize(void* self, int action, const char* first, const char* second, const char*,
                       const char*) {
    auto& shape = *static_cast<ShapeCollector*>(self)->shape;
    if (action == SQLITE_READ && first != nullptr) shape.tables_read.insert(first);
    if (action == SQLITE_SELECT) ++shape.selects;
    if (action == SQLITE_FUNCTION && second != nullptr) shape.functions.insert(lowercase(second));
    return SQLITE_OK;
  }
};

}  // namespace

void SqliteConnection::execute_creating_script(std::string_view sql) {
  CreatingOnly authorizer;
  sqlite3_set_authorizer(handle_, &CreatingOnly::authorize, &authorizer);
  char* message = nullptr;
  int code = sqlite3_exec(handle_, std::string(sql).c_str(), nullptr, nullptr, &message);
  std::string error_text = message != nullptr ? message : "";
  sqlite3_free(message);
  sqlite3_set_authorizer(handle_, nullptr, nullptr);
  if (!authorizer.refused.empty()) {
    throw Error(exit_code::data, fmt::format("it may only create tables and indexes, and it has {}",
                                             authorizer.refused));
  }
  // The script is the user's: SQLite's plain SQLITE_ERROR (a syntax error, an unknown
  // collation or tokenizer) is a mistake in it, not in this program.
  if ((code & 0xff) == SQLITE_ERROR) {
    throw Error(exit_code::data, fmt::format("{} (in: {})", error_text, single_line(sql)));
  }
  if (code != SQLITE_OK) fail(sqlite3_extended_errcode(handle_), sql);
}

Database::SelectShape SqliteConnection::describe_select(std::string_view sql) {
  Database::SelectShape shape;
  ShapeCollector collector{&shape};
  sqlite3_set_authorizer(handle_, &ShapeCollector::authorize, &collector);
  sqlite3_stmt* handle = nullptr;
  const char* rest = nullptr;
  int code = sqlite3_prepare_v2(handle_, sql.data(), static_cast<int>(sql.size()), &handle, &rest);
  sqlite3_set_authorizer(handle_, nullptr, nullptr);
  if (code != SQLITE_OK) {
    throw Error(exit_code::data, sqlite3_errmsg(handle_));
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owned(handle, sqlite3_finalize);
  std::string_view trailing(rest, static_cast<std::size_t>(sql.data() + sql.size() - rest));
  bool only_space = std::all_of(trailing.begin(), trailing.end(),
                                [](unsigned char c) { return std::isspace(c) != 0 || c == ';'; });
  if (handle == nullptr || !only_space || sqlite3_stmt_readonly(handle) == 0) {
    throw Error(exit_code::data, "not a single SELECT statement");
  }
  for (int column = 0; column < sqlite3_column_count(handle); ++column) {
    shape.columns.push_back({column_text(sqlite3_column_name(handle, column)),
                             column_text(sqlite3_column_table_name(handle, column)),
                             column_text(sqlite3_column_origin_name(handle, column))});
  }
  return shape;
}

bool SqliteConnection::is_deterministic_scalar(std::string_view name) {
  constexpr std::int64_t deterministic_flag = SQLITE_DETERMINISTIC;
  auto found = bind_all(
      statement("SELECT count(*) FROM pragma_function_list WHERE name = lower(?1) AND type = 's' "
                "AND (flags & ?2) = 0"),
      name, deterministic_flag);
  auto declared =
      bind_all(statement("SELECT count(*) FROM pragma_function_list WHERE name = lower(?1)"), name);
  // Non-deterministic if any overload is; unknown names (user functions the app registers
  // on its own connections) cannot be judged here, so they are refused too.
  bool varies = found.step() && found->integer(0) > 0;
  bool known = declared.step() && declared->integer(0) > 0;
  if (!known || varies) return false;
  auto aggregate = bind_all(
      statement("SELECT count(*) FROM pragma_function_list WHERE name = lower(?1) AND type <> 's'"),
      name);
  return !(aggregate.step() && aggregate->integer(0) > 0);
}

namespace {

// FNV-1a over the values' storage classes and bytes, then a splitmix64 finish so that sums of
// row hashes do not cancel in structured ways.
struct RowHash {
  std::uint64_t state = 14695981039346656037ULL;
  void add(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t index = 0; index < size; ++index) {
      state = (state ^ bytes[index]) * 1099511628211ULL;
    }
  }
  [[nodiscard]] std::uint64_t finish() const {
    std::uint64_t mixed = state + 0x9e3779b97f4a7c15ULL;
    mixed = (mixed ^ (mixed >> 30)) * 0xbf58476d1ce4e5b9ULL;
    mixed = (mixed ^ (mixed >> 27)) * 0x94d049bb133111ebULL;
    return mixed ^ (mixed >> 31);
  }
};

void add_value(RowHash& hash, sqlite3_value* value) {
  auto type = static_cast<unsigned char>(sqlite3_value_type(value));
  hash.add(&type, 1);
  if (type == SQLITE_INTEGER) {
    std::int64_t number = sqlite3_value_int64(value);
    hash.add(&number, sizeof number);
  } else if (type == SQLITE_FLOAT) {
    double number = sqlite3_value_double(value);
    hash.add(&number, sizeof number);
  } else if (type == SQLITE_TEXT || type == SQLITE_BLOB) {
    const void* bytes = type == SQLITE_TEXT ? static_cast<const void*>(sqlite3_value_text(value))
                                            : sqlite3_value_blob(value);
    auto size = static_cast<std::uint64_t>(sqlite3_value_bytes(value));
    hash.add(&size, sizeof size);  // so that ("ab","c") and ("a","bc") differ
    if (size > 0) hash.add(bytes, size);
  }
}

void checksum_step(sqlite3_context* context, int count, sqlite3_value** values) {
  auto* sum =
      static_cast<std::uint64_t*>(sqlite3_aggregate_context(context, sizeof(std::uint64_t)));
  if (sum == nullptr) {
    sqlite3_result_error_nomem(context);
    return;
  }
  RowHash hash;
  for (int index = 0; index < count; ++index) add_value(hash, values[index]);
  *sum += hash.finish();
}

void checksum_final(sqlite3_context* context) {
  auto* sum = static_cast<std::uint64_t*>(sqlite3_aggregate_context(context, 0));
  sqlite3_result_int64(context, std::bit_cast<std::int64_t>(sum == nullptr ? 0 : *sum));
}

}  // namespace

void SqliteConnection::add_checksum_function() {
  int code = sqlite3_create_function_v2(handle_, "sluice_checksum", -1,
                                        SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                        nullptr, nullptr, checksum_step, checksum_final, nullptr);
  if (code != SQLITE_OK) fail(code, "sluice_checksum");
}

void SqliteConnection::set_busy_timeout(Duration timeout) {
  options_.busy_timeout = timeout;
  auto milliseconds = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
  sqlite3_busy_timeout(handle_,
                       static_cast<int>(std::min<std::int64_t>(milliseconds.count(), INT32_MAX)));
}

int SqliteConnection::changes() const {
  return sqlite3_changes(handle_);
}

void SqliteConnection::fail(int code, std::string_view what) const {
  std::string message = sqlite3_errmsg(handle_);
  int exit_status = exit_code_for(code, options_.must_exist);
  // SQLite reports a read that failed with EIO as "database disk image is malformed"
  // (SQLITE_IOERR_CORRUPTFS becomes SQLITE_CORRUPT). The errno of the state file's last failed
  // call tells a failing disk (74) from a damaged file (65).
  if (exit_status == exit_code::data) {
    int file_errno = 0;
    sqlite3_file_control(handle_, "main", SQLITE_FCNTL_LAST_ERRNO, &file_errno);
    if (is_device_errno(file_errno)) {
      throw Error(exit_code::io, fmt::format("{} '{}': I/O error: {}", noun_of(options_), path_,
                                             std::strerror(file_errno)));
    }
  }
  if ((code & 0xff) == SQLITE_CONSTRAINT) throw ConstraintViolation(exit_code::data, message);
  if (exit_status == exit_code::temporary) {
    throw Error(exit_status,
                fmt::format("{} '{}' is busy (waited {}); try again later", noun_of(options_),
                            path_, format_duration(options_.busy_timeout)));
  }
  if (exit_status == exit_code::internal) {
    throw Error(exit_status, fmt::format("{} '{}': {} (in: {}); this is a bug", noun_of(options_),
                                         path_, message, single_line(what)));
  }
  throw Error(exit_status, fmt::format("{} '{}': {}", noun_of(options_), path_, message));
}

std::string SqliteConnection::side_file(std::string_view suffix) const {
  return std::string(sqlite3_db_filename(handle_, "main")).append(suffix);
}

void SqliteConnection::lock_writers() {
  if (!options_.serialize_writers) return;
  if (lock_fd_ < 0) {
    std::string lock_path = side_file(".lock");
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock_fd_ < 0) {
      throw Error(exit_code::cannot_create,
                  fmt::format("cannot open lock file '{}': {}", lock_path, std::strerror(errno)));
    }
  }
  if (!lock_with_timeout(lock_fd_, options_.busy_timeout)) {
    throw_if_interrupted();
    throw Error(exit_code::temporary,
                fmt::format("{} '{}' is busy (waited {} for the writer lock); try again later",
                            noun_of(options_), path_, format_duration(options_.busy_timeout)));
  }
}

void SqliteConnection::unlock_writers() {
  if (lock_fd_ >= 0) ::flock(lock_fd_, LOCK_UN);
}

std::string_view SqliteConnection::noun() const {
  return noun_of(options_);
}

void SqliteConnection::run(std::string_view sql) {
  auto query = bind_all(statement(sql));
  while (query.step()) {
  }
}

void SqliteConnection::begin_write() {
  lock_writers();
  try {
    run("BEGIN IMMEDIATE");
  } catch (...) {
    unlock_writers();
    throw;
  }
  writing_ = true;
}

void SqliteConnection::begin_read() {
  run("BEGIN");
}

void SqliteConnection::end_read() noexcept {
  try {
    run("COMMIT");
  } catch (const Error&) {
  }
}

void SqliteConnection::commit() {
  run("COMMIT");
  if (writing_) {
    writing_ = false;
    unlock_writers();
  }
}

void SqliteConnection::rollback() noexcept {
  try {
    if (sqlite3_get_autocommit(handle_) == 0) run("ROLLBACK");
  } catch (const Error&) {
    // SQLite may have rolled the transaction back itself after an I/O error.
  }
  if (writing_) {
    writing_ = false;
    unlock_writers();
  }
}

bool SqliteConnection::has_table(std::string_view name) {
  auto query =
      bind_all(statement("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1"), name);
  return query.step();
}

void SqliteConnection::prepare_migration(std::string_view meta_table, MarkState mark) {
  // The write transaction already serialises migrations: SQLite has one writer at a time.
  if (mark == MarkState::yes) {
    execute_script(fmt::format("PRAGMA application_id={}", sluice_application_id));
  }
  execute_script(
      fmt::format("CREATE TABLE IF NOT EXISTS {} (component TEXT PRIMARY KEY, version INTEGER NOT "
                  "NULL) STRICT",
                  quote_identifier(meta_table)));
}

SqliteConnection& sqlite_of(Connection& connection) {
  if (connection.backend() != Backend::sqlite) {
    throw Error(
        exit_code::internal,
        fmt::format("'{}' is not an SQLite file; this operation needs one", connection.location()));
  }
  return static_cast<SqliteConnection&>(connection);
}

}  // namespace sluice::db
