// price_calc: prices for markets, one base price at a time (calc --base) or a catalog stream
// (calc, publish), and answers from the published cache (lookup).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "price_engine.hpp"
#include "price_market.hpp"
#include "price_store.hpp"
#include "sluice/cli.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/progress.hpp"

namespace sluice::price {

struct CalcOptions {
  PricingDay day;
  Rounding rounding = Rounding::half_up;
  TaxRounding tax_rounding = TaxRounding::net;
  Format format = Format::jsonl;
  InputOptions input;  // --skip-invalid, --max-line-bytes
  Instant now;         // recorded as a publication's time
  ProgressMode progress = ProgressMode::automatic;
};

// The fields every price of a market shares, in output order: country, currency, tax_rate
// (null when untaxed), inclusive, fx_rate, fx_date (null without FX), multiplier, rule,
// base_currency.
JsonValue market_header(const MarketPricer& pricer, const decimal::Currency& base_currency);

// The full breakdown record: sku (when given), country, currency, amount, net, tax,
// tax_rate, inclusive, fx_rate, fx_date, multiplier, rule, base, base_currency.
JsonValue breakdown_record(const std::optional<std::string>& sku, const JsonValue& header,
                           const Breakdown& breakdown, Int128 base);

// Writes breakdown records as JSON Lines without building a JsonValue: the market's shared
// fields are serialised once. Produces exactly to_json(breakdown_record(...)) + "\n".
class BreakdownLines {
 public:
  BreakdownLines(const JsonValue& header, int exponent, int base_exponent);
  void append(std::string& out, std::string_view sku, const Breakdown& breakdown,
              Int128 base) const;

 private:
  std::string head_;    // ,"country":..,"currency":..,"amount":"
  std::string middle_;  // ","tax_rate":..,"rule":..,"base":"
  std::string tail_;    // ","base_currency":".."}\n
  int exponent_;
  int base_exponent_;
};

// One SKU's base price from a catalog record.
struct CatalogItem {
  std::string sku;
  Int128 base = 0;
};

// `pricer`'s breakdown of `item`, its errors (a price above max_price_minor_units) naming
// the SKU at `where`, its catalog line. Error(65).
Breakdown price_item(const MarketPricer& pricer, const CatalogItem& item, const std::string& where);

// Reads {"sku":..,"price":..} records. The price is a decimal string, or a JSON number read
// exactly from its text (1e2 is 100), in the base currency's precision and not negative. Bad
// records follow the reader's --skip-invalid policy.
class CatalogReader {
 public:
  CatalogReader(std::vector<std::string> inputs, const InputOptions& input,
                const decimal::Currency& base_currency);
  std::optional<CatalogItem> next();
  [[nodiscard]] std::uint64_t skipped() const { return reader_.skipped(); }
  [[nodiscard]] std::string location() const;
  [[nodiscard]] std::uint64_t bytes_read() const { return reader_.bytes_read(); }

 private:
  JsonlReader reader_;
  int base_exponent_;
  std::string where_;
};

std::vector<MarketPricer> market_pricers(Store& store, const std::vector<MarketRequest>& markets,
                                         const CalcOptions& options);

// calc --base: one record per market. Returns the exit status.
int calc_one(Store& store, std::string_view base_text, const std::vector<MarketRequest>& markets,
             const CalcOptions& options, OutputStream& out);

// calc over catalogs: one record per SKU and market, SKU by SKU. Returns 0, or 1 when lines
// were skipped.
int calc_stream(Store& store, const std::vector<std::string>& inputs,
                const std::vector<MarketRequest>& markets, const CalcOptions& options,
                OutputStream& out);

}  // namespace sluice::price
