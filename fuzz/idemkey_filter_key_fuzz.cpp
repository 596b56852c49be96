// idemkey filter's records: any input read as `idemkey filter --key-field id` reads it (the
// JSON Lines reader, then filter_key on each record, a record without a key rejected with
// filter_key's problem), without and with --skip-invalid. Expected: a key, or a rejection
// (Error(65), or one report per bad line under --skip-invalid). Defects: a crash, a leak, UB,
// a key that is not a valid key or not the field's own text, a rejection without a reason, a
// line counted twice or never under --skip-invalid, any other exception or exit code.
#include "fuzz_support.hpp"
#include "idemkey.hpp"

namespace {

using namespace sluice;

const std::string key_field = "id";

struct Counts {
  std::size_t keyed = 0;       // records with a key
  std::uint64_t rejected = 0;  // lines skipped under --skip-invalid
};

void check_key(const Record& record, const idemkey::FilterKey& found) {
  if (!found.key) {
    fuzz::require(!found.problem.empty());
    return;
  }
  const JsonValue* field = record.value.find(key_field);
  fuzz::require(field != nullptr && field->text() == *found.key);
  fuzz::require(idemkey::is_valid_key(*found.key));
}

Counts read_keys(const std::string& path, bool skip_invalid) {
  JsonlReader reader({path}, {skip_invalid});
  Counts counts;
  while (auto record = reader.next()) {
    idemkey::FilterKey found = idemkey::filter_key(record->value, key_field);
    check_key(*record, found);
    if (!found.key) {
      reader.reject(*record, found.problem);
      continue;
    }
    ++counts.keyed;
  }
  counts.rejected = reader.skipped();
  return counts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::MemoryFile input(data, size);
  if (input.path().empty()) return 0;
  fuzz::expect_value_or_data_error([&] { read_keys(input.path(), false); });
  fuzz::expect_value_or_data_error([&] {
    Counts counts = read_keys(input.path(), true);
    fuzz::require(counts.keyed + counts.rejected == fuzz::line_count(fuzz::text_of(data, size)));
  });
  return 0;
}
