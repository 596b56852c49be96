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

// The longest a quote may hold its rate: a rate locked for longer than a day is a bet on
// the market, not a checkout. A longer --ttl is Error(2).
inline constexpr Duration max_quote_ttl = std::chrono::hours(24);

// Locks today's cross rate (less the fee) for the TTL, stores the quote and prints it:
// quote_id, from, to, amount, amount_to, rate, fee, fx_date, created_at, expires_at.
int quote(Store& store, const QuoteRequest& request, Instant now, OutputStream& out);

// Accepts a quote once while now < expires_at. Prints {"quote_id","status":"accepted",...}
// and returns 0; or prints {"quote_id","error":"quote_used"|"quote_expired"|
// "quote_cancelled",...} and returns 1;
// an --amount-to that differs from the quote's is Error(65), an unknown quote Error(65).
int accept(Store& store, const std::string& quote_id, const std::string& amount_to, Instant now,
           OutputStream& out);

// A stored quote as it stands at `now`: its record plus status (open, accepted, expired,
// cancelled), accepted_at and cancelled_at (null unless so). Error(65) for an unknown quote.
int show_quote(Store& store, const std::string& quote_id, Instant now, Format format,
               OutputStream& out);
// Every stored quote so, by expiry then ID.
int list_quotes(Store& store, Instant now, Format format, OutputStream& out);
// Cancels an open quote so that it can no longer be accepted: prints it with status
// cancelled and returns 0 (also when it was cancelled before); an accepted or expired quote
// is refused like accept refuses it (quote_used, quote_expired; 1). Error(65) when unknown.
int cancel_quote(Store& store, const std::string& quote_id, Instant now, OutputStream& out);

// Splits amount (in currency's precision, may be negative) by comma-separated decimal ratios;
// one record per part: part, ratio, amount, currency.
int allocate(const std::string& amount, const std::string& currency, const std::string& ratios,
             Format format, OutputStream& out);

}  // namespace sluice::price
