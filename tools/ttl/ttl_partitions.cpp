#include "ttl_partitions.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <fmt/format.h>

#include "sluice/error.hpp"
#include "ttl_table.hpp"

namespace sluice::ttl {

namespace {

using std::chrono::year_month_day;

Instant instant_of(year_month_day date) {
  return std::chrono::time_point_cast<Duration>(std::chrono::sys_days(date));
}

std::int64_t epoch_seconds(Instant instant) {
  return std::chrono::duration_cast<std::chrono::seconds>(instant.time_since_epoch()).count();
}

std::string quoted(std::string_view name) {
  return db::quote_identifier(name);
}

std::string default_name(std::string_view table) {
  return std::string(table) + "_default";
}

std::optional<int> number_in(std::string_view text) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool by_start(const Partition& left, const Partition& right) {
  return left.from < right.from;
}

// The partitions due for `now`: the current period and `ahead` more.
std::vector<Partition> wanted_partitions(const PartitionOptions& options, Instant now) {
  std::vector<Partition> wanted{partition_of(options.table, options.period, now)};
  for (int next = 0; next < options.ahead; ++next) {
    wanted.push_back(partition_of(options.table, options.period, wanted.back().until));
  }
  return wanted;
}

// ---- SQLite: tables behind a view ----

std::string table_kind(db::Database& database, std::string_view name) {
  auto kind = database.query(
      "SELECT type FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE AND type IN ('table', "
      "'view')",
      name);
  return kind.step() ? kind->text(0) : "";
}

std::vector<std::string> sqlite_columns(db::Database& database, std::string_view table) {
  std::vector<std::string> columns;
  auto query = database.query("SELECT name FROM pragma_table_info(?1) ORDER BY cid", table);
  while (query.step()) columns.push_back(query->text(0));
  return columns;
}

std::vector<Partition> sqlite_partitions(db::Database& database, std::string_view table) {
  std::vector<Partition> found;
  auto query = database.query(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND substr(name, 1, ?2) = ?1",
      std::string(table) + "_", static_cast<std::int64_t>(table.size() + 1));
  while (query.step()) {
    if (auto partition = partition_named(table, query->text(0))) found.push_back(*partition);
  }
  std::ranges::sort(found, by_start);
  return found;
}

// "time >= from AND time < until" for `seconds` (epoch seconds, an SQL expression).
std::string in_period(const Partition& partition, std::string_view seconds = "sluice_time") {
  return fmt::format("({0} >= {1} AND {0} < {2})", seconds, epoch_seconds(partition.from),
                     epoch_seconds(partition.until));
}

// The view over the default table and `partitions`, and the trigger routing its INSERTs.
void rebuild_view(db::Database& database, std::string_view table, std::string_view column,
                  const std::vector<Partition>& partitions) {
  const std::string fallback = default_name(table);
  std::vector<std::string> columns = sqlite_columns(database, fallback);
  std::string names;
  std::string values;
  for (const std::string& name : columns) {
    names += (names.empty() ? "" : ", ") + quoted(name);
    values += (values.empty() ? "" : ", ") + ("NEW." + quoted(name));
  }
  std::string view = "SELECT * FROM " + quoted(fallback);
  // Each route reads the row's time once, as sluice_time, and inserts where it fits.
  const std::string time =
      fmt::format("(SELECT {} AS sluice_time)", sqlite_epoch_seconds("NEW." + quoted(column)));
  std::string routes;
  std::string any_period;
  for (const Partition& partition : partitions) {
    view += " UNION ALL SELECT * FROM " + quoted(partition.name);
    const std::string fits = in_period(partition);
    routes += fmt::format("INSERT INTO {} ({}) SELECT {} FROM {} WHERE {}; ",
                          quoted(partition.name), names, values, time, fits);
    any_period += (any_period.empty() ? "" : " OR ") + fits;
  }
  routes +=
      fmt::format("INSERT INTO {} ({}) SELECT {} FROM {} WHERE NOT coalesce({}, 0); ",
                  quoted(fallback), names, values, time, any_period.empty() ? "0" : any_period);
  database.execute_script(
      fmt::format("DROP VIEW IF EXISTS {0}; CREATE VIEW {0} AS {1}; "
                  "CREATE TRIGGER {2} INSTEAD OF INSERT ON {0} BEGIN {3}END",
                  quoted(table), view, quoted(std::string(table) + "_route"), routes));
}

// CREATE TABLE for a partition: the default table's own definition under another name.
void create_like_default(db::Database& database, std::string_view table,
                         const Partition& partition) {
  const std::string fallback = default_name(table);
  auto query = database.query("SELECT sql FROM sqlite_schema WHERE name = ?1", fallback);
  if (!query.step()) refuse(fmt::format("no table '{}'", fallback));
  std::string definition = query->text(0);
  std::size_t columns = definition.find('(', definition.find(fallback) + fallback.size());
  database.execute_script(
      fmt::format("CREATE TABLE {} {}", quoted(partition.name), definition.substr(columns)));
}

// First run on a plain table: it becomes the default table and its rows move to their periods.
std::vector<Partition> convert_table(db::Database& database, const PartitionOptions& options) {
  const std::string fallback = default_name(options.table);
  if (!table_kind(database, fallback).empty()) {
    refuse(fmt::format("'{}' exists already: ttl partitions would name its default table so",
                       fallback));
  }
  database.execute_script(
      fmt::format("ALTER TABLE {} RENAME TO {}", quoted(options.table), quoted(fallback)));
  const std::string seconds = sqlite_epoch_seconds(quoted(options.column));
  std::vector<Partition> periods;
  {
    auto query =
        database.query(fmt::format("SELECT DISTINCT CAST({} AS INTEGER) / 86400 FROM {} "
                                   "WHERE {} IS NOT NULL",
                                   seconds, quoted(fallback), seconds));
    while (query.step()) {
      Instant day = instant_from_micros(query->integer(0) * 86400 * 1'000'000);
      Partition partition = partition_of(options.table, options.period, day);
      if (std::ranges::find(periods, partition.name, &Partition::name) == periods.end()) {
        periods.push_back(partition);
      }
    }
  }
  std::ranges::sort(periods, by_start);
  for (const Partition& partition : periods) {
    create_like_default(database, options.table, partition);
    const std::string where = in_period(partition, seconds);
    database.execute(fmt::format("INSERT INTO {} SELECT * FROM {} WHERE {}", quoted(partition.name),
                                 quoted(fallback), where));
    database.execute(fmt::format("DELETE FROM {} WHERE {}", quoted(fallback), where));
  }
  return periods;
}

std::vector<Partition> make_sqlite(db::Database& database, const PartitionOptions& options,
                                   Instant now) {
  db::WriteTransaction transaction(database);
  const std::string kind = table_kind(database, options.table);
  if (kind.empty())
    refuse(fmt::format("no table '{}' in database '{}'", options.table, database.path()));
  const std::string inspected = kind == "table" ? options.table : default_name(options.table);
  if (kind == "view" && table_kind(database, inspected) != "table") {
    refuse(fmt::format("'{}' is a view without a table '{}': not partitions ttl made",
                       options.table, inspected));
  }
  std::vector<std::string> columns = sqlite_columns(database, inspected);
  if (std::ranges::find(columns, options.column) == columns.end()) {
    refuse(fmt::format("table '{}' has no column '{}'", inspected, options.column));
  }
  std::vector<Partition> created;
  if (kind == "table") created = convert_table(database, options);
  std::vector<Partition> existing = sqlite_partitions(database, options.table);
  for (const Partition& partition : wanted_partitions(options, now)) {
    if (std::ranges::find(existing, partition.name, &Partition::name) != existing.end()) continue;
    create_like_default(database, options.table, partition);
    created.push_back(partition);
  }
  rebuild_view(database, options.table, options.column, sqlite_partitions(database, options.table));
  transaction.commit();
  std::ranges::sort(created, by_start);
  return created;
}

// The time column the view's trigger routes rows by, read back from the trigger ttl wrote:
// `drop` takes no --column.
std::string routed_column(db::Database& database, std::string_view table) {
  auto trigger =
      database.query("SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = ?1",
                     std::string(table) + "_route");
  if (!trigger.step()) refuse(fmt::format("the view '{}' has no trigger '{}_route'", table, table));
  const std::string text = trigger->text(0);
  constexpr std::string_view marker = "typeof(NEW.\"";
  const std::size_t start = text.find(marker);
  const std::size_t end = text.find("\")", start);
  if (start == std::string::npos || end == std::string::npos) {
    refuse(fmt::format("trigger '{}_route' routes by no column", table));
  }
  std::string column = text.substr(start + marker.size(), end - start - marker.size());
  for (std::size_t at = column.find("\"\""); at != std::string::npos;
       at = column.find("\"\"", at + 1)) {
    column.erase(at, 1);  // a quote doubled inside the quoted name
  }
  return column;
}

std::vector<Partition> drop_sqlite(db::Database& database, std::string_view table, Instant cutoff,
                                   bool dry_run) {
  db::WriteTransaction transaction(database);
  if (table_kind(database, table) != "view" ||
      table_kind(database, default_name(table)) != "table") {
    refuse(fmt::format("'{}' is not partitioned by ttl partitions (no view over '{}')", table,
                       default_name(table)));
  }
  std::vector<Partition> kept;
  std::vector<Partition> dropped;
  for (const Partition& partition : sqlite_partitions(database, table)) {
    (partition.until <= cutoff ? dropped : kept).push_back(partition);
  }
  if (dry_run || dropped.empty()) return dropped;
  rebuild_view(database, table, routed_column(database, table), kept);
  for (const Partition& partition : dropped) {
    database.execute_script("DROP TABLE " + quoted(partition.name));
  }
  transaction.commit();
  return dropped;
}

// ---- PostgreSQL: declarative partitions ----

// The partition bound literal of `instant` for the key's type (values ttl computes: dates and
// numbers, never text from outside; DDL takes no parameters).
std::string bound(TimeStorage storage, Instant instant) {
  switch (storage) {
    case TimeStorage::postgresql_timestamptz:
      return fmt::format("'{}'", format_instant(instant));
    case TimeStorage::postgresql_timestamp:
      return fmt::format("'{}'", format_instant(instant).substr(0, 19));
    case TimeStorage::postgresql_number:
      return std::to_string(epoch_seconds(instant));
    default:
      throw Error(exit_code::internal, "no partition bound for this column type");
  }
}

TimeStorage partition_key(db::Database& database, const PartitionOptions& options) {
  auto kind = database.query(
      "SELECT relkind FROM pg_class WHERE oid = to_regclass(quote_ident(?1::text))", options.table);
  if (!kind.step()) {
    refuse(fmt::format("no table '{}' in database '{}'", options.table, database.path()));
  }
  if (kind->text(0) != "p") {
    refuse(fmt::format("'{}' is not a partitioned table: create it with PARTITION BY RANGE ({})",
                       options.table, options.column));
  }
  auto key = database.query(
      "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_partitioned_table p "
      "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
      "WHERE p.partrelid = to_regclass(quote_ident(?1::text)) AND p.partstrat = 'r' "
      "AND p.partnatts = 1",
      options.table);
  if (!key.step() || key->text(0) != options.column) {
    refuse(fmt::format("'{}' is not partitioned by RANGE ({})", options.table, options.column));
  }
  const TimeStorage storage = postgresql_column_storage(database, options.table, options.column);
  if (storage == TimeStorage::postgresql_text) {
    refuse(fmt::format("column '{}' is text: partition by a timestamp or an epoch number",
                       options.column));
  }
  return storage;
}

bool relation_exists(db::Database& database, std::string_view name) {
  auto query = database.query("SELECT to_regclass(quote_ident(?1::text)) IS NOT NULL", name);
  return query.step() && query->integer(0) == 1;
}

std::vector<Partition> make_postgresql(db::Database& database, const PartitionOptions& options,
                                       Instant now) {
  db::WriteTransaction transaction(database);
  const TimeStorage storage = partition_key(database, options);
  const std::string parent = quoted(options.table);
  database.execute_script(fmt::format("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} DEFAULT",
                                      quoted(default_name(options.table)), parent));
  std::vector<Partition> created;
  for (const Partition& partition : wanted_partitions(options, now)) {
    if (relation_exists(database, partition.name)) continue;
    database.execute_script(fmt::format(
        "CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})", quoted(partition.name),
        parent, bound(storage, partition.from), bound(storage, partition.until)));
    created.push_back(partition);
  }
  transaction.commit();
  return created;
}

std::vector<Partition> drop_postgresql(db::Database& database, std::string_view table,
                                       Instant cutoff, bool dry_run) {
  std::vector<Partition> dropped;
  {
    db::ReadTransaction read(database);
    auto children = database.query(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(quote_ident(?1::text))",
        table);
    while (children.step()) {
      auto partition = partition_named(table, children->text(0));
      if (partition && partition->until <= cutoff) dropped.push_back(*partition);
    }
  }
  std::ranges::sort(dropped, by_start);
  if (dry_run) return dropped;
  for (const Partition& partition : dropped) {
    db::WriteTransaction transaction(database);
    database.execute_script(
        fmt::format("ALTER TABLE {} DETACH PARTITION {}", quoted(table), quoted(partition.name)));
    database.execute_script("DROP TABLE " + quoted(partition.name));
    transaction.commit();
  }
  return dropped;
}

}  // namespace

Partition partition_of(std::string_view table, Period period, Instant instant) {
  const year_month_day date{std::chrono::floor<std::chrono::days>(instant)};
  if (period == Period::month) {
    const year_month_day first{date.year(), date.month(), std::chrono::day(1)};
    return {fmt::format("{}_{:04}_{:02}", table, static_cast<int>(date.year()),
                        static_cast<unsigned>(date.month())),
            instant_of(first), instant_of(add_months(first, 1))};
  }
  return {fmt::format("{}_{:04}_{:02}_{:02}", table, static_cast<int>(date.year()),
                      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day())),
          instant_of(date), instant_of(date) + std::chrono::days(1)};
}

std::optional<Partition> partition_named(std::string_view table, std::string_view name) {
  if (!name.starts_with(table) || name.size() <= table.size() || name[table.size()] != '_') {
    return std::nullopt;
  }
  std::string_view rest = name.substr(table.size() + 1);
  if (rest.size() != 7 && rest.size() != 10) return std::nullopt;
  if (rest[4] != '_' || (rest.size() == 10 && rest[7] != '_')) return std::nullopt;
  auto year = number_in(rest.substr(0, 4));
  auto month = number_in(rest.substr(5, 2));
  auto day = rest.size() == 10 ? number_in(rest.substr(8, 2)) : std::optional<int>(1);
  if (!year || !month || !day) return std::nullopt;
  const year_month_day date{std::chrono::year(*year),
                            std::chrono::month(static_cast<unsigned>(*month)),
                            std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;
  Partition partition =
      partition_of(table, rest.size() == 7 ? Period::month : Period::day, instant_of(date));
  if (partition.name != name) return std::nullopt;
  return partition;
}

std::vector<Partition> make_partitions(db::Database& database, const PartitionOptions& options,
                                       Instant now) {
  return database.backend() == db::Backend::postgresql ? make_postgresql(database, options, now)
                                                       : make_sqlite(database, options, now);
}

std::vector<Partition> drop_partitions(db::Database& database, std::string_view table,
                                       Instant cutoff, bool dry_run) {
  return database.backend() == db::Backend::postgresql
             ? drop_postgresql(database, table, cutoff, dry_run)
             : drop_sqlite(database, table, cutoff, dry_run);
}

JsonValue partition_record(std::string_view table, const Partition& partition) {
  return JsonValue::object({
      {"table", JsonValue::string(std::string(table))},
      {"partition", JsonValue::string(partition.name)},
      {"from", JsonValue::string(format_instant(partition.from))},
      {"until", JsonValue::string(format_instant(partition.until))},
  });
}

}  // namespace sluice::ttl
