#include "emi_cli.hpp"

#include <chrono>
#include <memory>

#include "emi_calc.hpp"
#include "sluice/clock.hpp"

namespace sluice::emi {
namespace {

struct Settings {
  TermsText terms;
  CalcOptions calc;
  std::string today;
};

void add_terms_options(CLI::App& command, Settings& settings) {
  TermsText& terms = settings.terms;
  command.add_option("--principal", terms.principal, "Amount lent, in the currency's precision")
      ->required();
  command.add_option("--rate", terms.rate, "Annual rate with its unit: 10%, 8.5%, 850bp")
      ->required();
  command.add_option("--months", terms.months, "Number of monthly installments")->required();
  command.add_option("--currency", terms.currency, "ISO 4217 code (sets the minor unit)");
  command.add_option("--disbursed", terms.disbursed, "Disbursal date (default: today)")
      ->type_name("DATE");
  command.add_option("--first-due", terms.first_due, "First due date (default: a month later)")
      ->type_name("DATE");
  command.add_flag("--eom", terms.end_of_month, "Keep month-end due dates on month ends");
  command
      .add_option("--bpi", terms.broken_period,
                  "Broken-period interest: none, add-to-first or separate")
      ->type_name("MODE");
  command.add_option("--rounding", terms.rounding, "EMI rounding: half-up, half-even, ceiling")
      ->type_name("MODE");
  command.add_option("--interest-rounding", terms.interest_rounding, "Monthly interest rounding")
      ->type_name("MODE");
  command.add_option("--today", settings.today, "Use this date as today")->type_name("DATE");
}

Date today(const Settings& settings) {
  if (!settings.today.empty()) return parse_date(settings.today);
  auto now = Clock().now();
  return Date(std::chrono::floor<std::chrono::days>(now));
}

}  // namespace

cli::Action define_command_line(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  app.require_subcommand(1);
  auto* calc_command = app.add_subcommand("calc", "Print a loan's schedule (no state)");
  add_terms_options(*calc_command, *settings);
  calc_command->add_flag("--summary", settings->calc.summary, "Add a summary record");
  cli::add_format_option(*calc_command, settings->calc.format);

  return [settings]() -> int {
    LoanTerms terms = parse_terms(settings->terms, today(*settings));
    return calc(terms, settings->calc);
  };
}

}  // namespace sluice::emi
