// price_publish: the published price cache. publish computes every SKU's price in every
// market and stores them in one transaction per run, keyed by price date, country and SKU;
// lookup answers from it. A market whose prices did not change (same digest) is left alone;
// one that changed (a new FX date, a new tax) is replaced whole inside the transaction, so a
// reader sees the old catalog or the new one, never a mix.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "price_calc.hpp"

namespace sluice::price {

// Prints one summary record per market: country, price_date, fx_date, skus, status
// (published, replaced, unchanged). Returns 0, or 1 when catalog lines were skipped.
int publish(Store& store, const std::vector<std::string>& inputs,
            const std::vector<MarketRequest>& markets, const CalcOptions& options,
            OutputStream& out);

struct LookupRequest {
  std::string sku;
  std::string country;
  std::string date;
  std::optional<int> max_age_days;  // none: any age
  std::string locale;               // --locale: "" for no display key
};

// The price published for the SKU in the country by the latest publication on or before the
// date: the calc record plus price_date. Returns 1 (with a message) when there is none, or
// when the publication's price date or its rates' date is more than max_age_days before the
// date.
int lookup(Store& store, const LookupRequest& request, Format format, OutputStream& out);

}  // namespace sluice::price
