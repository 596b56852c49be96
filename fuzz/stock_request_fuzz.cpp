// stock's batch requests: any text parsed as one JSON object, then read as `stock reserve
// --batch` reads a line (request_from_record, with the command line's defaults). Expected: a
// request whose SKU, customer and key are valid keys, whose quantity and limit are in range
// and whose hold is longer than 0; or Error(65). Defects: a crash, UB, an invalid request
// accepted, any other exception or exit code.
#include "fuzz_support.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/keys.hpp"
#include "stock.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  static JsonParser parser;
  ParseOutcome parsed = parser.parse_object(fuzz::text_of(data, size));
  if (!parsed.value) return 0;
  stock::ReserveRequest defaults;
  defaults.hold = stock::default_hold;
  try {
    stock::ReserveRequest request = stock::request_from_record(*parsed.value, defaults);
    fuzz::require(is_valid_key(request.sku));
    fuzz::require(!request.customer || is_valid_key(*request.customer));
    fuzz::require(!request.key || is_valid_key(*request.key));
    fuzz::require(request.quantity >= 1 && request.quantity <= stock::max_quantity);
    fuzz::require(request.limit_per_customer >= 0 &&
                  request.limit_per_customer <= stock::max_quantity);
    fuzz::require(request.hold > Duration::zero());
  } catch (const Error& error) {
    fuzz::require(error.code() == exit_code::data);
  }
  return 0;
}
