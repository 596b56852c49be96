#include "price_calc.hpp"

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/format.hpp"

namespace sluice::price {
namespace {

// Digits shown for exact rates that do not terminate (the computation uses the fraction).
constexpr int shown_places = 10;

JsonValue text_or_null(const std::optional<std::string>& text) {
  return text ? JsonValue::string(*text) : JsonValue::null();
}

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

JsonValue market_header(const MarketPricer& pricer, const decimal::Currency& base_currency) {
  const Market& market = pricer.market();
  return JsonValue::object(
      {{"country", JsonValue::string(market.country)},
       {"currency", JsonValue::string(market.currency.code)},
       {"tax_rate",
        market.tax ? JsonValue::string(decimal::format_rate(market.tax->rate)) : JsonValue::null()},
       {"inclusive", JsonValue::boolean(market.tax && market.tax->inclusive)},
       {"fx_rate", JsonValue::string(decimal::format_decimal(market.fx_rate, shown_places))},
       {"fx_date", text_or_null(market.fx_date)},
       {"multiplier", JsonValue::string(decimal::format_decimal(market.multiplier, shown_places))},
       {"rule", JsonValue::string(market.rule.text)},
       {"base_currency", JsonValue::string(base_currency.code)}});
}

JsonValue breakdown_record(const std::optional<std::string>& sku, const JsonValue& header,
                           const Breakdown& breakdown, Int128 base) {
  int exponent = decimal::currency(member(header, "currency").text()).exponent;
  int base_exponent = decimal::currency(member(header, "base_currency").text()).exponent;
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
  return JsonValue::object(std::move(members));
}

BreakdownLines::BreakdownLines(const JsonValue& header, int exponent, int base_exponent)
    : head_(members_text(header, "country", "tax_rate") + ",\"amount\":\""),
      middle_("\"" + members_text(header, "tax_rate", "base_currency") + ",\"base\":\""),
      tail_("\"" + members_text(header, "base_currency", "") + "}\n"),
      exponent_(exponent),
      base_exponent_(base_exponent) {}

void BreakdownLines::append(std::string& out, std::string_view sku, const Breakdown& breakdown,
                            Int128 base) const {
  out += "{\"sku\":";
  append_json_string(out, sku);
  out += head_;
  decimal::append_amount(out, breakdown.amount, exponent_);
  out += "\",\"net\":\"";
  decimal::append_amount(out, breakdown.net, exponent_);
  out += "\",\"tax\":\"";
  decimal::append_amount(out, breakdown.tax, exponent_);
  out += middle_;
  decimal::append_amount(out, base, base_exponent_);
  out += tail_;
}

CatalogReader::CatalogReader(std::vector<std::string> inputs, const InputOptions& input,
                             const decimal::Currency& base_currency)
    : reader_(std::move(inputs), input), base_exponent_(base_currency.exponent) {}

std::string CatalogReader::location() const {
  return where_;
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
    try {
      Int128 base = price->is_number() ? decimal::parse_json_amount(price->text(), base_exponent_)
                                       : decimal::parse_amount(price->text(), base_exponent_);
      return CatalogItem{sku->text(), base};
    } catch (const Error& error) {
      reader_.reject(*record, fmt::format("field 'price': {}", error.what()));
    }
  }
  return std::nullopt;
}

Breakdown price_item(const MarketPricer& pricer, const CatalogItem& item,
                     const std::string& where) {
  try {
    return pricer.price(item.base);
  } catch (const Error& error) {
    throw Error(error.code(), fmt::format("sku {}: {}", item.sku, error.what()), where);
  }
}

std::vector<MarketPricer> market_pricers(Store& store, const std::vector<MarketRequest>& markets,
                                         const CalcOptions& options) {
  std::vector<MarketPricer> pricers;
  for (const MarketRequest& request : markets) {
    pricers.emplace_back(resolve_market(store, request, options.day), options.day.base_currency,
                         options.rounding, options.tax_rounding);
  }
  return pricers;
}

int calc_one(Store& store, std::string_view base_text, const std::vector<MarketRequest>& markets,
             const CalcOptions& options, OutputStream& out) {
  Int128 base = with_context(exit_code::usage, "--base", [&] {
    return decimal::parse_amount(base_text, options.day.base_currency.exponent);
  });
  RecordPrinter printer(out, options.format);
  for (const MarketPricer& pricer : market_pricers(store, markets, options)) {
    JsonValue header = market_header(pricer, options.day.base_currency);
    printer.print(breakdown_record(std::nullopt, header, pricer.price(base), base));
  }
  printer.finish();
  return 0;
}

int calc_stream(Store& store, const std::vector<std::string>& inputs,
                const std::vector<MarketRequest>& markets, const CalcOptions& options,
                OutputStream& out) {
  std::vector<MarketPricer> pricers = market_pricers(store, markets, options);
  std::vector<JsonValue> headers;
  std::vector<BreakdownLines> lines;
  for (const MarketPricer& pricer : pricers) {
    headers.push_back(market_header(pricer, options.day.base_currency));
    lines.emplace_back(headers.back(), pricer.market().currency.exponent,
                       options.day.base_currency.exponent);
  }
  CatalogReader catalog(inputs, options.input, options.day.base_currency);
  RecordPrinter printer(out, options.format);
  Progress progress(options.progress, "price calc", total_input_bytes(inputs));
  std::string buffer;
  std::uint64_t items = 0;
  while (auto item = catalog.next()) {
    progress.update(catalog.bytes_read(), ++items);
    for (std::size_t i = 0; i < pricers.size(); ++i) {
      Breakdown breakdown = price_item(pricers[i], *item, catalog.location());
      if (options.format != Format::jsonl) {
        printer.print(breakdown_record(item->sku, headers[i], breakdown, item->base));
        continue;
      }
      lines[i].append(buffer, item->sku, breakdown, item->base);
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
