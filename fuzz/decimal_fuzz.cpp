// Money and rates: parse_decimal, parse_amount and parse_rate accept or reject any text; what
// they accept prints back (format_decimal, format_amount, format_rate) to text that parses to
// the same exact value.
#include "fuzz_support.hpp"
#include "sluice/decimal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  using namespace sluice::decimal;
  std::string_view text = fuzz::text_of(data, size);
  fuzz::expect_value_or_error([&] {
    Fraction value = parse_decimal("value", text, Negative::allowed);
    std::string printed = format_decimal(value, 60);
    fuzz::require(parse_decimal("value", printed, Negative::allowed) == value);
  });
  for (int exponent : {0, 2, 3}) {
    fuzz::expect_value_or_error([&] {
      std::int64_t minor = parse_amount(text, exponent, Negative::allowed);
      fuzz::require(parse_amount(format_amount(minor, exponent), exponent, Negative::allowed) == minor);
    });
  }
  fuzz::expect_value_or_error([&] {
    Fraction rate = parse_rate("--rate", text);
    fuzz::require(parse_rate("--rate", format_rate(rate)) == rate);
  });
  return 0;
}
