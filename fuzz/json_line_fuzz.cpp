// JSON Lines records: parse_object must accept or reject every byte string without crashing,
// and what it accepts must print (to_json) as JSON that parses back to the same canonical
// form. parse_fields must agree with parse_object on validity.
#include <array>

#include "fuzz_support.hpp"
#include "sluice/jsonl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  static JsonParser parser;
  std::string_view text = fuzz::text_of(data, size);
  ParseOutcome outcome = parser.parse_object(text);
  std::array<std::string_view, 3> names{"ts", "value", "key"};
  std::array<FieldView, 3> fields{};
  std::string field_error = parser.parse_fields(text, names, fields);
  fuzz::require(outcome.value.has_value() == field_error.empty());
  if (!outcome.value) return 0;
  std::string canonical = canonical_json(*outcome.value);
  std::string printed = to_json(*outcome.value);
  ParseOutcome again = parser.parse_object(printed);
  fuzz::require(again.value.has_value());
  fuzz::require(canonical_json(*again.value) == canonical);
  return 0;
}
