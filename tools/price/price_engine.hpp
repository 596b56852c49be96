// price_engine: the exact price computation of one market (issue 5, "The layers"), with no
// state: base price -> FX -> country multiplier -> tax -> rounding -> display rule. Amounts
// are integers of a currency's minor unit; rates, multipliers and tax rates are exact
// fractions; the only roundings are the documented ones.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/decimal.hpp"
#include "sluice/names.hpp"

namespace sluice::price {

using decimal::Fraction;
using decimal::Int128;
using decimal::Rounding;

// A currency's display rule, applied to the rounded displayed figure.
struct DisplayRule {
  // ending: the price point at or above (end-99); nearest_ending: the nearest price point
  // either way (nearest-99).
  enum class Kind { none, ending, nearest_ending, ceiling, nearest };
  Kind kind = Kind::none;
  Int128 value = 0;    // ending kinds: the fraction's minor units (99 for .99); else the step
  Int128 unit = 1;     // ending kinds: one major unit in minor units
  Int128 minimum = 0;  // minor units; a figure below it is left as it is
  // The most the rule may move a figure, as a share of it; a rule that would move it further
  // leaves the figure as it is (plain rounding to the minor unit). None: no cap.
  std::optional<Fraction> max_uplift;
  std::string text = "none";
};

// "none", "end-99", "end-95", "end-90", "nearest-99", "nearest-95", "nearest-90",
// "ceil:STEP", "nearest:STEP" (STEP in major units, e.g. 10 or 0.05) with the figure below
// which it does not apply (major units, "" for none) and the cap on the move ("5%", "" for
// none). Error(2) naming --rule, --min or --max-uplift when the rule is unknown or needs
// digits the currency does not have (end-99 in JPY, ceil:0.001 in USD), or the cap is not a
// rate of 0% or more.
DisplayRule parse_rule(std::string_view rule, std::string_view minimum, std::string_view max_uplift,
                       const decimal::Currency& currency);

// The displayed figure: zero and figures below the minimum are left unchanged (a free item
// stays free); end-NN gives the smallest N.NN >= figure; nearest-NN the nearest N.NN (ties
// to the higher, never below the first point); ceil:STEP the smallest multiple of STEP >=
// figure; nearest:STEP the nearest multiple (ties away from zero). Under a max_uplift, a
// result further than max_uplift * figure from the figure gives the figure instead; Error(65)
// when that comparison outgrows 127 bits (a figure far above the largest price).
Int128 apply_rule(const DisplayRule& rule, Int128 figure);

// The purchasing-power multiplier m = PLR + (1 - PLR) * smoothing, clamped to
// [minimum, maximum].
Fraction ppp_multiplier(const Fraction& plr, const Fraction& smoothing, const Fraction& minimum,
                        const Fraction& maximum);

struct Tax {
  Fraction rate;
  bool inclusive = false;
};

// Inclusive markets: `net` rounds net = gross / (1 + rate) and tax is the rest; `tax` rounds
// the tax and net is the rest.
enum class TaxRounding { net, tax };
inline constexpr NameTable<TaxRounding, 2> tax_rounding_names({{{"net", TaxRounding::net},
                                                                {"tax", TaxRounding::tax}}});

// Everything that decides one market's prices.
struct Market {
  std::string country;
  decimal::Currency currency;
  Fraction fx_rate{1, 1};              // units of `currency` per unit of the base currency
  std::optional<std::string> fx_date;  // the rates' date; none when no conversion is needed
  Fraction multiplier{1, 1};
  std::optional<Tax> tax;  // none: the country has no tax entry (untaxed)
  // Rates of product categories that differ from the standard one (with the tax's
  // inclusiveness); a category without one here takes the standard rate.
  std::map<std::string, Fraction, std::less<>> category_rates;
  DisplayRule rule;
};

// The largest amount, net or tax of a price, in minor units: 2^63 - 1 (92233720368547758.07
// in a two-decimal currency). Not the 127 bits the engine computes in: publish stores prices
// as SQLite integers (64 bits) for lookup to read back, and every amount the toolkit reads
// (decimal::parse_amount) is a 64-bit count of minor units, so a larger price could be printed
// but neither published nor read back. MarketPricer::price refuses it, for calc and publish
// alike.
inline constexpr Int128 max_price_minor_units = INT64_MAX;

struct Breakdown {
  Int128 amount = 0;  // the displayed price (gross in inclusive markets, net otherwise)
  Int128 net = 0;
  Int128 tax = 0;
};

// Where a price comes from: the conversion of the base price, or a fixed price (override).
enum class Source { conversion, override };
inline constexpr NameTable<Source, 2> source_names({{{"conversion", Source::conversion},
                                                     {"override", Source::override}}});

// One market's prices for one base currency, with the exact factors worked out once so that
// a price is a multiplication and a few divisions.
class MarketPricer {
 public:
  MarketPricer(Market market, const decimal::Currency& base_currency, Rounding rounding,
               TaxRounding tax_rounding);
  // The breakdown for a base price in the base currency's minor units (>= 0) of a product in
  // `category` ("" or a category without a rate of its own here: the standard rate).
  // Error(65) when the price is too large to compute exactly or its amount, net or tax is
  // above max_price_minor_units (the message names which, with both figures in the currency).
  [[nodiscard]] Breakdown price(Int128 base, std::string_view category) const;
  // The breakdown of a fixed displayed amount (an override): the display rule does not
  // apply; net and tax split as for a converted price. Error(65) as for price().
  [[nodiscard]] Breakdown fixed(Int128 amount, std::string_view category) const;
  // The tax rate a product of `category` pays here; none when the country is untaxed.
  [[nodiscard]] std::optional<Fraction> tax_rate(std::string_view category) const;
  [[nodiscard]] const Market& market() const { return market_; }

 private:
  // The exact factors of one tax rate.
  struct Factors {
    Fraction displayed;     // base minor units -> displayed minor units before rounding
    Fraction tax_fraction;  // share of the displayed figure that is tax (or tax / net)
  };
  [[nodiscard]] Factors factors_for(const Fraction& fx_scale, const Fraction& rate) const;
  [[nodiscard]] const Factors& factors(std::string_view category) const;
  [[nodiscard]] Breakdown split(Int128 amount, const Factors& factors) const;
  [[nodiscard]] Breakdown checked(Breakdown result) const;

  Market market_;
  Rounding rounding_;
  TaxRounding tax_rounding_;
  Factors standard_;
  std::map<std::string, Factors, std::less<>> by_category_;
};

}  // namespace sluice::price
