// The stock state: per SKU its counts (total = available + held + sold, a CHECK of the table,
// so no statement can break it) and the holds, which are kept after they end (committed,
// released, expired) so that a retried --key finds its hold and a customer's purchases count
// towards its limit.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/clock.hpp"
#include "sluice/db.hpp"
#include "sluice/names.hpp"

namespace sluice::stock {

struct Item {
  std::string sku;
  std::int64_t total = 0;
  std::int64_t available = 0;
  std::int64_t held = 0;
  std::int64_t sold = 0;
};

// A hold's life: held until committed (sold), released (back to available) or expired (back
// to available, by `expire`, or lazily by the next reserve or commit of its SKU). A hold
// stored as held whose expiry has passed is expired already: nothing can commit it.
enum class HoldState { held, committed, released, expired };
inline constexpr NameTable<HoldState, 4> hold_state_names({{{"held", HoldState::held},
                                                            {"committed", HoldState::committed},
                                                            {"released", HoldState::released},
                                                            {"expired", HoldState::expired}}});

struct Hold {
  std::string id;  // "SKU:N", N counting the SKU's holds from 1
  std::string sku;
  std::int64_t quantity = 0;
  std::optional<std::string> customer;
  std::optional<std::string> key;
  Instant created;
  Instant expires;
  HoldState state = HoldState::held;
};

struct ReserveRequest {
  std::string sku;
  std::int64_t quantity = 1;
  Duration hold{};
  std::optional<std::string> customer;
  std::int64_t limit_per_customer = 0;  // 0: no limit
  std::optional<std::string> key;
};

enum class ReserveOutcome {
  held,          // a new hold
  replayed,      // the hold an earlier request with the same key made (nothing changed)
  sold_out,      // fewer than the quantity available
  over_limit,    // the customer's live holds and purchases plus this would pass its limit
  unknown_sku,   // no such SKU
  key_conflict,  // the key was used for a request for another SKU, quantity or customer
};

struct Reservation {
  ReserveOutcome outcome = ReserveOutcome::held;
  Hold hold;                      // held, replayed, key_conflict (the earlier hold)
  std::int64_t available = 0;     // sold_out: what was left
  std::int64_t customer_has = 0;  // over_limit: the customer's held and bought units
};

// What commit or release did: `changed` when this call settled the hold; otherwise the hold
// as it was (its state tells why), or no hold at all (unknown).
struct Settlement {
  std::optional<Hold> hold;
  bool changed = false;
};

struct Expiry {
  std::int64_t holds = 0;
  std::int64_t quantity = 0;
};

// One SKU's counts next to what its holds add up to: `stock check`.
struct Audit {
  Item item;
  std::int64_t live_held = 0;       // quantities of holds stored as held
  std::int64_t committed_sold = 0;  // quantities of committed holds
  [[nodiscard]] bool consistent() const {
    return item.available + item.held + item.sold == item.total && item.available >= 0 &&
           item.held == live_held && item.sold == committed_sold;
  }
};

// Where stock keeps its state: SQLite or PostgreSQL (SqlStore), or Redis (RedisStore). The same
// operations, outcomes and invariant on each; each operation is atomic.
class Store {
 public:
  Store() = default;
  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The clock for this state: `requested` (--now, or the host's clock), or on PostgreSQL the
  // server's clock unless --now fixed it.
  virtual Clock clock(const Clock& requested) = 0;

  // Makes `total` the SKU's total (creating it): available becomes total - held - sold.
  // Error(65) when held and sold together exceed `total`; nothing changes then.
  virtual Item set(std::string_view sku, std::int64_t total) = 0;
  // Restocks: total and available grow by `quantity`. Error(65) for an unknown SKU.
  virtual Item add(std::string_view sku, std::int64_t quantity) = 0;

  // One SKU (empty when unknown), or every SKU in order when `sku` is empty.
  virtual std::vector<Item> items(std::string_view sku) = 0;
  // The SKUs of `skus` that do not exist.
  virtual std::vector<std::string> unknown_skus(std::span<const std::string> skus) = 0;

  // The requests in order, atomically: each SKU's expired holds go back to available first,
  // then the check-and-decrement of each request.
  virtual std::vector<Reservation> reserve(std::span<const ReserveRequest> requests,
                                           Instant now) = 0;

  virtual Settlement commit(std::string_view hold, Instant now) = 0;
  virtual Settlement release(std::string_view hold, Instant now) = 0;
  // Every SKU's expired holds back to available.
  virtual Expiry expire(Instant now) = 0;

  // The holds of one SKU, or all, in SKU and hold-number order (a hold stored as held whose
  // expiry has passed is reported expired).
  virtual std::vector<Hold> holds(std::string_view sku, Instant now) = 0;
  virtual std::vector<Audit> audit() = 0;
};

class SqlStore final : public Store {
 public:
  SqlStore(const std::string& location, db::OpenOptions options);

  db::Database& database() { return database_; }
  Clock clock(const Clock& requested) override { return database_.clock(requested); }
  Item set(std::string_view sku, std::int64_t total) override;
  Item add(std::string_view sku, std::int64_t quantity) override;
  std::vector<Item> items(std::string_view sku) override;
  std::vector<std::string> unknown_skus(std::span<const std::string> skus) override;
  std::vector<Reservation> reserve(std::span<const ReserveRequest> requests, Instant now) override;
  Settlement commit(std::string_view hold, Instant now) override;
  Settlement release(std::string_view hold, Instant now) override;
  Expiry expire(Instant now) override;
  std::vector<Hold> holds(std::string_view sku, Instant now) override;
  std::vector<Audit> audit() override;

 private:
  std::optional<Hold> find_hold(std::string_view column, std::string_view value);
  std::optional<Item> lock_item(std::string_view sku);
  std::set<std::string> lock_items(std::span<const std::string> skus);
  void lock_keys(std::span<const ReserveRequest> requests);
  Expiry expire_sku(std::string_view sku, Instant now);
  Reservation reserve_one(const ReserveRequest& request, Instant now,
                          const std::set<std::string>& existing);
  std::optional<std::int64_t> take_units(const ReserveRequest& request, Instant now);
  db::Database database_;
};

// The state on a Redis server (redis://HOST:PORT/DB or unix:///PATH, see redis.hpp): every
// operation one Lua script, run atomically by the server. The clock is the caller's.
std::unique_ptr<Store> open_redis_store(const std::string& url, Duration timeout);

}  // namespace sluice::stock
