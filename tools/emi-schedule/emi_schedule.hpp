// The loan arithmetic of emi-schedule: the EMI, the reducing-balance schedule, due dates and
// broken-period interest, all exact in the currency's minor unit (libcore decimal). A schedule
// that would break an invariant (principal repaid exactly, no negative balance, installment =
// principal + interest) is refused with Error(65), never returned.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "emi_calendar.hpp"
#include "sluice/decimal.hpp"
#include "sluice/names.hpp"

namespace sluice::emi {

using Date = std::chrono::year_month_day;

// Broken-period interest (ACT/365F) when the first due date is more than one month after
// disbursal: not charged, added to the first installment, or charged as its own line (n = 0).
enum class BrokenPeriod { none, add_to_first, separate };
BrokenPeriod parse_broken_period(std::string_view text);  // Error(2) for an unknown mode
std::string_view broken_period_name(BrokenPeriod mode);
std::vector<std::string> broken_period_words();  // for shell completion

// How often installments fall due; the periodic rate is the annual rate divided by the
// periods in a year (12, 52, 26).
enum class Frequency { monthly, weekly, fortnightly };
inline constexpr NameTable<Frequency, 3> frequency_names({{{"monthly", Frequency::monthly},
                                                           {"weekly", Frequency::weekly},
                                                           {"fortnightly",
                                                            Frequency::fortnightly}}});
Frequency parse_frequency(std::string_view text);  // Error(2) naming --frequency
std::string_view frequency_name(Frequency frequency);
int periods_per_year(Frequency frequency);

// How the principal is repaid: equal payments on a reducing balance (annuity), an equal share
// of the principal each period plus the interest on the balance (equal-principal), or interest
// on the original principal for the whole term, spread evenly (flat).
enum class Method { annuity, equal_principal, flat };
inline constexpr NameTable<Method, 3> method_names({{{"annuity", Method::annuity},
                                                     {"equal-principal", Method::equal_principal},
                                                     {"flat", Method::flat}}});
Method parse_method(std::string_view text);  // Error(2) naming --method
std::string_view method_name(Method method);

struct LoanTerms {
  decimal::Currency currency{"INR", 2};
  std::int64_t principal = 0;  // minor units
  decimal::Fraction annual_rate;
  int months = 0;  // the number of installments (months only for a monthly loan)
  Date disbursed;
  Date first_due;
  bool end_of_month = false;  // a first due date on a month end keeps every due date on one
  BrokenPeriod broken_period = BrokenPeriod::add_to_first;
  decimal::Rounding emi_rounding = decimal::Rounding::half_up;
  decimal::Rounding interest_rounding = decimal::Rounding::half_up;
  Frequency frequency = Frequency::monthly;
  Method method = Method::annuity;
  // Due dates that fall on a weekend or holiday move by `roll`; periods and their interest
  // are counted between the dates before rolling, so rolling never changes an amount.
  Roll roll = Roll::none;
  BusinessCalendar calendar;
};

// The annual rate divided by the periods in a year of the terms' frequency.
decimal::Fraction periodic_rate(const LoanTerms& terms);

// The date `count` periods after `date`: months (clamped, or kept at month end with
// end_of_month), weeks or fortnights.
Date add_periods(const LoanTerms& terms, Date date, int count);

// ACT/365F: amount x annual rate x days / 365, rounded half-up once (broken-period interest,
// and a payoff quote's accrued and late interest).
std::int64_t actual_over_365(std::int64_t amount, const decimal::Fraction& annual_rate, int days);

// Where interest starts to run at the loan's rate: disbursal, or under BrokenPeriod::separate
// the end of the broken period its own charge (installment 0) already covers, disbursal plus
// the broken days (never before disbursal).
Date accrual_start(const LoanTerms& terms);

struct Installment {
  int number = 0;  // 1..months; 0 is a separate broken-period charge
  Date due;
  std::int64_t opening = 0;
  std::int64_t payment = 0;
  std::int64_t interest = 0;
  std::int64_t principal = 0;
  std::int64_t closing = 0;
};

struct Schedule {
  std::int64_t emi = 0;  // annuity and flat: the regular payment; equal-principal: the first
  std::int64_t broken_period_interest = 0;
  int broken_period_days = 0;
  std::vector<Installment> installments;  // in order; a separate broken-period line first
  std::int64_t total_interest = 0;
  std::int64_t total_paid = 0;
};

// EMI = P r (1+r)^n / ((1+r)^n - 1) with r the periodic rate, or P / n when r = 0, evaluated
// as an exact fraction and rounded once to the minor unit.
std::int64_t compute_emi(std::int64_t principal, const decimal::Fraction& rate, int count,
                         decimal::Rounding rounding);

// The k-th due date (k >= 1): first_due + (k - 1) periods, counted from the first due date,
// then rolled off weekends and holidays by the terms' roll.
Date due_date(const LoanTerms& terms, int number);

// Checks the terms (Error(65) naming the problem) and builds the schedule. Error(65) too when
// rolling puts a due date on or before disbursal or on or before the one before it (a holiday
// run longer than a period).
Schedule build_schedule(const LoanTerms& terms);

// The rest of a loan after installment `after` (0 = before the first), rebuilt from the
// `balance` still owed with the terms' rate and due-date anchor: installments after+1 on.
// Without `keep_emi`, a new EMI spreads the balance over the remaining terms.months - after
// months; with it, that EMI is kept and the number of months follows (at most 1200 more).
// Error(65) when the EMI would not cover the interest or the balance is not positive, and for
// a loan that is not an annuity (revisions rebuild equal payments only).
struct Remainder {
  std::int64_t emi = 0;
  std::vector<Installment> installments;
};
Remainder reschedule(const LoanTerms& terms, int after, std::int64_t balance,
                     std::optional<std::int64_t> keep_emi);

// Error(70) if a schedule breaks an invariant; build_schedule calls it before returning.
void check_invariants(const LoanTerms& terms, const Schedule& schedule);

}  // namespace sluice::emi
