#include "emi_calc.hpp"

#include <unistd.h>

#include "sluice/error.hpp"
#include "sluice/format.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::emi {
namespace {

JsonValue amount(const LoanTerms& terms, std::int64_t minor) {
  return JsonValue::string(decimal::format_amount(minor, terms.currency.exponent));
}

}  // namespace

const char* const missing_currency_message =
    "--currency is required: name the loan's ISO 4217 currency (e.g. --currency INR); "
    "there is no default";

Rolling parse_rolling(const TermsText& text, std::set<Date> holidays) {
  Rolling rolling;
  rolling.roll = roll_names.parse("--roll", text.roll);
  rolling.calendar.weekend = parse_weekend("--weekend", text.weekend);
  // A calendar without a roll would change nothing: say so rather than ignore it. Whether
  // --weekend was given counts, not its value: "--weekend sat,sun" alone is as idle.
  if (rolling.roll == Roll::none && (!text.calendar.empty() || text.weekend_given)) {
    throw Error(exit_code::usage, "--calendar and --weekend move due dates only with --roll");
  }
  rolling.calendar.holidays = std::move(holidays);
  return rolling;
}

LoanTerms parse_terms(const TermsText& text, Date today, const Rolling& rolling) {
  LoanTerms terms;
  if (text.currency.empty()) throw Error(exit_code::usage, missing_currency_message);
  terms.currency = decimal::currency(text.currency);
  try {
    terms.principal = decimal::parse_amount(text.principal, terms.currency.exponent);
  } catch (const Error& error) {
    throw Error(exit_code::usage,
                std::string("--principal: ") + error.what() + " (" + terms.currency.code + ")");
  }
  terms.annual_rate = decimal::parse_rate("--rate", text.rate);
  if (terms.principal <= 0) throw Error(exit_code::usage, "--principal must be more than zero");
  if (text.months < 1 || text.months > 1200) {
    throw Error(exit_code::usage, "--months must be between 1 and 1200");
  }
  terms.months = text.months;
  terms.frequency = parse_frequency(text.frequency);
  terms.method = parse_method(text.method);
  terms.end_of_month = text.end_of_month;
  if (terms.end_of_month && terms.frequency != Frequency::monthly) {
    throw Error(exit_code::usage, "--eom is for monthly loans only");
  }
  terms.roll = rolling.roll;
  terms.calendar = rolling.calendar;
  terms.disbursed =
      text.disbursed.empty() ? today : cli::date_option("--disbursed", text.disbursed);
  terms.first_due = text.first_due.empty() ? add_periods(terms, terms.disbursed, 1)
                                           : cli::date_option("--first-due", text.first_due);
  if (days_between(terms.disbursed, terms.first_due) <= 0) {
    throw Error(exit_code::usage, "--first-due must be after --disbursed");
  }
  terms.broken_period = parse_broken_period(text.broken_period);
  terms.emi_rounding = decimal::parse_rounding("--rounding", text.rounding);
  terms.interest_rounding = decimal::parse_rounding("--interest-rounding", text.interest_rounding);
  return terms;
}

JsonValue installment_record(const LoanTerms& terms, const Installment& row) {
  return JsonValue::object({{"n", JsonValue::integer(row.number)},
                            {"due_date", JsonValue::string(format_date(row.due))},
                            {"opening", amount(terms, row.opening)},
                            {"payment", amount(terms, row.payment)},
                            {"interest", amount(terms, row.interest)},
                            {"principal", amount(terms, row.principal)},
                            {"closing", amount(terms, row.closing)}});
}

JsonValue summary_record(const LoanTerms& terms, const Schedule& schedule) {
  return JsonValue::object(
      {{"summary", JsonValue::boolean(true)},
       {"currency", JsonValue::string(terms.currency.code)},
       {"principal", amount(terms, terms.principal)},
       {"rate", JsonValue::string(decimal::format_rate(terms.annual_rate))},
       {"months", JsonValue::integer(terms.months)},
       {"emi", amount(terms, schedule.emi)},
       {"total_interest", amount(terms, schedule.total_interest)},
       {"total_paid", amount(terms, schedule.total_paid)},
       {"bpi", amount(terms, schedule.broken_period_interest)},
       {"bpi_days", JsonValue::integer(schedule.broken_period_days)},
       {"disbursed", JsonValue::string(format_date(terms.disbursed))},
       {"first_due", JsonValue::string(format_date(terms.first_due))},
       {"last_due", JsonValue::string(format_date(schedule.installments.back().due))},
       {"method", JsonValue::string(terms.method == Method::flat ? "flat" : "reducing-balance")},
       {"rounding", JsonValue::string(std::string(decimal::rounding_name(terms.emi_rounding)))},
       {"interest_rounding",
        JsonValue::string(std::string(decimal::rounding_name(terms.interest_rounding)))},
       {"bpi_mode", JsonValue::string(std::string(broken_period_name(terms.broken_period)))},
       {"day_count", JsonValue::string("ACT/365F")},
       {"eom", JsonValue::boolean(terms.end_of_month)},
       {"frequency", JsonValue::string(std::string(frequency_name(terms.frequency)))},
       {"repayment", JsonValue::string(std::string(method_name(terms.method)))},
       {"roll", JsonValue::string(std::string(roll_names.name(terms.roll)))},
       {"weekend", JsonValue::string(weekend_text(terms.calendar.weekend))}});
}

int calc(const LoanTerms& terms, const CalcOptions& options) {
  Schedule schedule = build_schedule(terms);
  OutputStream out(STDOUT_FILENO);
  RecordPrinter rows(out, options.format);
  for (const auto& row : schedule.installments) rows.print(installment_record(terms, row));
  rows.finish();
  if (options.summary) {
    if (options.format == Format::table) out.write("\n");
    RecordPrinter summary(out, options.format);
    summary.print(summary_record(terms, schedule));
    summary.finish();
  }
  out.flush();
  return exit_code::success;
}

}  // namespace sluice::emi
