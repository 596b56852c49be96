// price_countries: ISO 3166-1 countries with the ISO 4217 currency a market in each uses.
#pragma once
#include <span>
#include <string_view>
namespace sluice::price {
struct Country {
  std::string_view alpha2;    // "DE"
  std::string_view alpha3;    // "DEU"
  std::string_view currency;  // "EUR"
};
// All officially assigned ISO 3166-1 countries, sorted by alpha2.
std::span<const Country> countries();
// The country with that upper-case alpha-2 / alpha-3 code, or nullptr.
const Country* find_country(std::string_view alpha2);
const Country* find_country_alpha3(std::string_view alpha3);
// The country with that alpha-2 code; Error(2) naming `what` (an option or field) otherwise.
const Country& known_country(std::string_view what, std::string_view alpha2);
}  // namespace sluice::price
