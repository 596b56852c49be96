#include "price_countries.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice::price {
namespace {

// One row per officially assigned ISO 3166-1 code (the iso-codes package's iso_3166-1.json is
// the reference; tests/tools/price_countries_test.cpp compares against it). The currency is
// the current ISO 4217 code that retail prices in the country are quoted in: never a fund,
// precious-metal or withdrawn code. Territories without a currency of their own take the
// administering state's; where there is none, USD.
constexpr auto country_table = std::to_array<Country>({
    {"AD", "AND", "EUR"},  // Andorra
    {"AE", "ARE", "AED"},  // United Arab Emirates
    {"AF", "AFG", "AFN"},  // Afghanistan
    {"AG", "ATG", "XCD"},  // Antigua and Barbuda
    {"AI", "AIA", "XCD"},  // Anguilla
    {"AL", "ALB", "ALL"},  // Albania
    {"AM", "ARM", "AMD"},  // Armenia
    {"AO", "AGO", "AOA"},  // Angola
    // No state administers Antarctica (Antarctic Treaty) and no currency is issued there, so
    // the rule for territories without an issuer applies: USD.
    {"AQ", "ATA", "USD"},  // Antarctica
    {"AR", "ARG", "ARS"},  // Argentina
    {"AS", "ASM", "USD"},  // American Samoa
    {"AT", "AUT", "EUR"},  // Austria
    {"AU", "AUS", "AUD"},  // Australia
    {"AW", "ABW", "AWG"},  // Aruba
    {"AX", "ALA", "EUR"},  // Åland Islands
    {"AZ", "AZE", "AZN"},  // Azerbaijan
    {"BA", "BIH", "BAM"},  // Bosnia and Herzegovina
    {"BB", "BRB", "BBD"},  // Barbados
    {"BD", "BGD", "BDT"},  // Bangladesh
    {"BE", "BEL", "EUR"},  // Belgium
    {"BF", "BFA", "XOF"},  // Burkina Faso
    // Bulgaria joined the euro area on 2026-01-01; BGN is withdrawn.
    {"BG", "BGR", "EUR"},  // Bulgaria
    {"BH", "BHR", "BHD"},  // Bahrain
    {"BI", "BDI", "BIF"},  // Burundi
    {"BJ", "BEN", "XOF"},  // Benin
    {"BL", "BLM", "EUR"},  // Saint Barthélemy
    {"BM", "BMU", "BMD"},  // Bermuda
    {"BN", "BRN", "BND"},  // Brunei Darussalam
    {"BO", "BOL", "BOB"},  // Bolivia
    // The Caribbean Netherlands replaced the Netherlands Antillean guilder with USD in 2011.
    {"BQ", "BES", "USD"},  // Bonaire, Sint Eustatius and Saba
    {"BR", "BRA", "BRL"},  // Brazil
    {"BS", "BHS", "BSD"},  // Bahamas
    {"BT", "BTN", "BTN"},  // Bhutan
    // Uninhabited Norwegian dependency.
    {"BV", "BVT", "NOK"},  // Bouvet Island
    {"BW", "BWA", "BWP"},  // Botswana
    {"BY", "BLR", "BYN"},  // Belarus
    {"BZ", "BLZ", "BZD"},  // Belize
    {"CA", "CAN", "CAD"},  // Canada
    {"CC", "CCK", "AUD"},  // Cocos (Keeling) Islands
    {"CD", "COD", "CDF"},  // Congo, The Democratic Republic of the
    {"CF", "CAF", "XAF"},  // Central African Republic
    {"CG", "COG", "XAF"},  // Congo
    {"CH", "CHE", "CHF"},  // Switzerland
    {"CI", "CIV", "XOF"},  // Côte d'Ivoire
    // The Cook Islands dollar circulates at par with NZD and has no ISO 4217 code.
    {"CK", "COK", "NZD"},  // Cook Islands
    {"CL", "CHL", "CLP"},  // Chile
    {"CM", "CMR", "XAF"},  // Cameroon
    {"CN", "CHN", "CNY"},  // China
    {"CO", "COL", "COP"},  // Colombia
    {"CR", "CRI", "CRC"},  // Costa Rica
    // Cuba withdrew the convertible peso (CUC) in 2021.
    {"CU", "CUB", "CUP"},  // Cuba
    {"CV", "CPV", "CVE"},  // Cabo Verde
    // The Caribbean guilder (XCG) replaced the Netherlands Antillean guilder (ANG) in 2025.
    {"CW", "CUW", "XCG"},  // Curaçao
    {"CX", "CXR", "AUD"},  // Christmas Island
    {"CY", "CYP", "EUR"},  // Cyprus
    {"CZ", "CZE", "CZK"},  // Czechia
    {"DE", "DEU", "EUR"},  // Germany
    {"DJ", "DJI", "DJF"},  // Djibouti
    {"DK", "DNK", "DKK"},  // Denmark
    {"DM", "DMA", "XCD"},  // Dominica
    {"DO", "DOM", "DOP"},  // Dominican Republic
    {"DZ", "DZA", "DZD"},  // Algeria
    // Dollarized since 2000.
    {"EC", "ECU", "USD"},  // Ecuador
    {"EE", "EST", "EUR"},  // Estonia
    {"EG", "EGY", "EGP"},  // Egypt
    // Retail in the Moroccan-administered part uses MAD, which ISO 4217 also lists here.
    {"EH", "ESH", "MAD"},  // Western Sahara
    {"ER", "ERI", "ERN"},  // Eritrea
    {"ES", "ESP", "EUR"},  // Spain
    {"ET", "ETH", "ETB"},  // Ethiopia
    {"FI", "FIN", "EUR"},  // Finland
    {"FJ", "FJI", "FJD"},  // Fiji
    {"FK", "FLK", "FKP"},  // Falkland Islands (Malvinas)
    {"FM", "FSM", "USD"},  // Micronesia, Federated States of
    // The Faroese krona is a DKK issue at par without its own ISO 4217 code.
    {"FO", "FRO", "DKK"},  // Faroe Islands
    {"FR", "FRA", "EUR"},  // France
    {"GA", "GAB", "XAF"},  // Gabon
    {"GB", "GBR", "GBP"},  // United Kingdom
    {"GD", "GRD", "XCD"},  // Grenada
    {"GE", "GEO", "GEL"},  // Georgia
    {"GF", "GUF", "EUR"},  // French Guiana
    // The Guernsey, Isle of Man and Jersey pounds are GBP issues at par without their own
    // ISO 4217 codes.
    {"GG", "GGY", "GBP"},  // Guernsey
    {"GH", "GHA", "GHS"},  // Ghana
    {"GI", "GIB", "GIP"},  // Gibraltar
    {"GL", "GRL", "DKK"},  // Greenland
    {"GM", "GMB", "GMD"},  // Gambia
    {"GN", "GIN", "GNF"},  // Guinea
    {"GP", "GLP", "EUR"},  // Guadeloupe
    {"GQ", "GNQ", "XAF"},  // Equatorial Guinea
    {"GR", "GRC", "EUR"},  // Greece
    // No permanent population and no currency listed by ISO 4217; the administering state's
    // currency.
    {"GS", "SGS", "GBP"},  // South Georgia and the South Sandwich Islands
    {"GT", "GTM", "GTQ"},  // Guatemala
    {"GU", "GUM", "USD"},  // Guam
    {"GW", "GNB", "XOF"},  // Guinea-Bissau
    {"GY", "GUY", "GYD"},  // Guyana
    {"HK", "HKG", "HKD"},  // Hong Kong
    // Uninhabited Australian territory.
    {"HM", "HMD", "AUD"},  // Heard Island and McDonald Islands
    {"HN", "HND", "HNL"},  // Honduras
    // Croatia joined the euro area on 2023-01-01; HRK is withdrawn.
    {"HR", "HRV", "EUR"},  // Croatia
    // ISO 4217 also lists USD for Haiti; prices are quoted in gourdes.
    {"HT", "HTI", "HTG"},  // Haiti
    {"HU", "HUN", "HUF"},  // Hungary
    {"ID", "IDN", "IDR"},  // Indonesia
    {"IE", "IRL", "EUR"},  // Ireland
    {"IL", "ISR", "ILS"},  // Israel
    {"IM", "IMN", "GBP"},  // Isle of Man
    {"IN", "IND", "INR"},  // India
    // Diego Garcia, the only settlement, uses USD (ISO 4217 lists USD for the territory).
    {"IO", "IOT", "USD"},  // British Indian Ocean Territory
    {"IQ", "IRQ", "IQD"},  // Iraq
    {"IR", "IRN", "IRR"},  // Iran
    {"IS", "ISL", "ISK"},  // Iceland
    {"IT", "ITA", "EUR"},  // Italy
    {"JE", "JEY", "GBP"},  // Jersey
    {"JM", "JAM", "JMD"},  // Jamaica
    {"JO", "JOR", "JOD"},  // Jordan
    {"JP", "JPN", "JPY"},  // Japan
    {"KE", "KEN", "KES"},  // Kenya
    {"KG", "KGZ", "KGS"},  // Kyrgyzstan
    // Cambodia, Lebanon and Liberia price much retail in USD too; ISO 4217 lists only their
    // national currencies, which are kept here.
    {"KH", "KHM", "KHR"},  // Cambodia
    {"KI", "KIR", "AUD"},  // Kiribati
    {"KM", "COM", "KMF"},  // Comoros
    {"KN", "KNA", "XCD"},  // Saint Kitts and Nevis
    {"KP", "PRK", "KPW"},  // North Korea
    {"KR", "KOR", "KRW"},  // South Korea
    {"KW", "KWT", "KWD"},  // Kuwait
    {"KY", "CYM", "KYD"},  // Cayman Islands
    {"KZ", "KAZ", "KZT"},  // Kazakhstan
    {"LA", "LAO", "LAK"},  // Laos
    {"LB", "LBN", "LBP"},  // Lebanon
    {"LC", "LCA", "XCD"},  // Saint Lucia
    // Liechtenstein uses the Swiss franc under a currency treaty.
    {"LI", "LIE", "CHF"},  // Liechtenstein
    {"LK", "LKA", "LKR"},  // Sri Lanka
    {"LR", "LBR", "LRD"},  // Liberia
    // In the Common Monetary Area ZAR circulates at par beside LSL, NAD and SZL; the national
    // currency is the one listed.
    {"LS", "LSO", "LSL"},  // Lesotho
    {"LT", "LTU", "EUR"},  // Lithuania
    {"LU", "LUX", "EUR"},  // Luxembourg
    {"LV", "LVA", "EUR"},  // Latvia
    {"LY", "LBY", "LYD"},  // Libya
    {"MA", "MAR", "MAD"},  // Morocco
    {"MC", "MCO", "EUR"},  // Monaco
    {"MD", "MDA", "MDL"},  // Moldova
    // Montenegro uses the euro unilaterally.
    {"ME", "MNE", "EUR"},  // Montenegro
    {"MF", "MAF", "EUR"},  // Saint Martin (French part)
    {"MG", "MDG", "MGA"},  // Madagascar
    {"MH", "MHL", "USD"},  // Marshall Islands
    {"MK", "MKD", "MKD"},  // North Macedonia
    {"ML", "MLI", "XOF"},  // Mali
    {"MM", "MMR", "MMK"},  // Myanmar
    {"MN", "MNG", "MNT"},  // Mongolia
    {"MO", "MAC", "MOP"},  // Macao
    {"MP", "MNP", "USD"},  // Northern Mariana Islands
    {"MQ", "MTQ", "EUR"},  // Martinique
    // MRU replaced MRO (redenominated 10:1) in 2018.
    {"MR", "MRT", "MRU"},  // Mauritania
    {"MS", "MSR", "XCD"},  // Montserrat
    {"MT", "MLT", "EUR"},  // Malta
    {"MU", "MUS", "MUR"},  // Mauritius
    {"MV", "MDV", "MVR"},  // Maldives
    {"MW", "MWI", "MWK"},  // Malawi
    {"MX", "MEX", "MXN"},  // Mexico
    {"MY", "MYS", "MYR"},  // Malaysia
    {"MZ", "MOZ", "MZN"},  // Mozambique
    {"NA", "NAM", "NAD"},  // Namibia
    {"NC", "NCL", "XPF"},  // New Caledonia
    {"NE", "NER", "XOF"},  // Niger
    {"NF", "NFK", "AUD"},  // Norfolk Island
    {"NG", "NGA", "NGN"},  // Nigeria
    {"NI", "NIC", "NIO"},  // Nicaragua
    {"NL", "NLD", "EUR"},  // Netherlands
    {"NO", "NOR", "NOK"},  // Norway
    {"NP", "NPL", "NPR"},  // Nepal
    {"NR", "NRU", "AUD"},  // Nauru
    {"NU", "NIU", "NZD"},  // Niue
    {"NZ", "NZL", "NZD"},  // New Zealand
    {"OM", "OMN", "OMR"},  // Oman
    // The balboa (PAB) is legal tender at par but circulates only as coins; prices are in USD.
    {"PA", "PAN", "USD"},  // Panama
    {"PE", "PER", "PEN"},  // Peru
    {"PF", "PYF", "XPF"},  // French Polynesia
    {"PG", "PNG", "PGK"},  // Papua New Guinea
    {"PH", "PHL", "PHP"},  // Philippines
    {"PK", "PAK", "PKR"},  // Pakistan
    {"PL", "POL", "PLN"},  // Poland
    {"PM", "SPM", "EUR"},  // Saint Pierre and Miquelon
    // Pitcairn uses NZD (ISO 4217 lists NZD for it).
    {"PN", "PCN", "NZD"},  // Pitcairn
    {"PR", "PRI", "USD"},  // Puerto Rico
    // ISO 4217 lists no currency for Palestine; under the Paris Protocol ILS is the one used
    // for most retail prices (JOD and USD also circulate).
    {"PS", "PSE", "ILS"},  // Palestine, State of
    {"PT", "PRT", "EUR"},  // Portugal
    {"PW", "PLW", "USD"},  // Palau
    {"PY", "PRY", "PYG"},  // Paraguay
    {"QA", "QAT", "QAR"},  // Qatar
    {"RE", "REU", "EUR"},  // Réunion
    {"RO", "ROU", "RON"},  // Romania
    {"RS", "SRB", "RSD"},  // Serbia
    {"RU", "RUS", "RUB"},  // Russian Federation
    {"RW", "RWA", "RWF"},  // Rwanda
    {"SA", "SAU", "SAR"},  // Saudi Arabia
    {"SB", "SLB", "SBD"},  // Solomon Islands
    {"SC", "SYC", "SCR"},  // Seychelles
    {"SD", "SDN", "SDG"},  // Sudan
    {"SE", "SWE", "SEK"},  // Sweden
    {"SG", "SGP", "SGD"},  // Singapore
    // SHP is at par with GBP; Tristan da Cunha uses GBP itself, Saint Helena and Ascension SHP.
    {"SH", "SHN", "SHP"},  // Saint Helena, Ascension and Tristan da Cunha
    {"SI", "SVN", "EUR"},  // Slovenia
    {"SJ", "SJM", "NOK"},  // Svalbard and Jan Mayen
    {"SK", "SVK", "EUR"},  // Slovakia
    // SLE replaced SLL (redenominated 1000:1) in 2022.
    {"SL", "SLE", "SLE"},  // Sierra Leone
    {"SM", "SMR", "EUR"},  // San Marino
    {"SN", "SEN", "XOF"},  // Senegal
    {"SO", "SOM", "SOS"},  // Somalia
    {"SR", "SUR", "SRD"},  // Suriname
    {"SS", "SSD", "SSP"},  // South Sudan
    // STN replaced STD (redenominated 1000:1) in 2018.
    {"ST", "STP", "STN"},  // Sao Tome and Principe
    // Dollarized since 2001; the colon (SVC) no longer circulates.
    {"SV", "SLV", "USD"},  // El Salvador
    // Shares the Caribbean guilder with Curacao since 2025.
    {"SX", "SXM", "XCG"},  // Sint Maarten (Dutch part)
    // Syria redenominated its pound 100:1 on 2026-01-01 under the same name; the ISO 4217
    // lists this table was checked against still carry SYP.
    {"SY", "SYR", "SYP"},  // Syria
    {"SZ", "SWZ", "SZL"},  // Eswatini
    {"TC", "TCA", "USD"},  // Turks and Caicos Islands
    {"TD", "TCD", "XAF"},  // Chad
    // French territory without a permanent population.
    {"TF", "ATF", "EUR"},  // French Southern Territories
    {"TG", "TGO", "XOF"},  // Togo
    {"TH", "THA", "THB"},  // Thailand
    {"TJ", "TJK", "TJS"},  // Tajikistan
    {"TK", "TKL", "NZD"},  // Tokelau
    // Timor-Leste has used USD since 2000 (its centavo coins are subunits of USD).
    {"TL", "TLS", "USD"},  // Timor-Leste
    {"TM", "TKM", "TMT"},  // Turkmenistan
    {"TN", "TUN", "TND"},  // Tunisia
    {"TO", "TON", "TOP"},  // Tonga
    {"TR", "TUR", "TRY"},  // Türkiye
    {"TT", "TTO", "TTD"},  // Trinidad and Tobago
    {"TV", "TUV", "AUD"},  // Tuvalu
    {"TW", "TWN", "TWD"},  // Taiwan
    {"TZ", "TZA", "TZS"},  // Tanzania
    {"UA", "UKR", "UAH"},  // Ukraine
    {"UG", "UGA", "UGX"},  // Uganda
    // Uninhabited or US-military islands.
    {"UM", "UMI", "USD"},  // United States Minor Outlying Islands
    {"US", "USA", "USD"},  // United States
    {"UY", "URY", "UYU"},  // Uruguay
    {"UZ", "UZB", "UZS"},  // Uzbekistan
    {"VA", "VAT", "EUR"},  // Holy See (Vatican City State)
    {"VC", "VCT", "XCD"},  // Saint Vincent and the Grenadines
    // VES is the bolivar for prices; VED is its digital counterpart.
    {"VE", "VEN", "VES"},  // Venezuela
    {"VG", "VGB", "USD"},  // Virgin Islands, British
    {"VI", "VIR", "USD"},  // Virgin Islands, U.S.
    {"VN", "VNM", "VND"},  // Vietnam
    {"VU", "VUT", "VUV"},  // Vanuatu
    {"WF", "WLF", "XPF"},  // Wallis and Futuna
    {"WS", "WSM", "WST"},  // Samoa
    {"YE", "YEM", "YER"},  // Yemen
    {"YT", "MYT", "EUR"},  // Mayotte
    {"ZA", "ZAF", "ZAR"},  // South Africa
    {"ZM", "ZMB", "ZMW"},  // Zambia
    // Zimbabwe Gold (ZiG, ZWG) replaced ZWL in 2024; USD also circulates widely.
    {"ZW", "ZWE", "ZWG"},  // Zimbabwe
});

constexpr bool sorted_by_alpha2() {
  for (std::size_t i = 1; i < country_table.size(); ++i) {
    if (!(country_table[i - 1].alpha2 < country_table[i].alpha2)) return false;
  }
  return true;
}
// find_country's binary search depends on this order, so an out-of-place row fails the build.
static_assert(sorted_by_alpha2(), "country_table must be sorted strictly by alpha2");

}  // namespace

std::span<const Country> countries() {
  return country_table;
}

const Country* find_country(std::string_view alpha2) {
  auto found = std::lower_bound(
      country_table.begin(), country_table.end(), alpha2,
      [](const Country& country, std::string_view code) { return country.alpha2 < code; });
  if (found == country_table.end() || found->alpha2 != alpha2) return nullptr;
  return &*found;
}

const Country& known_country(std::string_view what, std::string_view alpha2) {
  const Country* country = find_country(alpha2);
  if (country == nullptr) {
    throw Error(exit_code::usage,
                fmt::format("{}: '{}' is not an ISO 3166-1 alpha-2 country code (like DE, JP, IN)",
                            what, alpha2));
  }
  return *country;
}

// A linear scan: some 250 short comparisons cost less than keeping a second index in sync.
const Country* find_country_alpha3(std::string_view alpha3) {
  auto found = std::find_if(country_table.begin(), country_table.end(),
                            [alpha3](const Country& country) { return country.alpha3 == alpha3; });
  return found == country_table.end() ? nullptr : &*found;
}

}  // namespace sluice::price
