#include "cohort_store.hpp"

#include <algorithm>
#include <array>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice::cohort {

namespace {

constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE cohort_settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
-- Users by id, given in order from 0 (bitmaps hold ids); see schema_v2 for gaps.
CREATE TABLE cohort_users (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE
) STRICT;
-- kind 0: users with a start event in the period; 1: users with a return event.
CREATE TABLE cohort_bitmaps (
  kind INTEGER NOT NULL,
  period INTEGER NOT NULL,
  bits BLOB NOT NULL,
  PRIMARY KEY (kind, period)
) STRICT, WITHOUT ROWID;
)sql";

// Version 2 changes no table, only what cohort_users may hold: forget deletes users, leaving
// gaps in the ids, which version 1 programs refuse as a damaged store. Their refusal of a
// version they do not know says what is wrong instead: the store is from a newer version.
constexpr std::string_view schema_v2 = "-- cohort_users' ids may have gaps";

constexpr std::array<std::string_view, 2> schema_steps{schema_v1, schema_v2};

// The caller chose must_exist and the busy timeout; the rest is this store's profile.
db::OpenOptions open_options(db::OpenOptions options) {
  options.synchronous = db::Synchronous::normal;
  options.serialize_writers = true;
  options.cache_kib = 64 * 1024;
  return options;
}

std::string serialized(Roaring bitmap) {
  bitmap.runOptimize();
  std::string bytes(bitmap.getSizeInBytes(true), '\0');
  bitmap.write(bytes.data(), true);
  return bytes;
}

Roaring deserialized(std::string_view bytes) {
  std::optional<Roaring> bitmap = portable_bitmap(bytes);
  if (!bitmap) throw Error(exit_code::data, "the state file holds a malformed bitmap");
  return std::move(*bitmap);
}

}  // namespace

Store::Store(const std::string& location, db::OpenOptions options)
    : database_(location, open_options(options)) {
  // A version 1 store (no gaps) is read and ingested into as it is; only forget moves it on,
  // so that older programs keep working with it until then.
  if (schema_version() != 1) db::migrate(database_, "cohort", schema_steps);
}

int Store::schema_version() {
  db::ReadTransaction read(database_);
  return db::schema_version(database_, "cohort");
}

std::optional<Bucketing> Store::bucketing() {
  auto query = database_.query("SELECT value FROM cohort_settings WHERE name = 'bucketing'");
  if (!query.step()) return std::nullopt;
  return Bucketing::from_canonical(query.row().text(0));
}

void Store::store_bucketing(const Bucketing& bucketing) {
  std::optional<Bucketing> stored = this->bucketing();
  if (!stored) {
    database_.execute("INSERT INTO cohort_settings (name, value) VALUES ('bucketing', ?)",
                      bucketing.canonical());
  } else if (!(*stored == bucketing)) {
    throw Error(exit_code::data,
                fmt::format("{}: the store was built with {}, not {}: use the same --period, "
                            "--tz, --week-start, --start-event and --return-event, or leave "
                            "them out to use the store's",
                            database_.path(), stored->canonical(), bucketing.canonical()));
  }
}

// Loads the users in id order; the id of a forgotten user gets a key no event can have (not
// UTF-8), so that the others keep their ids. Returns the number of such gaps.
std::uint64_t Store::load_users(UserDictionary& users) {
  std::uint64_t gaps = 0;
  auto query = database_.query("SELECT id, key FROM cohort_users ORDER BY id");
  while (query.step()) {
    auto id = static_cast<std::uint64_t>(query.row().integer(0));
    for (; users.size() < id; ++gaps) users.intern(fmt::format("\xff{}", users.size()));
    if (users.intern(query.row().text(1)) != id) {
      throw Error(exit_code::data, "the state file lists a user twice");
    }
  }
  return gaps;
}

bool Store::merge_bitmap(int kind, int period, const Roaring& bitmap) {
  Roaring merged = bitmap;
  std::uint64_t before = 0;
  {
    auto query = database_.query("SELECT bits FROM cohort_bitmaps WHERE kind = ? AND period = ?",
                                 kind, period);
    if (query.step()) {
      Roaring stored = deserialized(query.row().blob(0));
      before = stored.cardinality();
      merged |= stored;
      if (merged.cardinality() == before) return false;
    }
  }
  auto& statement = database_.statement(
      "INSERT OR REPLACE INTO cohort_bitmaps (kind, period, bits) VALUES (?, ?, ?)");
  db::Query insert(statement);
  statement.bind(1, kind);
  statement.bind(2, period);
  std::string bytes = serialized(std::move(merged));
  statement.bind_blob(3, bytes);
  insert.step();
  return true;
}

IngestResult Store::ingest(const State& fresh) {
  db::WriteTransaction transaction(database_);
  store_bucketing(fresh.bucketing);
  State stored;
  std::uint64_t gaps = load_users(stored.users);
  std::uint64_t old_users = stored.users.size();
  merge_into(stored, fresh);  // stored.activity: the fresh bitmaps in the stored user ids
  for (std::uint64_t id = old_users; id < stored.users.size(); ++id) {
    database_.execute("INSERT INTO cohort_users (id, key) VALUES (?, ?)",
                      static_cast<std::int64_t>(id),
                      stored.users.key_of(static_cast<std::uint32_t>(id)));
  }
  IngestResult result{stored.users.size() - gaps, stored.users.size() - old_users, 0};
  for (const auto& [period, bitmap] : stored.activity.started()) {
    result.bitmaps_changed += merge_bitmap(0, period, bitmap) ? 1 : 0;
  }
  for (const auto& [period, bitmap] : stored.activity.active()) {
    result.bitmaps_changed += merge_bitmap(1, period, bitmap) ? 1 : 0;
  }
  if (std::optional<Instant> latest = fresh.activity.latest()) {
    database_.execute(
        "INSERT INTO cohort_settings (name, value) VALUES ('latest', ?1) "
        "ON CONFLICT (name) DO UPDATE SET value = "
        "CAST(max(CAST(value AS INTEGER), CAST(?1 AS INTEGER)) AS TEXT)",
        std::to_string(latest->time_since_epoch().count()));
  }
  transaction.commit();
  return result;
}

ForgetResult Store::forget(const std::vector<std::string>& keys) {
  db::migrate(database_, "cohort", schema_steps);  // the gaps this leaves need version 2
  // A key given twice counts once, as forgotten or as unknown.
  std::vector<std::string> unique_keys = keys;
  std::sort(unique_keys.begin(), unique_keys.end());
  unique_keys.erase(std::unique(unique_keys.begin(), unique_keys.end()), unique_keys.end());
  db::WriteTransaction transaction(database_);
  ForgetResult result;
  Roaring ids;
  for (const std::string& key : unique_keys) {
    auto query = database_.query("SELECT id FROM cohort_users WHERE key = ?", key);
    if (!query.step()) {
      ++result.unknown;
      continue;
    }
    ids.add(static_cast<std::uint32_t>(query.row().integer(0)));
  }
  result.forgotten = ids.cardinality();
  for (std::uint32_t id : ids) {
    database_.execute("DELETE FROM cohort_users WHERE id = ?", static_cast<std::int64_t>(id));
  }
  // Changed bitmaps are written after the scan: no statement changes the table it reads.
  std::vector<std::tuple<int, int, Roaring>> changed;
  if (!ids.isEmpty()) {
    auto query = database_.query("SELECT kind, period, bits FROM cohort_bitmaps");
    while (query.step()) {
      Roaring bitmap = deserialized(query.row().blob(2));
      if (!bitmap.intersect(ids)) continue;
      bitmap -= ids;
      changed.emplace_back(static_cast<int>(query.row().integer(0)),
                           static_cast<int>(query.row().integer(1)), std::move(bitmap));
    }
  }
  for (auto& [kind, period, bitmap] : changed) {
    if (bitmap.isEmpty()) {
      database_.execute("DELETE FROM cohort_bitmaps WHERE kind = ? AND period = ?", kind, period);
    } else {
      database_.execute("UPDATE cohort_bitmaps SET bits = ? WHERE kind = ? AND period = ?",
                        db::Blob{serialized(std::move(bitmap))}, kind, period);
    }
  }
  result.bitmaps_changed = changed.size();
  transaction.commit();
  return result;
}

State Store::load(bool with_users) {
  db::ReadTransaction transaction(database_);
  std::optional<Bucketing> stored = bucketing();
  if (!stored) throw Error(exit_code::data, "the state file holds no events yet: ingest first");
  State state;
  state.bucketing = *stored;
  if (with_users) load_users(state.users);
  {
    auto query = database_.query("SELECT value FROM cohort_settings WHERE name = 'latest'");
    if (query.step()) state.activity.saw(Instant(Duration(std::stoll(query.row().text(0)))));
  }
  auto query = database_.query("SELECT kind, period, bits FROM cohort_bitmaps");
  while (query.step()) {
    state.activity.put(query.row().integer(0) == 0, static_cast<int>(query.row().integer(1)),
                       deserialized(query.row().blob(2)));
  }
  return state;
}

}  // namespace sluice::cohort
