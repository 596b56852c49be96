// stock: inventory for flash sales that never oversells. Holds with expiry, idempotent
// reservations (--key), per-customer limits, on SQLite or PostgreSQL state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/clock.hpp"
#include "sluice/fdio.hpp"
#include "sluice/format.hpp"
#include "sluice/jsonl.hpp"
#include "stock_store.hpp"

namespace sluice::stock {

// Exit statuses of stock's own answers (docs/ARCHITECTURE.md, "Exit status"): sold out is the
// shared definite no (1).
inline constexpr int sold_out_status = 1;
// The customer's limit would be passed.
inline constexpr int over_limit_status = 3;
// commit or release of a hold that is unknown, or can no longer be settled that way (expired
// or released, for commit; committed, for release). Nothing changed.
inline constexpr int hold_refused_status = 4;

// The largest quantity or total: far from overflowing a sum of them.
inline constexpr std::int64_t max_quantity = 1'000'000'000'000;

// How long a hold lasts when --hold is not given.
inline constexpr Duration default_hold = std::chrono::minutes(10);
// Requests per transaction in batch mode: one commit (one sync) per group.
inline constexpr std::size_t batch_group = 1000;

// SKUs, customers and keys follow the toolkit's key rule. Error(2) naming `what` otherwise.
void validate_name(std::string_view what, std::string_view name);
// A hold id as reserve prints it ("SKU:N"). Error(2) otherwise.
void validate_hold(std::string_view hold);

int set(Store& store, std::string_view sku, std::int64_t total, OutputStream& out);
int add(Store& store, std::string_view sku, std::int64_t quantity, OutputStream& out);
int show(Store& store, std::string_view sku, Format format, OutputStream& out);
int list(Store& store, const Clock& clock, std::string_view sku, Format format, OutputStream& out);
int reserve(Store& store, const Clock& clock, const ReserveRequest& request, OutputStream& out);

// The defaults a batch line's missing fields take, and where the lines come from.
struct BatchOptions {
  ReserveRequest defaults;  // quantity, hold, limit_per_customer
  std::vector<std::string> inputs;
  InputOptions input;
};
// Reads every request first (a bad line, or an unknown SKU, is 65 before anything changes),
// then reserves them in groups of batch_group per transaction; one result line per request.
// 0 when every request got its hold, 1 when any was refused (the line says why).
int reserve_batch(Store& store, const Clock& clock, const BatchOptions& options, OutputStream& out);
int commit(Store& store, const Clock& clock, std::string_view hold, OutputStream& out);
int release(Store& store, const Clock& clock, std::string_view hold, OutputStream& out);
int expire(Store& store, const Clock& clock, OutputStream& out);
// Verifies every SKU's counts against its holds; 1 when any disagrees.
int check(Store& store, Format format, OutputStream& out);

// The batch line parser, for the fuzz target and tests: the request of one JSON line, missing
// fields from `defaults`. Error(65) naming the field otherwise.
ReserveRequest request_from_record(const JsonValue& record, const ReserveRequest& defaults);

}  // namespace sluice::stock
