#include "price_engine.hpp"

#include <utility>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice::price {
namespace {

Int128 multiply_or_fail(Int128 a, Int128 b) {
  Int128 product = 0;
  if (__builtin_mul_overflow(a, b, &product)) {
    throw Error(exit_code::data, "a price is too large to compute exactly");
  }
  return product;
}

// A rule's step or the minimum in minor units; Error(2) naming `option` when `text` has more
// decimals than the currency.
Int128 minor_units(std::string_view option, std::string_view text,
                   const decimal::Currency& currency) {
  try {
    return decimal::parse_amount(text, currency.exponent);
  } catch (const Error& error) {
    throw Error(exit_code::usage, fmt::format("{}: {} ({} has {} decimals)", option, error.what(),
                                              currency.code, currency.exponent));
  }
}

// end-99 and nearest-99 (95, 90): the kind, or none for another rule.
std::optional<DisplayRule::Kind> ending_kind(std::string_view rule) {
  std::string_view fraction;
  std::optional<DisplayRule::Kind> kind;
  if (rule.starts_with("end-")) {
    fraction = rule.substr(4);
    kind = DisplayRule::Kind::ending;
  } else if (rule.starts_with("nearest-")) {
    fraction = rule.substr(8);
    kind = DisplayRule::Kind::nearest_ending;
  }
  if (fraction == "99" || fraction == "95" || fraction == "90") return kind;
  return std::nullopt;
}

// Is `point` within `cap` (a share of `figure`) of `figure`? Exact: |point - figure| <= cap *
// figure, cross-multiplied; a cap of 12 decimals times a figure above the largest price can
// outgrow 127 bits, which is Error(65) as any other price too large to compute.
bool within_cap(Int128 point, Int128 figure, const Fraction& cap) {
  Int128 move = point > figure ? point - figure : figure - point;
  return multiply_or_fail(move, cap.denominator) <= multiply_or_fail(cap.numerator, figure);
}

Int128 nearest_ending(const DisplayRule& rule, Int128 figure) {
  // The largest point at or below the figure, and the next one up.
  Int128 below =
      decimal::divide(figure - rule.value, rule.unit, Rounding::floor) * rule.unit + rule.value;
  if (below == figure) return figure;
  Int128 above = below + rule.unit;
  if (below < 0) return above;  // no point below: a paid item never shows as free
  return figure - below < above - figure ? below : above;  // a tie goes to the higher point
}

Int128 rule_point(const DisplayRule& rule, Int128 figure) {
  switch (rule.kind) {
    case DisplayRule::Kind::none:
      return figure;
    case DisplayRule::Kind::ending:
      return decimal::divide(figure - rule.value, rule.unit, Rounding::ceiling) * rule.unit +
             rule.value;
    case DisplayRule::Kind::nearest_ending:
      return nearest_ending(rule, figure);
    case DisplayRule::Kind::ceiling:
      return decimal::divide(figure, rule.value, Rounding::ceiling) * rule.value;
    case DisplayRule::Kind::nearest: {
      // A positive price never displays as free: below half a step it shows one step.
      Int128 nearest = decimal::divide(figure, rule.value, Rounding::half_up) * rule.value;
      return nearest == 0 ? rule.value : nearest;
    }
  }
  return figure;
}

}  // namespace

DisplayRule parse_rule(std::string_view rule, std::string_view minimum, std::string_view max_uplift,
                       const decimal::Currency& currency) {
  DisplayRule parsed;
  parsed.text = std::string(rule);
  if (!minimum.empty()) parsed.minimum = minor_units("--min", minimum, currency);
  // parse_rate refuses a negative rate: "--max-uplift: invalid rate '-1%'".
  if (!max_uplift.empty()) parsed.max_uplift = decimal::parse_rate("--max-uplift", max_uplift);
  if (rule == "none") return parsed;
  if (auto ending = ending_kind(rule)) {
    if (currency.exponent < 2) {
      throw Error(exit_code::usage,
                  fmt::format("--rule: {} needs cents, and {} has {} decimals (use ceil:STEP)",
                              rule, currency.code, currency.exponent));
    }
    parsed.kind = *ending;
    parsed.unit = decimal::power_of_ten(currency.exponent);
    parsed.value = (rule[rule.size() - 2] - '0') * 10 + (rule.back() - '0');
    parsed.value *= decimal::power_of_ten(currency.exponent - 2);
    return parsed;
  }
  auto colon = rule.find(':');
  std::string_view kind = rule.substr(0, colon);
  if (colon == std::string_view::npos || (kind != "ceil" && kind != "nearest")) {
    throw Error(exit_code::usage,
                fmt::format("--rule: '{}' is not none, end-99, end-95, end-90, nearest-99, "
                            "nearest-95, nearest-90, ceil:STEP or nearest:STEP",
                            rule));
  }
  parsed.kind = kind == "ceil" ? DisplayRule::Kind::ceiling : DisplayRule::Kind::nearest;
  parsed.value = minor_units("--rule", rule.substr(colon + 1), currency);
  if (parsed.value <= 0) throw Error(exit_code::usage, "--rule: the step must be above zero");
  return parsed;
}

Int128 apply_rule(const DisplayRule& rule, Int128 figure) {
  if (figure == 0 || figure < rule.minimum) return figure;
  Int128 point = rule_point(rule, figure);
  if (rule.max_uplift && !within_cap(point, figure, *rule.max_uplift)) return figure;
  return point;
}

Fraction ppp_multiplier(const Fraction& plr, const Fraction& smoothing, const Fraction& minimum,
                        const Fraction& maximum) {
  Fraction multiplier = plr + (Fraction{1, 1} - plr) * smoothing;
  if (multiplier < minimum) return minimum;
  if (multiplier > maximum) return maximum;
  return multiplier;
}

MarketPricer::MarketPricer(Market market, const decimal::Currency& base_currency, Rounding rounding,
                           TaxRounding tax_rounding)
    : market_(std::move(market)), rounding_(rounding), tax_rounding_(tax_rounding) {
  Fraction scale = decimal::make_fraction(decimal::power_of_ten(market_.currency.exponent),
                                          decimal::power_of_ten(base_currency.exponent));
  Fraction fx_scale = market_.fx_rate * market_.multiplier * scale;
  if (!market_.tax) {
    standard_ = {fx_scale, {0, 1}};
    return;
  }
  standard_ = factors_for(fx_scale, market_.tax->rate);
  for (const auto& entry : market_.category_rates) {
    by_category_.emplace(entry.first, factors_for(fx_scale, entry.second));
  }
}

MarketPricer::Factors MarketPricer::factors_for(const Fraction& fx_scale,
                                                const Fraction& rate) const {
  if (!market_.tax->inclusive) return {fx_scale, rate};
  Fraction gross_over_net = Fraction{1, 1} + rate;
  return {fx_scale * gross_over_net, tax_rounding_ == TaxRounding::net
                                         ? Fraction{1, 1} / gross_over_net
                                         : rate / gross_over_net};
}

const MarketPricer::Factors& MarketPricer::factors(std::string_view category) const {
  auto found = by_category_.find(category);
  return found == by_category_.end() ? standard_ : found->second;
}

std::optional<Fraction> MarketPricer::tax_rate(std::string_view category) const {
  if (!market_.tax) return std::nullopt;
  auto found = market_.category_rates.find(category);
  return found == market_.category_rates.end() ? market_.tax->rate : found->second;
}

Breakdown MarketPricer::price(Int128 base, std::string_view category) const {
  const Factors& chosen = factors(category);
  Int128 figure = decimal::divide(multiply_or_fail(base, chosen.displayed.numerator),
                                  chosen.displayed.denominator, rounding_);
  return checked(split(apply_rule(market_.rule, figure), chosen));
}

Breakdown MarketPricer::fixed(Int128 amount, std::string_view category) const {
  return checked(split(amount, factors(category)));
}

Breakdown MarketPricer::checked(Breakdown result) const {
  const decimal::Currency& currency = market_.currency;
  for (auto [name, part] : {std::pair{"amount", result.amount}, std::pair{"net", result.net},
                            std::pair{"tax", result.tax}}) {
    if (part <= max_price_minor_units) continue;
    throw Error(exit_code::data,
                fmt::format("{} {} {} is above the largest price, {} {}", name,
                            decimal::format_amount(part, currency.exponent), currency.code,
                            decimal::format_amount(max_price_minor_units, currency.exponent),
                            currency.code));
  }
  return result;
}

Breakdown MarketPricer::split(Int128 amount, const Factors& chosen) const {
  Breakdown result;
  result.amount = amount;
  if (!market_.tax) {
    result.net = result.amount;
    return result;
  }
  Int128 share = decimal::divide(multiply_or_fail(result.amount, chosen.tax_fraction.numerator),
                                 chosen.tax_fraction.denominator, rounding_);
  if (!market_.tax->inclusive) {
    result.net = result.amount;
    result.tax = share;
  } else if (tax_rounding_ == TaxRounding::net) {
    result.net = share;
    result.tax = result.amount - share;
  } else {
    result.tax = share;
    result.net = result.amount - share;
  }
  return result;
}

}  // namespace sluice::price
