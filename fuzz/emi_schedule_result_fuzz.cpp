// emi-schedule record's payment results: any input read as `emi-schedule record` reads it (the
// JSON Lines reader, read_result on each record, then read_amount in the loan's currency, here
// each of INR (the default), JPY and KWD for 0, 2 and 3 decimals), without and with
// --skip-invalid. Expected: a result, or a rejection (Error(65), or one report per bad line
// under --skip-invalid). Defects: a crash, a leak, UB, a result outside its documented ranges
// (empty loan, negative n, attempt or amount), a bad line reported twice or reported and let
// through, any other exception or exit code.
#include <array>

#include "emi_cycle.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace sluice;

const std::array<decimal::Currency, 3> currencies{{{"INR", 2}, {"JPY", 0}, {"KWD", 3}}};

void check_result(const emi::PaymentResult& result) {
  fuzz::require(!result.loan.empty() && result.number >= 0 && result.attempt >= 0);
  fuzz::require(!result.amount || *result.amount >= 0);
}

// read_amount in each currency: a rejection (counted once) exactly when it says false.
void read_amounts(JsonlReader& reader, const Record& record, const emi::ReadResult& read) {
  for (const decimal::Currency& currency : currencies) {
    emi::ReadResult priced = read;
    std::uint64_t before = reader.skipped();
    bool valid = emi::read_amount(reader, record, priced, currency);
    fuzz::require(reader.skipped() == before + (valid ? 0 : 1));
    if (valid) check_result(priced.result);
  }
}

void read_results(const std::string& path, bool skip_invalid) {
  JsonlReader reader({path}, {skip_invalid});
  while (auto record = reader.next()) {
    std::uint64_t before = reader.skipped();
    std::optional<emi::ReadResult> read = emi::read_result(reader, *record);
    fuzz::require(reader.skipped() == before + (read ? 0 : 1));
    if (!read) continue;
    check_result(read->result);
    read_amounts(reader, *record, *read);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::MemoryFile input(data, size);
  if (input.path().empty()) return 0;
  for (bool skip_invalid : {false, true}) {
    fuzz::expect_value_or_data_error([&] { read_results(input.path(), skip_invalid); });
  }
  return 0;
}
