// price_calc: prices for markets, one base price at a time (calc --base) or a catalog stream
// (calc, publish), and answers from the published cache (lookup).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "price_display.hpp"
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
  std::string tax_category;  // calc --base: the product's category ("" standard)
  std::string locale;        // --locale: "" for no display key
};

// The fields every price of a market in one tax category shares, in output order: country,
// currency, tax_rate (the category's; null when untaxed), inclusive, fx_rate, fx_date (null
// without FX), multiplier, rule, base_currency.
JsonValue market_header(const MarketPricer& pricer, const decimal::Currency& base_currency,
                        std::string_view category);

// One price as a record shows it.
struct Priced {
  Breakdown breakdown;
  Source source = Source::conversion;
  std::optional<std::string> display;  // the amount as --locale writes it
};

// The full breakdown record: sku (when given), country, currency, amount, net, tax,
// tax_rate, inclusive, fx_rate, fx_date, multiplier, rule, base, base_currency, tax_category
// (null for the standard rate), source ("conversion" or "override"), display (with --locale
// only).
JsonValue breakdown_record(const std::optional<std::string>& sku, const JsonValue& header,
                           const Priced& priced, Int128 base, std::string_view category);

// Writes breakdown records as JSON Lines without building a JsonValue: the market's shared
// fields are serialised once per category. Produces exactly to_json(breakdown_record(...)) +
// "\n".
class BreakdownLines {
 public:
  BreakdownLines(const MarketPricer& pricer, const decimal::Currency& base_currency);
  void append(std::string& out, std::string_view sku, const Priced& priced, Int128 base,
              std::string_view category) const;

 private:
  std::string head_;  // ,"country":..,"currency":..,"amount":"
  // ","tax_rate":..,"rule":..,"base":" by category ("" for the standard rate)
  std::map<std::string, std::string, std::less<>> middles_;
  std::string tail_;  // ","base_currency":"..","tax_category":
  int exponent_;
  int base_exponent_;
};

// One SKU's base price and tax category ("" for the standard rate) from a catalog record.
struct CatalogItem {
  std::string sku;
  Int128 base = 0;
  std::string tax_category;
};

// One market's pricer and its fixed prices by SKU (minor units of its currency).
struct MarketPrices {
  MarketPricer pricer;
  std::map<std::string, Int128, std::less<>> overrides;
  std::optional<DisplayFormat> display;  // with --locale
};

// The price of `item` in `market`: its override, or its conversion; errors (a price above
// max_price_minor_units) name the SKU at `where`, its catalog line. Error(65).
Priced price_item(const MarketPrices& market, const CatalogItem& item, const std::string& where);

// Reads {"sku":..,"price":..} records, optionally with "tax_category" (one of
// `tax_categories`, the categories some country has a rate for). The price is a decimal
// string, or a JSON number read exactly from its text (1e2 is 100), in the base currency's
// precision and not negative. Bad records follow the reader's --skip-invalid policy.
class CatalogReader {
 public:
  CatalogReader(std::vector<std::string> inputs, const InputOptions& input,
                const decimal::Currency& base_currency,
                std::set<std::string, std::less<>> tax_categories = {});
  std::optional<CatalogItem> next();
  [[nodiscard]] std::uint64_t skipped() const { return reader_.skipped(); }
  [[nodiscard]] std::string location() const;
  [[nodiscard]] std::uint64_t bytes_read() const { return reader_.bytes_read(); }

 private:
  // The record's tax category, or an error message naming the field.
  [[nodiscard]] std::optional<std::string> category_error(const JsonValue* category) const;

  JsonlReader reader_;
  int base_exponent_;
  std::set<std::string, std::less<>> tax_categories_;
  std::string where_;
};

// Error(65) naming `field` unless `category` is "" or one of `known`: the category is well
// formed, and the state (no country has a rate for it) is what disagrees, as with an unknown
// quote ID.
void check_tax_category(std::string_view field, std::string_view category,
                        const std::set<std::string, std::less<>>& known);

std::vector<MarketPrices> market_prices(Store& store, const std::vector<MarketRequest>& markets,
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
