// rollup's parsers of user text: --agg words, --tier specs, --every, exact decimals of event
// values, and a saved state's group line. The input's lines go to each in turn.
// Expected: a value, or Error(2) from the option parsers and Error(65) from the decimal and
// state readers. Defects: a crash, a leak, UB, any other exception or exit code, a decimal
// that does not read back from its own text, a parsed tier whose text does not parse again.
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "rollup_engine.hpp"
#include "rollup_store.hpp"
#include "sluice/decimal.hpp"

namespace {

using namespace sluice;
using namespace sluice::rollup;

template <typename Parse>
void expect_value_or(int code, Parse&& parse) {
  try {
    parse();
  } catch (const Error& error) {
    fuzz::require(error.code() == code);
  }
}

const Rollup& layout() {
  static const Rollup rollup = [] {
    Spec spec;
    spec.by = {"campaign"};
    for (const char* word : {"count", "sum:cost", "p99:latency", "last:status", "distinct:user"}) {
      spec.aggregates.push_back(parse_aggregate(word));
    }
    return Rollup(spec);
  }();
  return rollup;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = fuzz::text_of(data, size);
  std::size_t end = text.find('\n');
  std::string_view first = text.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  expect_value_or(exit_code::usage, [&] { static_cast<void>(parse_aggregate(first)); });
  expect_value_or(exit_code::usage, [&] {
    Tier tier = parse_tier(first);
    fuzz::require(parse_tier(tier.text()).every == tier.every);
  });
  expect_value_or(exit_code::usage, [&] { static_cast<void>(parse_every(first)); });
  if (auto value = parse_exact_decimal(first)) {
    std::string written = decimal::format_amount(value->units, value->scale);
    auto again = parse_exact_decimal(written);
    fuzz::require(again && again->units == value->units && again->scale == value->scale);
  }
  expect_value_or(exit_code::data, [&] {
    GroupRecord record = layout().parse_group(rest);
    fuzz::require(layout().parse_group(layout().group_line(record)).values.size() == 1);
  });
  return 0;
}
