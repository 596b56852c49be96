// price_settings: the commands that keep a market's settings (tax, adjustment, display rule)
// and the rates' inspection. Each `set` checks its values before storing and prints the
// stored row; `list` prints them all.
#pragma once

#include <string>

#include "price_store.hpp"
#include "sluice/cli.hpp"
#include "sluice/fdio.hpp"

namespace sluice::price {

int set_tax(Store& store, const TaxRow& tax, Format format, OutputStream& out);
int set_adjustment(Store& store, const Adjustment& adjustment, Format format, OutputStream& out);
int set_rule(Store& store, const RuleRow& rule, Format format, OutputStream& out);
// `what` is "tax", "ppp" or "rule".
int list_settings(Store& store, std::string_view what, Format format, OutputStream& out);
// Removes a setting; Error(65)-free: returns 1 with a message when there was none.
int remove_setting(Store& store, std::string_view what, const std::string& key);
// The rates in effect on `date`: one record per currency (currency, rate, date, base).
int show_rates(Store& store, const std::string& date, Format format, OutputStream& out);

}  // namespace sluice::price
