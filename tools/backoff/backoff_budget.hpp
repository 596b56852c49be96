// The shared retry budget (--budget KEY --db STATE): a token bucket per key in an SQLite file
// or on a PostgreSQL server, shared by every process that uses the same state and key, in the
// style of the AWS SDKs' retry quota. A retry must take tokens first; when the bucket cannot pay,
// the caller gives up instead of retrying, so a fleet hitting a dead service stops hammering it.
#pragma once

#include <cstdint>
#include <string>

#include "sluice/db.hpp"

namespace sluice::backoff {

struct BudgetCosts {
  std::int64_t capacity = 500;
  std::int64_t retry = 5;
  std::int64_t timeout_retry = 10;  // a retry after an attempt that timed out
  std::int64_t clean_success = 1;   // refunded by a success on the first attempt
};

class Budget {
 public:
  // Opens (creating) the state at `location` (a file or a postgresql:// URL) with the
  // caller's open options. Throws Error like db::Database.
  Budget(const std::string& location, db::OpenOptions options, std::string key,
         BudgetCosts costs = {});

  // Takes `cost` tokens if the bucket holds that many (a new key starts full), in one
  // conditional upsert: concurrent takers on any number of hosts never overdraw. Returns
  // false, taking nothing, when it does not.
  bool take(std::int64_t cost);
  // Puts tokens back, never above the capacity.
  void refund(std::int64_t amount);
  // Tokens now in the bucket (capacity for a key never used).
  std::int64_t tokens();
  [[nodiscard]] const BudgetCosts& costs() const { return costs_; }

 private:
  db::Database database_;
  std::string key_;
  BudgetCosts costs_;
};

}  // namespace sluice::backoff
