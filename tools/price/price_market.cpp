#include "price_market.hpp"

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "price_countries.hpp"
#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::price {
namespace {

struct Leg {
  Fraction rate{1, 1};
  std::optional<std::string> date;
};

Leg leg_of(Store& store, std::string_view base, std::string_view currency, std::string_view date) {
  if (currency == base) return {};
  auto stored = store.rate_on_or_before(currency, date);
  if (!stored) {
    throw Error(exit_code::data,
                fmt::format("no {} rate published on or before {} (load rates with `price rates "
                            "load`)",
                            currency, date));
  }
  return {decimal::parse_decimal("stored rate", stored->rate), stored->date};
}

}  // namespace

std::vector<MarketRequest> parse_countries(std::string_view option, std::string_view list) {
  std::vector<MarketRequest> markets;
  std::set<std::string, std::less<>> seen;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view code = list.substr(0, comma);
    known_country(option, code);
    if (!seen.emplace(code).second) {
      throw Error(exit_code::usage, fmt::format("{}: {} is listed twice", option, code));
    }
    markets.push_back({std::string(code), std::nullopt});
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  if (markets.empty()) throw Error(exit_code::usage, fmt::format("{}: no country given", option));
  return markets;
}

std::vector<MarketRequest> read_markets_file(const std::string& path) {
  JsonlReader reader({path});
  std::vector<MarketRequest> markets;
  std::set<std::string, std::less<>> seen;
  while (auto record = reader.next()) {
    const JsonValue* country = record->value.find("country");
    const JsonValue* currency = record->value.find("currency");
    try {
      if (country == nullptr || !country->is_string()) {
        throw Error(exit_code::data, "field 'country' must be a string");
      }
      known_country("field 'country'", country->text());
      MarketRequest market{country->text(), std::nullopt};
      if (currency != nullptr) {
        if (!currency->is_string())
          throw Error(exit_code::data, "field 'currency' must be a string");
        market.currency = decimal::currency(currency->text()).code;
      }
      if (!seen.emplace(market.country).second) {
        throw Error(exit_code::data, fmt::format("country {} is listed twice", market.country));
      }
      markets.push_back(std::move(market));
    } catch (const Error& error) {
      reader.reject(*record, error.what());
    }
  }
  if (markets.empty()) throw Error(exit_code::data, fmt::format("{}: no markets", path));
  return markets;
}

CrossRate cross_rate(Store& store, std::string_view from, std::string_view to,
                     std::string_view date, int max_age_days) {
  if (from == to) return {};
  auto base = store.rates_base();
  if (!base) {
    throw Error(exit_code::data, fmt::format("no FX rates are loaded (needed for {} to {}; use "
                                             "`price rates load`)",
                                             from, to));
  }
  Leg from_leg = leg_of(store, *base, from, date), to_leg = leg_of(store, *base, to, date);
  CrossRate cross{to_leg.rate / from_leg.rate, std::nullopt};
  for (const auto& leg_date : {from_leg.date, to_leg.date}) {
    if (leg_date && (!cross.date || *leg_date < *cross.date)) cross.date = leg_date;
  }
  int age = days_between(parse_date(*cross.date), parse_date(date));
  if (age > max_age_days) {
    throw Error(exit_code::data,
                fmt::format("the {}/{} rate is from {}, {} days before {} (--max-rate-age {}d)",
                            from, to, *cross.date, age, date, max_age_days));
  }
  return cross;
}

Fraction multiplier_of(const Adjustment& adjustment) {
  if (adjustment.multiplier) return decimal::parse_decimal("multiplier", *adjustment.multiplier);
  return ppp_multiplier(decimal::parse_decimal("plr", *adjustment.plr),
                        decimal::parse_decimal("smoothing", adjustment.smoothing),
                        decimal::parse_decimal("minimum", adjustment.minimum),
                        decimal::parse_decimal("maximum", adjustment.maximum));
}

void check_adjustment(const Adjustment& adjustment) {
  Fraction zero{0, 1}, one{1, 1};
  auto positive = [&](std::string_view name, const std::string& text) {
    Fraction value = decimal::parse_decimal(name, text);
    if (value <= zero) {
      throw Error(exit_code::usage, fmt::format("{}: must be above zero", name));
    }
    return value;
  };
  if (adjustment.multiplier) {
    positive("multiplier", *adjustment.multiplier);
    return;
  }
  positive("plr", *adjustment.plr);
  Fraction smoothing = decimal::parse_decimal("smoothing", adjustment.smoothing);
  if (smoothing > one) throw Error(exit_code::usage, "smoothing: must be between 0 and 1");
  if (positive("min", adjustment.minimum) > positive("max", adjustment.maximum)) {
    throw Error(exit_code::usage, "min: must not be above max");
  }
}

Market resolve_market(Store& store, const MarketRequest& request, const PricingDay& day) {
  const Country& country = known_country("country", request.country);
  Market market;
  market.country = request.country;
  market.currency = decimal::currency(request.currency.value_or(std::string(country.currency)));
  CrossRate cross = cross_rate(store, day.base_currency.code, market.currency.code, day.date,
                               day.max_rate_age_days);
  market.fx_rate = cross.rate;
  market.fx_date = cross.date;
  if (auto adjustment = store.adjustment(market.country)) {
    market.multiplier = multiplier_of(*adjustment);
  }
  if (auto tax = store.tax(market.country)) {
    market.tax = Tax{decimal::parse_rate("stored tax rate", tax->rate), tax->inclusive};
    for (const TaxCategoryRow& row : store.tax_categories(market.country)) {
      market.category_rates.emplace(row.category,
                                    decimal::parse_rate("stored tax category rate", row.rate));
    }
  }
  if (auto rule = store.rule(market.currency.code)) {
    market.rule = parse_rule(rule->rule, rule->minimum, rule->max_uplift, market.currency);
  }
  return market;
}

}  // namespace sluice::price
