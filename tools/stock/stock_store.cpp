#include "stock_store.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice::stock {
namespace {

// The CHECK on stock_items makes available + held + sold = total hold after every statement,
// whatever a bug or a crash does: a statement that would break it fails and rolls back.
constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE stock_items (
  sku TEXT NOT NULL PRIMARY KEY,
  total INTEGER NOT NULL CHECK (total >= 0),
  available INTEGER NOT NULL CHECK (available >= 0),
  held INTEGER NOT NULL CHECK (held >= 0),
  sold INTEGER NOT NULL CHECK (sold >= 0),
  last_hold INTEGER NOT NULL CHECK (last_hold >= 0),
  CHECK (available + held + sold = total)
) STRICT;
CREATE TABLE stock_holds (
  hold TEXT NOT NULL PRIMARY KEY,
  sku TEXT NOT NULL REFERENCES stock_items (sku),
  number INTEGER NOT NULL,
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  customer TEXT,
  request_key TEXT UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('held', 'committed', 'released', 'expired')),
  settled_at INTEGER
) STRICT;
CREATE INDEX stock_holds_live ON stock_holds (sku, expires_at) WHERE state = 'held';
CREATE INDEX stock_holds_customer ON stock_holds (sku, customer) WHERE customer IS NOT NULL;
CREATE INDEX stock_holds_number ON stock_holds (sku, number);
)sql";

constexpr std::array<std::string_view, 1> migrations{schema_v1};
constexpr db::Schema schema{migrations};

constexpr std::string_view hold_columns =
    "hold, sku, quantity, customer, request_key, created_at, expires_at, state";

db::OpenOptions open_options(db::OpenOptions options) {
  // FULL: a hold or a sale acknowledged to a buyer survives a power cut (it is money).
  options.synchronous = db::Synchronous::full;
  // Every buyer of a flash sale writes the same row: queue the writers fairly.
  options.serialize_writers = true;
  return options;
}

std::optional<std::string> optional_text(db::Statement& row, int column) {
  if (row.is_null(column)) return std::nullopt;
  return row.text(column);
}

Hold hold_from(db::Statement& row) {
  return Hold{row.text(0),
              row.text(1),
              row.integer(2),
              optional_text(row, 3),
              optional_text(row, 4),
              instant_from_micros(row.integer(5)),
              instant_from_micros(row.integer(6)),
              *hold_state_names.find(row.text(7))};
}

Item item_from(db::Statement& row) {
  return Item{row.text(0), row.integer(1), row.integer(2), row.integer(3), row.integer(4)};
}

bool same_request(const Hold& hold, const ReserveRequest& request) {
  return hold.sku == request.sku && hold.quantity == request.quantity &&
         hold.customer == request.customer;
}

}  // namespace

SqlStore::SqlStore(const std::string& location, db::OpenOptions options)
    : database_(location, open_options(options)) {
  db::migrate(database_, "stock", schema);
}

std::optional<Item> SqlStore::lock_item(std::string_view sku) {
  const std::string sql =
      "SELECT sku, total, available, held, sold FROM stock_items WHERE sku = ?1" +
      db::row_lock_clause(database_.backend(), db::RowLock::for_update);
  auto row = database_.query(sql, sku);
  if (!row.step()) return std::nullopt;
  return item_from(row.row());
}

// Locks the rows of `skus` (sorted, distinct) in that order, and returns those that exist: two
// batches that share SKUs queue instead of deadlocking. SQLite's writer already holds the one
// lock.
std::set<std::string> SqlStore::lock_items(std::span<const std::string> skus) {
  std::set<std::string> existing;
  if (database_.backend() == db::Backend::postgresql) {
    auto rows = database_.query(
        "SELECT sku FROM stock_items WHERE sku = ANY (?1::text[]) ORDER BY sku FOR UPDATE",
        db::postgresql_array(skus));
    while (rows.step()) existing.insert(rows->text(0));
    return existing;
  }
  for (const std::string& sku : skus) {
    auto row = database_.query("SELECT 1 FROM stock_items WHERE sku = ?1", sku);
    if (row.step()) existing.insert(sku);
  }
  return existing;
}

// On PostgreSQL, a transaction lock on each of the requests' --key values (in one order, before
// the SKUs' rows): a key is unique across SKUs, so two requests with one key for different SKUs
// hold no common row lock, and both would find the key unused and race to insert it (one of
// them failing on the unique index with a raw SQL error instead of being refused). SQLite has
// one writer already.
void SqlStore::lock_keys(std::span<const ReserveRequest> requests) {
  if (database_.backend() != db::Backend::postgresql) return;
  std::vector<std::string> keys;
  for (const ReserveRequest& request : requests) {
    if (request.key) keys.push_back(*request.key);
  }
  if (keys.empty()) return;
  auto row = database_.query(
      "SELECT count(pg_advisory_xact_lock(h)) FROM (SELECT DISTINCT "
      "hashtextextended('sluice-stock:' || k, 0) AS h FROM unnest(?1::text[]) AS k ORDER BY h) "
      "AS ordered",
      db::postgresql_array(keys));
  row.step();
}
Item SqlStore::set(std::string_view sku, std::int64_t total) {
  db::WriteTransaction transaction(database_);
  std::optional<Item> item = lock_item(sku);
  if (!item) {
    database_.execute(
        "INSERT INTO stock_items (sku, total, available, held, sold, last_hold) "
        "VALUES (?1, ?2, ?2, 0, 0, 0)",
        sku, total);
    transaction.commit();
    return Item{std::string(sku), total, total, 0, 0};
  }
  if (item->held + item->sold > total) {
    throw Error(exit_code::data,
                fmt::format("cannot set '{}' to {}: {} are held and {} sold (the total cannot be "
                            "less than {})",
                            sku, total, item->held, item->sold, item->held + item->sold));
  }
  database_.execute(
      "UPDATE stock_items SET total = ?2, available = ?2 - held - sold WHERE sku = ?1", sku, total);
  transaction.commit();
  item->available = total - item->held - item->sold;
  item->total = total;
  return *item;
}

Item SqlStore::add(std::string_view sku, std::int64_t quantity) {
  db::WriteTransaction transaction(database_);
  std::optional<Item> item = lock_item(sku);
  if (!item) {
    throw Error(exit_code::data, fmt::format("unknown SKU '{}' (create it with 'stock set')", sku));
  }
  database_.execute(
      "UPDATE stock_items SET total = total + ?2, available = available + ?2 WHERE sku = ?1", sku,
      quantity);
  transaction.commit();
  item->total += quantity;
  item->available += quantity;
  return *item;
}

std::vector<Item> SqlStore::items(std::string_view sku) {
  std::vector<Item> result;
  db::ReadTransaction transaction(database_);
  auto rows = database_.query(
      "SELECT sku, total, available, held, sold FROM stock_items WHERE ?1 = '' OR sku = ?1 "
      "ORDER BY sku",
      sku);
  while (rows.step()) result.push_back(item_from(rows.row()));
  return result;
}

std::vector<std::string> SqlStore::unknown_skus(std::span<const std::string> skus) {
  std::vector<std::string> unknown;
  db::ReadTransaction transaction(database_);
  for (const std::string& sku : skus) {
    auto row = database_.query("SELECT 1 FROM stock_items WHERE sku = ?1", sku);
    if (!row.step()) unknown.push_back(sku);
  }
  return unknown;
}

std::optional<Hold> SqlStore::find_hold(std::string_view column, std::string_view value) {
  // `column` is one of two fixed names, never user text.
  auto row = database_.query(
      fmt::format("SELECT {} FROM stock_holds WHERE {} = ?1", hold_columns, column), value);
  if (!row.step()) return std::nullopt;
  return hold_from(row.row());
}

// Within a write transaction holding the SKU's row.
Expiry SqlStore::expire_sku(std::string_view sku, Instant now) {
  Expiry expiry;
  {
    auto rows = database_.query(
        "UPDATE stock_holds SET state = 'expired', settled_at = expires_at "
        "WHERE sku = ?1 AND state = 'held' AND expires_at <= ?2 RETURNING quantity",
        sku, micros(now));
    while (rows.step()) {
      ++expiry.holds;
      expiry.quantity += rows->integer(0);
    }
  }
  if (expiry.quantity > 0) {
    database_.execute(
        "UPDATE stock_items SET available = available + ?2, held = held - ?2 WHERE sku = ?1", sku,
        expiry.quantity);
  }
  return expiry;
}

Reservation SqlStore::reserve_one(const ReserveRequest& request, Instant now,
                                  const std::set<std::string>& existing) {
  Reservation result;
  if (!existing.contains(request.sku)) {
    result.outcome = ReserveOutcome::unknown_sku;
    return result;
  }
  // After the SKU's lock: a retry racing its first try waits for it and then finds its hold.
  if (request.key) {
    if (std::optional<Hold> earlier = find_hold("request_key", *request.key)) {
      result.outcome =
          same_request(*earlier, request) ? ReserveOutcome::replayed : ReserveOutcome::key_conflict;
      result.hold = std::move(*earlier);
      if (result.hold.state == HoldState::held && result.hold.expires <= now) {
        result.hold.state = HoldState::expired;
      }
      return result;
    }
  }
  if (request.customer && request.limit_per_customer > 0) {
    auto row = database_.query(
        "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM stock_holds "
        "WHERE sku = ?1 AND customer = ?2 AND (state = 'committed' OR "
        "(state = 'held' AND expires_at > ?3))",
        request.sku, *request.customer, micros(now));
    row.step();
    result.customer_has = row->integer(0);
    if (result.customer_has + request.quantity > request.limit_per_customer) {
      result.outcome = ReserveOutcome::over_limit;
      return result;
    }
  }
  std::optional<std::int64_t> number = take_units(request, now);
  if (!number) {
    result.outcome = ReserveOutcome::sold_out;
    auto row = database_.query("SELECT available FROM stock_items WHERE sku = ?1", request.sku);
    if (row.step()) result.available = row->integer(0);
    return result;
  }
  result.hold = Hold{fmt::format("{}:{}", request.sku, *number),
                     request.sku,
                     request.quantity,
                     request.customer,
                     request.key,
                     now,
                     now + request.hold,
                     HoldState::held};
  return result;
}

// The check-and-decrement, one statement, so that no two buyers can take the same unit; then
// the hold's row. On PostgreSQL both are one statement (one round trip through pgbouncer);
// SQLite has no UPDATE in a WITH clause. The hold's number, or nullopt when sold out.
std::optional<std::int64_t> SqlStore::take_units(const ReserveRequest& request, Instant now) {
  std::int64_t expires = micros(now + request.hold);
  if (database_.backend() == db::Backend::postgresql) {
    auto row = database_.query(
        "WITH taken AS (UPDATE stock_items SET available = available - CAST(?2 AS BIGINT), "
        "held = held + CAST(?2 AS BIGINT), last_hold = last_hold + 1 "
        "WHERE sku = CAST(?1 AS TEXT) AND available >= CAST(?2 AS BIGINT) RETURNING last_hold) "
        "INSERT INTO stock_holds (hold, sku, number, quantity, customer, request_key, "
        "created_at, expires_at, state) SELECT CAST(?1 AS TEXT) || ':' || last_hold, "
        "CAST(?1 AS TEXT), last_hold, CAST(?2 AS BIGINT), CAST(?3 AS TEXT), CAST(?4 AS TEXT), "
        "CAST(?5 AS BIGINT), CAST(?6 AS BIGINT), 'held' FROM taken RETURNING number",
        request.sku, request.quantity, request.customer, request.key, micros(now), expires);
    if (!row.step()) return std::nullopt;
    return row->integer(0);
  }
  std::int64_t number = 0;
  {
    auto row = database_.query(
        "UPDATE stock_items SET available = available - ?2, held = held + ?2, "
        "last_hold = last_hold + 1 WHERE sku = ?1 AND available >= ?2 RETURNING last_hold",
        request.sku, request.quantity);
    if (!row.step()) return std::nullopt;
    number = row->integer(0);
  }
  database_.execute(
      "INSERT INTO stock_holds (hold, sku, number, quantity, customer, request_key, created_at, "
      "expires_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'held')",
      fmt::format("{}:{}", request.sku, number), request.sku, number, request.quantity,
      request.customer, request.key, micros(now), expires);
  return number;
}

std::vector<Reservation> SqlStore::reserve(std::span<const ReserveRequest> requests, Instant now) {
  std::vector<std::string> skus;
  for (const ReserveRequest& request : requests) skus.push_back(request.sku);
  std::sort(skus.begin(), skus.end());
  skus.erase(std::unique(skus.begin(), skus.end()), skus.end());
  std::vector<Reservation> results;
  results.reserve(requests.size());
  db::WriteTransaction transaction(database_);
  lock_keys(requests);
  std::set<std::string> existing = lock_items(skus);
  // Expired holds go back first, so that no sweeper is needed for them to be sold again.
  for (const std::string& sku : existing) expire_sku(sku, now);
  for (const ReserveRequest& request : requests) {
    results.push_back(reserve_one(request, now, existing));
  }
  transaction.commit();
  return results;
}

Settlement SqlStore::commit(std::string_view hold, Instant now) {
  Settlement result;
  db::WriteTransaction transaction(database_);
  result.hold = find_hold("hold", hold);
  if (!result.hold) return result;
  // The SKU's row first, as reserve takes it: no deadlock between the two on a server.
  lock_item(result.hold->sku);
  expire_sku(result.hold->sku, now);
  result.hold = find_hold("hold", hold);
  if (result.hold->state == HoldState::held) {
    database_.execute("UPDATE stock_holds SET state = 'committed', settled_at = ?2 WHERE hold = ?1",
                      hold, micros(now));
    database_.execute("UPDATE stock_items SET held = held - ?2, sold = sold + ?2 WHERE sku = ?1",
                      result.hold->sku, result.hold->quantity);
    result.hold->state = HoldState::committed;
    result.changed = true;
  }
  transaction.commit();
  return result;
}

Settlement SqlStore::release(std::string_view hold, Instant now) {
  Settlement result;
  db::WriteTransaction transaction(database_);
  result.hold = find_hold("hold", hold);
  if (!result.hold) return result;
  lock_item(result.hold->sku);
  expire_sku(result.hold->sku, now);
  result.hold = find_hold("hold", hold);
  if (result.hold->state == HoldState::held) {
    database_.execute("UPDATE stock_holds SET state = 'released', settled_at = ?2 WHERE hold = ?1",
                      hold, micros(now));
    database_.execute(
        "UPDATE stock_items SET held = held - ?2, available = available + ?2 WHERE sku = ?1",
        result.hold->sku, result.hold->quantity);
    result.hold->state = HoldState::released;
    result.changed = true;
  }
  transaction.commit();
  return result;
}

Expiry SqlStore::expire(Instant now) {
  std::vector<std::string> skus;
  {
    db::ReadTransaction transaction(database_);
    auto rows = database_.query(
        "SELECT DISTINCT sku FROM stock_holds WHERE state = 'held' AND expires_at <= ?1 "
        "ORDER BY sku",
        micros(now));
    while (rows.step()) skus.push_back(rows->text(0));
  }
  Expiry total;
  db::WriteTransaction transaction(database_);
  lock_items(skus);
  for (const std::string& sku : skus) {
    Expiry expiry = expire_sku(sku, now);
    total.holds += expiry.holds;
    total.quantity += expiry.quantity;
  }
  transaction.commit();
  return total;
}

std::vector<Hold> SqlStore::holds(std::string_view sku, Instant now) {
  std::vector<Hold> result;
  db::ReadTransaction transaction(database_);
  auto rows = database_.query(
      fmt::format("SELECT {} FROM stock_holds WHERE ?1 = '' OR sku = ?1 ORDER BY sku, number",
                  hold_columns),
      sku);
  while (rows.step()) {
    Hold hold = hold_from(rows.row());
    if (hold.state == HoldState::held && hold.expires <= now) hold.state = HoldState::expired;
    result.push_back(std::move(hold));
  }
  return result;
}

std::vector<Audit> SqlStore::audit() {
  std::vector<Audit> result;
  db::ReadTransaction transaction(database_);
  auto rows = database_.query(
      "SELECT i.sku, i.total, i.available, i.held, i.sold, "
      "CAST(COALESCE((SELECT SUM(quantity) FROM stock_holds h "
      "WHERE h.sku = i.sku AND h.state = 'held'), 0) AS BIGINT), "
      "CAST(COALESCE((SELECT SUM(quantity) FROM stock_holds h "
      "WHERE h.sku = i.sku AND h.state = 'committed'), 0) AS BIGINT) "
      "FROM stock_items i ORDER BY i.sku");
  while (rows.step()) {
    result.push_back(Audit{item_from(rows.row()), rows->integer(5), rows->integer(6)});
  }
  return result;
}

}  // namespace sluice::stock
