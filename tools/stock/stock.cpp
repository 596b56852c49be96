// The commands: set, add, show, list, reserve (one request or a batch), commit, release,
// expire, check.
#include "stock.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/json.hpp"
#include "sluice/keys.hpp"

namespace sluice::stock {
namespace {

JsonValue optional_string(const std::optional<std::string>& text) {
  return text ? JsonValue::string(*text) : JsonValue::null();
}

// The line of a hold: what reserve, commit, release and list print.
JsonValue hold_record(const Hold& hold) {
  return JsonValue::object({
      {"hold", JsonValue::string(hold.id)},
      {"sku", JsonValue::string(hold.sku)},
      {"quantity", JsonValue::integer(hold.quantity)},
      {"expires", JsonValue::string(format_instant(hold.expires))},
      {"state", JsonValue::string(std::string(hold_state_names.name(hold.state)))},
      {"customer", optional_string(hold.customer)},
      {"key", optional_string(hold.key)},
  });
}

// The line of a refused request: the same keys, no hold, the reason as its state.
JsonValue refusal_record(const ReserveRequest& request, std::string_view reason) {
  return JsonValue::object({
      {"hold", JsonValue::null()},
      {"sku", JsonValue::string(request.sku)},
      {"quantity", JsonValue::integer(request.quantity)},
      {"expires", JsonValue::null()},
      {"state", JsonValue::string(std::string(reason))},
      {"customer", optional_string(request.customer)},
      {"key", optional_string(request.key)},
  });
}

JsonValue item_record(const Item& item) {
  return JsonValue::object({
      {"sku", JsonValue::string(item.sku)},
      {"total", JsonValue::integer(item.total)},
      {"available", JsonValue::integer(item.available)},
      {"held", JsonValue::integer(item.held)},
      {"sold", JsonValue::integer(item.sold)},
  });
}

// What one reservation prints, its status and (for a refusal) the message on stderr.
struct Answer {
  JsonValue record;
  int status = exit_code::success;
  std::string message;
};

Answer answer(const ReserveRequest& request, const Reservation& result) {
  switch (result.outcome) {
    case ReserveOutcome::held:
      return {hold_record(result.hold), exit_code::success, {}};
    case ReserveOutcome::replayed:
      if (result.hold.state == HoldState::held || result.hold.state == HoldState::committed) {
        return {hold_record(result.hold), exit_code::success, {}};
      }
      return {hold_record(result.hold), hold_refused_status,
              fmt::format("key '{}' made hold '{}', which is {}: reserve again with a new key",
                          *request.key, result.hold.id, hold_state_names.name(result.hold.state))};
    case ReserveOutcome::sold_out:
      return {refusal_record(request, "sold_out"), sold_out_status,
              fmt::format("'{}' is sold out: {} requested, {} available", request.sku,
                          request.quantity, result.available)};
    case ReserveOutcome::over_limit:
      return {refusal_record(request, "over_limit"), over_limit_status,
              fmt::format("customer '{}' has {} of '{}' held or bought; {} more would pass the "
                          "limit of {}",
                          *request.customer, result.customer_has, request.sku, request.quantity,
                          request.limit_per_customer)};
    case ReserveOutcome::unknown_sku:
      return {refusal_record(request, "unknown_sku"), exit_code::data,
              fmt::format("unknown SKU '{}' (create it with 'stock set')", request.sku)};
    case ReserveOutcome::key_conflict:
      break;
  }
  const Hold& earlier = result.hold;
  return {refusal_record(request, "key_conflict"), exit_code::data,
          fmt::format("key '{}' was used for another request (hold '{}': {} of '{}'{}); nothing "
                      "changed",
                      *request.key, earlier.id, earlier.quantity, earlier.sku,
                      earlier.customer ? fmt::format(" for '{}'", *earlier.customer) : "")};
}

// The text of a string field, or nullopt when it is missing or null.
std::optional<std::string_view> optional_field(const JsonValue& record, std::string_view name) {
  FieldView field = field_in(record, name);
  if (!field.present || field.kind == JsonValue::Kind::null) return std::nullopt;
  return string_in_field(field, name);
}

// A name from a line: the key rule, as a data error (65) rather than a usage one.
std::optional<std::string> name_field(const JsonValue& record, std::string_view name) {
  std::optional<std::string_view> text = optional_field(record, name);
  if (!text) return std::nullopt;
  if (!is_valid_key(*text)) {
    throw Error(exit_code::data,
                fmt::format("field '{}': '{}' is not 1 to {} printable ASCII characters without "
                            "spaces",
                            name, *text, max_key_length));
  }
  return std::string(*text);
}

void print_line(OutputStream& out, const JsonValue& record) {
  out.write_line(to_json(record));
}

int refuse_hold(std::string_view hold, const Settlement& settlement, std::string_view wanted) {
  if (!settlement.hold) {
    warn(fmt::format("unknown hold '{}'; nothing changed", hold));
  } else {
    warn(fmt::format("hold '{}' is {}, so it cannot be {}; nothing changed", hold,
                     hold_state_names.name(settlement.hold->state), wanted));
  }
  return hold_refused_status;
}

}  // namespace

void validate_name(std::string_view what, std::string_view name) {
  validate_key(what, name);
}

void validate_hold(std::string_view hold) {
  validate_key("hold", hold);
  std::size_t colon = hold.rfind(':');
  bool numbered = colon != std::string_view::npos && colon > 0 && colon + 1 < hold.size() &&
                  std::all_of(hold.begin() + static_cast<std::ptrdiff_t>(colon) + 1, hold.end(),
                              [](char c) { return c >= '0' && c <= '9'; });
  if (!numbered) {
    throw Error(exit_code::usage,
                fmt::format("hold: '{}' is not a hold (SKU:N, as reserve prints it)", hold));
  }
}

int set(Store& store, std::string_view sku, std::int64_t total, OutputStream& out) {
  print_line(out, item_record(store.set(sku, total)));
  return exit_code::success;
}

int add(Store& store, std::string_view sku, std::int64_t quantity, OutputStream& out) {
  print_line(out, item_record(store.add(sku, quantity)));
  return exit_code::success;
}

int show(Store& store, std::string_view sku, Format format, OutputStream& out) {
  std::vector<Item> items = store.items(sku);
  if (items.empty() && !sku.empty()) {
    throw Error(exit_code::data, fmt::format("unknown SKU '{}'", sku));
  }
  RecordPrinter printer(out, format);
  for (const Item& item : items) printer.print(item_record(item));
  printer.finish();
  return exit_code::success;
}

int list(Store& store, const Clock& clock, std::string_view sku, Format format, OutputStream& out) {
  RecordPrinter printer(out, format);
  for (const Hold& hold : store.holds(sku, clock.now())) printer.print(hold_record(hold));
  printer.finish();
  return exit_code::success;
}

int reserve(Store& store, const Clock& clock, const ReserveRequest& request, OutputStream& out) {
  std::vector<Reservation> results = store.reserve({&request, 1}, clock.now());
  Answer result = answer(request, results.front());
  if (result.status == exit_code::data) throw Error(result.status, result.message);
  print_line(out, result.record);
  if (!result.message.empty()) warn(result.message);
  return result.status;
}

ReserveRequest request_from_record(const JsonValue& record, const ReserveRequest& defaults) {
  ReserveRequest request = defaults;
  std::optional<std::string> sku = name_field(record, "sku");
  if (!sku) throw Error(exit_code::data, "field 'sku' is missing");
  request.sku = std::move(*sku);
  if (field_in(record, "quantity").present) {
    request.quantity =
        whole_number_in_field(field_in(record, "quantity"), "quantity", 1, max_quantity);
  }
  if (std::optional<std::string_view> hold = optional_field(record, "hold")) {
    request.hold =
        with_context(exit_code::data, "field 'hold'", [&] { return parse_duration(*hold); });
    if (request.hold <= Duration::zero()) {
      throw Error(exit_code::data, "field 'hold': must be longer than 0");
    }
  }
  request.customer = name_field(record, "customer");
  if (field_in(record, "limit_per_customer").present) {
    request.limit_per_customer = whole_number_in_field(field_in(record, "limit_per_customer"),
                                                       "limit_per_customer", 1, max_quantity);
  }
  request.key = name_field(record, "key");
  return request;
}

int reserve_batch(Store& store, const Clock& clock, const BatchOptions& options,
                  OutputStream& out) {
  JsonlReader reader(options.inputs, options.input);
  std::vector<ReserveRequest> requests;
  std::vector<std::string> where;
  while (std::optional<Record> record = reader.next()) {
    try {
      requests.push_back(request_from_record(record->value, options.defaults));
      where.push_back(reader.location_of(reader.current_input(), record->line));
    } catch (const Error& error) {
      if (error.code() != exit_code::data) throw;
      reader.reject(*record, error.what());
    }
  }
  std::vector<std::string> skus;
  for (const ReserveRequest& request : requests) skus.push_back(request.sku);
  std::sort(skus.begin(), skus.end());
  skus.erase(std::unique(skus.begin(), skus.end()), skus.end());
  std::vector<std::string> unknown = store.unknown_skus(skus);
  if (!unknown.empty()) {
    for (std::size_t index = 0; index < requests.size(); ++index) {
      if (requests[index].sku == unknown.front()) {
        throw Error(exit_code::data,
                    fmt::format("unknown SKU '{}' (create it with 'stock set'); nothing changed",
                                unknown.front()),
                    where[index]);
      }
    }
  }
  int status = reader.skipped() > 0 ? exit_code::definite_no : exit_code::success;
  for (std::size_t start = 0; start < requests.size(); start += batch_group) {
    std::size_t count = std::min(batch_group, requests.size() - start);
    std::span<const ReserveRequest> group(requests.data() + start, count);
    // Reported only once the group's transaction committed.
    std::vector<Reservation> results = store.reserve(group, clock.now());
    for (std::size_t index = 0; index < count; ++index) {
      Answer result = answer(group[index], results[index]);
      print_line(out, result.record);
      if (result.status != exit_code::success) status = exit_code::definite_no;
    }
  }
  return status;
}

int commit(Store& store, const Clock& clock, std::string_view hold, OutputStream& out) {
  Settlement settlement = store.commit(hold, clock.now());
  bool done = settlement.hold && settlement.hold->state == HoldState::committed;
  if (!done) return refuse_hold(hold, settlement, "committed");
  print_line(out, hold_record(*settlement.hold));
  return exit_code::success;
}

int release(Store& store, const Clock& clock, std::string_view hold, OutputStream& out) {
  Settlement settlement = store.release(hold, clock.now());
  // An expired hold's units are back already: releasing it is what the caller wanted.
  bool done = settlement.hold && (settlement.hold->state == HoldState::released ||
                                  settlement.hold->state == HoldState::expired);
  if (!done) return refuse_hold(hold, settlement, "released");
  print_line(out, hold_record(*settlement.hold));
  return exit_code::success;
}

int expire(Store& store, const Clock& clock, OutputStream& out) {
  Expiry expiry = store.expire(clock.now());
  out.write_line(ObjectWriter()
                     .add_int("expired", expiry.holds)
                     .add_int("quantity", expiry.quantity)
                     .finish());
  return exit_code::success;
}

int check(Store& store, Format format, OutputStream& out) {
  RecordPrinter printer(out, format);
  int status = exit_code::success;
  for (const Audit& audit : store.audit()) {
    const Item& item = audit.item;
    printer.print(JsonValue::object({
        {"sku", JsonValue::string(item.sku)},
        {"total", JsonValue::integer(item.total)},
        {"available", JsonValue::integer(item.available)},
        {"held", JsonValue::integer(item.held)},
        {"sold", JsonValue::integer(item.sold)},
        {"holds_held", JsonValue::integer(audit.live_held)},
        {"holds_committed", JsonValue::integer(audit.committed_sold)},
        {"consistent", JsonValue::boolean(audit.consistent())},
    }));
    if (!audit.consistent()) {
      warn(
          fmt::format("'{}' is inconsistent: total {}, available {}, held {} (holds {}), sold {} "
                      "(holds {})",
                      item.sku, item.total, item.available, item.held, audit.live_held, item.sold,
                      audit.committed_sold));
      status = exit_code::definite_no;
    }
  }
  printer.finish();
  return status;
}

}  // namespace sluice::stock
