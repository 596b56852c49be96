// The JSON Lines reader over a whole input (framing: BOM, CRLF, blank lines, a missing last
// newline, NUL bytes, long lines): every line is a record or a located rejection (with
// --skip-invalid), never a crash.
#include "fuzz_support.hpp"
#include "sluice/jsonl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  fuzz::MemoryFile input(data, size);
  if (input.path().empty()) return 0;
  fuzz::expect_value_or_error([&] {
    JsonlReader reader({input.path()}, {/*skip_invalid=*/true});
    while (auto record = reader.next()) {
      fuzz::require(record->value.kind() == JsonValue::Kind::object);
    }
  });
  return 0;
}
