// The shared retry budget (--budget KEY --db FILE): a token bucket per key in an SQLite file,
// shared by every process that uses the same file and key, in the style of the AWS SDKs'
// retry quota. A retry must take tokens first; when the bucket cannot pay, the caller gives
// up instead of retrying, so a fleet hitting a dead service stops hammering it.
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
  // Opens (creating) the state file. Throws Error like db::Database.
  Budget(const std::string& path, Duration busy_timeout, std::string key, BudgetCosts costs = {});

  // Takes `cost` tokens if the bucket holds that many (a new key starts full). Returns false,
  // taking nothing, when it does not.
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
