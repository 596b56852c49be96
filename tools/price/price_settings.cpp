#include "price_settings.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "price_countries.hpp"
#include "price_engine.hpp"
#include "price_json.hpp"
#include "price_market.hpp"
#include "sluice/decimal.hpp"
#include "sluice/error.hpp"
#include "sluice/format.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::price {
namespace {

JsonValue tax_record(const TaxRow& tax, const std::optional<std::string>& category) {
  return JsonValue::object({{"country", JsonValue::string(tax.country)},
                            {"rate", JsonValue::string(tax.rate)},
                            {"inclusive", JsonValue::boolean(tax.inclusive)},
                            {"category", text_or_null(category)}});
}

JsonValue override_record(const Override& fixed) {
  int exponent = decimal::currency(fixed.currency).exponent;
  return JsonValue::object(
      {{"country", JsonValue::string(fixed.country)},
       {"currency", JsonValue::string(fixed.currency)},
       {"sku", JsonValue::string(fixed.sku)},
       {"price", JsonValue::string(decimal::format_amount(fixed.amount, exponent))}});
}

// A checked override: a known country, a currency (the country's by default), a non-empty
// SKU and a price in the currency's precision, not negative. Error(code) naming the field as
// `name(field)` gives it.
template <typename Name>
Override checked_override(const OverrideRequest& request, int code, Name name) {
  auto fail = [&](std::string_view field, std::string_view message) {
    throw Error(code, fmt::format("{}: {}", name(field), message));
  };
  const Country* country = find_country(request.country);
  if (country == nullptr) fail("country", fmt::format("unknown country '{}'", request.country));
  std::string code_text =
      request.currency.empty() ? std::string(country->currency) : request.currency;
  decimal::Currency currency;
  try {
    currency = decimal::currency(code_text);
  } catch (const Error& error) {
    fail("currency", error.what());
  }
  if (request.sku.empty()) fail("sku", "must not be empty");
  std::int64_t amount = 0;  // at most INT64_MAX, the largest price
  try {
    amount = decimal::parse_amount(request.price, currency.exponent);
  } catch (const Error& error) {
    fail("price",
         fmt::format("{} ({} has {} decimals)", error.what(), currency.code, currency.exponent));
  }
  return {request.country, currency.code, request.sku, amount};
}

JsonValue adjustment_record(const Adjustment& adjustment) {
  bool from_plr = adjustment.plr.has_value();
  return JsonValue::object(
      {{"country", JsonValue::string(adjustment.country)},
       {"multiplier", JsonValue::string(decimal::format_decimal(multiplier_of(adjustment), 10))},
       {"plr", text_or_null(adjustment.plr)},
       {"smoothing", from_plr ? JsonValue::string(adjustment.smoothing) : JsonValue::null()},
       {"min", from_plr ? JsonValue::string(adjustment.minimum) : JsonValue::null()},
       {"max", from_plr ? JsonValue::string(adjustment.maximum) : JsonValue::null()}});
}

JsonValue rule_record(const RuleRow& rule) {
  return JsonValue::object(
      {{"currency", JsonValue::string(rule.currency)},
       {"rule", JsonValue::string(rule.rule)},
       {"min", rule.minimum.empty() ? JsonValue::null() : JsonValue::string(rule.minimum)},
       {"max_uplift",
        rule.max_uplift.empty() ? JsonValue::null() : JsonValue::string(rule.max_uplift)}});
}

// Is a fixed price in another currency than its country's? Then only a market that prices
// the country in that currency (calc --country DE --currency GBP, a markets file) uses it.
bool in_foreign_currency(const Override& fixed) {
  return find_country(fixed.country)->currency != fixed.currency;
}

}  // namespace

TaxRow checked_tax(const TaxRow& tax) {
  known_country("--country", tax.country);
  TaxRow checked = tax;
  checked.rate = decimal::format_rate(decimal::parse_rate("--rate", tax.rate));
  return checked;
}

TaxCategoryRow checked_tax_category(const TaxCategoryRow& category) {
  known_country("--country", category.country);
  TaxCategoryRow checked = category;
  checked.rate = decimal::format_rate(decimal::parse_rate("--rate", category.rate));
  return checked;
}

Adjustment checked_adjustment(const Adjustment& adjustment) {
  known_country("--country", adjustment.country);
  check_adjustment(adjustment);
  return adjustment;
}

RuleRow checked_rule(const RuleRow& rule) {
  // Parsing for the currency proves the rule fits its precision before it is stored.
  DisplayRule parsed =
      parse_rule(rule.rule, rule.minimum, rule.max_uplift, decimal::currency(rule.currency));
  RuleRow checked = rule;
  if (parsed.max_uplift) checked.max_uplift = decimal::format_rate(*parsed.max_uplift);
  return checked;
}

int set_tax(Store& store, const TaxRow& stored, Format format, OutputStream& out) {
  db::WriteTransaction transaction(store.database());
  store.put_tax(stored);
  transaction.commit();
  print_record(out, format, tax_record(stored, std::nullopt));
  return 0;
}

int set_tax_category(Store& store, const TaxCategoryRow& stored, Format format, OutputStream& out) {
  db::WriteTransaction transaction(store.database());
  auto tax = store.tax(stored.country);
  if (!tax) {
    throw Error(exit_code::data,
                fmt::format("{} has no tax: set its standard rate first (price tax set "
                            "--country {} --rate RATE --inclusive|--exclusive)",
                            stored.country, stored.country));
  }
  store.put_tax_category(stored);
  transaction.commit();
  print_record(out, format,
               tax_record({stored.country, stored.rate, tax->inclusive}, stored.category));
  return 0;
}

int remove_tax_category(Store& store, const std::string& country, const std::string& category) {
  db::WriteTransaction transaction(store.database());
  bool removed = store.remove_tax_category(country, category);
  transaction.commit();
  if (!removed) {
    print_diagnostic(Severity::error, {},
                     fmt::format("no tax category '{}' for {}", category, country));
    return exit_code::definite_no;
  }
  return 0;
}

Override override_option(const OverrideRequest& request, PriceOption price) {
  OverrideRequest checked = request;
  if (price == PriceOption::ignored) checked.price = "0";
  return checked_override(checked, exit_code::usage,
                          [](std::string_view field) { return "--" + std::string(field); });
}

int set_override(Store& store, const Override& fixed, Format format, OutputStream& out) {
  db::WriteTransaction transaction(store.database());
  store.put_override(fixed);
  transaction.commit();
  if (in_foreign_currency(fixed)) {
    note(
        fmt::format("{0} is priced in {1}: this {2} price applies only where {0} is priced "
                    "in {2} (calc --country {0} --currency {2}, or a markets file)",
                    fixed.country, find_country(fixed.country)->currency, fixed.currency));
  }
  print_record(out, format, override_record(fixed));
  return 0;
}

int load_overrides(Store& store, const std::string& path, Format format, OutputStream& out) {
  JsonlReader reader({path});
  std::vector<Override> rows;
  while (auto record = reader.next()) {
    OverrideRequest request;
    try {
      for (auto [field, target] :
           {std::pair{"country", &request.country}, std::pair{"currency", &request.currency},
            std::pair{"sku", &request.sku}, std::pair{"price", &request.price}}) {
        const JsonValue* value = record->value.find(field);
        bool optional = std::string_view(field) == "currency";
        if (value == nullptr && optional) continue;
        bool text =
            value != nullptr && (value->is_string() || (value->is_number() && *field == 'p'));
        if (!text) throw Error(exit_code::data, fmt::format("field '{}' must be a string", field));
        *target = value->text();
      }
      rows.push_back(checked_override(request, exit_code::data, [](std::string_view field) {
        return fmt::format("field '{}'", field);
      }));
    } catch (const Error& error) {
      reader.reject(*record, error.what());
    }
  }
  db::WriteTransaction transaction(store.database());
  for (const Override& fixed : rows) store.put_override(fixed);
  transaction.commit();
  auto foreign = std::count_if(rows.begin(), rows.end(), in_foreign_currency);
  if (foreign > 0) {
    note(
        fmt::format("{} of the fixed prices are in another currency than their country's: "
                    "each applies only where its country is priced in that currency",
                    foreign));
  }
  print_record(
      out, format,
      JsonValue::object({{"overrides", JsonValue::integer(static_cast<long long>(rows.size()))}}));
  return 0;
}

int remove_override(Store& store, const Override& key) {
  db::WriteTransaction transaction(store.database());
  bool removed = store.remove_override(key.country, key.currency, key.sku);
  transaction.commit();
  if (!removed) {
    print_diagnostic(
        Severity::error, {},
        fmt::format("no override for sku {} in {} ({})", key.sku, key.country, key.currency));
    return exit_code::definite_no;
  }
  return 0;
}

int list_overrides(Store& store, const std::string& country, Format format, OutputStream& out) {
  RecordPrinter printer(out, format);
  db::ReadTransaction transaction(store.database());
  std::optional<std::string_view> only;
  if (!country.empty()) only = country;
  for (const Override& fixed : store.overrides(only, std::nullopt)) {
    printer.print(override_record(fixed));
  }
  printer.finish();
  return 0;
}

int set_adjustment(Store& store, const Adjustment& adjustment, Format format, OutputStream& out) {
  db::WriteTransaction transaction(store.database());
  store.put_adjustment(adjustment);
  transaction.commit();
  print_record(out, format, adjustment_record(adjustment));
  return 0;
}

int set_rule(Store& store, const RuleRow& stored, Format format, OutputStream& out) {
  db::WriteTransaction transaction(store.database());
  store.put_rule(stored);
  transaction.commit();
  print_record(out, format, rule_record(stored));
  return 0;
}

int list_settings(Store& store, std::string_view what, Format format, OutputStream& out) {
  RecordPrinter printer(out, format);
  db::ReadTransaction transaction(store.database());
  if (what == "tax") {
    // Each country's standard rate, then its categories' rates.
    std::vector<TaxCategoryRow> categories = store.tax_categories(std::nullopt);
    for (const TaxRow& row : store.taxes()) {
      printer.print(tax_record(row, std::nullopt));
      for (const TaxCategoryRow& category : categories) {
        if (category.country != row.country) continue;
        printer.print(tax_record({row.country, category.rate, row.inclusive}, category.category));
      }
    }
  } else if (what == "ppp") {
    for (const Adjustment& row : store.adjustments()) printer.print(adjustment_record(row));
  } else {
    for (const RuleRow& row : store.rules()) printer.print(rule_record(row));
  }
  printer.finish();
  return 0;
}

int remove_setting(Store& store, std::string_view what, const std::string& key) {
  std::string_view table = what == "tax" ? "taxes" : what == "ppp" ? "adjustments" : "rules";
  db::WriteTransaction transaction(store.database());
  bool removed = store.remove(table, key);
  transaction.commit();
  if (!removed) {
    print_diagnostic(Severity::error, {}, fmt::format("no {} setting for {}", what, key));
    return exit_code::definite_no;
  }
  return 0;
}

int show_rates(Store& store, const std::string& date, Format format, OutputStream& out) {
  db::ReadTransaction transaction(store.database());
  auto base = store.rates_base();
  std::vector<RateRow> rows = store.latest_rates_on_or_before(date);
  if (!base || rows.empty()) {
    print_diagnostic(Severity::error, {}, fmt::format("no rates published on or before {}", date));
    return exit_code::definite_no;
  }
  RecordPrinter printer(out, format);
  for (const RateRow& row : rows) {
    printer.print(JsonValue::object({{"currency", JsonValue::string(row.currency)},
                                     {"rate", JsonValue::string(row.rate)},
                                     {"date", JsonValue::string(row.date)},
                                     {"base", JsonValue::string(*base)}}));
  }
  printer.finish();
  return 0;
}

}  // namespace sluice::price
