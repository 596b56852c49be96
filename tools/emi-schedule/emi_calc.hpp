// `emi-schedule calc`: print a loan's schedule (and optionally its summary) without state.
#pragma once

#include <string>

#include "emi_schedule.hpp"
#include "sluice/cli.hpp"
#include "sluice/json.hpp"

namespace sluice::emi {

// The loan as the command line states it, before checking.
struct TermsText {
  std::string principal;
  std::string rate;
  int months = 0;
  std::string currency;   // "" = not given: a usage error (there is no default currency)
  std::string disbursed;  // "" = today
  std::string first_due;  // "" = one month after disbursal
  bool end_of_month = false;
  std::string broken_period = "add-to-first";
  std::string rounding = "half-up";
  std::string interest_rounding = "half-up";
  std::string frequency = "monthly";
  std::string method = "annuity";
  std::string calendar;  // --calendar FILE; "" = no holidays
  std::string weekend = "sat,sun";
  bool weekend_given = false;  // --weekend was on the command line (even as its default)
  std::string roll = "none";
};

// How due dates move off weekends and holidays: the command line's --roll, --weekend and
// --calendar, checked once before any state is opened.
struct Rolling {
  Roll roll = Roll::none;
  BusinessCalendar calendar;
};
// Error(2) for a bad --roll or --weekend, and for a --calendar or --weekend without a --roll
// (which would change nothing). `holidays` are those of text.calendar (read_holidays).
Rolling parse_rolling(const TermsText& text, std::set<Date> holidays);

// Parses and checks the terms (Error(2) for malformed options, and for a missing currency:
// amounts are never read in a currency the user did not name). `today` fills in the dates;
// `rolling` (parse_rolling) gives the roll and calendar.
LoanTerms parse_terms(const TermsText& text, Date today, const Rolling& rolling);
extern const char* const missing_currency_message;

// One installment as a record: n, due_date, opening, payment, interest, principal, closing.
JsonValue installment_record(const LoanTerms& terms, const Installment& row);

// The summary record: totals and every convention used.
JsonValue summary_record(const LoanTerms& terms, const Schedule& schedule);

struct CalcOptions {
  bool summary = false;
  Format format = Format::jsonl;
};

int calc(const LoanTerms& terms, const CalcOptions& options);

}  // namespace sluice::emi
