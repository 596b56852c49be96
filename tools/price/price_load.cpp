#include "price_load.hpp"

#include <array>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "price_countries.hpp"
#include "price_market.hpp"
#include "sluice/csv.hpp"
#include "sluice/decimal.hpp"
#include "sluice/error.hpp"
#include "sluice/fdio.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::price {
namespace {

constexpr std::uint64_t max_file_bytes = 1ULL << 30;

struct Lines {
  std::string name;
  std::string text;
};

Lines read_input(const std::string& path) {
  InputFile input(path);
  return {input.name(), read_all(input.fd(), input.name(), max_file_bytes)};
}

// Calls visit(line, number) for every line of `text` (1-based; a last line without '\n'
// counts).
template <typename Visit>
void for_each_line(std::string_view text, Visit&& visit) {
  long long number = 0;
  while (!text.empty()) {
    auto end = text.find('\n');
    visit(text.substr(0, end), ++number);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
}

// Runs `parse` for one line, turning its Error into Error(65) at `where`.
template <typename Parse>
void at_line(const std::string& where, Parse&& parse) {
  try {
    parse();
  } catch (const Error& error) {
    if (!error.location().empty()) throw;
    throw Error(exit_code::data, error.what(), where);
  }
}

// "2026-03-02" or the ECB daily file's "2 March 2026".
std::string ecb_date(std::string_view text) {
  static constexpr std::array<std::string_view, 12> months{
      "January", "February", "March",     "April",   "May",      "June",
      "July",    "August",   "September", "October", "November", "December"};
  auto first_space = text.find(' '), last_space = text.rfind(' ');
  if (first_space == std::string_view::npos) return format_date(parse_date(text));
  std::string_view month = text.substr(first_space + 1, last_space - first_space - 1);
  for (std::size_t i = 0; i < months.size(); ++i) {
    if (month != months[i]) continue;
    return format_date(parse_date(fmt::format("{}-{:02}-{:0>2}", text.substr(last_space + 1), i + 1,
                                              text.substr(0, first_space))));
  }
  throw Error(exit_code::data, fmt::format("'{}' is not a date", text));
}

std::string checked_rate(std::string_view text) {
  decimal::Fraction rate = decimal::parse_decimal("rate", text);
  if (rate.numerator == 0) throw Error(exit_code::data, "a rate must be above zero");
  return std::string(text);
}

// The currency of each column of the ECB header `Date, USD, JPY, ...` after Date: "" for a
// column that is skipped (empty, or a withdrawn or unknown code: then listed in
// parsed.skipped_currencies). Error(65) for another header, or a column of the base itself.
std::vector<std::string> ecb_columns(const std::vector<std::string>& fields, ParsedRates& parsed) {
  if (trim_whitespace(fields[0]) != "Date") {
    throw Error(exit_code::data, "expected the ECB header `Date, USD, JPY, ...`");
  }
  std::vector<std::string> columns;
  for (std::size_t i = 1; i < fields.size(); ++i) {
    std::string code(trim_whitespace(fields[i]));
    // As in JSON Lines rates: a rate of the base against itself is not a rate to store.
    if (code == parsed.base) {
      throw Error(exit_code::data,
                  fmt::format("{}: currency equals base (ECB rates are quoted against {})", code,
                              parsed.base));
    }
    try {
      if (!code.empty()) decimal::currency(code);
      columns.push_back(code);
    } catch (const Error&) {
      parsed.skipped_currencies.push_back(code);
      columns.emplace_back();
    }
  }
  return columns;
}

// The rates of one file by day and currency, each with the line it came from.
class RateDays {
 public:
  // Appends `row`, read on line `number`, to parsed.rows unless the file gave the same value
  // for its day and currency before (1.08 and 1.080 are the same): an overlapping download
  // appended to the history file repeats days, and that is one rate, kept as first written.
  // A different value is Error(65) naming both lines: either may be the wrong one, and
  // letting the last win would hide it.
  void add(ParsedRates& parsed, RateRow row, long long number) {
    auto [first, added] = first_.try_emplace({row.date, row.currency}, row.rate, number);
    if (added) {
      parsed.rows.push_back(std::move(row));
      return;
    }
    const auto& [first_rate, first_line] = first->second;
    if (decimal::parse_decimal("rate", first_rate) == decimal::parse_decimal("rate", row.rate)) {
      return;
    }
    throw Error(exit_code::data, fmt::format("{} on {} is {} here and {} on line {}", row.currency,
                                             row.date, row.rate, first_rate, first_line));
  }

 private:
  std::map<std::pair<std::string, std::string>, std::pair<std::string, long long>> first_;
};

// One ECB row after the header: a rate per column that has one.
void read_ecb_row(const std::vector<std::string>& fields, const std::vector<std::string>& columns,
                  long long number, ParsedRates& parsed, RateDays& days) {
  std::string date = ecb_date(trim_whitespace(fields[0]));
  for (std::size_t i = 1; i < fields.size(); ++i) {
    std::string_view value = trim_whitespace(fields[i]);
    if (i > columns.size()) {
      if (value.empty()) continue;
      throw Error(exit_code::data, fmt::format("more fields than the header has columns"));
    }
    if (columns[i - 1].empty() || value.empty() || value == "N/A") continue;
    std::string rate =
        with_context(exit_code::data, columns[i - 1], [&] { return checked_rate(value); });
    days.add(parsed, {date, columns[i - 1], std::move(rate)}, number);
  }
}

ParsedRates parse_ecb_csv(const Lines& input) {
  ParsedRates parsed{"EUR", {}, {}};
  std::vector<std::string> columns;  // "" for a column that is skipped
  RateDays days;
  for_each_line(input.text, [&](std::string_view line, long long number) {
    std::string where = location(input.name, number);
    at_line(where, [&] {
      std::vector<std::string> fields = csv::split_line(line);
      if (number == 1) {
        columns = ecb_columns(fields, parsed);
      } else if (!trim_whitespace(line).empty()) {
        read_ecb_row(fields, columns, number, parsed, days);
      }
    });
  });
  return parsed;
}

// What a text field of a reference file may hold: a decimal may also be a JSON number.
enum class TextField { string, decimal };

const JsonValue& string_field(const JsonValue& record, std::string_view key, TextField kind) {
  const JsonValue* value = record.find(key);
  bool number_allowed = kind == TextField::decimal;
  if (value == nullptr || !(value->is_string() || (number_allowed && value->is_number()))) {
    throw Error(exit_code::data, fmt::format("field '{}' must be a {}", key,
                                             number_allowed ? "decimal string" : "string"));
  }
  return *value;
}

// Every object of a JSONL input with its line number; errors get the line's location.
template <typename Visit>
void for_each_record(const Lines& input, Visit&& visit) {
  JsonParser parser;
  for_each_line(input.text, [&](std::string_view line, long long number) {
    std::string where = location(input.name, number);
    ParseOutcome outcome = parser.parse_object(framed_line(line, where));
    if (!outcome.value) throw Error(exit_code::data, outcome.error, where);
    at_line(where, [&] { visit(*outcome.value, number); });
  });
}

ParsedRates parse_rates_jsonl(const Lines& input) {
  ParsedRates parsed;
  RateDays days;
  for_each_record(input, [&](const JsonValue& record, long long number) {
    std::string base =
        decimal::currency(string_field(record, "base", TextField::string).text()).code;
    if (parsed.base.empty()) parsed.base = base;
    if (base != parsed.base) {
      throw Error(exit_code::data, fmt::format("base {} differs from the file's first base {} "
                                               "(all rates must be quoted against one base)",
                                               base, parsed.base));
    }
    std::string date = with_context(exit_code::data, "field 'date'", [&] {
      return format_date(parse_date(string_field(record, "date", TextField::string).text()));
    });
    std::string currency =
        decimal::currency(string_field(record, "currency", TextField::string).text()).code;
    if (currency == base) throw Error(exit_code::data, "currency equals base");
    days.add(
        parsed,
        {date, currency, checked_rate(string_field(record, "rate", TextField::decimal).text())},
        number);
  });
  return parsed;
}

// A byte order mark is looked past, so that the JSON Lines reader names it.
bool starts_like_jsonl(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  return !text.empty() && text.front() == '{';
}

void check_same_base(Store& store, const std::string& name, const std::string& base) {
  auto stored = store.rates_base();
  if (stored && *stored != base) {
    throw Error(exit_code::data,
                fmt::format("{}: rates are quoted against {}, and the stored rates against {} "
                            "(one state file keeps one base so cross rates stay exact)",
                            name, base, *stored));
  }
  if (!stored) store.set_rates_base(base);
}

struct ParsedPpp {
  std::vector<Adjustment> rows;
  long long skipped = 0;
};

// The last non-empty year of a World Bank row, or nullopt.
std::optional<std::string> latest_value(const std::vector<std::string>& fields) {
  for (std::size_t i = fields.size(); i-- > 4;) {
    std::string_view value = trim_whitespace(fields[i]);
    if (!value.empty()) return std::string(value);
  }
  return std::nullopt;
}

ParsedPpp parse_wb_csv(const Lines& input, const Adjustment& defaults) {
  ParsedPpp parsed;
  bool header_seen = false;
  for_each_line(input.text, [&](std::string_view line, long long number) {
    at_line(location(input.name, number), [&] {
      if (trim_whitespace(line).empty()) return;
      std::vector<std::string> fields = csv::split_line(line);
      if (!header_seen) {
        // Metadata lines ("Data Source", "Last Updated Date") come before the header.
        header_seen =
            fields.size() > 4 && fields[0] == "Country Name" && fields[1] == "Country Code";
        return;
      }
      const Country* country = fields.size() > 4 ? find_country_alpha3(fields[1]) : nullptr;
      auto value = country == nullptr ? std::nullopt : latest_value(fields);
      if (!value) {
        ++parsed.skipped;  // a regional aggregate (WLD, EUU, ...) or no data at all
        return;
      }
      Adjustment adjustment = defaults;
      adjustment.country = std::string(country->alpha2);
      adjustment.plr = *value;
      check_adjustment(adjustment);
      parsed.rows.push_back(std::move(adjustment));
    });
  });
  if (!header_seen) {
    throw Error(exit_code::data, "no `\"Country Name\",\"Country Code\",...` header line found",
                input.name);
  }
  return parsed;
}

ParsedPpp parse_ppp_jsonl(const Lines& input, const Adjustment& defaults) {
  ParsedPpp parsed;
  for_each_record(input, [&](const JsonValue& record, long long) {
    Adjustment adjustment = defaults;
    adjustment.country = string_field(record, "country", TextField::string).text();
    if (find_country(adjustment.country) == nullptr) {
      throw Error(exit_code::data, fmt::format("'{}' is not an ISO 3166-1 alpha-2 country code",
                                               adjustment.country));
    }
    adjustment.plr = string_field(record, "plr", TextField::decimal).text();
    if (record.find("smoothing"))
      adjustment.smoothing = string_field(record, "smoothing", TextField::decimal).text();
    if (record.find("min"))
      adjustment.minimum = string_field(record, "min", TextField::decimal).text();
    if (record.find("max"))
      adjustment.maximum = string_field(record, "max", TextField::decimal).text();
    check_adjustment(adjustment);
    parsed.rows.push_back(std::move(adjustment));
  });
  return parsed;
}

}  // namespace

RatesFormat parse_rates_format(std::string_view text) {
  if (text == "ecb-csv") return RatesFormat::ecb_csv;
  if (text == "jsonl") return RatesFormat::jsonl;
  if (text.empty()) return RatesFormat::detect;
  throw Error(exit_code::usage, fmt::format("--format: '{}' is not ecb-csv or jsonl", text));
}

ParsedRates parse_rates(const std::string& name, std::string text, RatesFormat format) {
  Lines input{name, std::move(text)};
  if (format == RatesFormat::detect) {
    format = starts_like_jsonl(input.text) ? RatesFormat::jsonl : RatesFormat::ecb_csv;
  }
  return format == RatesFormat::jsonl ? parse_rates_jsonl(input) : parse_ecb_csv(input);
}

JsonValue load_rates(Store& store, const std::string& path, RatesFormat format, bool quiet) {
  Lines input = read_input(path);
  ParsedRates parsed = parse_rates(input.name, std::move(input.text), format);
  db::WriteTransaction transaction(store.database());
  std::set<std::string> currencies, dates;
  if (!parsed.rows.empty()) check_same_base(store, input.name, parsed.base);
  long long changed = store.put_rates(parsed.rows);
  for (const RateRow& row : parsed.rows) {
    currencies.insert(row.currency);
    dates.insert(row.date);
  }
  transaction.commit();
  if (!parsed.skipped_currencies.empty() && !quiet) {
    note(fmt::format("skipped the columns of withdrawn or unknown currencies: {}",
                     fmt::join(parsed.skipped_currencies, ", ")),
         input.name);
  }
  std::vector<JsonValue> skipped;
  for (const std::string& code : parsed.skipped_currencies)
    skipped.push_back(JsonValue::string(code));
  return JsonValue::object(
      {{"rows", JsonValue::integer(static_cast<long long>(parsed.rows.size()))},
       {"changed", JsonValue::integer(changed)},
       {"base", parsed.rows.empty() ? JsonValue::null() : JsonValue::string(parsed.base)},
       {"currencies", JsonValue::integer(static_cast<long long>(currencies.size()))},
       {"first_date", dates.empty() ? JsonValue::null() : JsonValue::string(*dates.begin())},
       {"last_date", dates.empty() ? JsonValue::null() : JsonValue::string(*dates.rbegin())},
       {"skipped_currencies", JsonValue::array(std::move(skipped))}});
}

PppFormat parse_ppp_format(std::string_view text) {
  if (text == "wb-csv") return PppFormat::wb_csv;
  if (text == "jsonl") return PppFormat::jsonl;
  if (text.empty()) return PppFormat::detect;
  throw Error(exit_code::usage, fmt::format("--format: '{}' is not wb-csv or jsonl", text));
}

JsonValue load_ppp(Store& store, const std::string& path, PppFormat format,
                   const Adjustment& defaults) {
  Lines input = read_input(path);
  if (format == PppFormat::detect) {
    format = starts_like_jsonl(input.text) ? PppFormat::jsonl : PppFormat::wb_csv;
  }
  ParsedPpp parsed =
      format == PppFormat::jsonl ? parse_ppp_jsonl(input, defaults) : parse_wb_csv(input, defaults);
  db::WriteTransaction transaction(store.database());
  for (const Adjustment& adjustment : parsed.rows) store.put_adjustment(adjustment);
  transaction.commit();
  return JsonValue::object(
      {{"countries", JsonValue::integer(static_cast<long long>(parsed.rows.size()))},
       {"skipped", JsonValue::integer(parsed.skipped)}});
}

}  // namespace sluice::price
