// ttl_table: what a sweep needs to know about the user's table, learnt from the database's
// catalogue before anything is changed: the key it walks in ranges, how the time column is
// stored (and so the SQL that says a row has expired), and a --where filter checked to be one
// expression over the table.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sluice/db.hpp"
#include "sluice/timeutil.hpp"

namespace sluice::ttl {

// How the time column holds its instants.
enum class TimeStorage {
  // SQLite: per value, by its storage class: a number is epoch seconds (milliseconds when
  // its absolute value is at least 1e11, the toolkit's epoch rule), text is RFC 3339.
  sqlite_value,
  postgresql_timestamptz,  // timestamp with time zone
  postgresql_timestamp,    // timestamp without time zone or date: read as UTC
  postgresql_number,       // smallint ... double precision: epoch seconds or milliseconds
  postgresql_text,         // text or varchar holding RFC 3339
};

struct Table {
  std::string name;    // as the user gave it (quoted wherever it is used)
  std::string key;     // the column walked in ranges: the primary key, or SQLite's rowid
  std::string column;  // the time column
  TimeStorage storage = TimeStorage::sqlite_value;
};

// Error(65) with `message`: a table, column or filter the database refuses for ttl's use.
[[noreturn]] void refuse(std::string message);

// Looks `table` and `column` up in `database`: Error(65) when the table does not exist, is a
// view, lacks the column, has no key to walk (PostgreSQL: a one-column primary key; SQLite:
// the rowid, or a WITHOUT ROWID table's one-column primary key), or stores the column in a type
// that holds no instant.
Table inspect_table(db::Database& database, std::string_view table, std::string_view column);

// PostgreSQL, within the caller's transaction: how `column` of `table` stores its instants;
// Error(65) when the column is missing or of another type.
TimeStorage postgresql_column_storage(db::Database& database, std::string_view table,
                                      std::string_view column);

// SQL true for a row of `table` that expired before the cutoff, bound to ?1 in whole epoch
// seconds (compared as ?1 * 1000 with epoch milliseconds). NULL (never expired) for a NULL
// or unreadable time.
std::string expired_condition(const Table& table, db::Backend backend);

// SQLite: `value` as epoch seconds by the rule of TimeStorage::sqlite_value (a number: seconds,
// or milliseconds from 1e11 up; text: RFC 3339 to the second), NULL when it holds no instant.
std::string sqlite_epoch_seconds(std::string_view value);

// The cutoff, now - older_than, taken down to a whole second (the resolution every storage
// compares at).
Instant cutoff_instant(Instant now, Duration older_than);

// The text rules of --where (Error(2), before any database is opened): not empty, no ';', no
// comment ("--", "/*"), quotes closed, parentheses balanced (the expression cannot close the
// parenthesis it is put in), and no SELECT (a subquery reads beyond the table).
void check_where_text(std::string_view where);

// Checks `where` against the table (Error(65) naming it with the database's reason): it must
// prepare and run as `SELECT 1 FROM table WHERE (where) LIMIT 0` in a read-only transaction,
// be boolean (PostgreSQL says so; SQLite takes any value as true or false) and, on SQLite,
// read no other table.
void check_where(db::Database& database, const Table& table, std::string_view where);

}  // namespace sluice::ttl
