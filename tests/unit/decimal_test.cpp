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
  EXPECT_EQ(currency("BHD").exponent, 3);
  EXPECT_EQ(exit_status_of([] { currency("usd"); }), 2);
  EXPECT_EQ(exit_status_of([] { currency("XYZ"); }), 2);
  EXPECT_EQ(exit_status_of([] { currency("D A"); }), 2);
}

TEST(Decimal, RefusesWithdrawnFundAndMetalCodes) {
  for (const char* code : {"HRK", "BGN", "ANG", "ZWL", "CLF", "USN", "XAU", "XXX", "XTS"}) {
    EXPECT_EQ(exit_status_of([&] { currency(code); }), 2) << code;
  }
  EXPECT_EQ(testing::error_message_of([] { currency("HRK"); }),
            "currency 'HRK' was withdrawn from ISO 4217 (use EUR)");
  EXPECT_EQ(testing::error_message_of([] { currency("XAU"); }),
            "'XAU' is an ISO 4217 precious metal, unit or testing code, not a currency prices "
            "are paid in");
  EXPECT_EQ(currency("XCG").exponent, 2);
  EXPECT_EQ(currency("SLE").exponent, 2);
}

TEST(Decimal, FractionArithmeticIsExactInLowestTerms) {
  Fraction eur_jpy = parse_decimal("rate", "151.23"), eur_usd = parse_decimal("rate", "1.0823");
  EXPECT_EQ(eur_jpy / eur_usd, (Fraction{1512300, 10823}));
  // 0.92 * 1.19 = 1.0948 = 2737/2500.
  EXPECT_EQ(parse_decimal("x", "0.92") * parse_decimal("x", "1.19"), (Fraction{2737, 2500}));
  EXPECT_EQ(parse_decimal("x", "0.2") + parse_decimal("x", "0.1"), (Fraction{3, 10}));
  EXPECT_EQ(parse_decimal("x", "0.2") - parse_decimal("x", "0.5"), (Fraction{-3, 10}));
  EXPECT_TRUE(parse_decimal("x", "0.24") < parse_decimal("x", "0.3"));
  EXPECT_EQ(round(Fraction{-2039, 2}, Rounding::half_up), -1020);
  Fraction huge{static_cast<Int128>(1) << 100, 3};
  EXPECT_EQ(exit_status_of([&] { (void)(huge * huge); }), 65);
}

TEST(Decimal, ParsesAndFormatsDecimalsExactly) {
  EXPECT_EQ(parse_decimal("x", "151.2300"), (Fraction{15123, 100}));
  EXPECT_EQ(parse_decimal("x", "-1019.125", Negative::allowed), (Fraction{-8153, 8}));
  EXPECT_EQ(exit_status_of([] { parse_decimal("--plr", "-1"); }), 2);
  EXPECT_EQ(exit_status_of([] { parse_decimal("--plr", "1e3"); }), 2);
  EXPECT_EQ(format_decimal(Fraction{23, 25}, 10), "0.92");
  EXPECT_EQ(format_decimal(Fraction{3, 1}, 10), "3");
  EXPECT_EQ(format_decimal(Fraction{-1, 2}, 10), "-0.5");
  // 1/3 rounded half-even to 4 places, 2/3 too; 1/8 = 0.125 tie at 2 places goes to even.
  EXPECT_EQ(format_decimal(Fraction{1, 3}, 4), "0.3333");
  EXPECT_EQ(format_decimal(Fraction{2, 3}, 4), "0.6667");
  EXPECT_EQ(format_decimal(Fraction{1, 8}, 2), "0.12");
}

TEST(Decimal, AllocatesByLargestRemainderSummingExactly) {
  using Parts = std::vector<Int128>;
  EXPECT_EQ(allocate(10000, {1, 1, 1}), (Parts{3334, 3333, 3333}));
  EXPECT_EQ(allocate(-10000, {1, 1, 1}), (Parts{-3334, -3333, -3333}));
  EXPECT_EQ(allocate(9999, {75, 25}), (Parts{7499, 2500}));
  // 5 units by 1:2:2: exact shares 1, 2, 2. 7 by 1:1:1:1: 1.75 each, three get the extra.
  EXPECT_EQ(allocate(5, {1, 2, 2}), (Parts{1, 2, 2}));
  EXPECT_EQ(allocate(7, {1, 1, 1, 1}), (Parts{2, 2, 2, 1}));
  EXPECT_EQ(allocate(100, {0, 1}), (Parts{0, 100}));
  EXPECT_EQ(allocate(0, {1, 2}), (Parts{0, 0}));
  EXPECT_EQ(exit_status_of([] { allocate(100, {0, 0}); }), 2);
  EXPECT_EQ(exit_status_of([] { allocate(100, {1, -1}); }), 2);
}

TEST(Decimal, ParsesAmountsExactlyInMinorUnits) {
  EXPECT_EQ(parse_amount("100000.00", 2), 10000000);
  EXPECT_EQ(parse_amount("12.5", 2), 1250);
  EXPECT_EQ(parse_amount("7", 2), 700);
  EXPECT_EQ(parse_amount("1234", 0), 1234);
  EXPECT_EQ(parse_amount("1.234", 3), 1234);
  EXPECT_EQ(parse_amount("-0.50", 2, Negative::allowed), -50);
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

TEST(Decimal, ReadsJsonNumberAmountsExactlyFromTheirText) {
  EXPECT_EQ(parse_json_amount("1e2", 2), 10000);
  EXPECT_EQ(parse_json_amount("1.5e1", 2), 1500);
  EXPECT_EQ(parse_json_amount("1.5E+1", 0), 15);
  EXPECT_EQ(parse_json_amount("0.0199e2", 2), 199);
  EXPECT_EQ(parse_json_amount("4999e-2", 2), 4999);
  EXPECT_EQ(parse_json_amount("49.99", 2), 4999);
  EXPECT_EQ(parse_json_amount("1.2340e0", 3), 1234);  // a zero past the minor unit is fine
  EXPECT_EQ(parse_json_amount("0e999999999999999999999", 2), 0);
  EXPECT_EQ(parse_json_amount("-1.5e1", 2, Negative::allowed), -1500);
  EXPECT_EQ(parse_json_amount("9.223372036854775807e16", 2), INT64_MAX);
}

TEST(Decimal, JsonNumberAmountsNameTheTextAndWhatIsWrong) {
  auto message = [](std::string_view text, int exponent) {
    try {
      parse_json_amount(text, exponent);
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), exit_code::usage) << text;
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("1.001e0", 2),
            "invalid amount '1.001e0': more than 2 decimal places for this currency");
  EXPECT_EQ(message("1e-1", 0),
            "invalid amount '1e-1': more than 0 decimal places for this currency");
  EXPECT_EQ(message("1e999", 2), "invalid amount '1e999': too large");
  EXPECT_EQ(message("9.223372036854775808e16", 2),
            "invalid amount '9.223372036854775808e16': too large");
  EXPECT_EQ(message("-0", 2), "invalid amount '-0': must not be negative");
  for (const char* text : {"", "01", ".5", "5.", "1e", "1e+", "+1", "1.5.2", "0x10", "1 ", "e2"}) {
    EXPECT_NE(message(text, 2).find("expected a JSON number"), std::string::npos) << text;
  }
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
