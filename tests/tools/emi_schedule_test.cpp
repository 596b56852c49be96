#include <gtest/gtest.h>

#include "emi_cycle.hpp"
#include "emi_schedule.hpp"
#include "sluice/keys.hpp"
#include "sluice/random.hpp"
#include "sluice/timeutil.hpp"
#include "test_support.hpp"

namespace sluice::emi {
namespace {

using sluice::testing::exit_status_of;

LoanTerms loan(const char* principal, const char* rate, int months, const char* currency = "INR") {
  LoanTerms terms;
  terms.currency = decimal::currency(currency);
  terms.principal = decimal::parse_amount(principal, terms.currency.exponent);
  terms.annual_rate = decimal::parse_rate("--rate", rate);
  terms.months = months;
  terms.disbursed = parse_date("2026-01-15");
  terms.first_due = parse_date("2026-02-15");
  return terms;
}

std::string amount(const LoanTerms& terms, std::int64_t minor) {
  return decimal::format_amount(minor, terms.currency.exponent);
}

// The golden figures of the issue, computed independently of this code.
TEST(EmiSchedule, HundredThousandAtTenPercentForTwelveMonths) {
  LoanTerms terms = loan("100000.00", "10%", 12);
  Schedule schedule = build_schedule(terms);
  EXPECT_EQ(amount(terms, schedule.emi), "8791.59");
  EXPECT_EQ(amount(terms, schedule.installments.front().interest), "833.33");
  EXPECT_EQ(amount(terms, schedule.installments.front().principal), "7958.26");
  EXPECT_EQ(amount(terms, schedule.installments.front().closing), "92041.74");
  EXPECT_EQ(amount(terms, schedule.installments.back().payment), "8791.56");
  EXPECT_EQ(amount(terms, schedule.total_interest), "5499.05");
  EXPECT_EQ(format_date(schedule.installments.back().due), "2027-01-15");
}

TEST(EmiSchedule, FiveLakhAtEightAndAHalfPercentForTwentyYears) {
  LoanTerms terms = loan("500000.00", "8.5%", 240);
  Schedule schedule = build_schedule(terms);
  EXPECT_EQ(amount(terms, schedule.emi), "4339.12");
  EXPECT_EQ(amount(terms, schedule.total_interest), "541386.34");
}

TEST(EmiSchedule, ZeroRateSplitsThePrincipalEvenly) {
  LoanTerms terms = loan("120000.00", "0%", 12);
  Schedule schedule = build_schedule(terms);
  for (const auto& row : schedule.installments) {
    EXPECT_EQ(amount(terms, row.payment), "10000.00");
    EXPECT_EQ(row.interest, 0);
  }
}

TEST(EmiSchedule, ExactHalfCentTiesRoundHalfUp) {
  // 7.5% p.a. on 100.00 is 0.625 a month: interest 0.63 half-up, 0.62 half-even.
  LoanTerms terms = loan("100.00", "7.5%", 2);
  EXPECT_EQ(build_schedule(terms).installments.front().interest, 63);
  terms.interest_rounding = decimal::Rounding::half_even;
  EXPECT_EQ(build_schedule(terms).installments.front().interest, 62);
}

TEST(EmiSchedule, OneMonthLoanRepaysPrincipalPlusOneMonthsInterest) {
  LoanTerms terms = loan("1200.00", "12%", 1);
  Schedule schedule = build_schedule(terms);
  ASSERT_EQ(schedule.installments.size(), 1u);
  EXPECT_EQ(amount(terms, schedule.installments[0].payment), "1212.00");
}

TEST(EmiSchedule, ZeroAndThreeDecimalCurrencies) {
  LoanTerms yen = loan("1000000", "3%", 36, "JPY");
  Schedule schedule = build_schedule(yen);
  EXPECT_EQ(amount(yen, schedule.emi), "29081");  // 1e6 * r(1+r)^36/((1+r)^36-1), r = 0.25%
  LoanTerms dinar = loan("5000.000", "6%", 24, "KWD");
  EXPECT_EQ(amount(dinar, build_schedule(dinar).emi), "221.603");
}

TEST(EmiSchedule, RefusesSchedulesThatBreakTheInvariants) {
  // JPY 2 over 4 months: an EMI of 1 repays everything by month 2.
  EXPECT_EQ(exit_status_of([] { build_schedule(loan("2", "0%", 4, "JPY")); }), 65);
  // 1 yen over 3 months rounds to an EMI of 0.
  EXPECT_EQ(exit_status_of([] { build_schedule(loan("1", "0%", 3, "JPY")); }), 65);
  // 0.10 at 400% over 600 months: the EMI 0.03 equals the first interest 0.03, repaying nothing.
  EXPECT_EQ(exit_status_of([] { build_schedule(loan("0.10", "400%", 600)); }), 65);
  EXPECT_EQ(exit_status_of([] { build_schedule(loan("100.00", "10%", 0)); }), 65);
  EXPECT_EQ(exit_status_of([] { build_schedule(loan("100.00", "10%", 1201)); }), 65);
  // Amounts whose totals could overflow 64 bits are refused, not wrapped.
  EXPECT_EQ(exit_status_of([] { build_schedule(loan("5000000000000000000", "10%", 1200, "JPY")); }),
            65);
  EXPECT_EQ(exit_status_of([] { build_schedule(loan("1000000000000000", "1000%", 1, "JPY")); }), 0);
  // A first due date years away is not a broken period.
  LoanTerms far = loan("100.00", "10%", 12);
  far.first_due = parse_date("2062-01-15");
  EXPECT_EQ(exit_status_of([&] { build_schedule(far); }), 65);
  far.broken_period = BrokenPeriod::none;
  EXPECT_EQ(exit_status_of([&] { build_schedule(far); }), 0);
}

TEST(EmiSchedule, HalfEvenAndCeilingEmiRounding) {
  LoanTerms terms = loan("100000.00", "10%", 12);  // exact EMI 8791.5887...
  terms.emi_rounding = decimal::Rounding::ceiling;
  EXPECT_EQ(amount(terms, build_schedule(terms).emi), "8791.59");
  terms.emi_rounding = decimal::Rounding::half_even;
  EXPECT_EQ(amount(terms, build_schedule(terms).emi), "8791.59");
  terms.emi_rounding = decimal::Rounding::down;
  EXPECT_EQ(amount(terms, build_schedule(terms).emi), "8791.58");
}

TEST(EmiSchedule, BrokenPeriodInterestIsActualOver365) {
  LoanTerms terms = loan("100000.00", "10%", 12);
  terms.disbursed = parse_date("2026-01-05");  // first due 2026-02-15: 10 extra days
  Schedule added = build_schedule(terms);
  EXPECT_EQ(added.broken_period_days, 10);
  EXPECT_EQ(amount(terms, added.broken_period_interest), "273.97");  // 100000 * 0.1 * 10 / 365
  EXPECT_EQ(amount(terms, added.installments.front().payment), "9065.56");
  EXPECT_EQ(amount(terms, added.installments.front().interest), "1107.30");
  terms.broken_period = BrokenPeriod::separate;
  Schedule separate = build_schedule(terms);
  ASSERT_EQ(separate.installments.front().number, 0);
  EXPECT_EQ(amount(terms, separate.installments.front().payment), "273.97");
  EXPECT_EQ(amount(terms, separate.installments[1].payment), "8791.59");
  terms.broken_period = BrokenPeriod::none;
  EXPECT_EQ(build_schedule(terms).installments.size(), 12u);
  terms.broken_period = BrokenPeriod::add_to_first;
  terms.disbursed = parse_date("2026-01-20");  // first due less than a month later
  EXPECT_EQ(exit_status_of([&] { build_schedule(terms); }), 65);
}

std::vector<std::string> due_dates(const char* first, int months, bool end_of_month) {
  LoanTerms terms = loan("1000.00", "10%", months);
  terms.first_due = parse_date(first);
  terms.end_of_month = end_of_month;
  std::vector<std::string> dates;
  for (int number = 1; number <= months; ++number) {
    dates.push_back(format_date(due_date(terms, number)));
  }
  return dates;
}

TEST(EmiSchedule, DueDatesKeepTheAnchorDayWithoutDrift) {
  EXPECT_EQ(due_dates("2026-01-31", 4, false),
            (std::vector<std::string>{"2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"}));
  EXPECT_EQ(due_dates("2027-12-30", 3, false),
            (std::vector<std::string>{"2027-12-30", "2028-01-30", "2028-02-29"}));
  EXPECT_EQ(due_dates("2028-01-29", 3, false),
            (std::vector<std::string>{"2028-01-29", "2028-02-29", "2028-03-29"}));
  EXPECT_EQ(due_dates("2026-02-28", 3, false),
            (std::vector<std::string>{"2026-02-28", "2026-03-28", "2026-04-28"}));
  EXPECT_EQ(due_dates("2026-02-28", 3, true),
            (std::vector<std::string>{"2026-02-28", "2026-03-31", "2026-04-30"}));
  EXPECT_EQ(due_dates("2026-04-30", 2, true),
            (std::vector<std::string>{"2026-04-30", "2026-05-31"}));
}

// The invariants over 10,000 random loans; build_schedule refuses rather than break them,
// and check_invariants recomputes them independently of the loop that built the rows.
TEST(EmiSchedule, WeeklyAndFortnightlyDueDatesStepFromTheFirstDueDate) {
  LoanTerms terms = loan("1000.00", "10%", 60);
  terms.frequency = Frequency::weekly;
  terms.first_due = parse_date("2026-02-26");
  EXPECT_EQ(format_date(due_date(terms, 2)), "2026-03-05");
  EXPECT_EQ(format_date(due_date(terms, 53)), "2027-02-25");  // 52 weeks = 364 days later
  EXPECT_EQ(format_date(add_periods(terms, parse_date("2026-12-28"), 1)), "2027-01-04");
  terms.frequency = Frequency::fortnightly;
  EXPECT_EQ(format_date(due_date(terms, 3)), "2026-03-26");
  // 10% a year is 10/2600 a fortnight, exactly.
  EXPECT_EQ(periodic_rate(terms).numerator, 1);
  EXPECT_EQ(periodic_rate(terms).denominator, 260);
}

TEST(EmiSchedule, EqualPrincipalRepaysTheSameShareEachPeriod) {
  LoanTerms terms = loan("1000.00", "12%", 3);
  terms.method = Method::equal_principal;
  Schedule schedule = build_schedule(terms);
  // 1000.00 / 3 = 333.33 twice, then the 333.34 left; interest 1% of 1000.00, 666.67, 333.34.
  ASSERT_EQ(schedule.installments.size(), 3U);
  EXPECT_EQ(schedule.installments[0].principal, 33333);
  EXPECT_EQ(schedule.installments[1].interest, 667);
  EXPECT_EQ(schedule.installments[2].principal, 33334);
  EXPECT_EQ(schedule.installments[2].interest, 333);
  EXPECT_EQ(schedule.emi, 34333);
}

TEST(EmiSchedule, RevisionsOfLoansThatAreNotAnnuitiesAreRefused) {
  LoanTerms terms = loan("1000.00", "12%", 3);
  terms.method = Method::flat;
  EXPECT_EQ(exit_status_of([&] { reschedule(terms, 1, 50000, std::nullopt); }), 65);
}

TEST(EmiCalendar, RollsOffWeekendsAndHolidays) {
  BusinessCalendar calendar;
  calendar.holidays = {parse_date("2026-07-31")};  // a Friday, the weekend after it
  auto rolled = [&](const char* date, Roll roll) {
    return format_date(roll_date(parse_date(date), roll, calendar));
  };
  EXPECT_EQ(rolled("2026-07-31", Roll::following), "2026-08-03");
  EXPECT_EQ(rolled("2026-07-31", Roll::modified_following), "2026-07-30");
  EXPECT_EQ(rolled("2026-07-31", Roll::preceding), "2026-07-30");
  EXPECT_EQ(rolled("2026-07-31", Roll::none), "2026-07-31");
  EXPECT_EQ(rolled("2026-08-01", Roll::modified_following), "2026-08-03");  // a Saturday
  calendar.weekend = parse_weekend("--weekend", "fri,sat");
  EXPECT_EQ(weekend_text(calendar.weekend), "fri,sat");
  EXPECT_EQ(rolled("2026-08-01", Roll::following), "2026-08-02");  // Sunday is a business day
  EXPECT_EQ(exit_status_of([] { parse_weekend("--weekend", "sun,mon,tue,wed,thu,fri,sat"); }), 2);
  EXPECT_EQ(exit_status_of([] { parse_weekend("--weekend", "saturday"); }), 2);
  EXPECT_EQ(holidays_text(parse_holidays_text("2026-03-31,2026-01-30")), "2026-01-30,2026-03-31");
}

// A kept EMI that lengthens a weekly loan into a two-week holiday run: installments 5 (Mon 9
// Feb) and 6 (Mon 16 Feb) would both roll to Mon 23 Feb, which the revision refuses as
// creating the loan refuses it.
TEST(EmiSchedule, ARevisionRefusesRolledDatesOutOfOrder) {
  LoanTerms terms = loan("1000.00", "12%", 4);
  terms.frequency = Frequency::weekly;
  terms.disbursed = parse_date("2026-01-05");
  terms.first_due = parse_date("2026-01-12");
  terms.roll = Roll::following;
  for (const char* day : {"2026-02-09", "2026-02-10", "2026-02-11", "2026-02-12", "2026-02-13",
                          "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20"}) {
    terms.calendar.holidays.insert(parse_date(day));
  }
  EXPECT_EQ(build_schedule(terms).installments.size(), 4U);
  EXPECT_EQ(exit_status_of([&] { reschedule(terms, 1, 75000, std::nullopt); }), 0);
  EXPECT_EQ(exit_status_of([&] { reschedule(terms, 1, 75000, std::int64_t{10000}); }), 65);
}

TEST(EmiPayoff, AFlatLoanAccruesOnItsOriginalPrincipal) {
  Loan flat{"F", loan("1000.00", "12%", 4), {}};
  flat.terms.method = Method::flat;
  std::vector<StoredInstallment> items;
  for (const auto& row : build_schedule(flat.terms).installments) {
    StoredInstallment item;
    item.loan = "F";
    item.currency = flat.terms.currency;
    item.row = row;
    item.state = "due";
    items.push_back(item);
  }
  // 10 days after the first due date (15 Feb): 1000.00 x 12% x 10 / 365 = 3.2876... -> 3.29,
  // with installment 1's 10.00 of interest due and all the principal unpaid.
  const decimal::Fraction none{0, 1};
  Payoff quote = payoff_quote(flat, items, parse_date("2026-02-25"), none);
  EXPECT_EQ(quote.principal, 100000);
  EXPECT_EQ(quote.interest_due, 1000);
  EXPECT_EQ(quote.accrued_days, 10);
  EXPECT_EQ(quote.interest_accrued, 329);
  EXPECT_EQ(quote.total(), 101329);
  EXPECT_EQ(quote.late_interest, 0);
  // Installment 1's overdue principal is in that original principal already: nothing more.
  EXPECT_EQ(quote.interest_on_overdue, 0);
  // After the last due date nothing accrues.
  EXPECT_EQ(payoff_quote(flat, items, parse_date("2026-06-01"), none).interest_accrued, 0);
  // At 36.5% a year late, installment 1 (260.00, due 15 Feb) owes 260.00 x 0.1% a day x 10
  // days = 2.60 on 25 Feb.
  quote = payoff_quote(flat, items, parse_date("2026-02-25"), decimal::Fraction{365, 1000});
  EXPECT_EQ(quote.late_interest, 260);
  EXPECT_EQ(quote.total(), 101329 + 260);
}

TEST(EmiSchedule, InvariantsHoldForTenThousandRandomLoans) {
  Random random(20261128);
  const char* currencies[] = {"INR", "USD", "JPY", "KWD"};
  int built = 0;
  for (int trial = 0; trial < 10000; ++trial) {
    LoanTerms terms;
    terms.currency = decimal::currency(currencies[random.uniform_int(0, 3)]);
    terms.principal = random.uniform_int(1, 100'000'000'000);
    terms.annual_rate = decimal::make_fraction(random.uniform_int(0, 40000), 100000);  // 0-40%
    terms.months = static_cast<int>(random.uniform_int(1, 480));
    terms.disbursed = parse_date("2026-01-31");
    terms.first_due = add_months(terms.disbursed, 1 + static_cast<int>(random.uniform_int(0, 1)));
    terms.broken_period = static_cast<BrokenPeriod>(random.uniform_int(0, 2));
    terms.emi_rounding = static_cast<decimal::Rounding>(random.uniform_int(0, 2));
    terms.frequency = static_cast<Frequency>(random.uniform_int(0, 2));
    terms.method = static_cast<Method>(random.uniform_int(0, 2));
    try {
      Schedule schedule = build_schedule(terms);
      check_invariants(terms, schedule);
      ++built;
    } catch (const Error& error) {
      ASSERT_EQ(error.code(), 65) << error.what();
    }
  }
  EXPECT_GT(built, 9000);
}

}  // namespace
}  // namespace sluice::emi

namespace sluice::emi {
namespace {

StoredInstallment due_installment() {
  StoredInstallment item;
  item.loan = "L1";
  item.currency = decimal::currency("INR");
  item.row = Installment{1, parse_date("2026-02-15"), 10000000, 879159, 83333, 795826, 9204174};
  item.state = "due";
  item.next_attempt = item.row.due;
  return item;
}

PaymentResult failed(int attempt, std::string code = "R01") {
  return PaymentResult{"L1", 1, attempt, false, std::move(code), std::nullopt};
}

const Date today = parse_date("2026-02-15");

TEST(EmiCollection, FailureSchedulesTheNextAttemptAfterTheRetryDelay) {
  StoredInstallment item = due_installment();
  Outcome outcome = apply_result(item, Policy{}, failed(1), std::nullopt, today);
  EXPECT_TRUE(outcome.applied);
  EXPECT_EQ(item.attempts, 1);
  EXPECT_EQ(item.state, "due");
  EXPECT_EQ(format_date(item.next_attempt), "2026-02-17");
}

TEST(EmiCollection, ThirdFailureMakesItOverdueWithOnePenalty) {
  StoredInstallment item = due_installment();
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ASSERT_FALSE(
        apply_result(item, Policy{}, failed(attempt), std::nullopt, today).penalty_charged);
  }
  Outcome third = apply_result(item, Policy{}, failed(3), std::nullopt, today);
  EXPECT_TRUE(third.penalty_charged);
  EXPECT_EQ(item.state, "overdue");
  EXPECT_EQ(item.penalty, 17583);  // 2% of 8791.59 = 175.8318 -> 175.83
  // A later failed presentment does not charge again.
  EXPECT_FALSE(apply_result(item, Policy{}, failed(4), std::nullopt, today).penalty_charged);
  EXPECT_EQ(item.penalty, 17583);
}

TEST(EmiCollection, NonRetryableCodeIsOverdueAtOnce) {
  StoredInstallment item = due_installment();
  Policy policy;
  policy.penalty_is_flat = true;
  policy.penalty_flat = 50000;
  Outcome outcome = apply_result(item, policy, failed(1, "R02"), std::nullopt, today);
  EXPECT_TRUE(outcome.penalty_charged);
  EXPECT_EQ(item.state, "overdue");
  EXPECT_EQ(item.penalty, 50000);
}

TEST(EmiCollection, DuplicatesConflictsAndStaleAttemptsAreNotApplied) {
  StoredInstallment item = due_installment();
  StoredResult stored{"failed", "R01", 0};
  EXPECT_EQ(apply_result(item, Policy{}, failed(1), stored, today).reason, "duplicate");
  EXPECT_EQ(apply_result(item, Policy{}, failed(1, "R09"), stored, today).reason, "conflict");
  EXPECT_EQ(apply_result(item, Policy{}, failed(2), std::nullopt, today).reason, "superseded");
  EXPECT_EQ(item.attempts, 0);
}

TEST(EmiCollection, ADifferentAmountForAStoredPaymentIsAConflict) {
  StoredInstallment item = due_installment();
  StoredResult stored{"paid", "", 800000};
  PaymentResult same{"L1", 1, 1, true, "", 800000};
  PaymentResult corrected{"L1", 1, 1, true, "", 879159};
  PaymentResult everything{"L1", 1, 1, true, "", std::nullopt};
  EXPECT_EQ(apply_result(item, Policy{}, same, stored, today).reason, "duplicate");
  EXPECT_EQ(apply_result(item, Policy{}, corrected, stored, today).reason, "conflict");
  EXPECT_EQ(apply_result(item, Policy{}, everything, stored, today).reason, "duplicate");
  // Stored before amounts were kept: 0, which any amount repeats.
  EXPECT_EQ(apply_result(item, Policy{}, corrected, StoredResult{"paid", "", 0}, today).reason,
            "duplicate");
  EXPECT_EQ(item.attempts, 0);
}

TEST(EmiCollection, AnAppliedPaymentSaysWhatItPaid) {
  StoredInstallment item = due_installment();
  PaymentResult presented{"L1", 1, 1, true, "", 800000};
  EXPECT_EQ(apply_result(item, Policy{}, presented, std::nullopt, today).paid, 800000);
  PaymentResult rest{"L1", 1, 2, true, "", std::nullopt};
  EXPECT_EQ(apply_result(item, Policy{}, rest, std::nullopt, today).paid, 79159);
}

TEST(EmiCollection, IdempotencyKeysStayReadableWhenTheyAreValid) {
  EXPECT_EQ(idempotency_key("L1", 1, 1), "L1:1:1");
  EXPECT_EQ(idempotency_key("A:7", 12, 3), "A:7:12:3");
  // Appended rather than `std::string(250, 'x') + ":1:1"`, on which GCC 12 reports a false
  // -Warray-bounds once inlined into a unity batch.
  std::string long_key(250, 'x');
  long_key += ":1:1";
  EXPECT_EQ(idempotency_key(std::string(250, 'x'), 1, 1), long_key);
}

TEST(EmiCollection, OtherLoanIdsGetAValidKeyFromTheirSha256) {
  // SHA-256 of "ACME Corp/loan 7", from Python's hashlib.
  EXPECT_EQ(idempotency_key("ACME Corp/loan 7", 2, 1),
            "sha256:edda75149de2792444be4ab9bfdac7b3eec13d95486d29b184492f894d4dab22:2:1");
  for (const std::string& id : {std::string("ACME Corp/loan 7"),
                                std::string("\xC5\x81\xC3\xB3"
                                            "d\xC5\xBA-7"),
                                std::string(300, 'x'), std::string(254, 'x'), std::string("tab\t"),
                                std::string("sha256:abc")}) {
    std::string key = idempotency_key(id, 1200, 100);
    EXPECT_TRUE(is_valid_key(key)) << key;
    EXPECT_TRUE(key.starts_with("sha256:")) << key;
    EXPECT_EQ(key, idempotency_key(id, 1200, 100));
  }
  // A readable ID that looks like a derived key is derived too, so no readable key can equal
  // a derived one.
  std::string derived = idempotency_key("a b", 1, 1);
  std::string lookalike = derived.substr(0, derived.size() - 4);
  EXPECT_NE(idempotency_key(lookalike, 1, 1), derived);
}

TEST(EmiCollection, PartialPaymentsSettlePenaltyThenInterestThenPrincipal) {
  StoredInstallment item = due_installment();
  item.penalty = 10000;
  PaymentResult partial{"L1", 1, 1, true, "", 50000};  // 500.00
  ASSERT_TRUE(apply_result(item, Policy{}, partial, std::nullopt, today).applied);
  EXPECT_EQ(item.paid_penalty, 10000);
  EXPECT_EQ(item.paid_interest, 40000);
  EXPECT_EQ(item.paid_principal, 0);
  EXPECT_EQ(item.state, "due");
  EXPECT_EQ(item.outstanding(), 879159 + 10000 - 50000);
  PaymentResult overpaid{"L1", 1, 2, true, "", item.outstanding() + 1};
  EXPECT_EQ(apply_result(item, Policy{}, overpaid, std::nullopt, today).reason, "amount_not_due");
  PaymentResult rest{"L1", 1, 2, true, "", std::nullopt};
  ASSERT_TRUE(apply_result(item, Policy{}, rest, std::nullopt, today).applied);
  EXPECT_EQ(item.state, "paid");
  EXPECT_EQ(item.paid_interest, 83333);
  EXPECT_EQ(item.paid_principal, 795826);
  PaymentResult again{"L1", 1, 3, true, "", std::nullopt};
  EXPECT_EQ(apply_result(item, Policy{}, again, std::nullopt, today).reason, "already_paid");
}

}  // namespace
}  // namespace sluice::emi
