#include "price_settings.hpp"

#include <fmt/format.h>

#include "price_countries.hpp"
#include "price_engine.hpp"
#include "price_market.hpp"
#include "sluice/decimal.hpp"
#include "sluice/error.hpp"
#include "sluice/format.hpp"

namespace sluice::price {
namespace {

JsonValue text_or_null(const std::optional<std::string>& text) {
  return text ? JsonValue::string(*text) : JsonValue::null();
}

JsonValue tax_record(const TaxRow& tax) {
  return JsonValue::object({{"country", JsonValue::string(tax.country)},
                            {"rate", JsonValue::string(tax.rate)},
                            {"inclusive", JsonValue::boolean(tax.inclusive)}});
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

}  // namespace

int set_tax(Store& store, const TaxRow& tax, Format format, OutputStream& out) {
  known_country("--country", tax.country);
  TaxRow stored = tax;
  stored.rate = decimal::format_rate(decimal::parse_rate("--rate", tax.rate));
  db::WriteTransaction transaction(store.database());
  store.put_tax(stored);
  transaction.commit();
  print_record(out, format, tax_record(stored));
  return 0;
}

int set_adjustment(Store& store, const Adjustment& adjustment, Format format, OutputStream& out) {
  known_country("--country", adjustment.country);
  check_adjustment(adjustment);
  db::WriteTransaction transaction(store.database());
  store.put_adjustment(adjustment);
  transaction.commit();
  print_record(out, format, adjustment_record(adjustment));
  return 0;
}

int set_rule(Store& store, const RuleRow& rule, Format format, OutputStream& out) {
  // Parsing for the currency proves the rule fits its precision before it is stored.
  DisplayRule parsed =
      parse_rule(rule.rule, rule.minimum, rule.max_uplift, decimal::currency(rule.currency));
  RuleRow stored = rule;
  if (parsed.max_uplift) stored.max_uplift = decimal::format_rate(*parsed.max_uplift);
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
    for (const TaxRow& row : store.taxes()) printer.print(tax_record(row));
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
