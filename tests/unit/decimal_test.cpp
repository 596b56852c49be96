#include "sluice/decimal.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace sluice::decimal {
namespace {

using sluice::testing::exit_status_of;

TEST(Decimal, DivideRoundsEveryWay) {
  // 25 / 10 = 2.5 (a tie), -25 / 10 = -2.5, 26 / 10 = 2.6, 24 / 10 = 2.4.
  EXPECT_EQ(divide(25, 10, Rounding::half_up), 3);
  EXPECT_EQ(divide(-25, 10, Rounding::half_up), -3);
  EXPECT_EQ(divide(25, 10, Rounding::half_even), 2);
  EXPECT_EQ(divide(35, 10, Rounding::half_even), 4);
  EXPECT_EQ(divide(-25, 10, Rounding::half_even), -2);
  EXPECT_EQ(divide(24, 10, Rounding::half_up), 2);
  EXPECT_EQ(divide(26, 10, Rounding::half_even), 3);
  EXPECT_EQ(divide(21, 10, Rounding::ceiling), 3);
  EXPECT_EQ(divide(-21, 10, Rounding::ceiling), -2);
  EXPECT_EQ(divide(-21, 10, Rounding::floor), -3);
  EXPECT_EQ(divide(-29, 10, Rounding::down), -2);
  EXPECT_EQ(divide(30, 10, Rounding::ceiling), 3);
  EXPECT_EQ(divide(7, -2, Rounding::half_up), -4);
}

TEST(Decimal, ParsesRoundingNames) {
  EXPECT_EQ(parse_rounding("--rounding", "half-even"), Rounding::half_even);
  EXPECT_EQ(exit_status_of([] { parse_rounding("--rounding", "banker"); }), 2);
}

TEST(Decimal, CurrenciesCarryTheirIsoExponent) {
  EXPECT_EQ(currency("USD").exponent, 2);
  EXPECT_EQ(currency("INR").exponent, 2);
  EXPECT_EQ(currency("JPY").exponent, 0);
  EXPECT_EQ(currency("KRW").exponent, 0);
  EXPECT_EQ(currency("KWD").exponent, 3);
  EXPECT_EQ(currency("CLF").exponent, 4);
  EXPECT_EQ(exit_status_of([] { currency("usd"); }), 2);
  EXPECT_EQ(exit_status_of([] { currency("XYZ"); }), 2);
  EXPECT_EQ(exit_status_of([] { currency("D A"); }), 2);
}

TEST(Decimal, ParsesAmountsExactlyInMinorUnits) {
  EXPECT_EQ(parse_amount("100000.00", 2), 10000000);
  EXPECT_EQ(parse_amount("12.5", 2), 1250);
  EXPECT_EQ(parse_amount("7", 2), 700);
  EXPECT_EQ(parse_amount("1234", 0), 1234);
  EXPECT_EQ(parse_amount("1.234", 3), 1234);
  EXPECT_EQ(parse_amount("-0.50", 2, true), -50);
  EXPECT_EQ(parse_amount("92233720368547758.07", 2), INT64_MAX);
}

TEST(Decimal, RejectsAmountsThatAreNotExact) {
  for (const char* text : {"12.345", "", ".5", "5.", "1e3", "+5", "1,000", " 5", "0x10", "1.2.3"}) {
    EXPECT_EQ(exit_status_of([&] { parse_amount(text, 2); }), 2) << text;
  }
  EXPECT_EQ(exit_status_of([] { parse_amount("-5", 2); }), 2);
  EXPECT_EQ(exit_status_of([] { parse_amount("1.5", 0); }), 2);
  EXPECT_EQ(exit_status_of([] { parse_amount("92233720368547758.08", 2); }), 2);
}

TEST(Decimal, FormatsAmountsWithTheCurrencyPlaces) {
  EXPECT_EQ(format_amount(879159, 2), "8791.59");
  EXPECT_EQ(format_amount(5, 2), "0.05");
  EXPECT_EQ(format_amount(-50, 2), "-0.50");
  EXPECT_EQ(format_amount(0, 3), "0.000");
  EXPECT_EQ(format_amount(1234, 0), "1234");
}

TEST(Decimal, RatesCarryTheirUnit) {
  EXPECT_EQ(parse_rate("--rate", "10%"), make_fraction(1, 10));
  EXPECT_EQ(parse_rate("--rate", "8.5%"), make_fraction(17, 200));
  EXPECT_EQ(parse_rate("--rate", "850bp"), make_fraction(17, 200));
  EXPECT_EQ(parse_rate("--rate", "0%"), make_fraction(0, 1));
  EXPECT_EQ(parse_rate("--rate", "7.25%"), make_fraction(29, 400));
  EXPECT_EQ(exit_status_of([] { parse_rate("--rate", "8.5"); }), 2);
  EXPECT_EQ(exit_status_of([] { parse_rate("--rate", "-1%"); }), 2);
  EXPECT_EQ(exit_status_of([] { parse_rate("--rate", "%"); }), 2);
  EXPECT_EQ(exit_status_of([] { parse_rate("--rate", "abc%"); }), 2);
  EXPECT_EQ(format_rate(make_fraction(17, 200)), "8.5%");
  EXPECT_EQ(format_rate(make_fraction(1, 10)), "10%");
  EXPECT_EQ(format_rate(make_fraction(29, 400)), "7.25%");
}

TEST(Decimal, BigUnsignedArithmeticMatchesKnownValues) {
  BigUnsigned two(2);
  EXPECT_EQ(two.pow(200).to_string(),
            "1606938044258990275541962092341162602522202993782792835301376");
  BigUnsigned big = BigUnsigned(10).pow(40);
  EXPECT_EQ((big + BigUnsigned(1)).to_string(), "10000000000000000000000000000000000000001");
  EXPECT_EQ((big - BigUnsigned(1)).to_string(), "9999999999999999999999999999999999999999");
  EXPECT_EQ((BigUnsigned(123456789) * BigUnsigned(987654321)).to_string(), "121932631112635269");
  EXPECT_LT(BigUnsigned(5), BigUnsigned(10).pow(30));
  EXPECT_EQ(BigUnsigned(1).shifted_left(100), two.pow(100));
  EXPECT_EQ(two.pow(100).bit_length(), 101u);
  EXPECT_EQ(exit_status_of([] { (void)(BigUnsigned(1) - BigUnsigned(2)); }), 70);
}

TEST(Decimal, BigDivisionRoundsExactly) {
  // 10^40 / 3 * 3 = 10^40 - 1 ... quotient of (10^40 + 5) / 10^39 = 10.000...005 -> 10.
  BigUnsigned big = BigUnsigned(10).pow(40);
  EXPECT_EQ(divide(big, BigUnsigned(10).pow(39), Rounding::half_up), 10);
  EXPECT_EQ(divide(BigUnsigned(25) * big, BigUnsigned(10) * big, Rounding::half_up), 3);
  EXPECT_EQ(divide(BigUnsigned(25) * big, BigUnsigned(10) * big, Rounding::half_even), 2);
  EXPECT_EQ(divide(BigUnsigned(21) * big, BigUnsigned(10) * big, Rounding::ceiling), 3);
  EXPECT_EQ(divide(BigUnsigned(29) * big, BigUnsigned(10) * big, Rounding::down), 2);
  EXPECT_EQ(exit_status_of([&] { divide(big.pow(2), BigUnsigned(1), Rounding::down); }), 65);
}

// The EMI of 100,000.00 at 10% for 12 months as an exact fraction in cents:
// P r (1+r)^n / ((1+r)^n - 1) with r = 1/120 is P (121)^12 / (120 ((121)^12 - 120^12)).
TEST(Decimal, AnnuityFractionRoundsToTheKnownEmi) {
  BigUnsigned principal(10000000), growth = BigUnsigned(121).pow(12),
                                   base = BigUnsigned(120).pow(12);
  EXPECT_EQ(divide(principal * growth, BigUnsigned(120) * (growth - base), Rounding::half_up),
            879159);
}

}  // namespace
}  // namespace sluice::decimal
