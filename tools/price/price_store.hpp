// price_store: the price state file. Rates (all quoted against one base currency, so every
// cross rate comes from the same base exactly), country adjustments, taxes, display rules,
// the published price cache and FX quotes. synchronous=FULL: quotes move money.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/db.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::price {

struct RateRow {
  std::string date;      // YYYY-MM-DD
  std::string currency;  // quoted currency
  std::string rate;      // units of `currency` per unit of the base, decimal text
};

struct StoredRate {
  std::string date;
  std::string rate;
};

struct Adjustment {
  std::string country;
  std::optional<std::string> multiplier;  // an explicit multiplier, or:
  std::optional<std::string> plr;         // a price level ratio with its smoothing and clamps
  std::string smoothing = "0.2";
  std::string minimum = "0.3";
  std::string maximum = "1";
};

struct TaxRow {
  std::string country;
  std::string rate;  // "19%"
  bool inclusive = false;
};

struct RuleRow {
  std::string currency;
  std::string rule;
  std::string minimum;     // "" for none
  std::string max_uplift;  // "5%", "" for none
};

class Store {
 public:
  // Opens (creating unless must_exist) and migrates the file.
  Store(const std::string& location, db::OpenOptions options);
  db::Database& database() { return database_; }

  // The base currency every stored rate is quoted against, once rates were loaded.
  std::optional<std::string> rates_base();
  void set_rates_base(std::string_view base);
  // Stores rates, a later row for the same currency and date replacing an earlier one;
  // returns how many were new or changed. Call inside a write transaction.
  std::int64_t put_rates(const std::vector<RateRow>& rows);
  // The latest rate of `currency` published on or before `date`.
  std::optional<StoredRate> rate_on_or_before(std::string_view currency, std::string_view date);
  // Each currency's latest rate published on or before `date`, by currency.
  std::vector<RateRow> latest_rates_on_or_before(std::string_view date);

  void put_adjustment(const Adjustment& adjustment);
  std::optional<Adjustment> adjustment(std::string_view country);
  std::vector<Adjustment> adjustments();
  void put_tax(const TaxRow& tax);
  std::optional<TaxRow> tax(std::string_view country);
  std::vector<TaxRow> taxes();
  void put_rule(const RuleRow& rule);
  std::optional<RuleRow> rule(std::string_view currency);
  std::vector<RuleRow> rules();
  // Removes a setting; returns false when there was none. `table` is one of adjustments,
  // taxes, rules.
  bool remove(std::string_view table, std::string_view key);

 private:
  db::Database database_;
};

}  // namespace sluice::price
