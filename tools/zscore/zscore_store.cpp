#include "zscore_store.hpp"

#include <array>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "zscore_state_buffer.hpp"

namespace sluice::zscore {

namespace {

constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE zscore_settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
-- key: the series' key fields (kind and JSON text of each); latest: microseconds since the
-- epoch of its last point; state: the detector (zscore_state_buffer.hpp).
CREATE TABLE zscore_series (
  key BLOB PRIMARY KEY,
  latest INTEGER NOT NULL,
  state BLOB NOT NULL
) STRICT, WITHOUT ROWID;
)sql";

// The series' open incidents (zscore_store.hpp, OpenIncidents): when each started, in
// microseconds since the epoch, or NULL. A file of version 1 gets NULLs: no incident open
// but the anomaly incident its saved alert state may hold, whose start is unknown.
constexpr std::string_view schema_v2 = R"sql(
ALTER TABLE zscore_series ADD COLUMN alert_started INTEGER;
ALTER TABLE zscore_series ADD COLUMN absent_started INTEGER;
)sql";

std::optional<Instant> optional_instant(const db::Statement& row, int column) {
  if (row.is_null(column)) return std::nullopt;
  return Instant(Duration(row.integer(column)));
}

std::optional<std::int64_t> microseconds(std::optional<Instant> time) {
  if (!time) return std::nullopt;
  return time->time_since_epoch().count();
}

db::OpenOptions open_options(Duration busy_timeout) {
  db::OpenOptions options;
  options.busy_timeout = busy_timeout;
  options.synchronous = db::Synchronous::normal;
  options.serialize_writers = true;
  return options;
}

}  // namespace

SeriesStore::SeriesStore(const std::string& path, Duration busy_timeout,
                         const std::string& settings)
    : database_(path, open_options(busy_timeout)) {
  std::array<std::string_view, 2> steps{schema_v1, schema_v2};
  db::migrate(database_, "zscore", steps);
  transaction_.emplace(database_);
  check_settings(settings);
}

void SeriesStore::check_settings(const std::string& settings) {
  auto query = database_.query("SELECT value FROM zscore_settings WHERE name = 'detector'");
  if (!query.step()) {
    database_.execute("INSERT INTO zscore_settings (name, value) VALUES ('detector', ?)", settings);
    return;
  }
  std::string stored = query.row().text(0);
  if (stored != settings) {
    throw Error(exit_code::data,
                fmt::format("{}: the state was kept with '{}', not '{}': use the same options, "
                            "or another --db",
                            database_.path(), stored, settings));
  }
}

std::optional<Instant> SeriesStore::load(std::string_view key, Detector& detector,
                                         OpenIncidents& incidents) {
  auto& statement = database_.statement(
      "SELECT latest, state, alert_started, absent_started FROM zscore_series WHERE key = ?");
  db::Query query(statement);
  statement.bind_blob(1, key);
  if (!query.step()) return std::nullopt;
  StateReader reader(statement.blob(1));
  try {
    detector.load(reader);
  } catch (const Error& error) {
    throw Error(error.code(), fmt::format("{}: {}", database_.path(), error.what()));
  }
  incidents = {optional_instant(statement, 2), optional_instant(statement, 3)};
  return Instant(Duration(statement.integer(0)));
}

void SeriesStore::save(std::string_view key, Instant latest, const Detector& detector,
                       const OpenIncidents& incidents) {
  StateWriter writer;
  detector.save(writer);
  auto& statement = database_.statement(
      "INSERT OR REPLACE INTO zscore_series (key, latest, state, alert_started, absent_started) "
      "VALUES (?, ?, ?, ?, ?)");
  db::Query query(statement);
  statement.bind_blob(1, key);
  statement.bind(2, static_cast<std::int64_t>(latest.time_since_epoch().count()));
  statement.bind_blob(3, writer.bytes());
  statement.bind(4, microseconds(incidents.anomaly));
  statement.bind(5, microseconds(incidents.absence));
  query.step();
}

void SeriesStore::save_absence(std::string_view key, Instant started) {
  auto& statement =
      database_.statement("UPDATE zscore_series SET absent_started = ? WHERE key = ?");
  db::Query query(statement);
  statement.bind(1, static_cast<std::int64_t>(started.time_since_epoch().count()));
  statement.bind_blob(2, key);
  query.step();
}

void SeriesStore::each_series(const std::function<void(const SavedSeries&)>& visit) {
  auto query =
      database_.query("SELECT key, latest, absent_started FROM zscore_series ORDER BY key");
  while (query.step()) {
    visit({query->blob(0), Instant(Duration(query->integer(1))), optional_instant(query.row(), 2)});
  }
}

void SeriesStore::commit() {
  transaction_->commit();
}

}  // namespace sluice::zscore
