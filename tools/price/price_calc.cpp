#include "price_calc.hpp"

#include <fmt/format.h>

#include "price_json.hpp"
#include "sluice/error.hpp"
#include "sluice/format.hpp"

namespace sluice::price {
namespace {

// Digits shown for exact rates that do not terminate (the computation uses the fraction).
constexpr int shown_places = 10;

const JsonValue& member(const JsonValue& object, std::string_view key) {
  const JsonValue* value = object.find(key);
  if (value == nullptr) throw Error(exit_code::internal, fmt::format("no '{}' in a header", key));
  return *value;
}

// The members of `header` from `first` up to (not including) `last`, as compact JSON text
// without braces (",\"k\":v" pieces).
std::string members_text(const JsonValue& header, std::string_view first, std::string_view last) {
  std::string text;
  bool inside = false;
  for (const auto& [key, value] : header.members()) {
    if (key == first) inside = true;
    if (key == last) break;
    if (!inside) continue;
    text += ',';
    append_json_string(text, key);
    text += ':';
    text += to_json(value);
  }
  return text;
}

}  // namespace

JsonValue market_header(const MarketPricer& pricer, const decimal::Currency& base_currency,
                        std::string_view category) {
  const Market& market = pricer.market();
  std::optional<Fraction> rate = pricer.tax_rate(category);
  return JsonValue::object(
      {{"country", JsonValue::string(market.country)},
       {"currency", JsonValue::string(market.currency.code)},
       {"tax_rate", rate ? JsonValue::string(decimal::format_rate(*rate)) : JsonValue::null()},
       {"inclusive", JsonValue::boolean(market.tax && market.tax->inclusive)},
       {"fx_rate", JsonValue::string(decimal::format_decimal(market.fx_rate, shown_places))},
       {"fx_date", text_or_null(market.fx_date)},
       {"multiplier", JsonValue::string(decimal::format_decimal(market.multiplier, shown_places))},
       {"rule", JsonValue::string(market.rule.text)},
       {"base_currency", JsonValue::string(base_currency.code)}});
}

JsonValue breakdown_record(const std::optional<std::string>& sku, const JsonValue& header,
                           const Priced& priced, Int128 base, std::string_view category) {
  int exponent = decimal::currency(member(header, "currency").text()).exponent;
  int base_exponent = decimal::currency(member(header, "base_currency").text()).exponent;
  const Breakdown& breakdown = priced.breakdown;
  std::vector<JsonValue::Member> members;
  if (sku) members.emplace_back("sku", JsonValue::string(*sku));
  members.emplace_back("country", member(header, "country"));
  members.emplace_back("currency", member(header, "currency"));
  members.emplace_back("amount",
                       JsonValue::string(decimal::format_amount(breakdown.amount, exponent)));
  members.emplace_back("net", JsonValue::string(decimal::format_amount(breakdown.net, exponent)));
  members.emplace_back("tax", JsonValue::string(decimal::format_amount(breakdown.tax, exponent)));
  for (std::string_view key :
       {"tax_rate", "inclusive", "fx_rate", "fx_date", "multiplier", "rule"}) {
    members.emplace_back(std::string(key), member(header, key));
  }
  members.emplace_back("base", JsonValue::string(decimal::format_amount(base, base_exponent)));
  members.emplace_back("base_currency", member(header, "base_currency"));
  members.emplace_back("tax_category", category.empty() ? JsonValue::null()
                                                        : JsonValue::string(std::string(category)));
  members.emplace_back("source", JsonValue::string(std::string(source_names.name(priced.source))));
  if (priced.display) members.emplace_back("display", JsonValue::string(*priced.display));
  return JsonValue::object(std::move(members));
}

BreakdownLines::BreakdownLines(const MarketPricer& pricer, const decimal::Currency& base_currency)
    : exponent_(pricer.market().currency.exponent), base_exponent_(base_currency.exponent) {
  JsonValue header = market_header(pricer, base_currency, "");
  head_ = members_text(header, "country", "tax_rate") + ",\"amount\":\"";
  tail_ = "\"" + members_text(header, "base_currency", "") + ",\"tax_category\":";
  middles_.emplace("", "\"" + members_text(header, "tax_rate", "base_currency") + ",\"base\":\"");
  for (const auto& entry : pricer.market().category_rates) {
    JsonValue own = market_header(pricer, base_currency, entry.first);
    middles_.emplace(entry.first,
                     "\"" + members_text(own, "tax_rate", "base_currency") + ",\"base\":\"");
  }
}

void BreakdownLines::append(std::string& out, std::string_view sku, const Priced& priced,
                            Int128 base, std::string_view category) const {
  const Breakdown& breakdown = priced.breakdown;
  auto middle = middles_.find(category);
  if (middle == middles_.end()) middle = middles_.find("");  // the standard rate applies
  out += "{\"sku\":";
  append_json_string(out, sku);
  out += head_;
  decimal::append_amount(out, breakdown.amount, exponent_);
  out += "\",\"net\":\"";
  decimal::append_amount(out, breakdown.net, exponent_);
  out += "\",\"tax\":\"";
  decimal::append_amount(out, breakdown.tax, exponent_);
  out += middle->second;
  decimal::append_amount(out, base, base_exponent_);
  out += tail_;
  if (category.empty()) {
    out += "null";
  } else {
    append_json_string(out, category);
  }
  out += ",\"source\":\"";
  out += source_names.name(priced.source);
  out += '"';
  if (priced.display) {
    out += ",\"display\":";
    append_json_string(out, *priced.display);
  }
  out += "}\n";
}

void check_tax_category(std::string_view field, std::string_view category,
                        const std::set<std::string, std::less<>>& known) {
  if (category.empty() || known.contains(category)) return;
  std::string names;
  for (const std::string& name : known) names += (names.empty() ? "" : ", ") + name;
  throw Error(exit_code::data,
              fmt::format("{}: no tax category '{}' ({})", field, category,
                          names.empty() ? "none is set: see `price tax set --category`"
                                        : "known: " + names));
}

CatalogReader::CatalogReader(std::vector<std::string> inputs, const InputOptions& input,
                             const decimal::Currency& base_currency,
                             std::set<std::string, std::less<>> tax_categories)
    : reader_(std::move(inputs), input),
      base_exponent_(base_currency.exponent),
      tax_categories_(std::move(tax_categories)) {}

std::string CatalogReader::location() const {
  return where_;
}

std::optional<std::string> CatalogReader::category_error(const JsonValue* category) const {
  if (category == nullptr || category->kind() == JsonValue::Kind::null) return std::nullopt;
  if (!category->is_string() || category->text().empty()) {
    return "field 'tax_category' must be a non-empty string";
  }
  try {
    check_tax_category("field 'tax_category'", category->text(), tax_categories_);
  } catch (const Error& error) {
    return error.what();
  }
  return std::nullopt;
}

std::optional<CatalogItem> CatalogReader::next() {
  while (auto record = reader_.next()) {
    where_ = reader_.location_of(reader_.current_input(), record->line);
    const JsonValue* sku = record->value.find("sku");
    if (sku == nullptr || !(sku->is_string() || sku->is_number()) || sku->text().empty()) {
      reader_.reject(*record, "field 'sku' must be a non-empty string");
      continue;
    }
    const JsonValue* price = record->value.find("price");
    if (price == nullptr || !(price->is_string() || price->is_number())) {
      reader_.reject(*record, "field 'price' must be a decimal string like \"49.99\"");
      continue;
    }
    const JsonValue* category = record->value.find("tax_category");
    if (auto error = category_error(category)) {
      reader_.reject(*record, *error);
      continue;
    }
    try {
      Int128 base = price->is_number() ? decimal::parse_json_amount(price->text(), base_exponent_)
                                       : decimal::parse_amount(price->text(), base_exponent_);
      bool categorised = category != nullptr && category->is_string();
      return CatalogItem{sku->text(), base, categorised ? category->text() : std::string()};
    } catch (const Error& error) {
      reader_.reject(*record, fmt::format("field 'price': {}", error.what()));
    }
  }
  return std::nullopt;
}

Priced price_item(const MarketPrices& market, const CatalogItem& item, const std::string& where) {
  Priced priced;
  try {
    auto fixed = market.overrides.find(item.sku);
    priced = fixed != market.overrides.end()
                 ? Priced{market.pricer.fixed(fixed->second, item.tax_category), Source::override}
                 : Priced{market.pricer.price(item.base, item.tax_category), Source::conversion};
  } catch (const Error& error) {
    throw Error(error.code(), fmt::format("sku {}: {}", item.sku, error.what()), where);
  }
  if (market.display) priced.display = market.display->format(priced.breakdown.amount);
  return priced;
}

std::vector<MarketPrices> market_prices(Store& store, const std::vector<MarketRequest>& markets,
                                        const CalcOptions& options) {
  std::vector<MarketPrices> prices;
  for (const MarketRequest& request : markets) {
    MarketPricer pricer(resolve_market(store, request, options.day), options.day.base_currency,
                        options.rounding, options.tax_rounding);
    std::map<std::string, Int128, std::less<>> overrides;
    const Market& market = pricer.market();
    for (const Override& fixed : store.overrides(market.country, market.currency.code)) {
      overrides.emplace(fixed.sku, fixed.amount);
    }
    std::optional<DisplayFormat> display;
    if (!options.locale.empty()) display.emplace("--locale", options.locale, market.currency);
    prices.push_back({std::move(pricer), std::move(overrides), std::move(display)});
  }
  return prices;
}

int calc_one(Store& store, std::string_view base_text, const std::vector<MarketRequest>& markets,
             const CalcOptions& options, OutputStream& out) {
  Int128 base = with_context(exit_code::usage, "--base", [&] {
    return decimal::parse_amount(base_text, options.day.base_currency.exponent);
  });
  check_tax_category("--tax-category", options.tax_category, store.tax_category_names());
  RecordPrinter printer(out, options.format);
  for (const MarketPrices& market : market_prices(store, markets, options)) {
    JsonValue header =
        market_header(market.pricer, options.day.base_currency, options.tax_category);
    // No SKU: never an override.
    Priced priced{market.pricer.price(base, options.tax_category), Source::conversion};
    if (market.display) priced.display = market.display->format(priced.breakdown.amount);
    printer.print(breakdown_record(std::nullopt, header, priced, base, options.tax_category));
  }
  printer.finish();
  return 0;
}

int calc_stream(Store& store, const std::vector<std::string>& inputs,
                const std::vector<MarketRequest>& markets, const CalcOptions& options,
                OutputStream& out) {
  std::vector<MarketPrices> prices = market_prices(store, markets, options);
  std::vector<BreakdownLines> lines;
  for (const MarketPrices& market : prices) {
    lines.emplace_back(market.pricer, options.day.base_currency);
  }
  CatalogReader catalog(inputs, options.input, options.day.base_currency,
                        store.tax_category_names());
  RecordPrinter printer(out, options.format);
  Progress progress(options.progress, "price calc", total_input_bytes(inputs));
  std::string buffer;
  std::uint64_t items = 0;
  while (auto item = catalog.next()) {
    progress.update(catalog.bytes_read(), ++items);
    for (std::size_t i = 0; i < prices.size(); ++i) {
      Priced priced = price_item(prices[i], *item, catalog.location());
      if (options.format != Format::jsonl) {
        JsonValue header =
            market_header(prices[i].pricer, options.day.base_currency, item->tax_category);
        printer.print(breakdown_record(item->sku, header, priced, item->base, item->tax_category));
        continue;
      }
      lines[i].append(buffer, item->sku, priced, item->base, item->tax_category);
    }
    if (buffer.size() >= (1U << 16)) {
      out.write(buffer);
      buffer.clear();
    }
  }
  progress.finish();
  out.write(buffer);
  printer.finish();
  return catalog.skipped() > 0 ? exit_code::definite_no : exit_code::success;
}

}  // namespace sluice::price
