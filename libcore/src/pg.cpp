#include "sluice/pg.hpp"

#include <dlfcn.h>
#include <libpq-fe.h>
#include <link.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "sluice/db.hpp"
#include "sluice/error.hpp"
#include "sluice/timeutil.hpp"

// The executable's dynamic section (declared by <link.h>): defined in every dynamically
// linked program, absent in a fully static one, where this weak reference stays null.
#pragma weak _DYNAMIC

namespace sluice::pg {

bool can_load_libpq() {
  return _DYNAMIC != nullptr;
}

namespace {

// The libpq functions sluice calls, resolved from libpq.so.5 on first use. Their types come
// from libpq-fe.h, so a mismatch is a compile error rather than a crash.
struct Library {
  decltype(&PQconnectdbParams) connectdb_params;
  decltype(&PQstatus) status;
  decltype(&PQerrorMessage) error_message;
  decltype(&PQfinish) finish;
  decltype(&PQexec) exec;
  decltype(&PQexecParams) exec_params;
  decltype(&PQresultStatus) result_status;
  decltype(&PQresultErrorField) result_error_field;
  decltype(&PQresultErrorMessage) result_error_message;
  decltype(&PQclear) clear;
  decltype(&PQntuples) ntuples;
  decltype(&PQnfields) nfields;
  decltype(&PQgetvalue) getvalue;
  decltype(&PQgetlength) getlength;
  decltype(&PQgetisnull) getisnull;
  decltype(&PQcmdTuples) cmd_tuples;
  decltype(&PQsetNoticeProcessor) set_notice_processor;
  decltype(&PQtransactionStatus) transaction_status;
  decltype(&PQserverVersion) server_version;
  decltype(&PQftype) ftype;
  decltype(&PQputCopyData) put_copy_data;
  decltype(&PQputCopyEnd) put_copy_end;
  decltype(&PQgetResult) get_result;
};

template <typename Function>
void resolve(void* handle, Function& target, const char* name) {
  target = reinterpret_cast<Function>(::dlsym(handle, name));
  if (target == nullptr) {
    throw Error(
        exit_code::unavailable,
        fmt::format("libpq.so.5 has no {}: install a libpq5 of PostgreSQL 10 or later", name));
  }
}

Library load_library() {
  // RTLD_LOCAL: libpq's own dependencies (OpenSSL, Kerberos, LDAP) stay out of the global
  // namespace, where they could shadow the libcrypto the rest of sluice links.
  void* handle = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    throw Error(exit_code::unavailable,
                fmt::format("cannot load libpq.so.5 for a postgresql:// state URL ({}): install "
                            "libpq5",
                            ::dlerror()));
  }
  Library library{};
  resolve(handle, library.connectdb_params, "PQconnectdbParams");
  resolve(handle, library.status, "PQstatus");
  resolve(handle, library.error_message, "PQerrorMessage");
  resolve(handle, library.finish, "PQfinish");
  resolve(handle, library.exec, "PQexec");
  resolve(handle, library.exec_params, "PQexecParams");
  resolve(handle, library.result_status, "PQresultStatus");
  resolve(handle, library.result_error_field, "PQresultErrorField");
  resolve(handle, library.result_error_message, "PQresultErrorMessage");
  resolve(handle, library.clear, "PQclear");
  resolve(handle, library.ntuples, "PQntuples");
  resolve(handle, library.nfields, "PQnfields");
  resolve(handle, library.getvalue, "PQgetvalue");
  resolve(handle, library.getlength, "PQgetlength");
  resolve(handle, library.getisnull, "PQgetisnull");
  resolve(handle, library.cmd_tuples, "PQcmdTuples");
  resolve(handle, library.set_notice_processor, "PQsetNoticeProcessor");
  resolve(handle, library.transaction_status, "PQtransactionStatus");
  resolve(handle, library.server_version, "PQserverVersion");
  resolve(handle, library.ftype, "PQftype");
  resolve(handle, library.put_copy_data, "PQputCopyData");
  resolve(handle, library.put_copy_end, "PQputCopyEnd");
  resolve(handle, library.get_result, "PQgetResult");
  return library;  // the handle stays open for the life of the process
}

const Library& libpq() {
  static const Library library = load_library();
  return library;
}

PGconn* connection_of(void* handle) {
  return static_cast<PGconn*>(handle);
}
PGresult* result_of(void* handle) {
  return static_cast<PGresult*>(handle);
}

// libpq ends its messages with a newline and sometimes spreads them over several lines.
std::string one_line(const char* message) {
  return single_line(message == nullptr ? "" : message);
}

// The exit status for a failed statement's SQLSTATE (docs/ARCHITECTURE.md, "Exit status").
struct StateClass {
  std::string_view prefix;  // an SQLSTATE or its two-character class
  int code;
};
constexpr std::array<StateClass, 12> state_classes{{
    {"40001", exit_code::temporary},      // serialization_failure
    {"40P01", exit_code::temporary},      // deadlock_detected
    {"55P03", exit_code::temporary},      // lock_not_available (lock_timeout)
    {"57014", exit_code::temporary},      // query_canceled (statement_timeout)
    {"57P", exit_code::temporary},        // the server is shutting down or restarting
    {"08", exit_code::temporary},         // the connection failed mid-statement
    {"53", exit_code::temporary},         // insufficient resources (too many connections)
    {"42501", exit_code::cannot_create},  // insufficient_privilege
    {"28", exit_code::cannot_create},     // invalid authorization
    {"23", exit_code::data},              // integrity constraint violation
    {"22", exit_code::data},              // data exception
    {"3D000", exit_code::no_input},       // the database does not exist
}};

int code_for_state(std::string_view state) {
  for (const StateClass& entry : state_classes) {
    if (state.starts_with(entry.prefix)) return entry.code;
  }
  return exit_code::internal;
}

// Why a statement that failed with `state` may succeed when run again, for the states that
// mean a concurrent transaction was in the way (all of them exit 75).
std::optional<std::string> busy_reason(std::string_view state, Duration busy_timeout) {
  if (state == "55P03") return fmt::format("waited {} for a lock", format_duration(busy_timeout));
  if (state == "40P01") return "a concurrent transaction deadlocked with this one";
  if (state == "40001") return "a concurrent transaction changed what this one read";
  return std::nullopt;
}

void ignore_notice(void*, const char*) {}

}  // namespace

bool is_url(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string url_for_messages(std::string_view url) {
  std::string text(url);
  std::size_t scheme = text.find("://");
  if (scheme == std::string::npos) return text;
  std::size_t authority = scheme + 3;
  std::size_t at = text.find('@', authority);
  std::size_t end = text.find_first_of("/?", authority);
  if (at == std::string::npos || (end != std::string::npos && at > end)) return text;
  std::size_t colon = text.find(':', authority);
  if (colon != std::string::npos && colon < at) text.replace(colon, at - colon, ":***");
  return text;
}

void check_no_password(std::string_view url, std::string_view option) {
  bool in_user_part = url_for_messages(url) != url;
  bool as_parameter = url.find("password=") != std::string_view::npos;
  if (in_user_part || as_parameter) {
    throw Error(exit_code::usage,
                fmt::format("{}: the URL carries a password, which every user of this host can "
                            "read on the command line; put it in ~/.pgpass or a service file",
                            option));
  }
}

Result::~Result() {
  if (handle_ != nullptr) libpq().clear(result_of(handle_));
}

Result::Result(Result&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}

Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) libpq().clear(result_of(handle_));
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

int Result::rows() const {
  return handle_ == nullptr ? 0 : libpq().ntuples(result_of(handle_));
}

int Result::columns() const {
  return handle_ == nullptr ? 0 : libpq().nfields(result_of(handle_));
}

bool Result::is_null(int row, int column) const {
  return libpq().getisnull(result_of(handle_), row, column) != 0;
}

std::string_view Result::text(int row, int column) const {
  const Library& library = libpq();
  return {library.getvalue(result_of(handle_), row, column),
          static_cast<std::size_t>(library.getlength(result_of(handle_), row, column))};
}

unsigned Result::type(int column) const {
  return libpq().ftype(result_of(handle_), column);
}

std::int64_t Result::changed() const {
  const char* count = handle_ == nullptr ? "" : libpq().cmd_tuples(result_of(handle_));
  std::int64_t value = 0;
  for (const char* digit = count; *digit >= '0' && *digit <= '9'; ++digit) {
    value = value * 10 + (*digit - '0');
  }
  return value;
}

Connection::Connection(const std::string& url, Duration busy_timeout)
    : url_(url), busy_timeout_(busy_timeout) {
  const Library& library = libpq();
  // The URL comes last, so that its own connect_timeout or application_name wins.
  auto seconds =
      std::max<std::int64_t>(2, std::chrono::ceil<std::chrono::seconds>(busy_timeout).count());
  std::string timeout = std::to_string(seconds);
  std::array<const char*, 4> keywords{"connect_timeout", "fallback_application_name", "dbname",
                                      nullptr};
  std::array<const char*, 4> values{timeout.c_str(), "sluice", url.c_str(), nullptr};
  handle_ = library.connectdb_params(keywords.data(), values.data(), 1);
  if (handle_ == nullptr)
    throw Error(exit_code::unavailable, "libpq could not allocate a connection");
  if (library.status(connection_of(handle_)) != CONNECTION_OK) {
    std::string message = one_line(library.error_message(connection_of(handle_)));
    library.finish(connection_of(handle_));
    handle_ = nullptr;
    bool refused = message.find("password authentication failed") != std::string::npos ||
                   message.find("permission denied") != std::string::npos ||
                   message.find("no pg_hba.conf entry") != std::string::npos;
    throw Error(refused ? exit_code::cannot_create : exit_code::unavailable,
                fmt::format("cannot connect to {}: {}", url_for_messages(url), message));
  }
  // Notices (e.g. "relation already exists, skipping") are not the user's business.
  library.set_notice_processor(connection_of(handle_), ignore_notice, nullptr);
}

Connection::~Connection() {
  if (handle_ != nullptr) libpq().finish(connection_of(handle_));
}

int Connection::server_version() const {
  return libpq().server_version(connection_of(handle_));
}

void Connection::fail(void* result, std::string_view sql) const {
  const Library& library = libpq();
  // Copied out: both point into the result, which is freed before the throw.
  const char* field =
      result == nullptr ? nullptr : library.result_error_field(result_of(result), PG_DIAG_SQLSTATE);
  const std::string state = field == nullptr ? "" : field;
  std::string message =
      one_line(result == nullptr ? library.error_message(connection_of(handle_))
                                 : library.result_error_message(result_of(result)));
  if (result != nullptr) library.clear(result_of(result));
  // No SQLSTATE: libpq itself failed, which means the connection is gone.
  int code = state.empty() ? exit_code::temporary : code_for_state(state);
  if (auto reason = busy_reason(state, busy_timeout_)) {
    // What SQLite's busy state file says: the statement is of no use to the reader.
    throw Error(code, fmt::format("state '{}' is busy ({}); try again later",
                                  url_for_messages(url_), *reason));
  }
  std::string where = fmt::format("{}: {}", url_for_messages(url_), single_line(sql));
  if (state.starts_with("23")) {
    throw db::ConstraintViolation(code, message, where);
  }
  throw Error(code, message, where);
}

Result Connection::execute(std::string_view sql, std::span<const Param> params) {
  const Library& library = libpq();
  std::string text(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& param : params) values.push_back(param ? param->c_str() : nullptr);
  PGresult* result =
      library.exec_params(connection_of(handle_), text.c_str(), static_cast<int>(values.size()),
                          nullptr, values.data(), nullptr, nullptr, 0);
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : library.result_status(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(result, sql);
  return Result(result);
}

void Connection::execute_script(std::string_view sql) {
  const Library& library = libpq();
  std::string text(sql);
  PGresult* result = library.exec(connection_of(handle_), text.c_str());
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : library.result_status(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(result, sql);
  library.clear(result);
}

void Connection::copy_in(std::string_view copy_sql) {
  const Library& library = libpq();
  std::string text(copy_sql);
  PGresult* result = library.exec(connection_of(handle_), text.c_str());
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : library.result_status(result);
  if (status != PGRES_COPY_IN) fail(result, copy_sql);
  library.clear(result);
  copy_sql_ = std::move(text);
}

void Connection::copy_data(std::string_view rows) {
  if (rows.empty()) return;
  // Blocking connection: 1 means queued; -1 means the connection failed.
  if (libpq().put_copy_data(connection_of(handle_), rows.data(), static_cast<int>(rows.size())) !=
      1) {
    fail(nullptr, copy_sql_);
  }
}

std::int64_t Connection::copy_end() {
  const Library& library = libpq();
  if (library.put_copy_end(connection_of(handle_), nullptr) != 1) fail(nullptr, copy_sql_);
  PGresult* result = library.get_result(connection_of(handle_));
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : library.result_status(result);
  if (status != PGRES_COMMAND_OK) {
    // Drain what follows the failed result, so that the connection is ready for ROLLBACK.
    while (PGresult* rest = library.get_result(connection_of(handle_))) library.clear(rest);
    fail(result, copy_sql_);
  }
  std::int64_t rows = Result(result).changed();
  while (PGresult* rest = library.get_result(connection_of(handle_))) library.clear(rest);
  return rows;
}

void Connection::copy_abort() noexcept {
  const Library& library = libpq();
  library.put_copy_end(connection_of(handle_), "abandoned by the client");
  while (PGresult* rest = library.get_result(connection_of(handle_))) library.clear(rest);
}

void Connection::begin(Isolation isolation) {
  auto milliseconds = std::chrono::ceil<std::chrono::milliseconds>(busy_timeout_).count();
  // SET LOCAL lasts for this transaction only: nothing stays on a pooled server connection.
  execute_script(
      fmt::format("BEGIN{}; SET LOCAL lock_timeout = {};",
                  isolation == Isolation::repeatable_read ? " ISOLATION LEVEL REPEATABLE READ" : "",
                  std::max<long long>(1, milliseconds)));
}

void Connection::commit() {
  const Library& library = libpq();
  PGresult* result = library.exec(connection_of(handle_), "COMMIT");
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : library.result_status(result);
  if (status == PGRES_COMMAND_OK) {
    library.clear(result);
    return;
  }
  if (library.status(connection_of(handle_)) != CONNECTION_OK) {
    if (result != nullptr) library.clear(result);
    throw Error(exit_code::temporary,
                fmt::format("the connection to {} was lost during COMMIT, so whether the "
                            "transaction was committed is unknown; running the command again is "
                            "safe",
                            url_for_messages(url_)));
  }
  fail(result, "COMMIT");
}

void Connection::rollback() noexcept {
  const Library& library = libpq();
  if (library.transaction_status(connection_of(handle_)) == PQTRANS_IDLE) return;
  PGresult* result = library.exec(connection_of(handle_), "ROLLBACK");
  if (result != nullptr) library.clear(result);
}

}  // namespace sluice::pg
