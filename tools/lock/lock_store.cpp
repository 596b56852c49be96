#include "lock_store.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "sluice/names.hpp"

namespace sluice::lock {
namespace {

// lock_names.last_token is the high-water mark of each name's tokens: the row is never
// deleted, so the next token is always larger than every token handed out before.
constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE lock_names (
  name TEXT NOT NULL PRIMARY KEY,
  last_token INTEGER NOT NULL CHECK (last_token >= 0),
  fenced INTEGER NOT NULL CHECK (fenced >= 0)
) STRICT;
CREATE TABLE lock_holders (
  name TEXT NOT NULL,
  token INTEGER NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('exclusive', 'shared')),
  owner TEXT NOT NULL,
  acquired_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (name, token)
) STRICT;
CREATE TABLE lock_breaks (
  name TEXT NOT NULL,
  token INTEGER NOT NULL,
  owner TEXT NOT NULL,
  broken_by TEXT NOT NULL,
  broken_at INTEGER NOT NULL
) STRICT;
CREATE INDEX lock_breaks_by_name ON lock_breaks (name, broken_at);
CREATE TABLE lock_waits (
  waiter TEXT NOT NULL,
  name TEXT NOT NULL,
  since INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (waiter, name)
) STRICT;
)sql";

constexpr std::array<std::string_view, 1> migrations{schema_v1};
constexpr db::Schema schema{migrations};

constexpr NameTable<Mode, 2> mode_names({{{"exclusive", Mode::exclusive},
                                          {"shared", Mode::shared}}});

db::OpenOptions open_options(db::OpenOptions options) {
  // FULL: a grant is on disk before its token is handed out. The token's reader may be on
  // another machine (a storage service that remembers the highest token it saw): under NORMAL
  // a power cut could roll the count back and hand the same token to a new holder while that
  // resource still trusts the old holder's in-flight writes. strace counts three syncs per
  // `lock run` (the WAL at acquire and at release, its directory once); a try that finds the
  // lock held writes nothing and syncs nothing.
  options.synchronous = db::Synchronous::full;
  // Many processes poll for the same locks: queue the writers fairly.
  options.serialize_writers = true;
  // lock run is started thousands of times for two short writes each: keep the WAL between
  // runs rather than checkpoint and re-create it every time (more syncs per run); the WAL is
  // synced at each commit, so this costs no durability.
  options.checkpoint_on_close = false;
  return options;
}

bool conflicts(Mode wanted, Mode held) {
  return wanted == Mode::exclusive || held == Mode::exclusive;
}

}  // namespace

std::string_view mode_name(Mode mode) {
  return mode_names.name(mode);
}

std::vector<std::string> canonical_names(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Store::Store(const std::string& location, db::OpenOptions options)
    : database_(location, open_options(options)) {
  db::migrate(database_, "lock", schema);
}

std::vector<Holder> Store::holders_of(std::string_view name) {
  std::vector<Holder> holders;
  auto rows = database_.query(
      "SELECT name, token, mode, owner, acquired_at, expires_at FROM lock_holders "
      "WHERE name = ?1 ORDER BY token",
      name);
  while (rows.step()) {
    db::Statement& row = rows.row();
    holders.push_back(Holder{row.text(0), row.integer(1), *mode_names.find(row.text(2)),
                             row.text(3), instant_from_micros(row.integer(4)),
                             instant_from_micros(row.integer(5))});
  }
  return holders;
}

Acquisition Store::acquire(const AcquireRequest& request, Instant now) {
  const std::string lock_name = "SELECT last_token FROM lock_names WHERE name = ?1" +
                                db::row_lock_clause(database_.backend(), db::RowLock::for_update);
  Acquisition result;
  db::WriteTransaction transaction(database_);
  // Every process locks the rows of its names in the same (sorted) order: on a server two
  // acquisitions of overlapping sets queue instead of deadlocking.
  for (const auto& name : request.names) {
    database_.execute(
        "INSERT INTO lock_names (name, last_token, fenced) VALUES (?1, 0, 0) "
        "ON CONFLICT (name) DO NOTHING",
        name);
    database_.execute(lock_name, name);
    database_.execute("DELETE FROM lock_holders WHERE name = ?1 AND expires_at <= ?2", name,
                      micros(now));
    for (Holder& holder : holders_of(name)) {
      if (conflicts(request.mode, holder.mode)) result.blocking.push_back(std::move(holder));
    }
  }
  if (result.succeeded()) {
    for (const auto& name : request.names) {
      std::int64_t token = 0;
      {
        auto next = database_.query(
            "UPDATE lock_names SET last_token = last_token + 1 WHERE name = ?1 "
            "RETURNING last_token",
            name);
        next.step();
        token = next->integer(0);
      }
      Holder holder{name, token, request.mode, request.owner, now, now + request.ttl};
      database_.execute(
          "INSERT INTO lock_holders (name, token, mode, owner, acquired_at, expires_at) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
          name, token, mode_name(request.mode), request.owner, micros(now),
          micros(holder.expires_at));
      result.granted.push_back(std::move(holder));
    }
  }
  // A refusal commits too: the expired leases it cleared stay cleared.
  transaction.commit();
  return result;
}

bool Store::renew(std::string_view name, std::int64_t token, Instant now, Instant expires_at) {
  db::WriteTransaction transaction(database_);
  int changed = database_.execute(
      "UPDATE lock_holders SET expires_at = ?3 WHERE name = ?1 AND token = ?2 AND expires_at > ?4",
      name, token, micros(expires_at), micros(now));
  transaction.commit();
  return changed == 1;
}

bool Store::release(std::string_view name, std::int64_t token, Instant now) {
  db::WriteTransaction transaction(database_);
  int changed = database_.execute(
      "DELETE FROM lock_holders WHERE name = ?1 AND token = ?2 AND expires_at > ?3", name, token,
      micros(now));
  transaction.commit();
  return changed == 1;
}

Break Store::break_lock(std::string_view name, std::string_view by, Instant now) {
  Break result;
  db::WriteTransaction transaction(database_);
  // The leases recorded are exactly those deleted: on a server a lease granted between a
  // SELECT and the DELETE would otherwise be removed without a record.
  std::vector<std::pair<std::int64_t, std::string>> removed;
  {
    auto rows =
        database_.query("DELETE FROM lock_holders WHERE name = ?1 RETURNING token, owner", name);
    while (rows.step()) removed.emplace_back(rows->integer(0), rows->text(1));
  }
  std::sort(removed.begin(), removed.end());
  for (const auto& [token, owner] : removed) {
    database_.execute(
        "INSERT INTO lock_breaks (name, token, owner, broken_by, broken_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5)",
        name, token, owner, by, micros(now));
    result.tokens.push_back(token);
  }
  transaction.commit();
  return result;
}

FenceResult Store::fence(std::string_view name, std::int64_t token) {
  FenceResult result;
  db::WriteTransaction transaction(database_);
  {
    auto row = database_.query("SELECT last_token, fenced FROM lock_names WHERE name = ?1", name);
    if (row.step()) {
      result.last_token = row->integer(0);
      result.highest = row->integer(1);
    }
  }
  // A token never handed out is refused and not recorded: accepted, a mistyped or forged
  // high number would make the resource refuse every real holder until the count passed it.
  if (token > result.last_token) return result;
  // The pattern the man page gives for a resource's own table: one conditional UPDATE.
  result.accepted =
      database_.execute("UPDATE lock_names SET fenced = ?2 WHERE name = ?1 AND fenced <= ?2", name,
                        token) == 1;
  if (result.accepted) result.highest = token;
  transaction.commit();
  return result;
}

std::vector<NameStatus> Store::status(std::string_view name) {
  std::vector<NameStatus> result;
  db::ReadTransaction transaction(database_);
  {
    auto rows = database_.query(
        "SELECT name, last_token, fenced FROM lock_names WHERE ?1 = '' OR name = ?1 ORDER BY name",
        name);
    while (rows.step()) {
      result.push_back(NameStatus{rows->text(0), rows->integer(1), rows->integer(2), {}, {}, {}});
    }
  }
  for (NameStatus& entry : result) {
    entry.holders = holders_of(entry.name);
    auto last_break = database_.query(
        "SELECT broken_by, broken_at FROM lock_breaks WHERE name = ?1 "
        "ORDER BY broken_at DESC LIMIT 1",
        entry.name);
    if (last_break.step()) {
      entry.broken_by = last_break->text(0);
      entry.broken_at = instant_from_micros(last_break->integer(1));
    }
  }
  return result;
}

void Store::record_wait(std::string_view waiter, std::string_view name, Instant now,
                        Instant expires_at) {
  db::WriteTransaction transaction(database_);
  // The records of waiters that were killed (never forgotten, never refreshed) go here, so
  // that the table holds no more than the live waits.
  database_.execute("DELETE FROM lock_waits WHERE expires_at <= ?1", micros(now));
  database_.execute(
      "INSERT INTO lock_waits (waiter, name, since, expires_at) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (waiter, name) DO UPDATE SET expires_at = excluded.expires_at",
      waiter, name, micros(now), micros(expires_at));
  transaction.commit();
}

void Store::forget_wait(std::string_view waiter) {
  db::WriteTransaction transaction(database_);
  database_.execute("DELETE FROM lock_waits WHERE waiter = ?1", waiter);
  transaction.commit();
}

std::vector<WaitEdge> Store::waits(Instant now) {
  std::vector<WaitEdge> edges;
  db::ReadTransaction transaction(database_);
  auto rows = database_.query(
      "SELECT w.waiter, w.name, h.owner, h.token FROM lock_waits w "
      "JOIN lock_holders h ON h.name = w.name "
      "WHERE w.expires_at > ?1 AND h.expires_at > ?1 ORDER BY w.waiter, w.name, h.token",
      micros(now));
  while (rows.step()) {
    edges.push_back(WaitEdge{rows->text(0), rows->text(1), rows->text(2), rows->integer(3)});
  }
  return edges;
}

}  // namespace sluice::lock
