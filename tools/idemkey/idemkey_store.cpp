#include "idemkey_store.hpp"

#include <array>

#include <fmt/format.h>

#include "sluice/crypto.hpp"
#include "sluice/error.hpp"
#include "sluice/jsonl.hpp"

namespace sluice::idemkey {
namespace {

constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE idemkey_keys (
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
  stderr BLOB,
  PRIMARY KEY (scope, key)
) STRICT;

)sql";

constexpr std::array<std::string_view, 1> migrations{schema_v1};

constexpr std::string_view row_columns =
    "scope, key, fingerprint, state, token, attempt, created_at, lease_until, ttl, completed_at, "
    "expires_at, exit_status, coalesce(length(stdout), 0) + coalesce(length(stderr), 0)";

std::int64_t micros(Instant instant) {
  return instant.time_since_epoch().count();
}
Instant instant_of(std::int64_t value) {
  return Instant(Duration(value));
}

std::optional<Instant> optional_instant(db::Statement& row, int column) {
  if (row.is_null(column)) return std::nullopt;
  return instant_of(row.integer(column));
}

KeyRow read_row(db::Statement& row) {
  KeyRow result;
  result.scope = row.text(0);
  result.key = row.text(1);
  result.fingerprint = row.text(2);
  result.state = row.text(3) == "completed" ? KeyState::completed : KeyState::in_progress;
  result.token = row.text(4);
  result.attempt = static_cast<int>(row.integer(5));
  result.created_at = instant_of(row.integer(6));
  result.lease_until = optional_instant(row, 7);
  result.ttl = Duration(row.integer(8));
  result.completed_at = optional_instant(row, 9);
  result.expires_at = optional_instant(row, 10);
  if (!row.is_null(11)) result.exit_status = static_cast<int>(row.integer(11));
  result.stored_bytes = row.is_null(12) ? 0 : row.integer(12);
  return result;
}

}  // namespace

std::string_view state_name(KeyState state) {
  return state == KeyState::completed ? "completed" : "in_progress";
}

Decision decide(const std::optional<KeyRow>& row, std::string_view fingerprint, Instant now,
                StalePolicy stale) {
  if (!row) return Decision::proceed;
  if (row->state == KeyState::completed && row->expires_at && *row->expires_at <= now) {
    return Decision::proceed;  // an expired key counts as new
  }
  if (row->fingerprint != fingerprint) return Decision::conflict;
  if (row->state == KeyState::completed) return Decision::replay;
  if (row->lease_until && *row->lease_until > now) return Decision::busy;
  return stale == StalePolicy::steal ? Decision::proceed : Decision::stale_locked;
}

bool is_valid_key(std::string_view key) {
  bool valid = !key.empty() && key.size() <= 255;
  for (char c : key) valid = valid && c >= 0x21 && c <= 0x7e;
  return valid;
}

void validate_key(std::string_view what, std::string_view key) {
  if (!is_valid_key(key)) {
    // Quoted as JSON so that control characters in the bad key do not reach the terminal.
    std::string quoted;
    append_json_string(quoted, key.substr(0, 300));
    throw Error(exit_code::usage,
                fmt::format("invalid {} {}: use 1 to 255 printable ASCII characters without "
                            "spaces",
                            what, quoted));
  }
}

std::string downstream_key(std::string_view scope, std::string_view key) {
  Sha256 hasher;
  hasher.update_framed("idemkey-downstream-v1");
  hasher.update_framed(scope);
  hasher.update_framed(key);
  return to_hex(hasher.finish()).substr(0, 32);
}

Store::Store(const std::string& path, db::OpenOptions options) : database_(path, options) {
  db::migrate(database_, "idemkey", migrations);
}

std::optional<KeyRow> Store::find(std::string_view scope, std::string_view key, bool with_outputs) {
  static const std::string sql = fmt::format(
      "SELECT {}, stdout, stderr FROM idemkey_keys WHERE scope = ?1 AND key = ?2", row_columns);
  auto query = database_.query(sql, scope, key);
  if (!query.step()) return std::nullopt;
  KeyRow row = read_row(query.row());
  if (with_outputs) {
    row.stdout_bytes = std::string(query->blob(13));
    row.stderr_bytes = std::string(query->blob(14));
  }
  return row;
}

Claim Store::claim(const ClaimRequest& request, Instant now) {
  auto examine = [&] {
    std::optional<KeyRow> existing = find(request.scope, request.key, false);
    Claim result{decide(existing, request.fingerprint, now, request.stale), existing};
    if (result.decision == Decision::replay) result.row = find(request.scope, request.key, true);
    return result;
  };
  // Replays, conflicts and busy keys need no write: decide them under a read transaction, so
  // the common replay takes neither the writer lock nor SQLite's write lock.
  {
    db::ReadTransaction read(database_);
    Claim result = examine();
    if (result.decision != Decision::proceed) return result;
  }
  // Decide again under the write lock: another process may have claimed the key meanwhile.
  db::WriteTransaction transaction(database_);
  Claim result = examine();
  if (result.decision != Decision::proceed) return result;
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
  database_.execute(
      "INSERT OR REPLACE INTO idemkey_keys (scope, key, fingerprint, state, token, attempt, "
      "created_at, lease_until, ttl) VALUES (?1, ?2, ?3, 'in_progress', ?4, ?5, ?6, ?7, ?8)",
      row.scope, row.key, row.fingerprint, row.token, row.attempt, micros(row.created_at),
      micros(*row.lease_until), row.ttl.count());
  transaction.commit();
  result.row = std::move(row);
  return result;
}

bool Store::complete(std::string_view scope, std::string_view key, std::string_view token,
                     int exit_status, std::string_view stdout_bytes, std::string_view stderr_bytes,
                     Instant now) {
  db::WriteTransaction transaction(database_);
  auto& statement = database_.statement(
      "UPDATE idemkey_keys SET state = 'completed', lease_until = NULL, completed_at = ?4, "
      "expires_at = ?4 + ttl, exit_status = ?5, stdout = ?6, stderr = ?7 "
      "WHERE scope = ?1 AND key = ?2 AND token = ?3 AND state = 'in_progress'");
  db::Query update(statement);
  statement.bind(1, scope);
  statement.bind(2, key);
  statement.bind(3, token);
  statement.bind(4, micros(now));
  statement.bind(5, exit_status);
  statement.bind_blob(6, stdout_bytes);
  statement.bind_blob(7, stderr_bytes);
  while (update.step()) {
  }
  bool stored = database_.changes() == 1;
  transaction.commit();
  return stored;
}

bool Store::renew(std::string_view scope, std::string_view key, std::string_view token,
                  Instant lease_until) {
  db::WriteTransaction transaction(database_);
  int changed = database_.execute(
      "UPDATE idemkey_keys SET lease_until = max(lease_until, ?4) WHERE scope = ?1 AND key = ?2 "
      "AND token = ?3 AND state = 'in_progress'",
      scope, key, token, micros(lease_until));
  transaction.commit();
  return changed == 1;
}

bool Store::release(std::string_view scope, std::string_view key,
                    std::optional<std::string_view> token) {
  db::WriteTransaction transaction(database_);
  int changed = token ? database_.execute(
                            "DELETE FROM idemkey_keys WHERE scope = ?1 AND key = ?2 AND token = ?3",
                            scope, key, *token)
                      : database_.execute("DELETE FROM idemkey_keys WHERE scope = ?1 AND key = ?2",
                                          scope, key);
  transaction.commit();
  return changed == 1;
}

std::int64_t Store::collect_garbage(Instant now, int batch) {
  std::int64_t deleted = 0;
  for (;;) {
    db::WriteTransaction transaction(database_);
    int changed = database_.execute(
        "DELETE FROM idemkey_keys WHERE (scope, key) IN (SELECT scope, key FROM idemkey_keys "
        "WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2)",
        micros(now), batch);
    transaction.commit();
    deleted += changed;
    if (changed < batch) return deleted;
  }
}

std::optional<std::string> Store::remember_if_new(std::string_view scope, std::string_view key,
                                                  std::string_view fingerprint, Instant now,
                                                  Duration ttl) {
  // One statement for the common case (a new key): insert, or replace an expired row. Only
  // when a live row stops it is the stored fingerprint read.
  int changed = database_.execute(
      "INSERT INTO idemkey_keys (scope, key, fingerprint, state, token, attempt, created_at, ttl, "
      "completed_at, expires_at, exit_status) VALUES (?1, ?2, ?3, 'completed', '', 1, ?4, ?5, ?4, "
      "?4 + ?5, 0) ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, "
      "state = 'completed', token = '', attempt = 1, created_at = excluded.created_at, "
      "lease_until = NULL, ttl = excluded.ttl, completed_at = excluded.completed_at, expires_at = "
      "excluded.expires_at, exit_status = 0, stdout = NULL, stderr = NULL "
      "WHERE idemkey_keys.expires_at IS NOT NULL AND idemkey_keys.expires_at <= ?4",
      scope, key, fingerprint, micros(now), ttl.count());
  if (changed == 1) return std::nullopt;
  return live_fingerprint(scope, key, now);
}

std::optional<std::string> Store::live_fingerprint(std::string_view scope, std::string_view key,
                                                   Instant now) {
  auto query = database_.query(
      "SELECT fingerprint FROM idemkey_keys WHERE scope = ?1 AND key = ?2 AND (expires_at IS NULL "
      "OR expires_at > ?3)",
      scope, key, micros(now));
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
