// price rates load's parser: any file text parsed by parse_rates as `price rates load` parses
// it, in each --format (detect, the default; ecb-csv; jsonl), before anything is stored.
// Expected: the rows, or Error(65). Defects: a crash, a leak, UB, a row the state file should
// never get (a date that is not YYYY-MM-DD of a real day, a currency that is not an ISO 4217
// code or is the base itself, a rate that is not a positive decimal), any other exception or
// exit code.
#include <array>
#include <optional>

#include "fuzz_support.hpp"
#include "price_load.hpp"
#include "sluice/decimal.hpp"
#include "sluice/timeutil.hpp"

namespace {

using namespace sluice;

const std::array<price::RatesFormat, 3> formats{
    price::RatesFormat::detect, price::RatesFormat::ecb_csv, price::RatesFormat::jsonl};

// A check that throws (even Error) is a defect: each field was checked once already.
void check_rates(const price::ParsedRates& parsed) {
  if (parsed.rows.empty()) return;
  fuzz::require(decimal::currency(parsed.base).code == parsed.base);
  for (const price::RateRow& row : parsed.rows) {
    fuzz::require(format_date(parse_date(row.date)) == row.date);
    fuzz::require(decimal::currency(row.currency).code == row.currency);
    fuzz::require(row.currency != parsed.base);
    fuzz::require(decimal::parse_decimal("rate", row.rate).numerator > 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (price::RatesFormat format : formats) {
    std::optional<price::ParsedRates> parsed;
    fuzz::expect_value_or_data_error([&] {
      parsed = price::parse_rates("rates", std::string(fuzz::text_of(data, size)), format);
    });
    if (parsed) check_rates(*parsed);
  }
  return 0;
}
