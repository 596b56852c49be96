// price_quote: checkout FX quotes (a rate locked for a time and accepted at most once) and
// exact allocation of an amount into parts.
#pragma once

#include <string>

#include "price_market.hpp"
#include "price_store.hpp"
#include "sluice/cli.hpp"
#include "sluice/clock.hpp"
#include "sluice/fdio.hpp"

namespace sluice::price {

struct QuoteRequest {
  std::string amount;  // in `from`'s precision
  std::string from;
  std::string to;
  Duration ttl = std::chrono::minutes(10);
  std::string fee = "0%";
  Rounding rounding = Rounding::half_up;
  int max_rate_age_days = 4;
};

// Locks today's cross rate (less the fee) for the TTL, stores the quote and prints it:
// quote_id, from, to, amount, amount_to, rate, fee, fx_date, created_at, expires_at.
int quote(Store& store, const QuoteRequest& request, Instant now, OutputStream& out);

// Accepts a quote once while now < expires_at. Prints {"quote_id","status":"accepted",...}
// and returns 0; or prints {"quote_id","error":"quote_used"|"quote_expired",...} and returns 1;
// an --amount-to that differs from the quote's is Error(65), an unknown quote Error(65).
int accept(Store& store, const std::string& quote_id, const std::string& amount_to, Instant now,
           OutputStream& out);

// Splits amount (in currency's precision, may be negative) by comma-separated decimal ratios;
// one record per part: part, ratio, amount, currency.
int allocate(const std::string& amount, const std::string& currency, const std::string& ratios,
             Format format, OutputStream& out);

}  // namespace sluice::price
