// funnel's --steps: any text split at commas as the command line splits it, parsed by
// parse_steps, and each step that parses evaluated on a few records (nested objects,
// numbers, booleans, null, an empty key). Expected: the steps, or Error(2) (a usage error).
// Defects: a crash, a leak, UB, any other exception or exit code, a parsed step without
// terms or with an empty field name.
#include <string>
#include <vector>

#include "funnel_run.hpp"
#include "fuzz_support.hpp"
#include "sluice/jsonl.hpp"

namespace {

using namespace sluice;

std::vector<JsonValue> make_records() {
  JsonParser parser;
  std::vector<JsonValue> records;
  for (const char* text :
       {R"({"event":"cart","props":{"value":3,"ok":true,"":{"x":null}},"n":-1.5e3})",
        R"({"event":"","status":500,"a":[1,2],"b":{}})", "{}"}) {
    records.push_back(*parser.parse_object(text).value);
  }
  return records;
}

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  for (std::size_t begin = 0;;) {
    std::size_t end = text.find(',', begin);
    words.emplace_back(text.substr(begin, end == std::string_view::npos ? end : end - begin));
    if (end == std::string_view::npos) return words;
    begin = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<JsonValue> records = make_records();
  try {
    std::vector<RecordCondition> steps = funnel::parse_steps(words_of(fuzz::text_of(data, size)));
    for (const RecordCondition& step : steps) {
      fuzz::require(!step.terms().empty());
      for (const ConditionTerm& term : step.terms()) fuzz::require(!term.field.name.empty());
      for (const JsonValue& record : records) static_cast<void>(step.matches(record));
    }
  } catch (const Error& error) {
    fuzz::require(error.code() == exit_code::usage);
  }
  return 0;
}
