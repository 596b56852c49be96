// Durations, instants and dates: each parser accepts or rejects any text, and what it accepts
// prints back to text that parses to the same value.
#include "fuzz_support.hpp"
#include "sluice/timeutil.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  std::string_view text = fuzz::text_of(data, size);
  fuzz::expect_value_or_error([&] {
    Duration duration = parse_duration(text);
    fuzz::require(parse_duration(format_duration(duration)) == duration);
  });
  fuzz::expect_value_or_error([&] {
    Instant instant = parse_instant(text);
    fuzz::require(parse_instant(format_instant(instant)) == instant);
  });
  fuzz::expect_value_or_error([&] {
    auto date = parse_date(text);
    fuzz::require(parse_date(format_date(date)) == date);
  });
  fuzz::expect_value_or_error([&] {
    bool is_number = !text.empty() && (text[0] == '-' || (text[0] >= '0' && text[0] <= '9'));
    (void)instant_from_field(text, is_number);
  });
  return 0;
}
