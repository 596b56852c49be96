#include "emi_schedule.hpp"

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

// The monthly rate r = annual / 12 as a fraction in lowest terms.
Fraction monthly_rate(const Fraction& annual) {
  return decimal::make_fraction(annual.numerator, annual.denominator * 12);
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

// Extra days beyond one regular month between disbursal and the first due date.
int broken_period_days(const LoanTerms& terms) {
  return days_between(add_months(terms.disbursed, 1, terms.end_of_month), terms.first_due);
}

std::int64_t broken_period_interest(const LoanTerms& terms, int days) {
  // ACT/365F: principal x annual rate x days / 365, rounded half-up.
  Int128 numerator = static_cast<Int128>(terms.principal) * terms.annual_rate.numerator * days;
  return static_cast<std::int64_t>(
      decimal::divide(numerator, terms.annual_rate.denominator * 365, decimal::Rounding::half_up));
}

void apply_broken_period(const LoanTerms& terms, Schedule& schedule) {
  if (terms.broken_period == BrokenPeriod::none) return;
  schedule.broken_period_days = broken_period_days(terms);
  if (schedule.broken_period_days < 0) {
    refuse(fmt::format(
        "the first due date {} is less than one month after disbursal on {}; broken-period "
        "interest is for longer first periods (use --bpi none to charge a full month)",
        format_date(terms.first_due), format_date(terms.disbursed)));
  }
  if (schedule.broken_period_days > max_broken_period_days) {
    refuse(fmt::format(
        "the first due date {} is {} days beyond one month after disbursal; "
        "broken-period interest covers at most {} (use --bpi none)",
        format_date(terms.first_due), schedule.broken_period_days, max_broken_period_days));
  }
  std::int64_t interest = broken_period_interest(terms, schedule.broken_period_days);
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

Installment next_installment(const LoanTerms& terms, const Fraction& rate, std::int64_t emi,
                             int number, std::int64_t opening, int last) {
  Installment row;
  row.number = number;
  row.due = due_date(terms, number);
  row.opening = opening;
  row.interest = static_cast<std::int64_t>(decimal::divide(
      static_cast<Int128>(opening) * rate.numerator, rate.denominator, terms.interest_rounding));
  if (number == last) {
    row.principal = opening;  // the last installment clears the balance exactly
  } else {
    row.principal = emi - row.interest;
    if (row.principal <= 0) {
      refuse(
          fmt::format("the EMI {} does not cover month {}'s interest {}: the loan would never "
                      "be repaid",
                      money(terms, emi), number, money(terms, row.interest)));
    }
    if (row.principal >= opening) {
      refuse(
          fmt::format("the EMI {} repays the loan in month {}, before month {} (the amount is "
                      "too small for the currency's minor unit over this many months)",
                      money(terms, emi), number, last));
    }
  }
  row.payment = row.principal + row.interest;
  row.closing = opening - row.principal;
  return row;
}

}  // namespace

namespace {

constexpr NameTable<BrokenPeriod, 3> broken_period_names({{{"none", BrokenPeriod::none},
                                                           {"add-to-first",
                                                            BrokenPeriod::add_to_first},
                                                           {"separate", BrokenPeriod::separate}}});

}  // namespace

BrokenPeriod parse_broken_period(std::string_view text) {
  return broken_period_names.parse("--bpi", text);
}

std::vector<std::string> broken_period_words() {
  return broken_period_names.words();
}

std::string_view broken_period_name(BrokenPeriod mode) {
  return broken_period_names.name(mode);
}

std::int64_t compute_emi(std::int64_t principal, const Fraction& annual_rate, int months,
                         decimal::Rounding rounding) {
  Fraction rate = monthly_rate(annual_rate);
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

Date due_date(const LoanTerms& terms, int number) {
  return add_months(terms.first_due, number - 1, terms.end_of_month);
}

Schedule build_schedule(const LoanTerms& terms) {
  check_terms(terms);
  Schedule schedule;
  schedule.emi = compute_emi(terms.principal, terms.annual_rate, terms.months, terms.emi_rounding);
  if (schedule.emi <= 0) {
    refuse(fmt::format("the EMI rounds to {}: {} cannot be spread over {} months",
                       money(terms, schedule.emi), money(terms, terms.principal), terms.months));
  }
  Fraction rate = monthly_rate(terms.annual_rate);
  std::int64_t balance = terms.principal;
  for (int number = 1; number <= terms.months; ++number) {
    schedule.installments.push_back(
        next_installment(terms, rate, schedule.emi, number, balance, terms.months));
    balance = schedule.installments.back().closing;
  }
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
  Fraction rate = monthly_rate(terms.annual_rate);
  Remainder remainder;
  if (!keep_emi) {
    int remaining = terms.months - after;
    if (remaining < 1) refuse("no installment remains after this date");
    remainder.emi = compute_emi(balance, terms.annual_rate, remaining, terms.emi_rounding);
    if (remainder.emi <= 0) refuse("the new EMI rounds to zero");
    for (int number = after + 1; number <= terms.months; ++number) {
      remainder.installments.push_back(
          next_installment(terms, rate, remainder.emi, number, balance, terms.months));
      balance = remainder.installments.back().closing;
    }
    return remainder;
  }
  // Keep the EMI: the installment whose EMI covers the whole balance and its interest is the
  // last one (it pays exactly that).
  remainder.emi = *keep_emi;
  for (int number = after + 1; balance > 0; ++number) {
    if (number > after + max_months) refuse("the kept EMI would take more than 1200 months");
    auto interest = static_cast<std::int64_t>(decimal::divide(
        static_cast<Int128>(balance) * rate.numerator, rate.denominator, terms.interest_rounding));
    bool last = remainder.emi >= balance + interest;
    remainder.installments.push_back(
        next_installment(terms, rate, remainder.emi, number, balance, last ? number : number + 1));
    balance = remainder.installments.back().closing;
  }
  return remainder;
}

}  // namespace sluice::emi
