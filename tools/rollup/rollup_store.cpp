#include "rollup_store.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <set>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "sluice/json.hpp"
#include "sluice/jsonl.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::rollup {

namespace {

constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE rollup_settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
-- One rolled-up group of one bucket of one tier (0 is the raw tier): state is its line of a
-- saved state (rollup_state.cpp), slots how many finer buckets it was made of.
CREATE TABLE rollup_cells (
  tier INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  by_key TEXT NOT NULL,
  slots INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (tier, bucket, by_key)
) STRICT, WITHOUT ROWID;
-- The batches ingested (the SHA-256 of each file), and the buckets each touched.
CREATE TABLE rollup_batches (
  batch TEXT PRIMARY KEY,
  ingested_at INTEGER NOT NULL,
  events INTEGER NOT NULL
) STRICT;
CREATE TABLE rollup_touched (
  batch TEXT NOT NULL,
  tier INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  PRIMARY KEY (batch, tier, bucket)
) STRICT, WITHOUT ROWID;
)sql";

constexpr std::array<std::string_view, 1> schema_steps{schema_v1};
// PostgreSQL's DDL is the SQLite one translated (db::postgresql_ddl).
constexpr db::Schema schema{schema_steps};

db::OpenOptions open_options(db::OpenOptions options) {
  options.synchronous = db::Synchronous::normal;
  options.serialize_writers = true;
  options.cache_kib = 64 * 1024;
  return options;
}

std::string by_key_of(const std::vector<GroupValue>& values) {
  std::vector<JsonValue> items;
  for (const GroupValue& value : values) {
    switch (value.kind) {
      case JsonValue::Kind::null:
        items.push_back(JsonValue::null());
        break;
      case JsonValue::Kind::number:
        items.push_back(JsonValue::number(value.text));
        break;
      case JsonValue::Kind::boolean:
        items.push_back(JsonValue::boolean(value.text == "true"));
        break;
      default:
        items.push_back(JsonValue::string(value.text));
    }
  }
  return to_json(JsonValue::array(std::move(items)));
}

// The instant before which a tier's buckets have expired (INT64_MIN: kept forever).
std::int64_t cutoff_of(const Tier& tier, std::int64_t now) {
  return tier.retention_micros ? now - *tier.retention_micros : INT64_MIN;
}

std::int64_t width_of(const Every& every) {
  switch (every.unit) {
    case CalendarUnit::none:
      return every.width_micros;
    case CalendarUnit::day:
      return micros_per_day;
    case CalendarUnit::week:
      return 7 * micros_per_day;
    case CalendarUnit::month:
      return 28 * micros_per_day;  // the shortest: for checks that must hold for every month
  }
  return every.width_micros;
}

Bucketer bucketer_of(const StoreSettings& settings, std::size_t tier) {
  return Bucketer(settings.tiers[tier].every, TimeZone::named("--tz", settings.spec.tz));
}

}  // namespace

std::string Tier::text() const {
  std::string retention = "forever";
  if (retention_micros) retention = format_duration(Duration(*retention_micros));
  return fmt::format("{}:{}", every.text(), retention);
}

Tier parse_tier(std::string_view text) {
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    throw Error(exit_code::usage,
                fmt::format("--tier: '{}' is not WIDTH:RETENTION (such as 10s:7d, 1h:1y, "
                            "1d:forever)",
                            text));
  }
  Tier tier;
  tier.every = with_context(exit_code::usage, fmt::format("--tier '{}'", text),
                            [&] { return parse_every(text.substr(0, colon)); });
  std::string_view retention = text.substr(colon + 1);
  if (retention == "forever") return tier;
  if (retention.size() > 1 && retention.back() == 'y') {
    std::string_view years = retention.substr(0, retention.size() - 1);
    if (years.size() <= 2 &&
        std::all_of(years.begin(), years.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      int count = std::stoi(std::string(years));
      if (count > 0) {
        tier.retention_micros = count * 365 * micros_per_day;
        return tier;
      }
    }
  }
  Duration duration = with_context(exit_code::usage, fmt::format("--tier '{}'", text),
                                   [&] { return parse_duration(retention); });
  tier.retention_micros = duration.count();
  return tier;
}

void StoreSettings::check() const {
  if (tiers.empty()) throw Error(exit_code::usage, "--tier: give at least one tier (10s:7d)");
  for (std::size_t i = 0; i < tiers.size(); ++i) {
    const Tier& tier = tiers[i];
    if (tier.retention_micros && *tier.retention_micros < width_of(tier.every)) {
      throw Error(exit_code::usage,
                  fmt::format("--tier {}: the retention is shorter than a bucket", tier.text()));
    }
    if (i == 0) continue;
    const Every& finer = tiers[i - 1].every;
    const Every& coarser = tier.every;
    bool nests = false;
    if (coarser.unit == CalendarUnit::none) {
      nests = finer.unit == CalendarUnit::none && coarser.width_micros > finer.width_micros &&
              coarser.width_micros % finer.width_micros == 0;
    } else if (finer.unit == CalendarUnit::none) {
      // Local days start on a quarter hour in every zone; in UTC on a whole day.
      std::int64_t day_unit = spec.tz == "UTC" ? micros_per_day : 15 * 60'000'000LL;
      nests = day_unit % finer.width_micros == 0;
    } else {
      nests = finer.unit == CalendarUnit::day && coarser.unit != CalendarUnit::day;
    }
    if (!nests) {
      throw Error(exit_code::usage,
                  fmt::format("--tier {} after --tier {}: each tier's buckets must be coarser "
                              "than the one before and hold its buckets whole",
                              tier.text(), tiers[i - 1].text()));
    }
  }
  if (tiers[0].retention_micros && *tiers[0].retention_micros < allowed_lateness_micros) {
    throw Error(exit_code::usage,
                fmt::format("--tier {}: the raw tier's retention is shorter than "
                            "--allowed-lateness {}: late events would find their buckets gone",
                            tiers[0].text(), format_duration(Duration(allowed_lateness_micros))));
  }
}

std::string StoreSettings::canonical() const {
  std::vector<JsonValue> tier_texts;
  for (const Tier& tier : tiers) tier_texts.push_back(JsonValue::string(tier.text()));
  return canonical_json(JsonValue::object({
      {"allowed_lateness", JsonValue::string(format_duration(Duration(allowed_lateness_micros)))},
      {"spec", JsonValue::string(spec.canonical())},
      {"tiers", JsonValue::array(std::move(tier_texts))},
  }));
}

StoreSettings settings_from_text(std::string_view text) {
  JsonParser parser;
  ParseOutcome outcome = parser.parse_object(text);
  auto malformed = [] { return Error(exit_code::data, "the store's settings are malformed"); };
  if (!outcome.value) throw malformed();
  const JsonValue* spec = outcome.value->find("spec");
  const JsonValue* tiers = outcome.value->find("tiers");
  const JsonValue* lateness = outcome.value->find("allowed_lateness");
  if (spec == nullptr || !spec->is_string() || tiers == nullptr ||
      tiers->kind() != JsonValue::Kind::array || lateness == nullptr || !lateness->is_string()) {
    throw malformed();
  }
  StoreSettings settings;
  settings.spec = Spec::from_canonical(spec->text());
  try {
    for (const JsonValue& tier : tiers->items()) settings.tiers.push_back(parse_tier(tier.text()));
    settings.allowed_lateness_micros = parse_duration(lateness->text()).count();
  } catch (const Error&) {
    throw malformed();
  }
  return settings;
}

Store::Store(const std::string& location, db::OpenOptions options)
    : database_(location, open_options(options)) {
  db::migrate(database_, "rollup", schema);
}

std::optional<std::string> Store::settings_text() {
  auto query = database_.query("SELECT value FROM rollup_settings WHERE name = 'settings'");
  if (!query.step()) return std::nullopt;
  return query.row().text(0);
}

bool Store::has_batch(std::string_view key) {
  auto query = database_.query("SELECT 1 FROM rollup_batches WHERE batch = ?", key);
  return query.step();
}

// The latest --now compact ran with: cutoffs never go back before it, so that a bucket whose
// finer cells were compacted is never recomputed from them (into nothing).
std::int64_t Store::effective_now(std::int64_t now) {
  auto query = database_.query("SELECT value FROM rollup_settings WHERE name = 'compacted_at'");
  if (!query.step()) return now;
  return std::max<std::int64_t>(now, std::stoll(query.row().text(0)));
}

void Store::store_settings(const StoreSettings& settings) {
  if (!check_settings(settings)) {
    database_.execute("INSERT INTO rollup_settings (name, value) VALUES ('settings', ?)",
                      settings.canonical());
  }
}

bool Store::check_settings(const StoreSettings& settings) {
  std::optional<std::string> stored = settings_text();
  if (!stored) return false;
  if (*stored != settings.canonical()) {
    throw Error(exit_code::data,
                fmt::format("{}: the store was made with {}, not {}: use the same --tier, --by, "
                            "--agg, --time-field, --tz and --allowed-lateness",
                            database_.path(), *stored, settings.canonical()));
  }
  return true;
}

void Store::merge_cell(const Rollup& layout, std::size_t tier, const GroupRecord& record,
                       std::int64_t slots) {
  std::string by_key = by_key_of(record.values);
  auto tier_number = static_cast<std::int64_t>(tier);
  GroupRecord merged = record;
  {
    auto query = database_.query(
        "SELECT state, slots FROM rollup_cells WHERE tier = ? AND bucket = ? AND by_key = ?",
        tier_number, record.bucket, by_key);
    if (query.step()) {
      GroupRecord stored = layout.parse_group(query.row().text(0));
      layout.merge_group(merged.state, stored.state);
      slots = std::max(slots, query.row().integer(1));
    }
  }
  database_.execute(
      "INSERT INTO rollup_cells (tier, bucket, by_key, slots, state) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT (tier, bucket, by_key) DO UPDATE SET slots = excluded.slots, "
      "state = excluded.state",
      tier_number, record.bucket, by_key, slots, layout.group_line(merged));
}

std::uint64_t Store::recompute(const StoreSettings& settings, const Rollup& layout,
                               std::size_t tier, std::int64_t bucket) {
  Bucketer bucketer = bucketer_of(settings, tier);
  std::int64_t end = bucketer.end_of(bucketer.start_of(bucket));
  std::map<std::string, std::pair<GroupRecord, std::int64_t>> groups;  // by by_key
  {
    auto query = database_.query(
        "SELECT by_key, state FROM rollup_cells WHERE tier = ? AND bucket >= ? AND bucket < ?",
        static_cast<std::int64_t>(tier - 1), bucket, end);
    while (query.step()) {
      GroupRecord record = layout.parse_group(query.row().text(1));
      auto [place, fresh] = groups.try_emplace(query.row().text(0), record, 0);
      if (!fresh) layout.merge_group(place->second.first.state, record.state);
      ++place->second.second;
    }
  }
  database_.execute("DELETE FROM rollup_cells WHERE tier = ? AND bucket = ?",
                    static_cast<std::int64_t>(tier), bucket);
  for (auto& [by_key, group] : groups) {
    group.first.bucket = bucket;
    database_.execute(
        "INSERT INTO rollup_cells (tier, bucket, by_key, slots, state) VALUES (?, ?, ?, ?, ?)",
        static_cast<std::int64_t>(tier), bucket, by_key, group.second,
        layout.group_line(group.first));
  }
  return groups.size();
}

void Store::ingest(const StoreSettings& settings, std::string_view batch_key,
                   const std::vector<GroupRecord>& raw, std::int64_t now, BatchResult& result) {
  db::WriteTransaction transaction(database_);
  // One batch at a time on a server too: a batch reads cells, merges and writes them back,
  // and recomputes coarse buckets from finer ones (SQLite's single writer gives this).
  db::take_turns_writing(database_, "rollup_cells");
  store_settings(settings);
  if (has_batch(batch_key)) {
    result.already_ingested = true;
    return;
  }
  now = effective_now(now);
  Rollup layout(settings.spec);
  std::size_t tiers = settings.tiers.size();
  std::vector<Bucketer> bucketers;
  std::vector<std::int64_t> cutoffs;
  for (std::size_t j = 0; j < tiers; ++j) {
    bucketers.push_back(bucketer_of(settings, j));
    cutoffs.push_back(cutoff_of(settings.tiers[j], now));
  }
  std::vector<std::set<std::int64_t>> touched(tiers);
  std::vector<std::set<std::int64_t>> dirty(tiers);
  for (const GroupRecord& record : raw) {
    if (record.bucket >= cutoffs[0]) {
      merge_cell(layout, 0, record, 1);
      touched[0].insert(record.bucket);
      ++result.cells;
    }
    for (std::size_t j = 1; j < tiers; ++j) {
      std::int64_t bucket = bucketers[j].start_of(record.bucket);
      if (bucketers[j].end_of(bucket) <= cutoffs[j]) continue;  // expired in this tier
      if (bucket >= cutoffs[j - 1]) {
        dirty[j].insert(bucket);  // the finer tier holds it whole: recomputed below
      } else {
        GroupRecord coarse = record;
        coarse.bucket = bucket;
        merge_cell(layout, j, coarse, 1);
        ++result.cells;
      }
      touched[j].insert(bucket);
    }
  }
  for (std::size_t j = 1; j < tiers; ++j) {
    for (std::int64_t bucket : dirty[j]) result.cells += recompute(settings, layout, j, bucket);
  }
  for (std::size_t j = 0; j < tiers; ++j) {
    for (std::int64_t bucket : touched[j]) {
      database_.execute("INSERT INTO rollup_touched (batch, tier, bucket) VALUES (?, ?, ?)",
                        batch_key, static_cast<std::int64_t>(j), bucket);
    }
  }
  database_.execute("INSERT INTO rollup_batches (batch, ingested_at, events) VALUES (?, ?, ?)",
                    batch_key, now, static_cast<std::int64_t>(result.events));
  transaction.commit();
}

std::vector<Store::Cell> Store::cells(const Rollup& layout, std::size_t tier, std::int64_t from,
                                      std::int64_t to) {
  db::ReadTransaction read(database_);
  std::vector<Cell> cells;
  auto query = database_.query(
      "SELECT state, slots FROM rollup_cells WHERE tier = ? AND bucket >= ? AND bucket < ? "
      "ORDER BY bucket, by_key",
      static_cast<std::int64_t>(tier), from, to);
  while (query.step()) {
    cells.push_back({layout.parse_group(query.row().text(0)), query.row().integer(1)});
  }
  return cells;
}

std::uint64_t Store::compact(const StoreSettings& settings, std::int64_t now, std::uint64_t batch) {
  std::uint64_t deleted = 0;
  {
    db::WriteTransaction transaction(database_);
    db::take_turns_writing(database_, "rollup_cells");
    now = effective_now(now);
    database_.execute(
        "INSERT INTO rollup_settings (name, value) VALUES ('compacted_at', ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        std::to_string(now));
    transaction.commit();
  }
  for (std::size_t j = 0; j < settings.tiers.size(); ++j) {
    if (!settings.tiers[j].retention_micros) continue;
    // A bucket expires once it ended before the cutoff: it starts before the cutoff's bucket.
    std::int64_t before = bucketer_of(settings, j).start_of(cutoff_of(settings.tiers[j], now));
    for (;;) {
      db::WriteTransaction transaction(database_);
      db::take_turns_writing(database_, "rollup_cells");
      int changed = database_.execute(
          "DELETE FROM rollup_cells WHERE (tier, bucket, by_key) IN (SELECT tier, bucket, by_key "
          "FROM rollup_cells WHERE tier = ? AND bucket < ? LIMIT ?)",
          static_cast<std::int64_t>(j), before, static_cast<std::int64_t>(batch));
      transaction.commit();
      deleted += static_cast<std::uint64_t>(changed);
      if (static_cast<std::uint64_t>(changed) < batch) break;
    }
  }
  return deleted;
}

std::uint64_t Store::rebuild(const StoreSettings& settings, std::int64_t from, std::int64_t to,
                             std::int64_t now) {
  db::WriteTransaction transaction(database_);
  db::take_turns_writing(database_, "rollup_cells");
  now = effective_now(now);
  Rollup layout(settings.spec);
  std::uint64_t rebuilt = 0;
  for (std::size_t j = 1; j < settings.tiers.size(); ++j) {
    Bucketer bucketer = bucketer_of(settings, j);
    std::int64_t finer_cutoff = cutoff_of(settings.tiers[j - 1], now);
    std::set<std::int64_t> buckets;
    for (std::size_t tier : {j - 1, j}) {
      auto query = database_.query(
          "SELECT DISTINCT bucket FROM rollup_cells WHERE tier = ? AND bucket >= ? AND bucket < ?",
          static_cast<std::int64_t>(tier), from, to);
      while (query.step()) buckets.insert(bucketer.start_of(query.row().integer(0)));
    }
    for (std::int64_t bucket : buckets) {
      if (bucket < finer_cutoff || bucket < from || bucketer.end_of(bucket) > to) continue;
      recompute(settings, layout, j, bucket);
      ++rebuilt;
    }
  }
  transaction.commit();
  return rebuilt;
}

}  // namespace sluice::rollup
