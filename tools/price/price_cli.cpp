#include "price_cli.hpp"

#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "price_calc.hpp"
#include "price_countries.hpp"
#include "price_load.hpp"
#include "price_publish.hpp"
#include "price_quote.hpp"
#include "price_settings.hpp"
#include "sluice/error.hpp"
#include "sluice/format.hpp"

namespace sluice::price {
namespace {

// Prices round to the minor unit half up or half to even; the directed modes of
// decimal::Rounding would bias every price one way.
constexpr NameTable<decimal::Rounding, 2> price_rounding_names(
    {{{"half-up", decimal::Rounding::half_up}, {"half-even", decimal::Rounding::half_even}}});

struct Settings {
  cli::StateOptions state;
  Format format = Format::jsonl;
  std::string base;
  std::string base_currency = "USD";
  std::string country;
  std::string countries;
  std::string markets;
  std::string currency;
  std::string date;
  std::string max_rate_age = "4d";
  std::string max_age;  // lookup: "" for any age
  std::string locale;   // calc, lookup: "" for no display
  decimal::Rounding rounding = decimal::Rounding::half_up;
  TaxRounding tax_rounding = TaxRounding::net;
  InputOptions input;
  bool quiet = false;
  ProgressMode progress = ProgressMode::automatic;
  std::vector<std::string> inputs;
  std::string sku;
  std::string input_format;
  QuoteRequest quote;
  std::string quote_id;
  std::string amount_to;
  std::string amount;
  std::string ratios;
  std::string rate;
  bool inclusive = false;
  bool exclusive = false;
  Adjustment adjustment;
  std::string multiplier;
  std::string plr;
  RuleRow rule;
  std::string category;                     // tax set/remove --category
  std::optional<std::string> tax_category;  // calc --tax-category
  OverrideRequest fixed;                    // override set/remove
};

// Commands that never look at the clock get no --now.
void add_state(CLI::App& command, Settings& settings, cli::WithNow with_now = cli::WithNow::yes) {
  cli::add_state_options(command, settings.state, with_now);
}

void add_date(CLI::App& command, Settings& settings) {
  command.add_option("--date", settings.date, "Price date (default: today, UTC)")
      ->type_name("DATE");
}

void add_market_options(CLI::App& command, Settings& settings) {
  auto* country = command.add_option("--country", settings.country, "One market's country");
  auto* countries =
      command.add_option("--countries", settings.countries, "Markets: DE,JP,IN")->excludes(country);
  command.add_option("--markets", settings.markets, "Markets from a JSONL file")
      ->type_name("FILE")
      ->excludes(country)
      ->excludes(countries);
  command.add_option("--currency", settings.currency, "The market's currency (with --country)")
      ->needs(country);
}

void add_pricing_options(CLI::App& command, Settings& settings) {
  add_market_options(command, settings);
  add_date(command, settings);
  command.add_option("--base-currency", settings.base_currency, "Currency of base prices");
  command.add_option("--max-rate-age", settings.max_rate_age, "Oldest usable rates (whole days)")
      ->type_name("DAYS");
  cli::add_choice_option(command, "--rounding", settings.rounding, price_rounding_names,
                         "Rounding to the minor unit");
  cli::add_choice_option(command, "--tax-rounding", settings.tax_rounding, tax_rounding_names,
                         "Inclusive markets: net or tax");
  cli::add_input_options(command, settings.input);
  cli::add_progress_option(command, settings.progress);
  add_state(command, settings);
}

std::string today(const Settings& settings) {
  if (!settings.date.empty()) return format_date(cli::date_option("--date", settings.date));
  Instant now = cli::make_clock(settings.state).now();
  return format_date(std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(now)));
}

int whole_days(std::string_view option, const std::string& text) {
  return static_cast<int>(cli::duration_in_units(option, text, std::chrono::days(1), "days"));
}

CalcOptions calc_options(const Settings& settings) {
  CalcOptions options;
  options.day.base_currency = decimal::currency(settings.base_currency);
  options.day.date = today(settings);
  options.day.max_rate_age_days = whole_days("--max-rate-age", settings.max_rate_age);
  options.rounding = settings.rounding;
  options.tax_rounding = settings.tax_rounding;
  options.format = settings.format;
  options.input = settings.input;
  options.progress = settings.progress;
  options.now = cli::make_clock(settings.state).now();
  // An empty category is a usage error, as an empty tax_category is bad data in a catalog; a
  // category no country has a rate for is 65, known only once the state is read.
  if (settings.tax_category && settings.tax_category->empty()) {
    throw Error(exit_code::usage, "--tax-category: must not be empty");
  }
  options.tax_category = settings.tax_category.value_or("");
  // Checked here, before the state file is opened: a bad tag is a usage error.
  if (!settings.locale.empty()) icu_locale("--locale", settings.locale);
  options.locale = settings.locale;
  return options;
}

std::vector<MarketRequest> markets_of(const Settings& settings) {
  if (!settings.country.empty()) {
    if (settings.country.find(',') != std::string::npos) {
      throw Error(exit_code::usage, "--country: one country; use --countries for a list");
    }
    std::vector<MarketRequest> markets = parse_countries("--country", settings.country);
    if (!settings.currency.empty()) markets[0].currency = decimal::currency(settings.currency).code;
    return markets;
  }
  if (!settings.countries.empty()) return parse_countries("--countries", settings.countries);
  if (!settings.markets.empty()) return read_markets_file(settings.markets);
  throw Error(exit_code::usage, "name the markets with --country, --countries or --markets");
}

Store open_store(const Settings& settings, cli::StateFile file) {
  return cli::open_state<Store>(settings.state, "price", file, cli::Backends::sqlite_or_postgresql);
}

// Quotes expire by the state's clock: a server's, so that hosts whose clocks disagree agree,
// unless --now fixes it.
Instant state_now(Store& store, const Settings& settings) {
  return store.database().clock(cli::make_clock(settings.state)).now();
}

// A row's work, run with stdout once the command line is parsed.
using Work = std::function<int(const Settings&, OutputStream&)>;

cli::Action with_output(const std::shared_ptr<Settings>& settings, Work work) {
  return [settings, work = std::move(work)] {
    return with_stdout([&](OutputStream& out) { return work(*settings, out); });
  };
}

// A row's work on the state file, which loading and setting create and every other command
// needs to exist.
using StoreWork = std::function<int(const Settings&, Store&, OutputStream&)>;

cli::Action with_store(const std::shared_ptr<Settings>& settings, cli::StateFile file,
                       StoreWork work) {
  return with_output(settings,
                     [file, work = std::move(work)](const Settings& s, OutputStream& out) {
                       Store store = open_store(s, file);
                       return work(s, store, out);
                     });
}

// calc and publish: options are checked before the state file is opened; calc only reads,
// so a mistyped --db must not leave an empty state file behind.
enum class Pricing { calc, publish };

int run_pricing(const Settings& s, Pricing pricing, OutputStream& out) {
  CalcOptions options = calc_options(s);
  std::vector<MarketRequest> markets = markets_of(s);
  if (pricing == Pricing::publish) {
    Store store = open_store(s, cli::StateFile::create);
    return publish(store, s.inputs, markets, options, out);
  }
  Store store = open_store(s, cli::StateFile::must_exist);
  if (!s.base.empty()) return calc_one(store, s.base, markets, options, out);
  return calc_stream(store, s.inputs, markets, options, out);
}

void add_locale(CLI::App& command, Settings& settings) {
  command.add_option("--locale", settings.locale, "Add the amount as shown there: de-DE, ja-JP")
      ->type_name("TAG");
}

void add_calc_options(CLI::App& command, Settings& settings) {
  command.add_option("inputs", settings.inputs, "Catalog files of {sku, price} (default: stdin)");
  cli::define_when_used(command, [&settings](CLI::App& calc) {
    auto* base = calc.add_option("--base", settings.base, "One base price (instead of a catalog)");
    calc.add_option("--tax-category", settings.tax_category, "The product's tax category")
        ->needs(base);
    add_locale(calc, settings);
    add_pricing_options(calc, settings);
    cli::add_format_option(calc, settings.format);
  });
}

void add_publish_options(CLI::App& command, Settings& settings) {
  command.add_option("inputs", settings.inputs, "Catalog files (default: stdin)");
  cli::define_when_used(command, [&settings](CLI::App& publish) {
    add_pricing_options(publish, settings);
    cli::add_format_option(publish, settings.format);
  });
}

void add_lookup_options(CLI::App& command, Settings& settings) {
  command.add_option("--sku", settings.sku, "The SKU")->required();
  command.add_option("--country", settings.country, "The market's country")->required();
  add_date(command, settings);
  command.add_option("--max-age", settings.max_age, "Refuse prices or rates older (whole days)")
      ->type_name("DAYS");
  add_locale(command, settings);
  cli::add_format_option(command, settings.format);
  add_state(command, settings);
}

// Required, but checked by hand (quote_row): `quote show` and the others go without them.
void add_quote_options(CLI::App& command, Settings& settings) {
  QuoteRequest& quote = settings.quote;
  command.add_option("--amount", quote.amount, "Amount in the --from currency (required)");
  command.add_option("--from", quote.from, "Currency paid in (required)");
  command.add_option("--to", quote.to, "Currency received (required)");
  cli::add_duration_option(command, "--ttl", quote.ttl, "How long the rate holds");
  command.add_option("--fee", quote.fee, "Spread taken from the rate: 1%, 50bp");
  cli::add_choice_option(command, "--rounding", settings.rounding, price_rounding_names,
                         "Rounding of amount_to");
  command.add_option("--max-rate-age", settings.max_rate_age, "Oldest usable rates")
      ->type_name("DAYS");
  add_state(command, settings);
}

void add_accept_options(CLI::App& command, Settings& settings) {
  command.add_option("--quote", settings.quote_id, "The quote_id")->required();
  command.add_option("--amount-to", settings.amount_to, "Must equal the quote's amount_to");
  add_state(command, settings);
}

void add_allocate_options(CLI::App& command, Settings& settings) {
  command.add_option("--amount", settings.amount, "The amount")->required();
  command.add_option("--currency", settings.currency, "ISO 4217 code")->required();
  command.add_option("--ratios", settings.ratios, "Comma-separated: 1,1,1 or 75,25")->required();
  cli::add_format_option(command, settings.format);
}

void add_ppp_shape(CLI::App& command, Settings& settings) {
  Adjustment& adjustment = settings.adjustment;
  command.add_option("--smoothing", adjustment.smoothing, "s in m = PLR + (1 - PLR) * s");
  command.add_option("--min", adjustment.minimum, "Lowest multiplier");
  command.add_option("--max", adjustment.maximum, "Highest multiplier");
}

std::string single_input(const Settings& settings) {
  return settings.inputs.empty() ? "-" : settings.inputs.front();
}

Adjustment adjustment_of(const Settings& settings) {
  Adjustment adjustment = settings.adjustment;
  if (!settings.multiplier.empty()) {
    adjustment.multiplier = settings.multiplier;
  } else if (!settings.plr.empty()) {
    adjustment.plr = settings.plr;
  } else {
    throw Error(exit_code::usage, "ppp set needs --plr or --multiplier");
  }
  return adjustment;
}

// The state options of the settings commands, which never look at the clock.
void add_settings_state(CLI::App& command, Settings& settings) {
  add_state(command, settings, cli::WithNow::no);
}

// `list`: the stored rows of one kind of setting.
cli::Subcommand list_row(const std::shared_ptr<Settings>& settings, std::string kind,
                         std::string help) {
  Settings& s = *settings;
  return {"list", std::move(help),
          [&s](CLI::App& command) {
            cli::add_format_option(command, s.format);
            add_settings_state(command, s);
          },
          with_store(settings, cli::StateFile::must_exist,
                     [kind](const Settings& given, Store& store, OutputStream& out) {
                       return list_settings(store, kind, given.format, out);
                     })};
}

// `remove`: one country's or currency's setting, its key checked before the state file is
// opened (a mistyped key is a bad request, 2, not a missing state file, 66).
cli::Subcommand remove_row(const std::shared_ptr<Settings>& settings, std::string kind,
                           std::string help, std::string key_option) {
  Settings& s = *settings;
  bool by_currency = key_option == "--currency";
  return {
      "remove", std::move(help),
      [&s, by_currency, key_option](CLI::App& command) {
        std::string& key = by_currency ? s.currency : s.country;
        command.add_option(key_option, key, by_currency ? "ISO 4217 code" : "Country")->required();
        add_settings_state(command, s);
      },
      with_output(settings, [kind, by_currency](const Settings& given, OutputStream&) {
        if (by_currency) {
          decimal::currency(given.currency);
        } else {
          known_country("--country", given.country);
        }
        Store store = open_store(given, cli::StateFile::must_exist);
        return remove_setting(store, kind, by_currency ? given.currency : given.country);
      })};
}

cli::Subcommand rates_group(const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  return cli::subcommand_group(
      "rates", "Daily FX rates",
      {{"load", "Load ECB CSV or JSONL rates",
        [&s](CLI::App& command) {
          cli::complete_with(command.add_option("--format", s.input_format, "ecb-csv or jsonl"),
                             {"ecb-csv", "jsonl"});
          command.add_flag("--quiet,-q", s.quiet, "No note about skipped columns");
          command.add_option("inputs", s.inputs, "The file (default: stdin)")->expected(0, 1);
          add_settings_state(command, s);
        },
        with_store(settings, cli::StateFile::create,
                   [](const Settings& given, Store& store, OutputStream& out) {
                     print_record(out, given.format,
                                  load_rates(store, single_input(given),
                                             parse_rates_format(given.input_format), given.quiet));
                     return exit_code::success;
                   })},
       {"show", "The rates in effect on a date",
        [&s](CLI::App& command) {
          add_date(command, s);
          cli::add_format_option(command, s.format);
          add_state(command, s);
        },
        with_output(settings, [](const Settings& given, OutputStream& out) {
          std::string day = today(given);  // a bad --date is Error(2), before the state file
          Store store = open_store(given, cli::StateFile::must_exist);
          return show_rates(store, day, given.format, out);
        })}});
}

cli::Subcommand ppp_group(const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  return cli::subcommand_group(
      "ppp", "Country price adjustments",
      {{"load", "Load price level ratios (World Bank or JSONL)",
        [&s](CLI::App& command) {
          cli::complete_with(command.add_option("--format", s.input_format, "wb-csv or jsonl"),
                             {"wb-csv", "jsonl"});
          command.add_option("inputs", s.inputs, "The file (default: stdin)")->expected(0, 1);
          add_ppp_shape(command, s);
          add_settings_state(command, s);
        },
        with_store(settings, cli::StateFile::create,
                   [](const Settings& given, Store& store, OutputStream& out) {
                     print_record(out, given.format,
                                  load_ppp(store, single_input(given),
                                           parse_ppp_format(given.input_format), given.adjustment));
                     return exit_code::success;
                   })},
       {"set", "Set one country's adjustment",
        [&s](CLI::App& command) {
          command.add_option("--country", s.adjustment.country, "Country")->required();
          auto* plr = command.add_option("--plr", s.plr, "Price level ratio");
          command.add_option("--multiplier", s.multiplier, "Explicit multiplier")->excludes(plr);
          add_ppp_shape(command, s);
          cli::add_format_option(command, s.format);
          add_settings_state(command, s);
        },
        with_output(settings,
                    [](const Settings& given, OutputStream& out) {
                      Adjustment adjustment = checked_adjustment(adjustment_of(given));
                      Store store = open_store(given, cli::StateFile::create);
                      return set_adjustment(store, adjustment, given.format, out);
                    })},
       remove_row(settings, "ppp", "Remove a country's adjustment", "--country"),
       list_row(settings, "ppp", "Print the adjustments")});
}

// tax set: a category's rate or the standard one, checked before the state file is opened.
int set_tax_command(const Settings& given, OutputStream& out) {
  if (!given.category.empty()) {
    TaxCategoryRow category = checked_tax_category({given.country, given.category, given.rate});
    Store store = open_store(given, cli::StateFile::create);
    return set_tax_category(store, category, given.format, out);
  }
  if (!given.inclusive && !given.exclusive) {
    throw Error(exit_code::usage, "tax set needs --inclusive or --exclusive");
  }
  TaxRow tax = checked_tax({given.country, given.rate, given.inclusive});
  Store store = open_store(given, cli::StateFile::create);
  return set_tax(store, tax, given.format, out);
}

cli::Subcommand tax_group(const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  return cli::subcommand_group(
      "tax", "VAT, GST and sales tax per country",
      {{"set", "Set a country's tax",
        [&s](CLI::App& command) {
          command.add_option("--country", s.country, "Country")->required();
          command.add_option("--rate", s.rate, "Rate: 19%, 8.875%")->required();
          auto* inclusive = command.add_flag("--inclusive", s.inclusive, "Prices shown with tax");
          auto* exclusive = command.add_flag("--exclusive", s.exclusive, "Prices shown before tax")
                                ->excludes(inclusive);
          command
              .add_option("--category", s.category,
                          "A product category's rate (with the country's inclusiveness)")
              ->excludes(inclusive)
              ->excludes(exclusive);
          cli::add_format_option(command, s.format);
          add_settings_state(command, s);
        },
        with_output(settings, set_tax_command)},
       {"remove", "Make a country untaxed, or remove one category's rate",
        [&s](CLI::App& command) {
          command.add_option("--country", s.country, "Country")->required();
          command.add_option("--category", s.category, "Only this category's rate");
          add_settings_state(command, s);
        },
        with_output(settings,
                    [](const Settings& given, OutputStream&) {
                      known_country("--country", given.country);
                      Store store = open_store(given, cli::StateFile::must_exist);
                      if (!given.category.empty()) {
                        return remove_tax_category(store, given.country, given.category);
                      }
                      return remove_setting(store, "tax", given.country);
                    })},
       list_row(settings, "tax", "Print the taxes")});
}

cli::Subcommand rule_group(const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  return cli::subcommand_group(
      "rule", "Display rules per currency",
      {{"set", "Set a currency's display rule",
        [&s](CLI::App& command) {
          command.add_option("--currency", s.rule.currency, "ISO 4217 code")->required();
          // The fixed words complete; ceil:STEP and nearest:STEP take a number.
          cli::complete_with(
              command
                  .add_option("--rule", s.rule.rule,
                              "none, end-99, end-95, end-90, nearest-99, nearest-95, nearest-90, "
                              "ceil:STEP, nearest:STEP")
                  ->required(),
              {"none", "end-99", "end-95", "end-90", "nearest-99", "nearest-95", "nearest-90"});
          command.add_option("--min", s.rule.minimum, "Below this, no rule");
          command.add_option("--max-uplift", s.rule.max_uplift,
                             "Most the rule may move a price: 5%");
          cli::add_format_option(command, s.format);
          add_settings_state(command, s);
        },
        with_output(settings,
                    [](const Settings& given, OutputStream& out) {
                      RuleRow rule = checked_rule(given.rule);
                      Store store = open_store(given, cli::StateFile::create);
                      return set_rule(store, rule, given.format, out);
                    })},
       remove_row(settings, "rule", "Remove a currency's rule", "--currency"),
       list_row(settings, "rule", "Print the rules")});
}

void add_override_key(CLI::App& command, Settings& settings) {
  command.add_option("--country", settings.fixed.country, "Country")->required();
  command.add_option("--sku", settings.fixed.sku, "The SKU")->required();
  command.add_option("--currency", settings.fixed.currency,
                     "The market's currency (default: the country's)");
}

cli::Subcommand override_group(const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  return cli::subcommand_group(
      "override", "Fixed prices of SKUs in markets",
      {{"set", "Fix a SKU's price in a market",
        [&s](CLI::App& command) {
          add_override_key(command, s);
          command.add_option("--price", s.fixed.price, "The displayed price: 49.00")->required();
          cli::add_format_option(command, s.format);
          add_settings_state(command, s);
        },
        with_output(settings,
                    [](const Settings& given, OutputStream& out) {
                      // Checked first: a usage error neither creates nor migrates the state file.
                      Override fixed = override_option(given.fixed, PriceOption::checked);
                      Store store = open_store(given, cli::StateFile::create);
                      return set_override(store, fixed, given.format, out);
                    })},
       {"load", "Load fixed prices from JSONL",
        [&s](CLI::App& command) {
          command.add_option("inputs", s.inputs, "The file (default: stdin)")->expected(0, 1);
          cli::add_format_option(command, s.format);
          add_settings_state(command, s);
        },
        with_store(settings, cli::StateFile::create,
                   [](const Settings& given, Store& store, OutputStream& out) {
                     return load_overrides(store, single_input(given), given.format, out);
                   })},
       {"remove", "Remove a fixed price",
        [&s](CLI::App& command) {
          add_override_key(command, s);
          add_settings_state(command, s);
        },
        // The key checked first, as remove_row does (a mistyped key is 2, not 66).
        with_output(settings,
                    [](const Settings& given, OutputStream&) {
                      Override key = override_option(given.fixed, PriceOption::ignored);
                      Store store = open_store(given, cli::StateFile::must_exist);
                      return remove_override(store, key);
                    })},
       {"list", "Print the fixed prices",
        [&s](CLI::App& command) {
          command.add_option("--country", s.country, "Only this country's");
          cli::add_format_option(command, s.format);
          add_settings_state(command, s);
        },
        with_output(settings, [](const Settings& given, OutputStream& out) {
          if (!given.country.empty()) known_country("--country", given.country);
          Store store = open_store(given, cli::StateFile::must_exist);
          return list_overrides(store, given.country, given.format, out);
        })}});
}

// `quote` makes a quote; `quote show`, `quote list` and `quote cancel` work on stored ones.
// A row of its own: the group helper requires a subcommand, and `quote` alone is a command.
std::vector<cli::Subcommand> quote_table(const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  auto add_quote_id = [&s](CLI::App& command) {
    command.add_option("--quote", s.quote_id, "The quote_id")->required();
  };
  return {{"show", "A quote and its status",
           [&s, add_quote_id](CLI::App& command) {
             add_quote_id(command);
             cli::add_format_option(command, s.format);
             add_state(command, s);
           },
           with_store(settings, cli::StateFile::must_exist,
                      [](const Settings& given, Store& store, OutputStream& out) {
                        return show_quote(store, given.quote_id, state_now(store, given),
                                          given.format, out);
                      })},
          {"list", "Every quote and its status",
           [&s](CLI::App& command) {
             cli::add_format_option(command, s.format);
             add_state(command, s);
           },
           with_store(settings, cli::StateFile::must_exist,
                      [](const Settings& given, Store& store, OutputStream& out) {
                        return list_quotes(store, state_now(store, given), given.format, out);
                      })},
          {"cancel", "Withdraw an open quote",
           [&s, add_quote_id](CLI::App& command) {
             add_quote_id(command);
             add_state(command, s);
           },
           with_store(settings, cli::StateFile::must_exist,
                      [](const Settings& given, Store& store, OutputStream& out) {
                        return cancel_quote(store, given.quote_id, state_now(store, given), out);
                      })}};
}

int make_quote(const Settings& given, OutputStream& out) {
  for (auto [option, value] :
       {std::pair{"--amount", &given.quote.amount}, std::pair{"--from", &given.quote.from},
        std::pair{"--to", &given.quote.to}}) {
    if (value->empty()) throw Error(exit_code::usage, fmt::format("quote needs {}", option));
  }
  QuoteRequest request = given.quote;
  request.rounding = given.rounding;
  request.max_rate_age_days = whole_days("--max-rate-age", given.max_rate_age);
  // a quote needs rates already loaded
  Store store = open_store(given, cli::StateFile::must_exist);
  return quote(store, request, state_now(store, given), out);
}

cli::Subcommand quote_row(const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  // The action exists once define has added the nested table (as in cli::subcommand_group).
  auto chosen = std::make_shared<cli::Action>();
  return {"quote", "Lock an FX rate for a time (checkout quote); show, list, cancel",
          [&s, settings, chosen](CLI::App& command) {
            add_quote_options(command, s);
            *chosen = cli::add_subcommands(command, quote_table(settings),
                                           with_output(settings, make_quote));
          },
          [chosen] { return (*chosen)(); }};
}

std::vector<cli::Subcommand> subcommands(const std::shared_ptr<Settings>& settings) {
  Settings& s = *settings;
  return {
      {"calc", "Prices of a base price or a catalog in markets",
       [&s](CLI::App& command) { add_calc_options(command, s); },
       with_output(settings,
                   [](const Settings& given, OutputStream& out) {
                     return run_pricing(given, Pricing::calc, out);
                   })},
      {"publish", "Store a catalog's prices for lookup",
       [&s](CLI::App& command) { add_publish_options(command, s); },
       with_output(settings,
                   [](const Settings& given, OutputStream& out) {
                     return run_pricing(given, Pricing::publish, out);
                   })},
      {"lookup", "A published price", [&s](CLI::App& command) { add_lookup_options(command, s); },
       with_output(settings,
                   [](const Settings& given, OutputStream& out) {
                     known_country("--country", given.country);
                     LookupRequest request{given.sku, given.country, today(given), std::nullopt,
                                           given.locale};
                     if (!given.locale.empty()) icu_locale("--locale", given.locale);
                     if (!given.max_age.empty()) {
                       request.max_age_days = whole_days("--max-age", given.max_age);
                     }
                     Store store = open_store(given, cli::StateFile::must_exist);
                     return lookup(store, request, given.format, out);
                   })},
      quote_row(settings),
      {"accept", "Use a quote once, before it expires",
       [&s](CLI::App& command) { add_accept_options(command, s); },
       with_output(settings,
                   [](const Settings& given, OutputStream& out) {
                     Store store = open_store(given, cli::StateFile::must_exist);
                     return accept(store, given.quote_id, given.amount_to, state_now(store, given),
                                   out);
                   })},
      {"allocate", "Split an amount exactly by ratios",
       [&s](CLI::App& command) { add_allocate_options(command, s); },
       with_output(settings,
                   [](const Settings& given, OutputStream& out) {
                     return allocate(given.amount, given.currency, given.ratios, given.format, out);
                   })},
      rates_group(settings),
      ppp_group(settings),
      tax_group(settings),
      rule_group(settings),
      override_group(settings),
  };
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  return cli::add_subcommands(app, subcommands(std::make_shared<Settings>()));
}

}  // namespace sluice::price
