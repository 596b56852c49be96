#include "backoff_budget.hpp"

#include <array>
#include <string_view>

namespace sluice::backoff {
namespace {

constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE backoff_budget (
  key TEXT PRIMARY KEY,
  tokens INTEGER NOT NULL CHECK (tokens >= 0)
) STRICT;
)sql";

constexpr std::array<std::string_view, 1> migrations{schema_v1};

// PostgreSQL runs the same steps, translated (db::postgresql_ddl).
constexpr db::Schema schema{migrations};

// The caller chose the busy timeout; the rest is this store's profile.
db::OpenOptions open_options(db::OpenOptions options) {
  // The budget is advisory, not money: a lost refund after a power cut is harmless.
  options.synchronous = db::Synchronous::normal;
  options.serialize_writers = true;
  return options;
}

}  // namespace

Budget::Budget(const std::string& location, db::OpenOptions options, std::string key,
               BudgetCosts costs)
    : database_(location, open_options(options)), key_(std::move(key)), costs_(costs) {
  db::migrate(database_, "backoff", schema);
}

bool Budget::take(std::int64_t cost) {
  // A bucket never holds more than its capacity: a cost above it can never be paid.
  if (cost > costs_.capacity) return false;
  // A new key starts full and pays at once; an existing one pays only if it holds enough.
  // The row's lock (PostgreSQL) or the write lock (SQLite) makes this atomic.
  db::WriteTransaction transaction(database_);
  bool granted = false;
  {
    auto paid = database_.query(
        "INSERT INTO backoff_budget AS bucket (key, tokens) VALUES (?1, ?2) "
        "ON CONFLICT (key) DO UPDATE SET tokens = bucket.tokens - ?3 WHERE bucket.tokens >= ?3 "
        "RETURNING tokens",
        key_, costs_.capacity - cost, cost);
    granted = paid.step();
  }
  transaction.commit();
  return granted;
}

void Budget::refund(std::int64_t amount) {
  if (amount <= 0) return;
  db::WriteTransaction transaction(database_);
  database_.execute(
      "UPDATE backoff_budget SET tokens = CASE WHEN tokens + ?2 > ?3 THEN ?3 ELSE tokens + ?2 END "
      "WHERE key = ?1",
      key_, amount, costs_.capacity);
  transaction.commit();
}

std::int64_t Budget::tokens() {
  auto query = database_.query("SELECT tokens FROM backoff_budget WHERE key = ?1", key_);
  return query.step() ? query->integer(0) : costs_.capacity;
}

}  // namespace sluice::backoff
