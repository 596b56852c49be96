// ttl_partitions: the fast path of expiry, whole periods dropped at once.
//
// SQLite has no partitioning, so a table T becomes per-period tables T_2026_03 (--by month) or
// T_2026_03_07 (--by day) plus T_default (rows whose time fits no period: NULL, unreadable, or
// beyond the partitions made), behind a view T that unions them, with an INSTEAD OF INSERT
// trigger T_route that writes each row into its period's table. The first run converts a plain
// table: it is renamed T_default and its rows are moved to their periods' tables, in one
// transaction. PostgreSQL partitions natively: T must be a table PARTITION BY RANGE (column);
// ttl creates T_default (DEFAULT) and the periods' partitions ahead, as pg_partman does.
//
// drop removes the partitions whose whole period ended before now - --older-than: on SQLite
// the view and trigger are rebuilt without them and each is dropped with one DROP TABLE, in one
// transaction; on PostgreSQL each is detached and dropped in a transaction of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sluice/db.hpp"
#include "sluice/json.hpp"
#include "sluice/names.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::ttl {

enum class Period { day, month };
inline constexpr NameTable<Period, 2> period_names({{{"day", Period::day},
                                                     {"month", Period::month}}});

struct Partition {
  std::string name;  // T_2026_03 or T_2026_03_07
  Instant from;      // the period's first instant (UTC)
  Instant until;     // the next period's first instant
};

// The partition of `table` holding `instant`.
Partition partition_of(std::string_view table, Period period, Instant instant);
// The partition named `name`, when it is one of `table`'s periods (T_YYYY_MM or T_YYYY_MM_DD,
// a date that exists); nothing for other names (T_default, other tables).
std::optional<Partition> partition_named(std::string_view table, std::string_view name);

struct PartitionOptions {
  std::string table;
  std::string column;
  Period period = Period::month;
  int ahead = 2;  // periods after the current one to create
};

// Creates what is missing (conversion on the first SQLite run, the current period and `ahead`
// more, the default partition) and returns the partitions created, oldest first.
std::vector<Partition> make_partitions(db::Database& database, const PartitionOptions& options,
                                       Instant now);

// Drops `table`'s partitions whose period ended at or before `cutoff`; returns them, oldest
// first. With dry_run, only lists them.
std::vector<Partition> drop_partitions(db::Database& database, std::string_view table,
                                       Instant cutoff, bool dry_run);

// The record printed for each partition made or dropped.
JsonValue partition_record(std::string_view table, const Partition& partition);

}  // namespace sluice::ttl
