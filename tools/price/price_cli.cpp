#include "price_cli.hpp"

#include <unistd.h>

#include <chrono>
#include <memory>

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
  return cli::open_state<Store>(settings.state, "price", file);
}

// Runs `work` with stdout, flushing it so that write errors surface.
template <typename Work>
int with_stdout(Work&& work) {
  OutputStream out(STDOUT_FILENO);
  int status = work(out);
  out.flush();
  return status;
}

CLI::App* add_calc(CLI::App& app, Settings& settings) {
  auto* command = app.add_subcommand("calc", "Prices of a base price or a catalog in markets");
  command->add_option("inputs", settings.inputs, "Catalog files of {sku, price} (default: stdin)");
  cli::define_when_used(*command, [&settings](CLI::App& calc) {
    calc.add_option("--base", settings.base, "One base price (instead of a catalog)");
    add_pricing_options(calc, settings);
    cli::add_format_option(calc, settings.format);
  });
  return command;
}

CLI::App* add_publish(CLI::App& app, Settings& settings) {
  auto* command = app.add_subcommand("publish", "Store a catalog's prices for lookup");
  command->add_option("inputs", settings.inputs, "Catalog files (default: stdin)");
  cli::define_when_used(*command, [&settings](CLI::App& publish) {
    add_pricing_options(publish, settings);
    cli::add_format_option(publish, settings.format);
  });
  return command;
}

CLI::App* add_lookup(CLI::App& app, Settings& settings) {
  auto* command = app.add_subcommand("lookup", "A published price");
  command->add_option("--sku", settings.sku, "The SKU")->required();
  command->add_option("--country", settings.country, "The market's country")->required();
  add_date(*command, settings);
  cli::add_format_option(*command, settings.format);
  add_state(*command, settings);
  return command;
}

CLI::App* add_quote(CLI::App& app, Settings& settings) {
  auto* command = app.add_subcommand("quote", "Lock an FX rate for a time (checkout quote)");
  QuoteRequest& quote = settings.quote;
  command->add_option("--amount", quote.amount, "Amount in the --from currency")->required();
  command->add_option("--from", quote.from, "Currency paid in")->required();
  command->add_option("--to", quote.to, "Currency received")->required();
  cli::add_duration_option(*command, "--ttl", quote.ttl, "How long the rate holds");
  command->add_option("--fee", quote.fee, "Spread taken from the rate: 1%, 50bp");
  cli::add_choice_option(*command, "--rounding", settings.rounding, price_rounding_names,
                         "Rounding of amount_to");
  command->add_option("--max-rate-age", settings.max_rate_age, "Oldest usable rates")
      ->type_name("DAYS");
  add_state(*command, settings);
  return command;
}

CLI::App* add_accept(CLI::App& app, Settings& settings) {
  auto* command = app.add_subcommand("accept", "Use a quote once, before it expires");
  command->add_option("--quote", settings.quote_id, "The quote_id")->required();
  command->add_option("--amount-to", settings.amount_to, "Must equal the quote's amount_to");
  add_state(*command, settings);
  return command;
}

CLI::App* add_allocate(CLI::App& app, Settings& settings) {
  auto* command = app.add_subcommand("allocate", "Split an amount exactly by ratios");
  command->add_option("--amount", settings.amount, "The amount")->required();
  command->add_option("--currency", settings.currency, "ISO 4217 code")->required();
  command->add_option("--ratios", settings.ratios, "Comma-separated: 1,1,1 or 75,25")->required();
  cli::add_format_option(*command, settings.format);
  return command;
}

}  // namespace

namespace {

struct Commands {
  CLI::App *calc, *publish, *lookup, *quote, *accept, *allocate;
  CLI::App *rates_load, *rates_show;
  CLI::App *ppp_load, *ppp_set, *ppp_remove, *ppp_list;
  CLI::App *tax_set, *tax_remove, *tax_list;
  CLI::App *rule_set, *rule_remove, *rule_list;
};

void add_ppp_shape(CLI::App& command, Settings& settings) {
  Adjustment& adjustment = settings.adjustment;
  command.add_option("--smoothing", adjustment.smoothing, "s in m = PLR + (1 - PLR) * s");
  command.add_option("--min", adjustment.minimum, "Lowest multiplier");
  command.add_option("--max", adjustment.maximum, "Highest multiplier");
}

void add_rates_commands(CLI::App& app, Settings& settings, Commands& commands) {
  auto* rates = app.add_subcommand("rates", "Daily FX rates")->require_subcommand(1);
  commands.rates_load = rates->add_subcommand("load", "Load ECB CSV or JSONL rates");
  commands.rates_load->add_option("--format", settings.input_format, "ecb-csv or jsonl");
  commands.rates_load->add_flag("--quiet,-q", settings.quiet, "No note about skipped columns");
  commands.rates_load->add_option("inputs", settings.inputs, "The file (default: stdin)")
      ->expected(0, 1);
  add_state(*commands.rates_load, settings, cli::WithNow::no);
  commands.rates_show = rates->add_subcommand("show", "The rates in effect on a date");
  add_date(*commands.rates_show, settings);
  cli::add_format_option(*commands.rates_show, settings.format);
  add_state(*commands.rates_show, settings);
}

void add_ppp_commands(CLI::App& app, Settings& settings, Commands& commands) {
  auto* ppp = app.add_subcommand("ppp", "Country price adjustments")->require_subcommand(1);
  commands.ppp_load = ppp->add_subcommand("load", "Load price level ratios (World Bank or JSONL)");
  commands.ppp_load->add_option("--format", settings.input_format, "wb-csv or jsonl");
  commands.ppp_load->add_option("inputs", settings.inputs, "The file (default: stdin)")
      ->expected(0, 1);
  add_ppp_shape(*commands.ppp_load, settings);
  add_state(*commands.ppp_load, settings, cli::WithNow::no);
  commands.ppp_set = ppp->add_subcommand("set", "Set one country's adjustment");
  commands.ppp_set->add_option("--country", settings.adjustment.country, "Country")->required();
  auto* plr = commands.ppp_set->add_option("--plr", settings.plr, "Price level ratio");
  commands.ppp_set->add_option("--multiplier", settings.multiplier, "Explicit multiplier")
      ->excludes(plr);
  add_ppp_shape(*commands.ppp_set, settings);
  cli::add_format_option(*commands.ppp_set, settings.format);
  add_state(*commands.ppp_set, settings, cli::WithNow::no);
  commands.ppp_remove = ppp->add_subcommand("remove", "Remove a country's adjustment");
  commands.ppp_remove->add_option("--country", settings.country, "Country")->required();
  add_state(*commands.ppp_remove, settings, cli::WithNow::no);
  commands.ppp_list = ppp->add_subcommand("list", "Print the adjustments");
  cli::add_format_option(*commands.ppp_list, settings.format);
  add_state(*commands.ppp_list, settings, cli::WithNow::no);
}

void add_tax_commands(CLI::App& app, Settings& settings, Commands& commands) {
  auto* tax =
      app.add_subcommand("tax", "VAT, GST and sales tax per country")->require_subcommand(1);
  commands.tax_set = tax->add_subcommand("set", "Set a country's tax");
  commands.tax_set->add_option("--country", settings.country, "Country")->required();
  commands.tax_set->add_option("--rate", settings.rate, "Rate: 19%, 8.875%")->required();
  auto* inclusive =
      commands.tax_set->add_flag("--inclusive", settings.inclusive, "Prices shown with tax");
  commands.tax_set->add_flag("--exclusive", settings.exclusive, "Prices shown before tax")
      ->excludes(inclusive);
  cli::add_format_option(*commands.tax_set, settings.format);
  add_state(*commands.tax_set, settings, cli::WithNow::no);
  commands.tax_remove = tax->add_subcommand("remove", "Make a country untaxed");
  commands.tax_remove->add_option("--country", settings.country, "Country")->required();
  add_state(*commands.tax_remove, settings, cli::WithNow::no);
  commands.tax_list = tax->add_subcommand("list", "Print the taxes");
  cli::add_format_option(*commands.tax_list, settings.format);
  add_state(*commands.tax_list, settings, cli::WithNow::no);
}

void add_rule_commands(CLI::App& app, Settings& settings, Commands& commands) {
  auto* rule = app.add_subcommand("rule", "Display rules per currency")->require_subcommand(1);
  commands.rule_set = rule->add_subcommand("set", "Set a currency's display rule");
  commands.rule_set->add_option("--currency", settings.rule.currency, "ISO 4217 code")->required();
  commands.rule_set
      ->add_option("--rule", settings.rule.rule,
                   "none, end-99, end-95, end-90, ceil:STEP, nearest:STEP")
      ->required();
  commands.rule_set->add_option("--min", settings.rule.minimum, "Below this, no rule");
  cli::add_format_option(*commands.rule_set, settings.format);
  add_state(*commands.rule_set, settings, cli::WithNow::no);
  commands.rule_remove = rule->add_subcommand("remove", "Remove a currency's rule");
  commands.rule_remove->add_option("--currency", settings.currency, "ISO 4217 code")->required();
  add_state(*commands.rule_remove, settings, cli::WithNow::no);
  commands.rule_list = rule->add_subcommand("list", "Print the rules");
  cli::add_format_option(*commands.rule_list, settings.format);
  add_state(*commands.rule_list, settings, cli::WithNow::no);
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

int run_settings(const Settings& s, const Commands& c, Store& store, OutputStream& out) {
  if (c.rates_load->parsed()) {
    print_record(out, s.format,
                 load_rates(store, single_input(s), parse_rates_format(s.input_format), s.quiet));
    return 0;
  }
  if (c.rates_show->parsed()) return show_rates(store, today(s), s.format, out);
  if (c.ppp_load->parsed()) {
    print_record(out, s.format,
                 load_ppp(store, single_input(s), parse_ppp_format(s.input_format), s.adjustment));
    return 0;
  }
  if (c.ppp_set->parsed()) return set_adjustment(store, adjustment_of(s), s.format, out);
  if (c.tax_set->parsed()) {
    if (!s.inclusive && !s.exclusive) {
      throw Error(exit_code::usage, "tax set needs --inclusive or --exclusive");
    }
    return set_tax(store, {s.country, s.rate, s.inclusive}, s.format, out);
  }
  if (c.rule_set->parsed()) return set_rule(store, s.rule, s.format, out);
  if (c.ppp_remove->parsed()) return remove_setting(store, "ppp", s.country);
  if (c.tax_remove->parsed()) return remove_setting(store, "tax", s.country);
  if (c.rule_remove->parsed()) return remove_setting(store, "rule", s.currency);
  if (c.ppp_list->parsed()) return list_settings(store, "ppp", s.format, out);
  if (c.tax_list->parsed()) return list_settings(store, "tax", s.format, out);
  return list_settings(store, "rule", s.format, out);
}

// The keys a command looks up are checked before the state file is opened, as calc checks
// its markets: a mistyped country is a bad request (2), not "nothing published" (1) or a
// missing state file (66).
void check_lookup_keys(const Settings& s, const Commands& c) {
  if (c.lookup->parsed() || c.ppp_remove->parsed() || c.tax_remove->parsed()) {
    known_country("--country", s.country);
  }
  if (c.rule_remove->parsed()) decimal::currency(s.currency);
  if (c.lookup->parsed() || c.rates_show->parsed()) today(s);  // a bad --date is Error(2)
}

int run_pricing(const Settings& s, const Commands& c, OutputStream& out) {
  if (c.allocate->parsed()) return allocate(s.amount, s.currency, s.ratios, s.format, out);
  if (c.calc->parsed() || c.publish->parsed()) {
    // Options are checked before the state file is opened.
    CalcOptions options = calc_options(s);
    std::vector<MarketRequest> markets = markets_of(s);
    // calc only reads: a mistyped --db must not leave an empty state file behind.
    Store store =
        open_store(s, c.calc->parsed() ? cli::StateFile::must_exist : cli::StateFile::create);
    if (c.publish->parsed()) return publish(store, s.inputs, markets, options, out);
    if (!s.base.empty()) return calc_one(store, s.base, markets, options, out);
    return calc_stream(store, s.inputs, markets, options, out);
  }
  Instant now = cli::make_clock(s.state).now();
  if (c.quote->parsed()) {
    QuoteRequest request = s.quote;
    request.rounding = s.rounding;
    request.max_rate_age_days = whole_days("--max-rate-age", s.max_rate_age);
    Store store = open_store(s, cli::StateFile::must_exist);  // a quote needs rates already loaded
    return quote(store, request, now, out);
  }
  // Loading and setting create the state file; other commands need an existing one.
  bool creates = c.rates_load->parsed() || c.ppp_load->parsed() || c.ppp_set->parsed() ||
                 c.tax_set->parsed() || c.rule_set->parsed();
  check_lookup_keys(s, c);
  Store store = open_store(s, creates ? cli::StateFile::create : cli::StateFile::must_exist);
  if (c.accept->parsed()) return accept(store, s.quote_id, s.amount_to, now, out);
  if (c.lookup->parsed()) return lookup(store, s.sku, s.country, today(s), s.format, out);
  return run_settings(s, c, store, out);
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  app.require_subcommand(1);
  Commands commands{};
  commands.calc = add_calc(app, *settings);
  commands.publish = add_publish(app, *settings);
  commands.lookup = add_lookup(app, *settings);
  commands.quote = add_quote(app, *settings);
  commands.accept = add_accept(app, *settings);
  commands.allocate = add_allocate(app, *settings);
  add_rates_commands(app, *settings, commands);
  add_ppp_commands(app, *settings, commands);
  add_tax_commands(app, *settings, commands);
  add_rule_commands(app, *settings, commands);
  return [settings, commands]() -> int {
    return with_stdout([&](OutputStream& out) { return run_pricing(*settings, commands, out); });
  };
}

}  // namespace sluice::price
