#include "sluice/timeutil.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice {
namespace {

using namespace std::chrono;

[[noreturn]] void bad(std::string_view what, std::string_view text) {
  throw Error(exit_code::usage, fmt::format("invalid {} '{}'", what, text));
}

// RFC 3339 has four-digit years: instants outside 0000-01-01 .. 9999-12-31 could be read but
// not written back, so none is accepted.
constexpr Instant first_instant{sys_days{year{0} / January / 1}.time_since_epoch()};
constexpr Instant end_of_instants{sys_days{year{10000} / January / 1}.time_since_epoch()};

bool in_rfc3339_range(Instant instant) {
  return instant >= first_instant && instant < end_of_instants;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads exactly `count` digits at `pos`, advancing it; -1 when they are not all digits.
int fixed_digits(std::string_view text, std::size_t& pos, std::size_t count) {
  if (pos + count > text.size()) return -1;
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (!is_digit(c)) return -1;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return value;
}

struct Unit {
  std::string_view suffix;
  Duration size;
};

// Longest suffix first so that "ms" is not read as "m" followed by garbage.
constexpr std::array<Unit, 6> units{{{"us", microseconds(1)},
                                     {"ms", milliseconds(1)},
                                     {"s", seconds(1)},
                                     {"m", minutes(1)},
                                     {"h", hours(1)},
                                     {"d", days(1)}}};

}  // namespace

Duration parse_duration(std::string_view text) {
  if (text == "0") return Duration::zero();
  if (text.empty()) bad("duration", text);
  std::size_t pos = 0;
  Duration total = Duration::zero();
  while (pos < text.size()) {
    std::int64_t amount = 0;
    auto [end, error] = std::from_chars(text.data() + pos, text.data() + text.size(), amount);
    if (error != std::errc() || end == text.data() + pos) bad("duration", text);
    pos = static_cast<std::size_t>(end - text.data());
    const Unit* unit = nullptr;
    for (const auto& candidate : units) {
      if (text.substr(pos).starts_with(candidate.suffix)) {
        unit = &candidate;
        break;
      }
    }
    if (unit == nullptr || amount < 0) {
      throw Error(
          exit_code::usage,
          fmt::format("invalid duration '{}' (use a number with a unit: us, ms, s, m, h, d; "
                      "e.g. 250ms, 90s, 1h30m)",
                      text));
    }
    pos += unit->suffix.size();
    if (amount > std::numeric_limits<std::int64_t>::max() / unit->size.count())
      bad("duration", text);
    Duration part = amount * unit->size;
    if (total.count() > std::numeric_limits<std::int64_t>::max() - part.count()) {
      bad("duration", text);
    }
    total += part;
  }
  // Longer than any sensible lease, TTL or timeout, and far from int64 overflow when added to
  // an instant.
  if (total > days(36500)) {
    throw Error(exit_code::usage, fmt::format("duration '{}' is longer than 36500d", text));
  }
  return total;
}

std::string format_duration(Duration duration) {
  if (duration == Duration::zero()) return "0s";
  std::string out;
  if (duration < Duration::zero()) {
    out.push_back('-');
    duration = -duration;
  }
  for (auto it = units.rbegin(); it != units.rend(); ++it) {
    auto count = duration / it->size;
    if (count > 0) {
      out += fmt::format("{}{}", count, it->suffix);
      duration -= count * it->size;
    }
  }
  return out;
}

std::chrono::year_month_day parse_date(std::string_view text) {
  std::size_t pos = 0;
  int year = fixed_digits(text, pos, 4);
  bool dash1 = pos < text.size() && text[pos++] == '-';
  int month = fixed_digits(text, pos, 2);
  bool dash2 = pos < text.size() && text[pos++] == '-';
  int day = fixed_digits(text, pos, 2);
  if (year < 0 || month < 0 || day < 0 || !dash1 || !dash2 || pos != text.size()) {
    bad("date (expected YYYY-MM-DD)", text);
  }
  year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                      std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) throw Error(exit_code::usage, fmt::format("date '{}' does not exist", text));
  return date;
}

namespace {

// The day of a YYYY-MM-DD text. Times in a stream mostly share their date with the time
// before, so the last date parsed is remembered (per thread): it is checked and converted once.
sys_days parse_day(std::string_view text) {
  struct Memo {
    std::array<char, 10> text{};
    sys_days day;
    bool valid = false;
  };
  thread_local Memo memo;
  if (memo.valid && text.size() == memo.text.size() &&
      std::memcmp(memo.text.data(), text.data(), memo.text.size()) == 0) {
    return memo.day;
  }
  sys_days day(parse_date(text));
  if (text.size() == memo.text.size()) {
    std::memcpy(memo.text.data(), text.data(), memo.text.size());
    memo.day = day;
    memo.valid = true;
  }
  return day;
}

Instant parse_epoch_text(std::string_view text) {
  std::int64_t seconds_value = 0;
  auto digits = text.substr(1);
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), seconds_value);
  if (error != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
    bad("time", text);
  }
  constexpr std::int64_t limit = std::numeric_limits<std::int64_t>::max() / 1'000'000;
  if (seconds_value > limit || seconds_value < -limit) bad("time (years 0000 to 9999)", text);
  Instant instant{seconds(seconds_value)};
  if (!in_rfc3339_range(instant)) bad("time (years 0000 to 9999)", text);
  return instant;
}

// Parses ".123456" at pos into microseconds; at most 6 digits.
Duration parse_fraction(std::string_view text, std::size_t& pos) {
  if (pos >= text.size() || text[pos] != '.') return Duration::zero();
  ++pos;
  std::size_t start = pos;
  std::int64_t micros = 0;
  while (pos < text.size() && is_digit(text[pos])) {
    if (pos - start >= 6) bad("time (at most 6 fractional digits)", text);
    micros = micros * 10 + (text[pos] - '0');
    ++pos;
  }
  if (pos == start) bad("time", text);
  for (std::size_t digits = pos - start; digits < 6; ++digits) micros *= 10;
  return Duration(micros);
}

// Parses "Z" or "+HH:MM"/"-HH:MM" at pos; returns the offset to subtract to reach UTC.
Duration parse_offset(std::string_view text, std::size_t& pos) {
  if (pos >= text.size()) bad("time (missing time zone offset such as Z or +01:00)", text);
  char sign = text[pos++];
  if (sign == 'Z' || sign == 'z') return Duration::zero();
  if (sign != '+' && sign != '-') bad("time", text);
  int hh = fixed_digits(text, pos, 2);
  bool colon = pos < text.size() && text[pos++] == ':';
  int mm = fixed_digits(text, pos, 2);
  if (hh < 0 || mm < 0 || !colon || hh > 23 || mm > 59) bad("time zone offset in", text);
  Duration offset = hours(hh) + minutes(mm);
  return sign == '+' ? offset : -offset;
}

}  // namespace

Instant parse_instant(std::string_view text) {
  if (!text.empty() && text[0] == '@') return parse_epoch_text(text);
  if (text.size() < 20) bad("time (expected RFC 3339 like 2026-03-01T12:00:00Z or @EPOCH)", text);
  sys_days date = parse_day(text.substr(0, 10));
  char separator = text[10];
  if (separator != 'T' && separator != 't' && separator != ' ') bad("time", text);
  std::size_t pos = 11;
  int hh = fixed_digits(text, pos, 2);
  bool colon1 = pos < text.size() && text[pos++] == ':';
  int mm = fixed_digits(text, pos, 2);
  bool colon2 = pos < text.size() && text[pos++] == ':';
  int ss = fixed_digits(text, pos, 2);
  // A leap second (ss == 60) is not representable in Unix time; refuse it rather than guess.
  if (hh < 0 || mm < 0 || ss < 0 || !colon1 || !colon2 || hh > 23 || mm > 59 || ss > 59) {
    bad("time", text);
  }
  Duration fraction = parse_fraction(text, pos);
  Duration offset = parse_offset(text, pos);
  if (pos != text.size()) bad("time", text);
  Instant local =
      Instant(date.time_since_epoch()) + hours(hh) + minutes(mm) + seconds(ss) + fraction;
  if (!in_rfc3339_range(local - offset)) bad("time (years 0000 to 9999 in UTC)", text);
  return local - offset;
}

Instant instant_from_epoch_number(std::int64_t number) {
  constexpr std::int64_t millisecond_threshold = 100'000'000'000;
  // Beyond this, milliseconds would overflow as microseconds (about the year 292,000).
  constexpr std::int64_t limit = std::numeric_limits<std::int64_t>::max() / 1000;
  if (number > limit || number < -limit) {
    throw Error(exit_code::data, fmt::format("epoch time {} is out of range", number));
  }
  Instant instant = number >= millisecond_threshold || number <= -millisecond_threshold
                        ? Instant(milliseconds(number))
                        : Instant(seconds(number));
  if (!in_rfc3339_range(instant)) {
    throw Error(exit_code::data,
                fmt::format("epoch time {} is out of range (years 0000 to 9999)", number));
  }
  return instant;
}

Instant instant_from_field(std::string_view text, bool is_number) {
  if (!is_number) {
    try {
      return parse_instant(text);
    } catch (const Error& error) {
      throw Error(exit_code::data, error.what());
    }
  }
  std::int64_t number = 0;
  auto [end, problem] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (problem != std::errc() || end != text.data() + text.size()) {
    throw Error(
        exit_code::data,
        fmt::format("epoch time {} is not a whole number of seconds or milliseconds", text));
  }
  return instant_from_epoch_number(number);
}

std::string format_instant(Instant instant) {
  auto day_point = floor<days>(instant);
  year_month_day date{day_point};
  hh_mm_ss<Duration> time{instant - day_point};
  auto out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(date.year()),
                         static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                         time.hours().count(), time.minutes().count(), time.seconds().count());
  auto micros = time.subseconds().count();
  if (micros != 0) {
    out +=
        micros % 1000 == 0 ? fmt::format(".{:03}", micros / 1000) : fmt::format(".{:06}", micros);
  }
  out += 'Z';
  return out;
}

std::string format_date(std::chrono::year_month_day date) {
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
}

year_month_day add_months(year_month_day anchor, int months, bool end_of_month) {
  year_month target_month = year_month(anchor.year(), anchor.month()) + std::chrono::months(months);
  auto last = year_month_day_last(target_month.year(), month_day_last(target_month.month())).day();
  bool anchor_is_month_end =
      anchor.day() == year_month_day_last(anchor.year(), month_day_last(anchor.month())).day();
  day wanted = end_of_month && anchor_is_month_end ? last : std::min(anchor.day(), last);
  return {target_month.year(), target_month.month(), wanted};
}

int days_between(year_month_day from, year_month_day to) {
  return static_cast<int>((sys_days(to) - sys_days(from)).count());
}

}  // namespace sluice
