#include "qcache_store.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/names.hpp"

namespace sluice::qcache {
namespace {

// One schema for both backends (db::postgresql_ddl translates it): every statement below is
// one both dialects agree on.
constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE qcache_entries (
  key TEXT PRIMARY KEY,
  command BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  fresh_until INTEGER NOT NULL,
  stale_until INTEGER NOT NULL,
  exit_status INTEGER NOT NULL,
  stdout BLOB NOT NULL,
  stderr BLOB NOT NULL,
  etag TEXT
) STRICT;
CREATE INDEX qcache_entries_by_expiry ON qcache_entries (stale_until);
CREATE TABLE qcache_entry_tags (
  key TEXT NOT NULL REFERENCES qcache_entries (key) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (key, tag)
) STRICT;
CREATE INDEX qcache_entry_tags_by_tag ON qcache_entry_tags (tag, version);
CREATE TABLE qcache_tags (
  tag TEXT PRIMARY KEY,
  version INTEGER NOT NULL
) STRICT;
CREATE TABLE qcache_computing (
  key TEXT PRIMARY KEY,
  token TEXT NOT NULL,
  lease_until INTEGER NOT NULL
) STRICT;
CREATE TABLE qcache_counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;
)sql";

constexpr std::array<std::string_view, 1> migrations{schema_v1};
constexpr db::Schema schema{migrations};

constexpr NameTable<Counter, 5> counter_names({{{"hits", Counter::hits},
                                                {"misses", Counter::misses},
                                                {"coalesced", Counter::coalesced},
                                                {"stale_hits", Counter::stale_hits},
                                                {"refreshes", Counter::refreshes}}});

// A cache: losing the last entries to a power cut costs a recomputation, never a wrong answer
// (an entry is written whole in one transaction), so NORMAL (qcache(1) says so). Started for
// one short read per hit: the WAL stays between runs, as lock run's does.
db::OpenOptions open_options(db::OpenOptions options) {
  options.synchronous = db::Synchronous::normal;
  options.serialize_writers = true;
  options.checkpoint_on_close = false;
  return options;
}

// The token of a claim given back (release): random_hex tokens are hexadecimal digits only.
// Its lease (0) has lapsed, so the next claim takes the row over.
constexpr std::string_view given_back_token = "given-back";

// On a server, a claim and a store take turns, so that a claim never misses an entry stored
// (and its claim ended) between its look for a fresh entry and its insert. SQLite's one
// writer gives that already.
void take_turns(db::Database& database) {
  db::take_turns_writing(database, "qcache_computing");
}

}  // namespace

std::string_view counter_name(Counter counter) {
  return counter_names.name(counter);
}

Store::Store(const std::string& location, db::OpenOptions options)
    : database_(location, open_options(options)) {
  db::migrate(database_, "qcache", schema);
}

std::vector<TagVersion> Store::tag_versions(const std::vector<std::string>& tags) {
  std::vector<TagVersion> versions;
  if (tags.empty()) return versions;
  db::ReadTransaction read(database_);
  for (const std::string& tag : tags) {
    auto query = database_.query("SELECT version FROM qcache_tags WHERE tag = ?1", tag);
    versions.push_back({tag, query.step() ? query->integer(0) : 0});
  }
  return versions;
}

std::optional<Entry> Store::find(std::string_view key, TagsToo tags) {
  db::ReadTransaction read(database_);
  std::optional<Entry> entry;
  {
    auto query = database_.query(
        "SELECT command, created_at, fresh_until, stale_until, exit_status, stdout, stderr, etag "
        "FROM qcache_entries WHERE key = ?1",
        key);
    if (!query.step()) return std::nullopt;
    entry.emplace();
    entry->key = key;
    entry->command = std::string(query->blob(0));
    entry->created_at = instant_from_micros(query->integer(1));
    entry->fresh_until = instant_from_micros(query->integer(2));
    entry->stale_until = instant_from_micros(query->integer(3));
    entry->exit_status = static_cast<int>(query->integer(4));
    entry->stdout_bytes = std::string(query->blob(5));
    entry->stderr_bytes = std::string(query->blob(6));
    if (!query->is_null(7)) entry->etag = query->text(7);
  }
  if (tags == TagsToo::yes) {
    auto query = database_.query(
        "SELECT tag, version FROM qcache_entry_tags WHERE key = ?1 ORDER BY tag", key);
    while (query.step()) entry->tags.push_back({query->text(0), query->integer(1)});
  }
  return entry;
}

ClaimOutcome Store::claim(std::string_view key, std::string_view token, Instant now,
                          Instant lease_until) {
  db::WriteTransaction transaction(database_);
  take_turns(database_);
  {
    auto fresh = database_.query("SELECT 1 FROM qcache_entries WHERE key = ?1 AND fresh_until > ?2",
                                 key, micros(now));
    if (fresh.step()) return ClaimOutcome::fresh;
  }
  // A claim whose lease lapsed (its process was killed) is taken over.
  int claimed = database_.execute(
      "INSERT INTO qcache_computing (key, token, lease_until) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (key) DO UPDATE SET token = excluded.token, lease_until = excluded.lease_until "
      "WHERE qcache_computing.lease_until <= ?4",
      key, token, micros(lease_until), micros(now));
  transaction.commit();
  return claimed == 1 ? ClaimOutcome::claimed : ClaimOutcome::busy;
}

Store::ClaimState Store::claim_state(std::string_view key, Instant now) {
  db::ReadTransaction read(database_);
  auto query =
      database_.query("SELECT token, lease_until FROM qcache_computing WHERE key = ?1", key);
  if (!query.step()) return ClaimState::none;
  if (query->text(0) == given_back_token) return ClaimState::given_back;
  return query->integer(1) > micros(now) ? ClaimState::live : ClaimState::lapsed;
}

bool Store::renew(std::string_view key, std::string_view token, Instant lease_until) {
  db::WriteTransaction transaction(database_);
  int changed = database_.execute(
      "UPDATE qcache_computing SET lease_until = ?3 WHERE key = ?1 AND token = ?2", key, token,
      micros(lease_until));
  transaction.commit();
  return changed == 1;
}

void Store::release(std::string_view key, std::string_view token) {
  db::WriteTransaction transaction(database_);
  database_.execute(
      "UPDATE qcache_computing SET token = ?3, lease_until = 0 WHERE key = ?1 AND token = ?2", key,
      token, given_back_token);
  transaction.commit();
}

void Store::store(const Entry& entry, const std::optional<std::string>& token) {
  db::WriteTransaction transaction(database_);
  take_turns(database_);
  auto& statement = database_.statement(
      "INSERT INTO qcache_entries (key, command, created_at, fresh_until, stale_until, "
      "exit_status, stdout, stderr, etag) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
      "ON CONFLICT (key) DO UPDATE SET command = excluded.command, "
      "created_at = excluded.created_at, fresh_until = excluded.fresh_until, "
      "stale_until = excluded.stale_until, exit_status = excluded.exit_status, "
      "stdout = excluded.stdout, stderr = excluded.stderr, etag = excluded.etag");
  {
    db::Query insert(statement);
    statement.bind(1, entry.key);
    statement.bind_blob(2, entry.command);
    statement.bind(3, micros(entry.created_at));
    statement.bind(4, micros(entry.fresh_until));
    statement.bind(5, micros(entry.stale_until));
    statement.bind(6, entry.exit_status);
    statement.bind_blob(7, entry.stdout_bytes);
    statement.bind_blob(8, entry.stderr_bytes);
    statement.bind(9, entry.etag);
    while (insert.step()) {
    }
  }
  for (const TagVersion& tag : entry.tags) {
    database_.execute(
        "INSERT INTO qcache_entry_tags (key, tag, version) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (key, tag) DO UPDATE SET version = excluded.version",
        entry.key, tag.tag, tag.version);
  }
  if (token) {
    database_.execute("DELETE FROM qcache_computing WHERE key = ?1 AND token = ?2", entry.key,
                      *token);
  }
  transaction.commit();
}

void Store::count(Counter counter, std::int64_t amount) {
  db::WriteTransaction transaction(database_);
  database_.execute(
      "INSERT INTO qcache_counters (name, value) VALUES (?1, ?2) "
      "ON CONFLICT (name) DO UPDATE SET value = qcache_counters.value + excluded.value",
      counter_name(counter), amount);
  transaction.commit();
}

std::vector<TagVersion> Store::invalidate(const std::vector<std::string>& tags) {
  std::vector<TagVersion> versions;
  db::WriteTransaction transaction(database_);
  for (const std::string& tag : tags) {
    auto query = database_.query(
        "INSERT INTO qcache_tags (tag, version) VALUES (?1, 1) "
        "ON CONFLICT (tag) DO UPDATE SET version = qcache_tags.version + 1 RETURNING version",
        tag);
    query.step();
    versions.push_back({tag, query->integer(0)});
  }
  transaction.commit();
  return versions;
}

namespace {

// Deletes batch after batch with `sql` (?1 the batch size, ?2 now) until one falls short.
std::int64_t delete_in_batches(db::Database& database, std::string_view sql, Instant now,
                               int batch) {
  std::int64_t deleted = 0;
  for (;;) {
    db::WriteTransaction transaction(database);
    int changed = database.execute(sql, batch, micros(now));
    transaction.commit();
    deleted += changed;
    if (changed < batch) return deleted;
  }
}

}  // namespace

Store::Collected Store::collect_garbage(Instant now, int batch) {
  batch = std::max(batch, 1);  // LIMIT 0 would delete nothing, forever
  Collected collected;
  collected.expired =
      delete_in_batches(database_,
                        "DELETE FROM qcache_entries WHERE key IN (SELECT key FROM qcache_entries "
                        "WHERE stale_until <= ?2 LIMIT ?1)",
                        now, batch);
  collected.unreachable = delete_in_batches(
      database_,
      "DELETE FROM qcache_entries WHERE key IN (SELECT entry.key FROM qcache_entry_tags AS entry "
      "JOIN qcache_tags AS current ON current.tag = entry.tag "
      "WHERE entry.version < current.version AND ?2 = ?2 LIMIT ?1)",
      now, batch);
  collected.claims = delete_in_batches(
      database_,
      "DELETE FROM qcache_computing WHERE key IN (SELECT key FROM qcache_computing "
      "WHERE lease_until <= ?2 LIMIT ?1)",
      now, batch);
  return collected;
}

Store::Totals Store::totals() {
  Totals totals;
  db::ReadTransaction read(database_);
  {
    auto query = database_.query(
        "SELECT count(*), coalesce(sum(length(stdout) + length(stderr)), 0) FROM qcache_entries");
    query.step();
    totals.entries = query->integer(0);
    totals.bytes = query->integer(1);
  }
  {
    auto query = database_.query("SELECT count(*) FROM qcache_tags");
    query.step();
    totals.tags = query->integer(0);
  }
  {
    auto query = database_.query("SELECT count(*) FROM qcache_computing WHERE token <> ?1",
                                 given_back_token);
    query.step();
    totals.computing = query->integer(0);
  }
  for (const auto& named : counter_names.entries()) {
    auto query = database_.query("SELECT value FROM qcache_counters WHERE name = ?1", named.name);
    totals.counters.emplace_back(std::string(named.name), query.step() ? query->integer(0) : 0);
  }
  return totals;
}

}  // namespace sluice::qcache
