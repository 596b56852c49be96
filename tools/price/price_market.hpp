// price_market: what one market's prices depend on, resolved from the state file: the cross
// rate from the base currency (exact, from the one base all rates are quoted against), the
// country's multiplier, its tax and its currency's display rule.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "price_engine.hpp"
#include "price_store.hpp"

namespace sluice::price {

struct MarketRequest {
  std::string country;                  // ISO 3166-1 alpha-2
  std::optional<std::string> currency;  // default: the country's currency
};

// "DE,JP,IN". Error(2) naming `option` for an unknown or duplicated country or an empty list.
std::vector<MarketRequest> parse_countries(std::string_view option, std::string_view list);

// A JSONL file of {"country":"DE"} or {"country":"DE","currency":"EUR"} records. Error(65)
// naming the line for a bad record, Error(66) for a missing file.
std::vector<MarketRequest> read_markets_file(const std::string& path);

struct CrossRate {
  Fraction rate{1, 1};
  std::optional<std::string> date;  // the older of the two legs' dates; none without FX
};

// Units of `to` per unit of `from` on `date` (YYYY-MM-DD), each leg from the latest rate
// published on or before it. Error(65) when a rate is missing or older than max_age_days.
CrossRate cross_rate(Store& store, std::string_view from, std::string_view to,
                     std::string_view date, int max_age_days);

struct PricingDay {
  decimal::Currency base_currency;
  std::string date;
  int max_rate_age_days = 4;
};

// Everything a MarketPricer needs for `request`. Error(2) for an unknown country or
// currency, Error(65) for missing or stale rates and for stored settings that no longer parse.
Market resolve_market(Store& store, const MarketRequest& request, const PricingDay& day);

// The multiplier an adjustment row gives (explicit, or from its price level ratio).
Fraction multiplier_of(const Adjustment& adjustment);

// Checks an adjustment before it is stored: every number a decimal, the multiplier or price
// level ratio above zero, smoothing within [0, 1], 0 < min <= max. Error(2) saying which.
void check_adjustment(const Adjustment& adjustment);

}  // namespace sluice::price
