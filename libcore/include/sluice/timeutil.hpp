// timeutil: instants, durations and their text forms
// (docs/ARCHITECTURE.md, "Command line" and "Input and output").
//
// Instants are microseconds since the Unix epoch, UTC. Parsers throw sluice::Error with
// exit_code::usage for command-line text; callers reading data files catch and rethrow with
// exit_code::data and a location when the text came from a record.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

using Duration = std::chrono::microseconds;
using Instant = std::chrono::sys_time<Duration>;

// An instant as stores keep it in an integer column (microseconds since the epoch), and back.
inline std::int64_t micros(Instant instant) {
  return instant.time_since_epoch().count();
}
inline Instant instant_from_micros(std::int64_t value) {
  return Instant(Duration(value));
}

// Parses "250ms", "90s", "10m", "24h", "7d" and compounds such as "1h30m" or "1d12h".
// Units: us, ms, s, m, h, d. "0" alone is zero. Negative, empty, unit-less (other than "0")
// text and durations over 36500d are rejected.
Duration parse_duration(std::string_view text);

// Formats a duration in the largest exact units, e.g. "1h30m", "250ms", "0s".
std::string format_duration(Duration duration);

// Parses RFC 3339 ("2026-03-01T12:00:00Z", "2026-03-01T12:00:00.250+05:30"; 't'/'z' and a
// space separator accepted) or "@<epoch seconds>" (integer). Rejects impossible dates
// such as 2026-02-30 and fractions finer than a microsecond.
Instant parse_instant(std::string_view text);

// Interprets a JSON number as an epoch instant: an absolute value of at least 1e11 is
// milliseconds (1e11 seconds is the year 5138), anything smaller is seconds. Throws Error(65)
// for values whose microseconds overflow.
Instant instant_from_epoch_number(std::int64_t number);

// An instant as a record field gives it (docs/ARCHITECTURE.md, "Input and output"): a JSON string
// is RFC 3339 (or "@<epoch seconds>"), a JSON number (its source text, `is_number`) is epoch
// seconds or milliseconds by the rule of instant_from_epoch_number and must be an integer. Throws
// Error(65) with a message that does not name the field (the caller adds where it was).
Instant instant_from_field(std::string_view text, bool is_number);

// RFC 3339 UTC with 'Z'. Fractional seconds appear only when non-zero, with 3 digits when
// the value is whole milliseconds, otherwise 6.
std::string format_instant(Instant instant);

// Parses YYYY-MM-DD, rejecting impossible dates.
std::chrono::year_month_day parse_date(std::string_view text);

// YYYY-MM-DD.
std::string format_date(std::chrono::year_month_day date);

// The date `months` calendar months after `anchor` (negative goes back), always counted from
// the anchor, never from an earlier result: the day is the anchor's, clamped to the length of
// the target month (31 Jan + 1 month = 28 or 29 Feb; + 2 months = 31 Mar). With end_of_month,
// an anchor on its month's last day gives the last day of every target month.
std::chrono::year_month_day add_months(std::chrono::year_month_day anchor, int months,
                                       bool end_of_month = false);

// Days from `from` to `to` (negative when `to` is earlier).
int days_between(std::chrono::year_month_day from, std::chrono::year_month_day to);

}  // namespace sluice
