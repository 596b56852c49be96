// price_load: loading FX rates and price level ratios into the state file. A file is read and
// checked whole before anything is written, then written in one transaction: a bad line
// leaves the state as it was.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "price_store.hpp"
#include "sluice/json.hpp"

namespace sluice::price {

// ecb-csv: the ECB euro reference-rate CSV as published (`Date, USD, JPY, ...`, one row per
// day, dates as 2026-03-02 or "2 March 2026", N/A or empty for no rate, columns of withdrawn
// currencies skipped: listed in the summary, and in a note unless quiet). jsonl:
// {"date","base","currency","rate"} records. detect: jsonl when the first byte is '{', ecb-csv
// otherwise.
enum class RatesFormat { detect, ecb_csv, jsonl };
RatesFormat parse_rates_format(std::string_view text);

// A rates file as read, before anything is stored: the base currency, one row per rate, and
// the ECB columns skipped (withdrawn or unknown currencies).
struct ParsedRates {
  std::string base;
  std::vector<RateRow> rows;
  std::vector<std::string> skipped_currencies;
};

// Parses the text of a rates file (`name` in messages) in `format` (detect as described
// above). Error(65) naming name:line for a bad row.
ParsedRates parse_rates(const std::string& name, std::string text, RatesFormat format);

// Loads `path` (- for stdin) and returns the summary record: rows read, rows added or
// changed, base, currencies, first and last date, skipped currencies. Error(65) naming the line for
// a bad row and for a base currency different from the one already stored.
JsonValue load_rates(Store& store, const std::string& path, RatesFormat format, bool quiet);

// wb-csv: the World Bank indicator CSV (PA.NUS.PPPC.RF, "Country Code" alpha-3 columns and
// one column per year; the latest year with a value is used, aggregates like WLD skipped).
// jsonl: {"country":"IN","plr":"0.24"} records, optionally with "smoothing", "min", "max".
enum class PppFormat { detect, wb_csv, jsonl };
PppFormat parse_ppp_format(std::string_view text);

// Stores a price level ratio for every country in `path` (replacing explicit multipliers of
// those countries) with `defaults` supplying smoothing and clamps; returns the summary.
JsonValue load_ppp(Store& store, const std::string& path, PppFormat format,
                   const Adjustment& defaults);

}  // namespace sluice::price
