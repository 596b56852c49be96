#include "price_countries.hpp"

#include "sluice/decimal.hpp"

#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace sluice::price {
namespace {

// The iso-codes package is the independent oracle: the table is written by hand, these files
// are maintained by Debian from the ISO registers.
constexpr const char* iso_3166_path = "/usr/share/iso-codes/json/iso_3166-1.json";
constexpr const char* iso_4217_path = "/usr/share/iso-codes/json/iso_4217.json";

std::string missing_reference(const char* path) {
  return std::string("cannot read ") + path +
         ": install the Debian package iso-codes (scripts/setup installs it)";
}

std::optional<std::string> read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The text of each object inside the top-level array of an iso-codes file, which is shaped
// {"3166-1": [{...}, {...}]}. Strings are skipped with their escapes so that a brace or
// bracket inside a name cannot split or end an entry.
std::vector<std::string_view> entries(std::string_view json) {
  std::vector<std::string_view> found;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '"') {
      for (++i; i < json.size() && json[i] != '"'; ++i) {
        if (json[i] == '\\') ++i;
      }
    } else if (c == '{' || c == '[') {
      if (++depth == 3) start = i;
    } else if (c == '}' || c == ']') {
      if (depth-- == 3) found.push_back(json.substr(start, i + 1 - start));
    }
  }
  return found;
}

// The string value of "key" in one flat entry, or "" when the entry has no such key.
std::string field(std::string_view entry, std::string_view key) {
  std::string quoted = "\"" + std::string(key) + "\"";
  std::size_t at = entry.find(quoted);
  if (at == std::string_view::npos) return "";
  at = entry.find_first_not_of(" \t\r\n", at + quoted.size());
  if (at == std::string_view::npos || entry[at] != ':') return "";
  at = entry.find_first_not_of(" \t\r\n", at + 1);
  if (at == std::string_view::npos || entry[at] != '"') return "";
  std::size_t end = entry.find('"', at + 1);
  if (end == std::string_view::npos) return "";
  return std::string(entry.substr(at + 1, end - at - 1));
}

// alpha_2 -> alpha_3 for every entry of iso_3166-1.json.
std::map<std::string, std::string> iso_3166_codes(std::string_view json) {
  std::map<std::string, std::string> codes;
  for (std::string_view entry : entries(json))
    codes[field(entry, "alpha_2")] = field(entry, "alpha_3");
  return codes;
}

// Every alpha_3 code of iso_4217.json.
std::set<std::string> iso_4217_codes(std::string_view json) {
  std::set<std::string> codes;
  for (std::string_view entry : entries(json)) codes.insert(field(entry, "alpha_3"));
  return codes;
}

TEST(PriceCountries, AlphaTwoCodesAreExactlyThoseOfIso3166) {
  auto json = read_file(iso_3166_path);
  ASSERT_TRUE(json) << missing_reference(iso_3166_path);
  std::map<std::string, std::string> reference = iso_3166_codes(*json);
  std::set<std::string> table;
  for (const Country& country : countries()) table.insert(std::string(country.alpha2));
  for (const auto& [alpha2, alpha3] : reference) {
    EXPECT_TRUE(table.contains(alpha2)) << alpha2 << " is in ISO 3166-1 but not in the table";
  }
  for (const std::string& alpha2 : table) {
    EXPECT_TRUE(reference.contains(alpha2)) << alpha2 << " is in the table but not in ISO 3166-1";
  }
}

TEST(PriceCountries, AlphaThreeCodesMatchIso3166) {
  auto json = read_file(iso_3166_path);
  ASSERT_TRUE(json) << missing_reference(iso_3166_path);
  for (const auto& [alpha2, alpha3] : iso_3166_codes(*json)) {
    const Country* country = find_country(alpha2);
    ASSERT_NE(country, nullptr) << alpha2 << " is missing from the table";
    EXPECT_EQ(country->alpha3, alpha3) << "alpha3 of " << alpha2;
  }
}

TEST(PriceCountries, CurrenciesAreListedInIso4217) {
  auto json = read_file(iso_4217_path);
  ASSERT_TRUE(json) << missing_reference(iso_4217_path);
  std::set<std::string> listed = iso_4217_codes(*json);
  // ISO 4217 added ZWG (2024) and XCG (2025) after some iso-codes releases still shipped by
  // distributions (Debian 12's 4.15.0 lists neither), so they are accepted without the file.
  const std::set<std::string> newer_than_iso_codes = {"XCG", "ZWG"};
  for (const Country& country : countries()) {
    std::string code(country.currency);
    EXPECT_TRUE(listed.contains(code) || newer_than_iso_codes.contains(code))
        << country.alpha2 << " uses " << code << ", which is not in " << iso_4217_path;
  }
}

TEST(PriceCountries, CurrenciesAreNotFundMetalOrWithdrawnCodes) {
  const std::set<std::string_view> forbidden = {
      "BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW",  // funds
      "XAU", "XAG", "XPT", "XPD", "XTS", "XXX", "XDR", "XSU", "XUA",  // metals, tests, units
      "XBA", "XBB", "XBC", "XBD",                                     // bond-market units
      "HRK", "BGN", "ANG", "CUC", "SLL", "ZWL", "VEF", "MRO", "STD",  // withdrawn
      "LTL", "LVL", "EEK",
  };
  for (const Country& country : countries()) {
    EXPECT_FALSE(forbidden.contains(country.currency))
        << country.alpha2 << " uses " << country.currency;
    // And libcore, which prices every market, knows the code and its minor unit.
    EXPECT_NO_THROW(decimal::currency(country.currency)) << country.alpha2;
  }
}

TEST(PriceCountries, KnownCountriesUseExpectedCurrency) {
  const std::map<std::string_view, std::string_view> expected = {
      {"DE", "EUR"}, {"JP", "JPY"}, {"IN", "INR"}, {"US", "USD"}, {"KW", "KWD"}, {"BG", "EUR"},
      {"HR", "EUR"}, {"CH", "CHF"}, {"LI", "CHF"}, {"GB", "GBP"}, {"CW", "XCG"},
  };
  for (const auto& [alpha2, currency] : expected) {
    const Country* country = find_country(alpha2);
    ASSERT_NE(country, nullptr) << alpha2;
    EXPECT_EQ(country->currency, currency) << alpha2;
  }
}

TEST(PriceCountries, UnassignedCodeIsNotFound) {
  EXPECT_EQ(find_country("ZZ"), nullptr);
  EXPECT_EQ(find_country_alpha3("ZZZ"), nullptr);
}

TEST(PriceCountries, LookupIsCaseSensitive) {
  EXPECT_EQ(find_country("de"), nullptr);
  EXPECT_EQ(find_country_alpha3("ind"), nullptr);
}

TEST(PriceCountries, FindsCountryByAlpha3) {
  const Country* india = find_country_alpha3("IND");
  ASSERT_NE(india, nullptr);
  EXPECT_EQ(india->alpha2, "IN");
}

TEST(PriceCountries, EveryRowIsFoundByBothCodes) {
  for (const Country& country : countries()) {
    EXPECT_EQ(find_country(country.alpha2), &country) << country.alpha2;
    EXPECT_EQ(find_country_alpha3(country.alpha3), &country) << country.alpha3;
  }
}

TEST(PriceCountries, TableIsSortedStrictlyByAlpha2) {
  std::span<const Country> table = countries();
  for (std::size_t i = 1; i < table.size(); ++i) {
    EXPECT_LT(table[i - 1].alpha2, table[i].alpha2) << "at row " << i;
  }
}

}  // namespace
}  // namespace sluice::price
