// The PostgreSQL backend of db::Database: the same statements and transactions over a
// pg::Connection. Statements are sent unnamed with text parameters when first stepped, so the
// backend works behind pgbouncer in transaction pooling.
#include <array>
#include <charconv>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "db_backend.hpp"
#include "sluice/error.hpp"
#include "sluice/pg.hpp"

namespace sluice::db {

namespace {

// PostgreSQL type OIDs of the columns value() tells apart.
constexpr unsigned bytea_type = 17;
constexpr unsigned int8_type = 20;
constexpr unsigned int2_type = 21;
constexpr unsigned int4_type = 23;
constexpr unsigned float4_type = 700;
constexpr unsigned float8_type = 701;
constexpr unsigned bool_type = 16;

// `sql` with SQLite's placeholders (?N, or ? numbered in order) written as PostgreSQL's $N.
// Text inside quotes ('...' and "...") is left alone.
std::string numbered_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 8);
  int next = 0;
  char quote = 0;
  for (std::size_t at = 0; at < sql.size(); ++at) {
    char c = sql[at];
    if (quote != 0) {
      if (c == quote) quote = 0;  // a doubled quote closes and reopens: the same result
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '?') {
      std::size_t digits = at + 1;
      while (digits < sql.size() && sql[digits] >= '0' && sql[digits] <= '9') ++digits;
      if (digits > at + 1) {
        out.append("$").append(sql.substr(at + 1, digits - at - 1));
        at = digits - 1;
      } else {
        out += fmt::format("${}", ++next);
      }
    } else {
      out += c;
    }
  }
  return out;
}

int hex_value(char digit) {
  if (digit >= '0' && digit <= '9') return digit - '0';
  if (digit >= 'a' && digit <= 'f') return digit - 'a' + 10;
  if (digit >= 'A' && digit <= 'F') return digit - 'A' + 10;
  return -1;
}

// bytea's text output: "\x" and two hex digits a byte.
std::string bytes_from_hex(std::string_view text) {
  if (!text.starts_with("\\x")) {
    throw Error(exit_code::internal, "a bytea value is not in hex format (bytea_output)");
  }
  std::string bytes;
  bytes.reserve((text.size() - 2) / 2);
  for (std::size_t at = 2; at + 1 < text.size(); at += 2) {
    bytes += static_cast<char>(hex_value(text[at]) * 16 + hex_value(text[at + 1]));
  }
  return bytes;
}

std::string hex_from_bytes(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text = "\\x";
  text.reserve(2 + bytes.size() * 2);
  for (char byte : bytes) {
    auto value = static_cast<unsigned char>(byte);
    text += digits[value >> 4];
    text += digits[value & 15];
  }
  return text;
}

class PostgresConnection;

// COPY ... FROM STDIN in its text format: tab between columns, newline after a row, and
// backslash escapes for the characters that would end either. Rows are sent in batches.
class CopyRowWriter final : public RowWriter {
 public:
  CopyRowWriter(pg::Connection& connection, std::string_view table,
                std::span<const std::string_view> columns)
      : connection_(connection) {
    connection_.copy_in(fmt::format("COPY {} ({}) FROM STDIN", table, fmt::join(columns, ", ")));
  }
  ~CopyRowWriter() override {
    if (!finished_) connection_.copy_abort();
  }
  void add(std::int64_t value) override {
    separate();
    fmt::format_to(std::back_inserter(buffer_), "{}", value);
  }
  void add(std::string_view text) override {
    separate();
    for (char c : text) {
      switch (c) {
        case '\\':
          buffer_ += "\\\\";
          break;
        case '\t':
          buffer_ += "\\t";
          break;
        case '\n':
          buffer_ += "\\n";
          break;
        case '\r':
          buffer_ += "\\r";
          break;
        default:
          buffer_ += c;
      }
    }
  }
  void end_row() override {
    buffer_ += '\n';
    first_column_ = true;
    if (buffer_.size() >= batch_bytes) flush();
  }
  std::int64_t finish() override {
    flush();
    finished_ = true;
    return connection_.copy_end();
  }

 private:
  static constexpr std::size_t batch_bytes = 1 << 20;
  void separate() {
    if (!first_column_) buffer_ += '\t';
    first_column_ = false;
  }
  void flush() {
    connection_.copy_data(buffer_);
    buffer_.clear();
  }
  pg::Connection& connection_;
  std::string buffer_;
  bool first_column_ = true;
  bool finished_ = false;
};

class PostgresStatement final : public Statement {
 public:
  PostgresStatement(PostgresConnection& connection, std::string sql)
      : connection_(connection), sql_(std::move(sql)) {}
  using Statement::bind;
  void bind(int index, std::int64_t value) override { parameter(index) = std::to_string(value); }
  void bind(int index, std::string_view text) override { parameter(index) = std::string(text); }
  void bind(int index, std::nullopt_t) override { parameter(index).reset(); }
  void bind_double(int index, double value) override {
    parameter(index) = fmt::format("{}", value);  // the shortest text that reads back exactly
  }
  void bind_blob(int index, std::string_view bytes) override {
    parameter(index) = hex_from_bytes(bytes);
  }
  bool step() override;
  void reset() override {
    result_.reset();
    parameters_.clear();
    row_ = -1;
  }
  [[nodiscard]] bool is_null(int column) const override { return result_->is_null(row_, column); }
  [[nodiscard]] std::int64_t integer(int column) const override;
  [[nodiscard]] std::string text(int column) const override {
    return std::string(result_->text(row_, column));
  }
  [[nodiscard]] std::string_view blob(int column) const override {
    blob_ = bytes_from_hex(result_->text(row_, column));
    return blob_;
  }
  [[nodiscard]] Value value(int column) const override;
  [[nodiscard]] int column_count() const override { return result_ ? result_->columns() : 0; }

 private:
  std::optional<std::string>& parameter(int index) {
    auto slot = static_cast<std::size_t>(index - 1);
    if (parameters_.size() <= slot) parameters_.resize(slot + 1);
    return parameters_[slot];
  }
  PostgresConnection& connection_;
  std::string sql_;
  std::vector<pg::Param> parameters_;
  std::optional<pg::Result> result_;
  int row_ = -1;
  mutable std::string blob_;  // the last blob() decoded, valid until the next call
};

class PostgresConnection final : public Connection {
 public:
  PostgresConnection(const std::string& url, const OpenOptions& options)
      : connection_(url, options.busy_timeout),
        location_(pg::url_for_messages(url)),
        options_(options) {}

  [[nodiscard]] Backend backend() const override { return Backend::postgresql; }

  Statement& statement(std::string_view sql) override {
    auto found = statements_.find(std::string(sql));
    if (found != statements_.end()) return *found->second;
    auto& slot = statements_[std::string(sql)];
    slot = std::make_unique<PostgresStatement>(*this, numbered_placeholders(sql));
    return *slot;
  }

  void execute_script(std::string_view sql) override { connection_.execute_script(sql); }
  [[nodiscard]] int changes() const override { return changes_; }
  void set_busy_timeout(Duration timeout) override {
    options_.busy_timeout = timeout;
    connection_.set_busy_timeout(timeout);
  }
  void begin_write() override {
    connection_.begin();
    in_transaction_ = true;
  }
  // One snapshot for every read of the transaction, as SQLite's read transaction gives.
  void begin_read() override {
    connection_.begin(pg::Connection::Isolation::repeatable_read);
    in_transaction_ = true;
  }
  void end_read() noexcept override { rollback(); }
  void commit() override {
    in_transaction_ = false;
    connection_.commit();
  }
  void rollback() noexcept override {
    in_transaction_ = false;
    connection_.rollback();
  }

  bool has_table(std::string_view name) override {
    std::array<pg::Param, 1> parameters{std::string(name)};
    return connection_.execute("SELECT 1 WHERE to_regclass($1) IS NOT NULL", parameters).rows() > 0;
  }

  void prepare_migration(std::string_view meta_table, MarkState) override {
    // Two first runs on an empty database would both create the tables; a transaction-level
    // advisory lock (released at COMMIT, so pgbouncer's transaction pooling is fine) makes
    // the second wait and then find the schema done.
    std::array<pg::Param, 1> key{std::string(meta_table)};
    connection_.execute("SELECT pg_advisory_xact_lock(hashtext($1))", key);
    connection_.execute_script(fmt::format(
        "CREATE TABLE IF NOT EXISTS {} (component TEXT PRIMARY KEY, version BIGINT NOT NULL)",
        quote_identifier(meta_table)));
  }

  [[nodiscard]] const std::string& location() const override { return location_; }
  [[nodiscard]] std::string_view noun() const override { return "state database"; }
  [[nodiscard]] const OpenOptions& options() const override { return options_; }

  std::unique_ptr<RowWriter> row_writer(std::string_view table,
                                        std::span<const std::string_view> columns) override {
    return std::make_unique<CopyRowWriter>(connection_, table, columns);
  }

  [[nodiscard]] bool has_clock() const override { return true; }
  Instant server_now() override {
    // extract() gives an exact numeric since PostgreSQL 14: microseconds without rounding.
    pg::Result result =
        connection_.execute("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint");
    std::string_view text = result.text(0, 0);
    std::int64_t micros = 0;
    std::from_chars(text.data(), text.data() + text.size(), micros);
    return Instant(Duration(micros));
  }

  // Runs a statement; outside a transaction, in one of its own, so that --busy-timeout bounds
  // its lock waits too (lock_timeout is set per transaction, never per session: pgbouncer).
  pg::Result run(const std::string& sql, std::span<const pg::Param> parameters) {
    if (in_transaction_) return execute(sql, parameters);
    begin_write();
    try {
      pg::Result result = execute(sql, parameters);
      commit();
      return result;
    } catch (...) {
      rollback();
      throw;
    }
  }

 private:
  pg::Result execute(const std::string& sql, std::span<const pg::Param> parameters) {
    pg::Result result = connection_.execute(sql, parameters);
    changes_ = static_cast<int>(result.changed());
    return result;
  }

  pg::Connection connection_;
  std::string location_;
  OpenOptions options_;
  int changes_ = 0;
  bool in_transaction_ = false;
  std::unordered_map<std::string, std::unique_ptr<PostgresStatement>> statements_;
};

bool PostgresStatement::step() {
  if (!result_) {
    result_ = connection_.run(sql_, parameters_);
    row_ = -1;
  }
  return ++row_ < result_->rows();
}

std::int64_t PostgresStatement::integer(int column) const {
  std::string_view text = result_->text(row_, column);
  if (text == "t") return 1;  // booleans read as SQLite's 1 and 0
  if (text == "f") return 0;
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

Value PostgresStatement::value(int column) const {
  if (is_null(column)) return std::monostate{};
  switch (result_->type(column)) {
    case int8_type:
    case int4_type:
    case int2_type:
    case bool_type:
      return integer(column);
    case float4_type:
    case float8_type: {
      std::string_view text = result_->text(row_, column);
      double number = 0;
      std::from_chars(text.data(), text.data() + text.size(), number);
      return number;
    }
    case bytea_type:
      return Blob{std::string(blob(column))};
    default:
      return text(column);
  }
}

}  // namespace

std::unique_ptr<Connection> open_postgres(const std::string& url, const OpenOptions& options) {
  auto connection = std::make_unique<PostgresConnection>(url, options);
  if (options.must_exist && !connection->has_table("sluice_meta")) {
    throw Error(exit_code::no_input, fmt::format("{} '{}' holds no sluice state yet",
                                                 connection->noun(), connection->location()));
  }
  return connection;
}

}  // namespace sluice::db
