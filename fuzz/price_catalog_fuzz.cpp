// price calc and publish's catalog records: any input read by CatalogReader as `price calc`
// reads it, with the default base currency USD (2 decimals) without and with --skip-invalid,
// and with JPY (0) and KWD (3) with --skip-invalid. Expected: an item, or a rejection
// (Error(65), or one report per bad line under --skip-invalid). Defects: a crash, a leak, UB,
// an item with an empty SKU or a negative price, a line counted twice or never under
// --skip-invalid, any other exception or exit code.
#include <array>

#include "fuzz_support.hpp"
#include "price_calc.hpp"

namespace {

using namespace sluice;

struct Reading {
  decimal::Currency base_currency;
  bool skip_invalid = false;
};

const std::array<Reading, 4> readings{
    {{{"USD", 2}, false}, {{"USD", 2}, true}, {{"JPY", 0}, true}, {{"KWD", 3}, true}}};

// Reads every item; returns how many lines were items or rejections.
std::uint64_t read_catalog(const std::string& path, const Reading& reading) {
  price::CatalogReader catalog({path}, {reading.skip_invalid}, reading.base_currency);
  std::uint64_t items = 0;
  while (auto item = catalog.next()) {
    fuzz::require(!item->sku.empty() && item->base >= 0);
    ++items;
  }
  return items + catalog.skipped();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::MemoryFile input(data, size);
  if (input.path().empty()) return 0;
  std::size_t lines = fuzz::line_count(fuzz::text_of(data, size));
  for (const Reading& reading : readings) {
    fuzz::expect_value_or_data_error([&] {
      std::uint64_t counted = read_catalog(input.path(), reading);
      fuzz::require(counted == lines);
    });
  }
  return 0;
}
