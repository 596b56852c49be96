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

db::OpenOptions open_options(Duration busy_timeout) {
  db::OpenOptions options;
  // The budget is advisory, not money: a lost refund after a power cut is harmless.
  options.synchronous = db::Synchronous::normal;
  options.busy_timeout = busy_timeout;
  options.serialize_writers = true;
  return options;
}

}  // namespace

Budget::Budget(const std::string& path, Duration busy_timeout, std::string key, BudgetCosts costs)
    : database_(path, open_options(busy_timeout)), key_(std::move(key)), costs_(costs) {
  db::migrate(database_, "backoff", migrations);
}

bool Budget::take(std::int64_t cost) {
  db::WriteTransaction transaction(database_);
  database_.execute(
      "INSERT INTO backoff_budget (key, tokens) VALUES (?1, ?2) ON CONFLICT DO NOTHING", key_,
      costs_.capacity);
  int changed = database_.execute(
      "UPDATE backoff_budget SET tokens = tokens - ?2 WHERE key = ?1 AND tokens >= ?2", key_, cost);
  transaction.commit();
  return changed == 1;
}

void Budget::refund(std::int64_t amount) {
  if (amount <= 0) return;
  db::WriteTransaction transaction(database_);
  database_.execute("UPDATE backoff_budget SET tokens = min(?3, tokens + ?2) WHERE key = ?1", key_,
                    amount, costs_.capacity);
  transaction.commit();
}

std::int64_t Budget::tokens() {
  auto query = database_.query("SELECT tokens FROM backoff_budget WHERE key = ?1", key_);
  return query.step() ? query->integer(0) : costs_.capacity;
}

}  // namespace sluice::backoff
