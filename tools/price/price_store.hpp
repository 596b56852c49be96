// price_store: the price state file. Rates (all quoted against one base currency, so every
// cross rate comes from the same base exactly), country adjustments, taxes, display rules,
// the published price cache and FX quotes. synchronous=FULL: quotes move money.
#pragma once

#include <optional>
#include <set>
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

// A fixed price: the SKU's displayed price in one market, instead of its conversion.
struct Override {
  std::string country;
  std::string currency;
  std::string sku;
  std::int64_t amount = 0;  // minor units of `currency`
};

// A reduced (or other) tax rate of one product category in one country.
struct TaxCategoryRow {
  std::string country;
  std::string category;
  std::string rate;  // "7%"
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
  void put_override(const Override& fixed);
  bool remove_override(std::string_view country, std::string_view currency, std::string_view sku);
  // The overrides of one country and currency, or all of them (nullopt), in key order.
  std::vector<Override> overrides(std::optional<std::string_view> country,
                                  std::optional<std::string_view> currency);
  // Call inside a write transaction; the country's tax must exist (a constraint otherwise).
  void put_tax_category(const TaxCategoryRow& category);
  bool remove_tax_category(std::string_view country, std::string_view category);
  // One country's category rates, or every country's (nullopt), in key order.
  std::vector<TaxCategoryRow> tax_categories(std::optional<std::string_view> country);
  // Every category some country has a rate for: the categories a catalog may name.
  std::set<std::string, std::less<>> tax_category_names();
  // Removes a setting; returns false when there was none. `table` is one of adjustments,
  // taxes, rules.
  bool remove(std::string_view table, std::string_view key);

 private:
  db::Database database_;
};

}  // namespace sluice::price
