#include "emi_schedule.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/names.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::emi {
namespace {

using decimal::BigUnsigned;
using decimal::Fraction;
using decimal::Int128;
using decimal::UInt128;

constexpr int max_months = 1200;
// 10^15 minor units (10 trillion in a 2-decimal currency): with rates up to 1000% and 1200
// months every total still fits in 64 bits.
constexpr std::int64_t max_principal = 1'000'000'000'000'000;
// Broken-period interest is for a first period a little longer than a month, not for a
// moratorium of years (use --bpi none for that).
constexpr int max_broken_period_days = 366;

[[noreturn]] void refuse(std::string message) {
  throw Error(exit_code::data, std::move(message));
}

std::string money(const LoanTerms& terms, std::int64_t minor) {
  return decimal::format_amount(minor, terms.currency.exponent) + " " + terms.currency.code;
}

void check_terms(const LoanTerms& terms) {
  if (terms.principal <= 0) refuse("the principal must be more than zero");
  if (terms.principal > max_principal) {
    refuse(fmt::format("the principal must be at most {}",
                       decimal::format_amount(max_principal, terms.currency.exponent)));
  }
  if (terms.months < 1 || terms.months > max_months) {
    refuse(fmt::format("--months must be between 1 and {}", max_months));
  }
  if (terms.annual_rate.numerator < 0) refuse("the rate must not be negative");
  if (terms.annual_rate.numerator > 10 * terms.annual_rate.denominator) {
    refuse("the rate must be at most 1000%");
  }
}

// Extra days beyond one regular period between disbursal and the first due date.
int broken_period_days(const LoanTerms& terms) {
  return days_between(add_periods(terms, terms.disbursed, 1), terms.first_due);
}

void apply_broken_period(const LoanTerms& terms, Schedule& schedule) {
  if (terms.broken_period == BrokenPeriod::none) return;
  schedule.broken_period_days = broken_period_days(terms);
  if (schedule.broken_period_days < 0) {
    refuse(fmt::format(
        "the first due date {} is less than one period after disbursal on {}; broken-period "
        "interest is for longer first periods (use --bpi none to charge a full period)",
        format_date(terms.first_due), format_date(terms.disbursed)));
  }
  if (schedule.broken_period_days > max_broken_period_days) {
    refuse(fmt::format(
        "the first due date {} is {} days beyond one period after disbursal; "
        "broken-period interest covers at most {} (use --bpi none)",
        format_date(terms.first_due), schedule.broken_period_days, max_broken_period_days));
  }
  std::int64_t interest =
      actual_over_365(terms.principal, terms.annual_rate, schedule.broken_period_days);
  schedule.broken_period_interest = interest;
  if (interest == 0) return;
  if (terms.broken_period == BrokenPeriod::add_to_first) {
    Installment& first = schedule.installments.front();
    first.interest += interest;
    first.payment += interest;
    return;
  }
  Installment charge{0, terms.disbursed, terms.principal, interest, interest, 0, terms.principal};
  schedule.installments.insert(schedule.installments.begin(), charge);
}

// Interest on `opening` for one period at `rate`, rounded as the terms say.
std::int64_t period_interest(const LoanTerms& terms, const Fraction& rate, std::int64_t opening) {
  return static_cast<std::int64_t>(decimal::divide(static_cast<Int128>(opening) * rate.numerator,
                                                   rate.denominator, terms.interest_rounding));
}

// Installment `number` of `last`, opening with `opening`: it pays `interest` and, unless it is
// the last (which clears the balance exactly), `principal`.
Installment make_installment(const LoanTerms& terms, int number, std::int64_t opening,
                             std::int64_t interest, std::int64_t principal, int last) {
  Installment row;
  row.number = number;
  row.due = due_date(terms, number);
  row.opening = opening;
  row.interest = interest;
  if (number == last) {
    row.principal = opening;
  } else {
    row.principal = principal;
    if (row.principal <= 0) {
      refuse(fmt::format(
          "the installment {} does not cover installment {}'s interest {}: the loan would never "
          "be repaid",
          money(terms, principal + interest), number, money(terms, interest)));
    }
    if (row.principal >= opening) {
      refuse(fmt::format(
          "the installment {} repays the loan at installment {}, before installment {} (the "
          "amount is too small for the currency's minor unit over this many installments)",
          money(terms, principal + interest), number, last));
    }
  }
  row.payment = row.principal + row.interest;
  row.closing = opening - row.principal;
  return row;
}

// An annuity installment: the EMI less the period's interest on the balance repays principal.
Installment next_installment(const LoanTerms& terms, const Fraction& rate, std::int64_t emi,
                             int number, std::int64_t opening, int last) {
  std::int64_t interest = period_interest(terms, rate, opening);
  return make_installment(terms, number, opening, interest, emi - interest, last);
}

}  // namespace

namespace {

constexpr NameTable<BrokenPeriod, 3> broken_period_names({{{"none", BrokenPeriod::none},
                                                           {"add-to-first",
                                                            BrokenPeriod::add_to_first},
                                                           {"separate", BrokenPeriod::separate}}});

}  // namespace

Frequency parse_frequency(std::string_view text) {
  return frequency_names.parse("--frequency", text);
}

std::string_view frequency_name(Frequency frequency) {
  return frequency_names.name(frequency);
}

int periods_per_year(Frequency frequency) {
  switch (frequency) {
    case Frequency::weekly:
      return 52;
    case Frequency::fortnightly:
      return 26;
    case Frequency::monthly:
      break;
  }
  return 12;
}

Method parse_method(std::string_view text) {
  return method_names.parse("--method", text);
}

std::string_view method_name(Method method) {
  return method_names.name(method);
}

Fraction periodic_rate(const LoanTerms& terms) {
  return decimal::make_fraction(terms.annual_rate.numerator,
                                terms.annual_rate.denominator * periods_per_year(terms.frequency));
}

Date add_periods(const LoanTerms& terms, Date date, int count) {
  switch (terms.frequency) {
    case Frequency::weekly:
      return Date(std::chrono::sys_days(date) + std::chrono::days(7 * count));
    case Frequency::fortnightly:
      return Date(std::chrono::sys_days(date) + std::chrono::days(14 * count));
    case Frequency::monthly:
      break;
  }
  return add_months(date, count, terms.end_of_month);
}

std::int64_t actual_over_365(std::int64_t amount, const Fraction& annual_rate, int days) {
  Int128 numerator = static_cast<Int128>(amount) * annual_rate.numerator * days;
  return static_cast<std::int64_t>(
      decimal::divide(numerator, annual_rate.denominator * 365, decimal::Rounding::half_up));
}

Date accrual_start(const LoanTerms& terms) {
  if (terms.broken_period != BrokenPeriod::separate) return terms.disbursed;
  int days = std::max(broken_period_days(terms), 0);
  return Date(std::chrono::sys_days(terms.disbursed) + std::chrono::days(days));
}

BrokenPeriod parse_broken_period(std::string_view text) {
  return broken_period_names.parse("--bpi", text);
}

std::vector<std::string> broken_period_words() {
  return broken_period_names.words();
}

std::string_view broken_period_name(BrokenPeriod mode) {
  return broken_period_names.name(mode);
}

std::int64_t compute_emi(std::int64_t principal, const Fraction& rate, int months,
                         decimal::Rounding rounding) {
  if (rate.numerator == 0) {
    return static_cast<std::int64_t>(decimal::divide(principal, months, rounding));
  }
  // With r = a/b: P (a/b) ((b+a)/b)^n / (((b+a)/b)^n - 1) = P a (b+a)^n / (b ((b+a)^n - b^n)).
  const auto a = static_cast<UInt128>(rate.numerator);
  const auto b = static_cast<UInt128>(rate.denominator);
  BigUnsigned grown = BigUnsigned(b + a).pow(static_cast<unsigned>(months));
  BigUnsigned base = BigUnsigned(b).pow(static_cast<unsigned>(months));
  BigUnsigned numerator = BigUnsigned(static_cast<UInt128>(principal)) * BigUnsigned(a) * grown;
  BigUnsigned denominator = BigUnsigned(b) * (grown - base);
  return static_cast<std::int64_t>(decimal::divide(numerator, denominator, rounding));
}

// Every due date is counted from the first one before rolling, so a rolled date never shifts
// the ones after it.
Date due_date(const LoanTerms& terms, int number) {
  return roll_date(add_periods(terms, terms.first_due, number - 1), terms.roll, terms.calendar);
}

namespace {

// Rolling moves each due date on its own: a run of holidays longer than a period can move one
// onto or before disbursal, or onto or before the due date before it, which no loan can
// collect. The installments after `after` are checked against it (or disbursal) and in turn.
void check_rolled_dates(const LoanTerms& terms, int after,
                        const std::vector<Installment>& installments) {
  Date previous = after == 0 ? terms.disbursed : due_date(terms, after);
  std::string previous_name =
      after == 0 ? "disbursal" : fmt::format("installment {}'s due date", after);
  for (const auto& row : installments) {
    if (row.due <= previous) {
      refuse(fmt::format(
          "installment {} falls due on {} (--roll {} from {}), not after {} on {}: rolled due "
          "dates must follow disbursal and each other (a holiday run is longer than a period)",
          row.number, format_date(row.due), roll_names.name(terms.roll),
          format_date(add_periods(terms, terms.first_due, row.number - 1)), previous_name,
          format_date(previous)));
    }
    previous = row.due;
    previous_name = fmt::format("installment {}'s due date", row.number);
  }
}

void add_annuity_installments(const LoanTerms& terms, Schedule& schedule) {
  Fraction rate = periodic_rate(terms);
  schedule.emi = compute_emi(terms.principal, rate, terms.months, terms.emi_rounding);
  if (schedule.emi <= 0) {
    refuse(fmt::format("the EMI rounds to {}: {} cannot be spread over {} installments",
                       money(terms, schedule.emi), money(terms, terms.principal), terms.months));
  }
  std::int64_t balance = terms.principal;
  for (int number = 1; number <= terms.months; ++number) {
    schedule.installments.push_back(
        next_installment(terms, rate, schedule.emi, number, balance, terms.months));
    balance = schedule.installments.back().closing;
  }
}

// The same share of the principal every period (P / n, rounded as the EMI is; the last one
// takes what is left) plus the period's interest on the balance.
void add_equal_principal_installments(const LoanTerms& terms, Schedule& schedule) {
  Fraction rate = periodic_rate(terms);
  auto share =
      static_cast<std::int64_t>(decimal::divide(terms.principal, terms.months, terms.emi_rounding));
  std::int64_t balance = terms.principal;
  for (int number = 1; number <= terms.months; ++number) {
    schedule.installments.push_back(make_installment(
        terms, number, balance, period_interest(terms, rate, balance), share, terms.months));
    balance = schedule.installments.back().closing;
  }
  schedule.emi = schedule.installments.front().payment;
}

// Flat rate: interest I = P x annual rate x n / periods a year on the original principal,
// rounded once; the installment is (P + I) / n, rounded as the EMI is; installment k carries
// round(I k / n) - round(I (k-1) / n) of the interest (so the parts add up to I exactly) and
// the rest repays principal; the last installment clears the balance.
void add_flat_installments(const LoanTerms& terms, Schedule& schedule) {
  const Fraction& annual = terms.annual_rate;
  const Int128 interest_denominator =
      static_cast<Int128>(annual.denominator) * periods_per_year(terms.frequency);
  const Int128 interest_numerator = static_cast<Int128>(terms.principal) * annual.numerator;
  auto total_interest = static_cast<std::int64_t>(decimal::divide(
      interest_numerator * terms.months, interest_denominator, terms.interest_rounding));
  schedule.emi = static_cast<std::int64_t>(
      decimal::divide(terms.principal + total_interest, terms.months, terms.emi_rounding));
  auto interest_through = [&](int number) {
    return static_cast<std::int64_t>(decimal::divide(static_cast<Int128>(total_interest) * number,
                                                     terms.months, terms.interest_rounding));
  };
  std::int64_t balance = terms.principal;
  for (int number = 1; number <= terms.months; ++number) {
    std::int64_t interest = interest_through(number) - interest_through(number - 1);
    schedule.installments.push_back(
        make_installment(terms, number, balance, interest, schedule.emi - interest, terms.months));
    balance = schedule.installments.back().closing;
  }
}

}  // namespace

Schedule build_schedule(const LoanTerms& terms) {
  check_terms(terms);
  Schedule schedule;
  switch (terms.method) {
    case Method::annuity:
      add_annuity_installments(terms, schedule);
      break;
    case Method::equal_principal:
      add_equal_principal_installments(terms, schedule);
      break;
    case Method::flat:
      add_flat_installments(terms, schedule);
      break;
  }
  check_rolled_dates(terms, 0, schedule.installments);
  apply_broken_period(terms, schedule);
  for (const auto& row : schedule.installments) {
    schedule.total_interest += row.interest;
    schedule.total_paid += row.payment;
  }
  check_invariants(terms, schedule);
  return schedule;
}

void check_invariants(const LoanTerms& terms, const Schedule& schedule) {
  auto broken = [](std::string what) {
    throw Error(exit_code::internal, "schedule invariant broken: " + what + " (this is a bug)");
  };
  Int128 principal_sum = 0, interest_sum = 0, paid_sum = 0;
  for (const auto& row : schedule.installments) {
    if (row.payment != row.principal + row.interest) broken("payment != principal + interest");
    if (row.closing < 0 || row.opening < 0) broken("negative balance");
    if (row.closing != row.opening - row.principal) broken("closing != opening - principal");
    principal_sum += row.principal;
    interest_sum += row.interest;
    paid_sum += row.payment;
  }
  if (principal_sum != terms.principal) broken("principal repaid != principal lent");
  if (schedule.installments.back().closing != 0) broken("the balance does not end at zero");
  if (paid_sum != terms.principal + interest_sum) broken("total paid != principal + interest");
}

Remainder reschedule(const LoanTerms& terms, int after, std::int64_t balance,
                     std::optional<std::int64_t> keep_emi) {
  if (balance <= 0) refuse("nothing remains to be rescheduled");
  if (terms.method != Method::annuity) {
    refuse(fmt::format("prepay and reprice rebuild annuity loans only; this loan is {}",
                       method_name(terms.method)));
  }
  Fraction rate = periodic_rate(terms);
  Remainder remainder;
  if (!keep_emi) {
    int remaining = terms.months - after;
    if (remaining < 1) refuse("no installment remains after this date");
    remainder.emi = compute_emi(balance, rate, remaining, terms.emi_rounding);
    if (remainder.emi <= 0) refuse("the new EMI rounds to zero");
    for (int number = after + 1; number <= terms.months; ++number) {
      remainder.installments.push_back(
          next_installment(terms, rate, remainder.emi, number, balance, terms.months));
      balance = remainder.installments.back().closing;
    }
    check_rolled_dates(terms, after, remainder.installments);
    return remainder;
  }
  // Keep the EMI: the installment whose EMI covers the whole balance and its interest is the
  // last one (it pays exactly that).
  remainder.emi = *keep_emi;
  for (int number = after + 1; balance > 0; ++number) {
    if (number > after + max_months) refuse("the kept EMI would take more than 1200 months");
    std::int64_t interest = period_interest(terms, rate, balance);
    bool last = remainder.emi >= balance + interest;
    remainder.installments.push_back(
        next_installment(terms, rate, remainder.emi, number, balance, last ? number : number + 1));
    balance = remainder.installments.back().closing;
  }
  check_rolled_dates(terms, after, remainder.installments);
  return remainder;
}

}  // namespace sluice::emi
