// price_settings: the commands that keep a market's settings (tax, adjustment, display rule)
// and the rates' inspection. Each `set` checks its values before storing and prints the
// stored row; `list` prints them all.
#pragma once

#include <string>

#include "price_store.hpp"
#include "sluice/cli.hpp"
#include "sluice/fdio.hpp"

namespace sluice::price {

// The rows the set commands store, checked before the state file is opened (so that a usage
// error neither creates nor migrates it): Error(2) naming the option for an unknown country
// or currency, a rate that cannot be read, an adjustment out of range, a rule that does not
// fit its currency. Rates come back in their shortest form ("19%"), as stored.
TaxRow checked_tax(const TaxRow& tax);
TaxCategoryRow checked_tax_category(const TaxCategoryRow& category);
Adjustment checked_adjustment(const Adjustment& adjustment);
RuleRow checked_rule(const RuleRow& rule);

// Store a checked row and print it.
int set_tax(Store& store, const TaxRow& stored, Format format, OutputStream& out);
int set_adjustment(Store& store, const Adjustment& adjustment, Format format, OutputStream& out);
int set_rule(Store& store, const RuleRow& stored, Format format, OutputStream& out);
// A country's tax rate for one product category; the country's standard tax must be set
// (Error(65) otherwise). Prints the row as tax list does.
int set_tax_category(Store& store, const TaxCategoryRow& stored, Format format, OutputStream& out);
// Removes one category's rate; returns 1 with a message when there was none.
int remove_tax_category(Store& store, const std::string& country, const std::string& category);

// A fixed price as given on the command line or in a file, before it is checked.
struct OverrideRequest {
  std::string country;
  std::string currency;  // "" for the country's currency
  std::string sku;
  std::string price;
};
// The override the options of override set (PriceOption::checked) or override remove
// (ignored: only the key) name, checked before the state file is opened: Error(2) naming the
// option for an unknown country or currency, an empty SKU, or a price that is not a decimal
// in the currency's precision.
enum class PriceOption { checked, ignored };
Override override_option(const OverrideRequest& request, PriceOption price);
// Stores one override and prints it; a note on stderr when its currency is not the country's
// (only a market priced in that currency uses it).
int set_override(Store& store, const Override& fixed, Format format, OutputStream& out);
// Stores every {"country","sku","price"[,"currency"]} record of `path` in one transaction,
// after checking them all (Error(65) naming the line and field); prints {"overrides":N}, with
// one note on stderr counting those not in their country's currency.
int load_overrides(Store& store, const std::string& path, Format format, OutputStream& out);
// Returns 1 with a message when there was no such override.
int remove_override(Store& store, const Override& key);
// Every override, or one country's: country, currency, sku, price.
int list_overrides(Store& store, const std::string& country, Format format, OutputStream& out);

// `what` is "tax", "ppp" or "rule".
int list_settings(Store& store, std::string_view what, Format format, OutputStream& out);
// Removes a setting; Error(65)-free: returns 1 with a message when there was none.
int remove_setting(Store& store, std::string_view what, const std::string& key);
// The rates in effect on `date`: one record per currency (currency, rate, date, base).
int show_rates(Store& store, const std::string& date, Format format, OutputStream& out);

}  // namespace sluice::price
