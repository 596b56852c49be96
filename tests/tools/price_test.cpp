#include <gtest/gtest.h>

#include <array>

#include "price_calc.hpp"
#include "price_display.hpp"
#include "price_engine.hpp"
#include "price_load.hpp"
#include "price_market.hpp"
#include "test_support.hpp"

namespace sluice::price {
namespace {

using sluice::testing::exit_status_of;
using sluice::testing::failure_of;

const decimal::Currency usd = decimal::currency("USD");

Int128 minor(std::string_view text, const decimal::Currency& currency) {
  return decimal::parse_amount(text, currency.exponent);
}

Market market(const char* country, const char* currency, const char* fx) {
  Market result;
  result.country = country;
  result.currency = decimal::currency(currency);
  result.fx_rate = decimal::parse_decimal("fx", fx);
  result.fx_date = "2026-03-02";
  return result;
}

struct Shown {
  std::string amount, net, tax;
  friend bool operator==(const Shown&, const Shown&) = default;
};

std::ostream& operator<<(std::ostream& out, const Shown& shown) {
  return out << shown.amount << " " << shown.net << " " << shown.tax;
}

Shown price(const Market& setup, const char* base, Rounding rounding = Rounding::half_up,
            TaxRounding tax_rounding = TaxRounding::net,
            const decimal::Currency& base_currency = usd) {
  MarketPricer pricer(setup, base_currency, rounding, tax_rounding);
  Breakdown result = pricer.price(minor(base, base_currency), "");
  int exponent = setup.currency.exponent;
  return {decimal::format_amount(result.amount, exponent),
          decimal::format_amount(result.net, exponent),
          decimal::format_amount(result.tax, exponent)};
}

// Figures below are worked by hand from the issue's definitions.
TEST(PriceEngine, GermanyInclusiveEndNinetyNine) {
  // 49.99 * 0.92 * 1.19 = 54.729052 -> 54.73 -> end-99 54.99; net 54.99 / 1.19 = 46.2101 -> 46.21.
  Market germany = market("DE", "EUR", "0.92");
  germany.tax = Tax{decimal::parse_rate("--rate", "19%"), true};
  germany.rule = parse_rule("end-99", "", "", germany.currency);
  EXPECT_EQ(price(germany, "49.99"), (Shown{"54.99", "46.21", "8.78"}));
}

TEST(PriceEngine, InclusiveTaxRoundsTheNetOrTheTax) {
  // A base of 2.875 (three decimals) makes the gross exactly 2.875 * 1.04 = 2.99. Then
  // 2.99 / 1.04 = 2.875 -> net 2.88, tax 0.11; rounding the tax: 2.99 * 0.04 / 1.04 = 0.115 ->
  // 0.12.
  Market market_4 = market("XX", "USD", "1");
  market_4.tax = Tax{decimal::parse_rate("--rate", "4%"), true};
  const decimal::Currency kwd = decimal::currency("KWD");
  EXPECT_EQ(price(market_4, "2.875", Rounding::half_up, TaxRounding::net, kwd),
            (Shown{"2.99", "2.88", "0.11"}));
  EXPECT_EQ(price(market_4, "2.875", Rounding::half_up, TaxRounding::tax, kwd),
            (Shown{"2.99", "2.87", "0.12"}));
}

TEST(PriceEngine, ExclusiveTaxIsComputedOnTheShownNet) {
  // 19.99 * 8.875% = 1.7741125 -> 1.77.
  Market us = market("US", "USD", "1");
  us.tax = Tax{decimal::parse_rate("--rate", "8.875%"), false};
  EXPECT_EQ(price(us, "19.99"), (Shown{"19.99", "19.99", "1.77"}));
}

TEST(PriceEngine, HalfUpAndHalfEvenAtAnExactTie) {
  // 1019.125 KWD at 1 to USD: a tie at the cent.
  Market tie = market("US", "USD", "1");
  const decimal::Currency kwd = decimal::currency("KWD");
  EXPECT_EQ(price(tie, "1019.125", Rounding::half_up, TaxRounding::net, kwd).amount, "1019.13");
  EXPECT_EQ(price(tie, "1019.125", Rounding::half_even, TaxRounding::net, kwd).amount, "1019.12");
  EXPECT_EQ(
      decimal::format_amount(
          decimal::round(decimal::parse_decimal("x", "-1019.125", decimal::Negative::allowed) *
                             Fraction{100, 1},
                         Rounding::half_up),
          2),
      "-1019.13");
}

TEST(PriceEngine, ZeroAndThreeDecimalCurrencies) {
  // 49.99 * 150.5 = 7523.495 JPY -> 7523 -> ceil:10 7530; 49.99 * 0.3075 = 15.371925 -> 15.372.
  Market japan = market("JP", "JPY", "150.5");
  japan.rule = parse_rule("ceil:10", "", "", japan.currency);
  EXPECT_EQ(price(japan, "49.99"), (Shown{"7530", "7530", "0"}));
  EXPECT_EQ(price(market("KW", "KWD", "0.3075"), "49.99"), (Shown{"15.372", "15.372", "0.000"}));
}

TEST(PriceEngine, MultiplierAppliesBeforeTax) {
  // 10.00 * 83.12 * 0.392 = 325.8304 -> 325.83; with 18% inclusive: 384.479872 -> 384.48.
  Market india = market("IN", "INR", "83.12");
  india.multiplier =
      ppp_multiplier(Fraction{24, 100}, Fraction{2, 10}, Fraction{3, 10}, Fraction{1, 1});
  EXPECT_EQ(india.multiplier, (Fraction{49, 125}));  // 0.392
  EXPECT_EQ(price(india, "10.00").amount, "325.83");
  india.tax = Tax{decimal::parse_rate("--rate", "18%"), true};
  // net 384.48 / 1.18 = 325.830508 -> 325.83; tax 58.65.
  EXPECT_EQ(price(india, "10.00"), (Shown{"384.48", "325.83", "58.65"}));
}

TEST(PriceEngine, ParityMultiplierIsClamped) {
  Fraction low{3, 10}, high{1, 1}, smoothing{2, 10};
  EXPECT_EQ(ppp_multiplier(Fraction{1, 10}, smoothing, low, high), low);    // 0.28 -> 0.3
  EXPECT_EQ(ppp_multiplier(Fraction{15, 10}, smoothing, low, high), high);  // 1.4 -> 1
  EXPECT_EQ(ppp_multiplier(Fraction{1, 2}, Fraction{0, 1}, low, high), (Fraction{1, 2}));
}

Int128 shown_by(const char* rule, const char* minimum, const char* currency, const char* figure) {
  decimal::Currency money = decimal::currency(currency);
  return apply_rule(parse_rule(rule, minimum, "", money), minor(figure, money));
}

TEST(PriceEngine, DisplayRulesMoveTheFigureAsDocumented) {
  EXPECT_EQ(shown_by("end-99", "", "EUR", "54.99"), 5499);
  EXPECT_EQ(shown_by("end-99", "", "EUR", "55.00"), 5599);
  EXPECT_EQ(shown_by("end-99", "", "EUR", "0.10"), 99);
  EXPECT_EQ(shown_by("end-95", "", "EUR", "54.96"), 5595);
  EXPECT_EQ(shown_by("end-90", "", "EUR", "54.89"), 5490);
  EXPECT_EQ(shown_by("end-99", "", "KWD", "15.372"), 15990);
  EXPECT_EQ(shown_by("ceil:1000", "", "KRW", "65001"), 66000);
  EXPECT_EQ(shown_by("nearest:0.05", "", "CHF", "12.32"), 1230);
  EXPECT_EQ(shown_by("nearest:0.05", "", "CHF", "12.33"), 1235);
  EXPECT_EQ(shown_by("nearest:10", "", "INR", "1925.00"), 193000);
  EXPECT_EQ(shown_by("nearest:10", "", "INR", "2.40"), 1000);  // never rounded down to free
  EXPECT_EQ(shown_by("nearest:0.05", "", "CHF", "0.02"), 5);
  EXPECT_EQ(shown_by("ceil:1000", "1000", "KRW", "999"), 999);  // below the minimum
  EXPECT_EQ(shown_by("ceil:1000", "1000", "KRW", "1001"), 2000);
  EXPECT_EQ(shown_by("end-99", "", "EUR", "0.00"), 0);  // a free item stays free
}

Int128 shown_capped(const char* rule, const char* max_uplift, const char* currency,
                    const char* figure) {
  decimal::Currency money = decimal::currency(currency);
  return apply_rule(parse_rule(rule, "", max_uplift, money), minor(figure, money));
}

TEST(PriceEngine, NearestPricePointGoesEitherWayAndTiesGoUp) {
  // 1.08: 0.99 is 0.09 away, 1.99 is 0.91 away (end-99 gives 1.99).
  EXPECT_EQ(shown_by("end-99", "", "EUR", "1.08"), 199);
  EXPECT_EQ(shown_by("nearest-99", "", "EUR", "1.08"), 99);
  EXPECT_EQ(shown_by("nearest-99", "", "EUR", "1.48"), 99);   // 0.49 down, 0.51 up
  EXPECT_EQ(shown_by("nearest-99", "", "EUR", "1.49"), 199);  // 0.50 either way: the higher
  EXPECT_EQ(shown_by("nearest-99", "", "EUR", "54.99"), 5499);
  EXPECT_EQ(shown_by("nearest-99", "", "EUR", "0.40"), 99);       // no point below: never free
  EXPECT_EQ(shown_by("nearest-90", "", "EUR", "5.35"), 490);      // 0.45 down, 0.55 up
  EXPECT_EQ(shown_by("nearest-95", "", "KWD", "15.372"), 14950);  // 0.422 down, 0.578 up
  EXPECT_EQ(shown_by("nearest-99", "", "EUR", "0.00"), 0);
}

TEST(PriceEngine, MaxUpliftFallsBackToTheRoundedFigure) {
  // 1.08 -> 0.99 moves 0.09: more than 5% (0.054), within 10% (0.108).
  EXPECT_EQ(shown_capped("nearest-99", "5%", "EUR", "1.08"), 108);
  EXPECT_EQ(shown_capped("nearest-99", "10%", "EUR", "1.08"), 99);
  // 20.00 -> 20.99 moves 0.99: exactly 4.95% of 20.00 is allowed, 4.9% (0.98) is not.
  EXPECT_EQ(shown_capped("end-99", "4.95%", "EUR", "20.00"), 2099);
  EXPECT_EQ(shown_capped("end-99", "4.9%", "EUR", "20.00"), 2000);
  // 19.50 -> 19.99 moves 0.49: 2.5% is 0.4875, 2.52% is 0.4914.
  EXPECT_EQ(shown_capped("nearest-99", "2.5%", "EUR", "19.50"), 1950);
  EXPECT_EQ(shown_capped("nearest-99", "2.52%", "EUR", "19.50"), 1999);
  EXPECT_EQ(shown_capped("ceil:10", "0%", "JPY", "7518"), 7518);
  EXPECT_EQ(shown_capped("ceil:10", "0%", "JPY", "7520"), 7520);
}

// A cap of 12 decimals (the most a rate has) is 9223372036854775807 / 10^14 in lowest terms;
// times a figure four times the largest price it is above 2^127. Before the comparison was
// checked it wrapped and silently kept the figure.
TEST(PriceEngine, MaxUpliftComparisonTooLargeToComputeIsBadData) {
  const decimal::Currency eur = decimal::currency("EUR");
  DisplayRule rule = parse_rule("ceil:0.01", "", "9223372.036854775807%", eur);
  Int128 figure = static_cast<Int128>(INT64_MAX) * 4;
  int status = 0;
  std::string message;
  try {
    (void)apply_rule(rule, figure);
  } catch (const Error& error) {
    status = error.code();
    message = error.what();
  }
  EXPECT_EQ(status, 65);
  EXPECT_EQ(message, "a price is too large to compute exactly");
  // The same 12 decimals within range: 20.00 -> 20.99 moves exactly 4.95%.
  EXPECT_EQ(shown_capped("end-99", "4.950000000000%", "EUR", "20.00"), 2099);
  EXPECT_EQ(shown_capped("end-99", "4.949999999999%", "EUR", "20.00"), 2000);
}

TEST(PriceEngine, RulesThatBreakTheCurrencyPrecisionAreRefused) {
  const decimal::Currency jpy = decimal::currency("JPY"), eur = decimal::currency("EUR");
  EXPECT_EQ(exit_status_of([&] { parse_rule("end-99", "", "", jpy); }), 2);
  EXPECT_EQ(exit_status_of([&] { parse_rule("nearest:0.05", "", "", jpy); }), 2);
  EXPECT_EQ(exit_status_of([&] { parse_rule("ceil:0.001", "", "", eur); }), 2);
  EXPECT_EQ(exit_status_of([&] { parse_rule("ceil:0", "", "", eur); }), 2);
  EXPECT_EQ(exit_status_of([&] { parse_rule("round:10", "", "", eur); }), 2);
  EXPECT_EQ(exit_status_of([&] { parse_rule("end-99", "1.001", "", eur); }), 2);
  EXPECT_EQ(exit_status_of([&] { parse_rule("nearest-99", "", "", jpy); }), 2);
  EXPECT_EQ(exit_status_of([&] { parse_rule("nearest-98", "", "", eur); }), 2);
  EXPECT_EQ(exit_status_of([&] { parse_rule("end-99", "", "5", eur); }), 2);  // a bare number
  EXPECT_EQ(exit_status_of([&] { parse_rule("end-99", "", "-5%", eur); }), 2);
}

TEST(PriceEngine, TooLargeAPriceIsBadData) {
  Market huge = market("XX", "USD", "1000000000000000000");
  MarketPricer pricer(huge, usd, Rounding::half_up, TaxRounding::net);
  EXPECT_EQ(exit_status_of([&] { (void)pricer.price(static_cast<Int128>(INT64_MAX) * 1000, ""); }),
            65);
}

TEST(PriceEngine, APriceAboveTheLargestStorableFigureIsBadDataNamingIt) {
  // Twice half of INT64_MAX is the largest even figure that fits; one cent more does not.
  Market doubled = market("US", "USD", "1");
  doubled.multiplier = Fraction{2, 1};
  EXPECT_EQ(price(doubled, "46116860184273879.03").amount, "92233720368547758.06");
  Market taxed = doubled;
  taxed.tax = Tax{decimal::parse_rate("rate", "100%"), false};  // tax equal to the net
  EXPECT_EQ(price(taxed, "46116860184273879.03").tax, "92233720368547758.06");
  auto refusal = [](const Market& setup, Int128 base) {
    MarketPricer pricer(setup, usd, Rounding::half_up, TaxRounding::net);
    try {
      (void)pricer.price(base, "");
    } catch (const Error& error) {
      return std::pair(error.code(), std::string(error.what()));
    }
    return std::pair(0, std::string());
  };
  EXPECT_EQ(refusal(doubled, max_price_minor_units / 2 + 1),
            std::pair(65, std::string("amount 92233720368547758.08 USD is above the largest "
                                      "price, 92233720368547758.07 USD")));
  taxed.tax = Tax{decimal::parse_rate("rate", "200%"), false};  // the tax alone is too large
  EXPECT_EQ(refusal(taxed, max_price_minor_units / 4 + 1),
            std::pair(65, std::string("tax 92233720368547758.08 USD is above the largest "
                                      "price, 92233720368547758.07 USD")));
}

class PriceStoreTest : public ::testing::Test {
 protected:
  testing::TempDir directory;
  std::string file(const std::string& name, const std::string& text) {
    std::string path = directory.file(name);
    testing::write_text(path, text);
    return path;
  }
  Store open() { return Store(directory.file("price.db"), db::OpenOptions{}); }
};

constexpr const char* ecb_csv =
    "Date, USD, JPY, CYP, GBP, \n"
    "2026-03-03, 1.0823, 151.23, N/A, 0.8551, \n"
    "2 March 2026, 1.0800, 150.00, N/A, 0.8500, \n";

TEST_F(PriceStoreTest, CrossRatesComeExactlyFromTheOneBase) {
  Store store = open();
  JsonValue summary = load_rates(store, file("rates.csv", ecb_csv), RatesFormat::detect, true);
  EXPECT_EQ(to_json(summary),
            R"({"rows":6,"changed":6,"base":"EUR","currencies":3,"first_date":"2026-03-02",)"
            R"("last_date":"2026-03-03","skipped_currencies":["CYP"]})");
  CrossRate cross = cross_rate(store, "USD", "JPY", "2026-03-03", 4);
  EXPECT_EQ(cross.rate, (Fraction{1512300, 10823}));  // 151.23 / 1.0823, not a rounded inverse
  EXPECT_EQ(cross.date, "2026-03-03");
  EXPECT_EQ(cross_rate(store, "EUR", "GBP", "2026-03-02", 4).rate, (Fraction{17, 20}));
  EXPECT_EQ(cross_rate(store, "GBP", "EUR", "2026-03-02", 4).rate, (Fraction{20, 17}));
  EXPECT_EQ(cross_rate(store, "JPY", "JPY", "2026-03-02", 4).date, std::nullopt);
}

TEST_F(PriceStoreTest, AMissingDateFallsBackUntilTheRatesAreTooOld) {
  Store store = open();
  load_rates(store, file("rates.csv", ecb_csv), RatesFormat::ecb_csv, true);
  EXPECT_EQ(cross_rate(store, "USD", "JPY", "2026-03-07", 4).date, "2026-03-03");
  auto [status, where] = failure_of([&] { cross_rate(store, "USD", "JPY", "2026-03-08", 4); });
  EXPECT_EQ(status, 65);
  EXPECT_EQ(exit_status_of([&] { cross_rate(store, "USD", "JPY", "2026-03-01", 4); }), 65);
  EXPECT_EQ(exit_status_of([&] { cross_rate(store, "USD", "INR", "2026-03-03", 4); }), 65);
}

TEST_F(PriceStoreTest, ABadRateLineNamesItsLineAndWritesNothing) {
  Store store = open();
  std::string bad = file("bad.csv", "Date,USD,JPY\n2026-03-02,1.08,150\n2026-03-03,1.09,-151\n");
  auto [status, where] = failure_of([&] { load_rates(store, bad, RatesFormat::detect, true); });
  EXPECT_EQ(status, 65);
  EXPECT_EQ(where, bad + ":3");
  EXPECT_EQ(store.rates_base(), std::nullopt);
  EXPECT_EQ(store.rate_on_or_before("USD", "2026-03-09"), std::nullopt);
}

TEST_F(PriceStoreTest, RatesAgainstAnotherBaseAreRefused) {
  Store store = open();
  load_rates(store, file("rates.csv", ecb_csv), RatesFormat::detect, true);
  std::string usd_based =
      file("usd.jsonl", R"({"date":"2026-03-04","base":"USD","currency":"EUR","rate":"0.92"})"
                        "\n");
  EXPECT_EQ(exit_status_of([&] { load_rates(store, usd_based, RatesFormat::detect, true); }), 65);
  EXPECT_EQ(store.rate_on_or_before("EUR", "2026-03-09"), std::nullopt);
}

TEST_F(PriceStoreTest, WorldBankFileGivesEachCountryItsLatestRatio) {
  Store store = open();
  std::string csv =
      file("wb.csv",
           "\"Data Source\",\"World Development Indicators\",\n\n"
           "\"Last Updated Date\",\"2026-07-01\",\n\n"
           "\"Country Name\",\"Country Code\",\"Indicator Name\",\"Indicator "
           "Code\",\"2023\",\"2024\",\n"
           "\"India\",\"IND\",\"Price level\",\"PA.NUS.PPPC.RF\",\"0.25\",\"0.24\",\n"
           "\"World\",\"WLD\",\"Price level\",\"PA.NUS.PPPC.RF\",\"0.6\",\"0.61\",\n"
           "\"Korea, Rep.\",\"KOR\",\"Price level\",\"PA.NUS.PPPC.RF\",\"0.7\",\"\",\n");
  Adjustment defaults;
  JsonValue summary = load_ppp(store, csv, PppFormat::detect, defaults);
  EXPECT_EQ(to_json(summary), R"({"countries":2,"skipped":1})");
  EXPECT_EQ(store.adjustment("IN")->plr, "0.24");
  EXPECT_EQ(store.adjustment("KR")->plr, "0.7");
  EXPECT_EQ(multiplier_of(*store.adjustment("IN")), (Fraction{49, 125}));
}

TEST(PriceCalc, FastLinesEqualTheRecordBuilder) {
  Market germany = market("DE", "EUR", "0.92");
  germany.tax = Tax{decimal::parse_rate("--rate", "19%"), true};
  germany.category_rates.emplace("food", decimal::parse_rate("--rate", "7%"));
  germany.rule = parse_rule("end-99", "", "", germany.currency);
  Market untaxed = market("US", "USD", "1");
  untaxed.fx_date.reset();
  for (const Market& setup : {germany, untaxed}) {
    MarketPricer pricer(setup, usd, Rounding::half_up, TaxRounding::net);
    BreakdownLines lines(pricer, usd);
    for (std::string_view category : {"", "food", "books"}) {
      JsonValue header = market_header(pricer, usd, category);
      for (Source source : {Source::conversion, Source::override}) {
        Priced priced{pricer.price(4999, category), source};
        std::string fast;
        lines.append(fast, "SKU \"1\"", priced, 4999, category);
        EXPECT_EQ(fast,
                  to_json(breakdown_record("SKU \"1\"", header, priced, 4999, category)) + "\n");
      }
    }
  }
}

// By hand: 49.99 USD * 0.92 = 45.9908 EUR net. Food at 7%: 45.9908 * 1.07 = 49.210156 ->
// 49.21 -> end-99 49.99, net 49.99 / 1.07 = 46.7196 -> 46.72, tax 3.27. The standard 19%:
// 54.729052 -> 54.99, net 46.21, tax 8.78. Books have no rate of their own in DE: 19%.
TEST(PriceEngine, ACategoryPaysItsOwnRateAndOthersTheStandardOne) {
  Market germany = market("DE", "EUR", "0.92");
  germany.tax = Tax{decimal::parse_rate("--rate", "19%"), true};
  germany.category_rates.emplace("food", decimal::parse_rate("--rate", "7%"));
  germany.rule = parse_rule("end-99", "", "", germany.currency);
  MarketPricer pricer(germany, usd, Rounding::half_up, TaxRounding::net);
  Breakdown food = pricer.price(4999, "food");
  EXPECT_EQ((std::array{food.amount, food.net, food.tax}),
            (std::array<Int128, 3>{4999, 4672, 327}));
  Breakdown books = pricer.price(4999, "books");
  EXPECT_EQ((std::array{books.amount, books.net, books.tax}),
            (std::array<Int128, 3>{5499, 4621, 878}));
  EXPECT_EQ(pricer.tax_rate("food"), (Fraction{7, 100}));
  EXPECT_EQ(pricer.tax_rate(""), (Fraction{19, 100}));
}

// A fixed price is shown as it is (no end-99), its tax split at the product's rate: 10.00
// gross at 7% gives net 10.00 / 1.07 = 9.3458 -> 9.35, tax 0.65; untaxed, net = amount.
TEST(PriceEngine, AFixedPriceSkipsTheRuleAndSplitsItsTax) {
  Market germany = market("DE", "EUR", "0.92");
  germany.tax = Tax{decimal::parse_rate("--rate", "19%"), true};
  germany.category_rates.emplace("food", decimal::parse_rate("--rate", "7%"));
  germany.rule = parse_rule("end-99", "", "", germany.currency);
  MarketPricer pricer(germany, usd, Rounding::half_up, TaxRounding::net);
  Breakdown fixed = pricer.fixed(1000, "food");
  EXPECT_EQ((std::array{fixed.amount, fixed.net, fixed.tax}),
            (std::array<Int128, 3>{1000, 935, 65}));
  MarketPricer untaxed(market("US", "USD", "1"), usd, Rounding::half_up, TaxRounding::net);
  Breakdown plain = untaxed.fixed(1234, "");
  EXPECT_EQ((std::array{plain.amount, plain.net, plain.tax}),
            (std::array<Int128, 3>{1234, 1234, 0}));
}

// CLDR's published forms, written by hand from its patterns, not from ICU: de "#,##0.00 ¤"
// (group ".", decimal ",", a no-break space before the symbol), ja "¤#,##0" with the
// full-width yen sign, en-IN "¤#,##,##0.00" (lakh grouping).
TEST(PriceDisplay, LocalesWriteAmountsAsCldrPublishesThem) {
  auto shown = [](const char* locale, const char* code, const char* amount) {
    decimal::Currency currency = decimal::currency(code);
    return DisplayFormat("--locale", locale, currency).format(minor(amount, currency));
  };
  EXPECT_EQ(shown("de-DE", "EUR", "1234.56"), "1.234,56\u00a0\u20ac");
  EXPECT_EQ(shown("ja-JP", "JPY", "4740"), "\uffe54,740");
  EXPECT_EQ(shown("en-IN", "INR", "123456"), "\u20b91,23,456.00");
  EXPECT_EQ(shown("en-US", "USD", "92233720368547758.07"), "$92,233,720,368,547,758.07");
  EXPECT_EQ(shown("en-US", "KWD", "1.5"), "KWD\u00a01.500");  // ISO 4217's three decimals
}

TEST(PriceDisplay, AnUnknownOrMalformedLocaleIsAUsageError) {
  for (const char* tag : {"xx-QQ", "de_DE!", "", "english"}) {
    EXPECT_EQ(exit_status_of([&] { (void)icu_locale("--locale", tag); }), 2) << tag;
  }
  EXPECT_EQ(icu_locale("--locale", "de-DE"), "de_DE");
}

}  // namespace
}  // namespace sluice::price
