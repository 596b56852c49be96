// The lock state: per name a high-water mark of the fencing tokens ever handed out (never
// deleted, so a token is never handed out twice, across expiry, break and restarts) and the
// highest token `lock fence` accepted; the live leases (holders); the record of breaks; and
// what waiting processes wait for (`lock waits`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/clock.hpp"
#include "sluice/db.hpp"

namespace sluice::lock {

// Exclusive: one holder. Shared: any number of shared holders and no exclusive one.
enum class Mode { exclusive, shared };
std::string_view mode_name(Mode mode);

struct Holder {
  std::string name;
  std::int64_t token = 0;
  Mode mode = Mode::exclusive;
  std::string owner;
  Instant acquired_at;
  Instant expires_at;
};

struct AcquireRequest {
  std::vector<std::string> names;  // canonical: sorted, no duplicates
  Mode mode = Mode::exclusive;
  std::string owner;
  Duration ttl{};
};

// All of the names, or none: the leases taken, or the live holders that stand in the way.
struct Acquisition {
  std::vector<Holder> granted;   // in the order of the request's names
  std::vector<Holder> blocking;  // empty when granted
  [[nodiscard]] bool succeeded() const { return blocking.empty(); }
};

// The outcome of a fence check: accepted (and recorded) when the token was handed out and is
// at least the highest seen for the name.
struct FenceResult {
  bool accepted = false;
  std::int64_t highest = 0;     // after the check
  std::int64_t last_token = 0;  // the name's high-water mark: a larger token was never issued
  [[nodiscard]] bool never_issued(std::int64_t token) const { return token > last_token; }
};

struct NameStatus {
  std::string name;
  std::int64_t last_token = 0;  // the high-water mark
  std::int64_t fenced = 0;      // the highest token `fence` accepted
  std::vector<Holder> holders;  // live or expired-but-not-yet-cleared leases
  std::optional<std::string> broken_by;
  std::optional<Instant> broken_at;
};

struct Break {
  std::vector<std::int64_t> tokens;  // the leases removed
};

struct WaitEdge {
  std::string waiter;
  std::string name;
  std::string holder;  // the owner of a live lease on name
  std::int64_t token = 0;
};

// Sorts and deduplicates: every process takes several locks in this one order.
std::vector<std::string> canonical_names(std::vector<std::string> names);

class Store {
 public:
  Store(const std::string& location, db::OpenOptions options);

  db::Database& database() { return database_; }
  Clock clock(const Clock& requested) { return database_.clock(requested); }

  // In one transaction: clears the expired leases of the names, then takes a lease with a
  // new token on each, unless a live lease conflicts with the mode on any of them.
  Acquisition acquire(const AcquireRequest& request, Instant now);

  // Extends a live lease to `expires_at`. False (nothing changed) when `token` no longer holds
  // `name`: released, broken, or expired (once expired a lease may have been taken over).
  bool renew(std::string_view name, std::int64_t token, Instant now, Instant expires_at);

  // Removes the lease. False when `token` does not hold `name` at `now` (nothing changed): an
  // expired lease is no longer held, even before another process takes the lock.
  bool release(std::string_view name, std::int64_t token, Instant now);

  // Removes every lease of `name` and records who broke it and when.
  Break break_lock(std::string_view name, std::string_view by, Instant now);

  // Accepts `token` when it is at least the highest accepted for `name` and no larger than the
  // last token handed out, and records it; changes nothing otherwise.
  FenceResult fence(std::string_view name, std::int64_t token);

  // One name, or every name ever used (sorted) when `name` is empty.
  std::vector<NameStatus> status(std::string_view name);

  // Records (or refreshes) that `waiter` waits for `name`, until `expires_at`.
  void record_wait(std::string_view waiter, std::string_view name, Instant now, Instant expires_at);
  void forget_wait(std::string_view waiter);

  // The waits-for graph: who waits for a name whose live lease whom holds.
  std::vector<WaitEdge> waits(Instant now);

 private:
  std::vector<Holder> holders_of(std::string_view name);
  db::Database database_;
};

}  // namespace sluice::lock
