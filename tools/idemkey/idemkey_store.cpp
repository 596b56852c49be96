#include "idemkey_store.hpp"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "sluice/crypto.hpp"
#include "sluice/error.hpp"
#include "sluice/keys.hpp"

namespace sluice::idemkey {
namespace {

constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE idemkey_keys (
  key_hash INTEGER NOT NULL,
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),
  token TEXT NOT NULL,
  attempt INTEGER NOT NULL CHECK (attempt >= 1),
  created_at INTEGER NOT NULL,
  lease_until INTEGER,
  ttl INTEGER NOT NULL,
  completed_at INTEGER,
  expires_at INTEGER,
  exit_status INTEGER,
  stdout BLOB,
  stderr BLOB
) STRICT;
CREATE INDEX idemkey_keys_by_hash ON idemkey_keys (key_hash);

)sql";

// v2: whether the output of a completed key was kept (idemkey stores the exit status of a
// command that ran even when its output could not be kept).
constexpr std::string_view schema_v2 = R"sql(
ALTER TABLE idemkey_keys ADD COLUMN output_stored INTEGER NOT NULL DEFAULT 1
  CHECK (output_stored IN (0, 1));
)sql";

constexpr std::array<std::string_view, 2> migrations{schema_v1, schema_v2};

// The same schema on PostgreSQL, version for version, with a real primary key: several hosts
// claim keys at once, and the key's row lock (not one writer at a time, as in SQLite) is what
// serialises them.
constexpr std::string_view postgresql_v1 = R"sql(
CREATE TABLE idemkey_keys (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  key_hash BIGINT NOT NULL,
  fingerprint TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),
  token TEXT NOT NULL,
  attempt INTEGER NOT NULL CHECK (attempt >= 1),
  created_at BIGINT NOT NULL,
  lease_until BIGINT,
  ttl BIGINT NOT NULL,
  completed_at BIGINT,
  expires_at BIGINT,
  exit_status INTEGER,
  stdout BYTEA,
  stderr BYTEA,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idemkey_keys_by_expiry ON idemkey_keys (expires_at);
)sql";

constexpr std::string_view postgresql_v2 = R"sql(
ALTER TABLE idemkey_keys ADD COLUMN output_stored INTEGER NOT NULL DEFAULT 1
  CHECK (output_stored IN (0, 1));
)sql";

constexpr std::array<std::string_view, 2> postgresql_migrations{postgresql_v1, postgresql_v2};

constexpr db::Schema schema{migrations, postgresql_migrations};

// Deletes up to ?2 keys that expired at or before ?1.
constexpr db::Dialects delete_expired{
    "DELETE FROM idemkey_keys WHERE rowid IN (SELECT rowid FROM idemkey_keys "
    "WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2)",
    "DELETE FROM idemkey_keys WHERE ctid = ANY (ARRAY(SELECT ctid FROM idemkey_keys "
    "WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2 FOR UPDATE SKIP LOCKED))"};

constexpr std::string_view row_columns =
    "scope, key, fingerprint, state, token, attempt, created_at, lease_until, ttl, completed_at, "
    "expires_at, exit_status, coalesce(length(stdout), 0) + coalesce(length(stderr), 0), "
    "output_stored";

// Every statement about one key matches it like this, with ?1..?3 bound to key_hash(), the
// scope and the key: the index on the 8-byte hash is a quarter the size of one on the text, so
// a batch of random keys touches (and writes back) far fewer pages.
constexpr std::string_view key_match = "key_hash = ?1 AND scope = ?2 AND key = ?3";

std::optional<Instant> optional_instant(db::Statement& row, int column) {
  if (row.is_null(column)) return std::nullopt;
  return instant_from_micros(row.integer(column));
}

KeyRow read_row(db::Statement& row) {
  KeyRow result;
  result.scope = row.text(0);
  result.key = row.text(1);
  result.fingerprint = row.text(2);
  result.state = row.text(3) == "completed" ? KeyState::completed : KeyState::in_progress;
  result.token = row.text(4);
  result.attempt = static_cast<int>(row.integer(5));
  result.created_at = instant_from_micros(row.integer(6));
  result.lease_until = optional_instant(row, 7);
  result.ttl = Duration(row.integer(8));
  result.completed_at = optional_instant(row, 9);
  result.expires_at = optional_instant(row, 10);
  if (!row.is_null(11)) result.exit_status = static_cast<int>(row.integer(11));
  result.stored_bytes = row.is_null(12) ? 0 : row.integer(12);
  result.output_stored = row.integer(13) != 0;
  return result;
}

}  // namespace

std::string_view state_name(KeyState state) {
  return state == KeyState::completed ? "completed" : "in_progress";
}

std::string_view KeyRow::state_at(Instant now) const {
  return is_expired(now) ? "expired" : state_name(state);
}

Decision decide(const std::optional<KeyRow>& row, std::string_view fingerprint, Instant now,
                StalePolicy stale, Holder holder) {
  const Decision take = holder == Holder::alive ? Decision::still_running : Decision::proceed;
  if (!row) return take;
  if (row->is_expired(now)) return take;  // an expired key counts as new
  if (row->fingerprint != fingerprint) return Decision::conflict;
  if (row->state == KeyState::completed) return Decision::replay;
  if (row->lease_until && *row->lease_until > now) return Decision::busy;
  return stale == StalePolicy::steal ? take : Decision::stale_locked;
}

std::int64_t key_hash(std::string_view scope, std::string_view key) {
  // Stable across builds and platforms (it is stored). Collisions are harmless: every lookup
  // also compares the scope and the key.
  return static_cast<std::int64_t>(stable_hash({scope, key}));
}

std::string downstream_key(std::string_view scope, std::string_view key) {
  Sha256 hasher;
  hasher.update_framed("idemkey-downstream-v1");
  hasher.update_framed(scope);
  hasher.update_framed(key);
  return to_hex(hasher.finish()).substr(0, 32);
}

namespace {

// The caller chose must_exist and the busy timeout; the rest is this store's profile.
db::OpenOptions open_options(db::OpenOptions options) {
  options.synchronous = db::Synchronous::full;
  options.serialize_writers = true;
  // filter inserts keys in random order; a 64 MiB cache (allocated only as used) keeps the
  // key index in memory instead of re-reading pages for every batch.
  options.cache_kib = 64 * 1024;
  return options;
}

}  // namespace

Store::Store(const std::string& location, db::OpenOptions options)
    : database_(location, open_options(options)) {
  db::migrate(database_, "idemkey", schema);
}

std::optional<KeyRow> Store::find(std::string_view scope, std::string_view key, bool with_outputs,
                                  RowLock lock) {
  static const std::string sql =
      fmt::format("SELECT {}, stdout, stderr FROM idemkey_keys WHERE {}", row_columns, key_match);
  // On a server, the claim's transaction locks the row it decides on.
  static const std::string locking_sql =
      sql + db::row_lock_clause(db::Backend::postgresql, RowLock::for_update);
  bool locks = lock == RowLock::for_update && database_.backend() == db::Backend::postgresql;
  auto query = database_.query(locks ? locking_sql : sql, key_hash(scope, key), scope, key);
  if (!query.step()) return std::nullopt;
  KeyRow row = read_row(query.row());
  if (with_outputs) {
    row.stdout_bytes = std::string(query->blob(14));
    row.stderr_bytes = std::string(query->blob(15));
  }
  return row;
}

Claim Store::claim(const ClaimRequest& request, Instant now) {
  auto examine = [&](RowLock lock) {
    std::optional<KeyRow> existing = find(request.scope, request.key, false, lock);
    Claim result{decide(existing, request.fingerprint, now, request.stale, request.holder),
                 existing};
    if (result.decision == Decision::replay) result.row = find(request.scope, request.key, true);
    return result;
  };
  // Replays, conflicts and busy keys need no write: decide them under a read transaction, so
  // the common replay takes neither the writer lock nor SQLite's write lock.
  {
    db::ReadTransaction read(database_);
    Claim result = examine(RowLock::none);
    if (result.decision != Decision::proceed) return result;
  }
  // Decide again under the write lock (on a server, the row's lock): another process may have
  // claimed the key meanwhile.
  db::WriteTransaction transaction(database_);
  for (;;) {
    Claim result = examine(RowLock::for_update);
    if (result.decision != Decision::proceed) return result;
    if (write_claim(request, now, result)) {
      transaction.commit();
      return result;
    }
    // Only on a server: another host inserted the key after this one found none (there was no
    // row to lock). The insert waited for that host's transaction; look again.
  }
}

bool Store::write_claim(const ClaimRequest& request, Instant now, Claim& result) {
  const std::optional<KeyRow>& existing = result.row;
  KeyRow row;
  row.scope = request.scope;
  row.key = request.key;
  row.fingerprint = request.fingerprint;
  row.token = random_hex(16);
  // A stolen lease is the next attempt of the same request; an expired or new key starts over.
  bool stealing = existing && existing->state == KeyState::in_progress;
  row.attempt = stealing ? existing->attempt + 1 : 1;
  row.created_at = stealing ? existing->created_at : now;
  row.lease_until = now + request.lease;
  row.ttl = request.ttl;
  if (existing) {
    database_.execute(fmt::format("DELETE FROM idemkey_keys WHERE {}", key_match),
                      key_hash(row.scope, row.key), row.scope, row.key);
  }
  int inserted = database_.execute(
      "INSERT INTO idemkey_keys (key_hash, scope, key, fingerprint, state, token, attempt, "
      "created_at, lease_until, ttl) VALUES (?1, ?2, ?3, ?4, 'in_progress', ?5, ?6, ?7, ?8, ?9) "
      "ON CONFLICT DO NOTHING",
      key_hash(row.scope, row.key), row.scope, row.key, row.fingerprint, row.token, row.attempt,
      micros(row.created_at), micros(*row.lease_until), row.ttl.count());
  if (inserted != 1) return false;
  result.row = std::move(row);
  return true;
}

bool Store::complete(std::string_view scope, std::string_view key, std::string_view token,
                     int exit_status, std::string_view stdout_bytes, std::string_view stderr_bytes,
                     Instant now, OutputKept kept) {
  db::WriteTransaction transaction(database_);
  static const std::string sql = fmt::format(
      "UPDATE idemkey_keys SET state = 'completed', lease_until = NULL, completed_at = ?5, "
      "expires_at = ?5 + ttl, exit_status = ?6, stdout = ?7, stderr = ?8, output_stored = ?9 "
      "WHERE {} AND token = ?4 AND state = 'in_progress'",
      key_match);
  auto& statement = database_.statement(sql);
  db::Query update(statement);
  statement.bind(1, key_hash(scope, key));
  statement.bind(2, scope);
  statement.bind(3, key);
  statement.bind(4, token);
  statement.bind(5, micros(now));
  statement.bind(6, exit_status);
  const bool stored = kept == OutputKept::stored;
  statement.bind_blob(7, stored ? stdout_bytes : std::string_view());
  statement.bind_blob(8, stored ? stderr_bytes : std::string_view());
  statement.bind(9, stored ? 1 : 0);
  while (update.step()) {
  }
  bool completed = database_.changes() == 1;
  transaction.commit();
  return completed;
}

bool Store::renew(std::string_view scope, std::string_view key, std::string_view token,
                  Instant lease_until) {
  db::WriteTransaction transaction(database_);
  static const std::string sql = fmt::format(
      "UPDATE idemkey_keys SET lease_until = CASE WHEN lease_until > ?5 THEN lease_until ELSE ?5 "
      "END WHERE {} AND token = ?4 AND state = 'in_progress'",
      key_match);
  int changed =
      database_.execute(sql, key_hash(scope, key), scope, key, token, micros(lease_until));
  transaction.commit();
  return changed == 1;
}

bool Store::release(std::string_view scope, std::string_view key,
                    std::optional<std::string_view> token) {
  db::WriteTransaction transaction(database_);
  static const std::string sql = fmt::format(
      "DELETE FROM idemkey_keys WHERE {} AND (CAST(?4 AS TEXT) IS NULL OR token = ?4)", key_match);
  int changed = database_.execute(sql, key_hash(scope, key), scope, key, token);
  transaction.commit();
  return changed == 1;
}

std::int64_t Store::collect_garbage(Instant now, int batch) {
  batch = std::max(batch, 1);  // LIMIT 0 would delete nothing, forever
  std::int64_t deleted = 0;
  for (;;) {
    db::WriteTransaction transaction(database_);
    int changed = database_.execute(delete_expired.of(database_.backend()), micros(now), batch);
    transaction.commit();
    deleted += changed;
    if (changed < batch) return deleted;
  }
}

std::optional<std::string> Store::remember_if_new(std::string_view scope, std::string_view key,
                                                  std::string_view fingerprint, Instant now,
                                                  Duration ttl) {
  static const std::string find_sql = fmt::format(
      "SELECT fingerprint, expires_at IS NULL OR expires_at > ?4 FROM idemkey_keys WHERE {}",
      key_match);
  static const std::string delete_sql =
      fmt::format("DELETE FROM idemkey_keys WHERE {} AND expires_at <= ?4", key_match);
  const std::int64_t hash = key_hash(scope, key);
  bool expired = false;
  {
    auto query = database_.query(find_sql, hash, scope, key, micros(now));
    if (query.step()) {
      if (query->integer(1) != 0) return query->text(0);
      expired = true;
    }
  }
  if (expired) database_.execute(delete_sql, hash, scope, key, micros(now));
  // The caller's write transaction holds SQLite's one write lock: nobody records the key
  // between the look and the insert. (A server takes the batched path of remember_all.)
  database_.execute(
      "INSERT INTO idemkey_keys (key_hash, scope, key, fingerprint, state, token, attempt, "
      "created_at, ttl, completed_at, expires_at, exit_status) VALUES (?1, ?2, ?3, ?4, "
      "'completed', '', 1, ?5, ?6, ?5, ?5 + ?6, 0)",
      hash, scope, key, fingerprint, micros(now), ttl.count());
  return std::nullopt;
}

namespace {

// Inserts every key that is new, or replaces it when it expired, in the order given (so that
// concurrent batches lock keys in one order and never deadlock), and returns the keys written.
constexpr std::string_view remember_batch_sql = R"sql(
INSERT INTO idemkey_keys AS stored (key_hash, scope, key, fingerprint, state, token, attempt,
  created_at, ttl, completed_at, expires_at, exit_status)
SELECT key_hash, ?1, key, fingerprint, 'completed', '', 1, ?5::bigint, ?6::bigint, ?5::bigint,
  ?5::bigint + ?6::bigint, 0
FROM unnest(?2::bigint[], ?3::text[], ?4::text[]) WITH ORDINALITY
  AS given(key_hash, key, fingerprint, position)
ORDER BY position
ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'completed',
  token = '', attempt = 1, created_at = excluded.created_at, lease_until = NULL,
  ttl = excluded.ttl, completed_at = excluded.completed_at, expires_at = excluded.expires_at,
  exit_status = 0, stdout = NULL, stderr = NULL, output_stored = 1
WHERE stored.expires_at IS NOT NULL AND stored.expires_at <= ?5::bigint
RETURNING key
)sql";

}  // namespace

std::vector<std::optional<std::string>> Store::remember_all(std::string_view scope,
                                                            const std::vector<Sighting>& sightings,
                                                            Instant now, Duration ttl) {
  std::vector<std::optional<std::string>> answers;
  answers.reserve(sightings.size());
  if (database_.backend() == db::Backend::sqlite) {
    for (const Sighting& sighting : sightings) {
      answers.push_back(remember_if_new(scope, sighting.key, sighting.fingerprint, now, ttl));
    }
    return answers;
  }
  if (sightings.empty()) return answers;
  std::vector<std::string> hashes, keys, fingerprints;
  for (const Sighting& sighting : sightings) {
    hashes.push_back(std::to_string(key_hash(scope, sighting.key)));
    keys.emplace_back(sighting.key);
    fingerprints.emplace_back(sighting.fingerprint);
  }
  std::string key_array = db::postgresql_array(keys);
  std::unordered_set<std::string> written;
  {
    auto insert =
        database_.query(remember_batch_sql, scope, db::postgresql_array(hashes), key_array,
                        db::postgresql_array(fingerprints), micros(now), ttl.count());
    while (insert.step()) written.insert(insert->text(0));
  }
  std::unordered_map<std::string, std::string> live;
  if (written.size() < sightings.size()) {
    auto query = database_.query(
        "SELECT key, fingerprint FROM idemkey_keys WHERE scope = ?1 AND key = ANY (?2::text[])",
        scope, key_array);
    while (query.step()) live.emplace(query->text(0), query->text(1));
  }
  for (const Sighting& sighting : sightings) {
    std::string key(sighting.key);
    if (written.contains(key)) {
      answers.emplace_back(std::nullopt);
    } else {
      answers.emplace_back(live.at(key));
    }
  }
  return answers;
}

std::optional<std::string> Store::live_fingerprint(std::string_view scope, std::string_view key,
                                                   Instant now) {
  static const std::string sql = fmt::format(
      "SELECT fingerprint FROM idemkey_keys WHERE {} AND (expires_at IS NULL OR expires_at > ?4)",
      key_match);
  auto query = database_.query(sql, key_hash(scope, key), scope, key, micros(now));
  if (!query.step()) return std::nullopt;
  return query->text(0);
}

void Store::list(std::string_view scope, const std::function<void(const KeyRow&)>& visit) {
  static const std::string sql = fmt::format(
      "SELECT {} FROM idemkey_keys WHERE ?1 = '' OR scope = ?1 ORDER BY scope, key", row_columns);
  db::ReadTransaction read(database_);
  auto query = database_.query(sql, scope);
  while (query.step()) visit(read_row(query.row()));
}

}  // namespace sluice::idemkey
