#include "cohort_period.hpp"

#include <array>

#include <fmt/format.h>

#include "sluice/error.hpp"

namespace sluice::cohort {

using namespace std::chrono;

namespace {

constexpr std::array<std::string_view, 7> weekday_names = {
    "sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};

// Floor division: periods before 1970 get negative numbers without a jump at zero.
int floor_divide(int numerator, int denominator) {
  int quotient = numerator / denominator;
  return numerator % denominator != 0 && (numerator < 0) != (denominator < 0) ? quotient - 1
                                                                              : quotient;
}

}  // namespace

PeriodUnit parse_period_unit(std::string_view text) {
  if (text == "day") return PeriodUnit::day;
  if (text == "week") return PeriodUnit::week;
  if (text == "month") return PeriodUnit::month;
  throw Error(exit_code::usage, fmt::format("--period: '{}' is not day, week or month", text));
}

std::string_view period_unit_name(PeriodUnit unit) {
  switch (unit) {
    case PeriodUnit::day:
      return "day";
    case PeriodUnit::week:
      return "week";
    case PeriodUnit::month:
      return "month";
  }
  return "day";
}

weekday parse_week_start(std::string_view text) {
  for (unsigned index = 0; index < weekday_names.size(); ++index) {
    if (weekday_names[index] == text) return weekday(index);
  }
  throw Error(exit_code::usage,
              fmt::format("--week-start: '{}' is not a day of the week (monday ... sunday)", text));
}

Calendar::Calendar(PeriodUnit unit, TimeZone zone, weekday week_start)
    : unit_(unit), zone_(std::move(zone)), week_start_(week_start) {
  weekday epoch_day{sys_days{}};  // 1970-01-01, a Thursday
  week_shift_ = static_cast<int>((epoch_day - week_start_).count());
}

int Calendar::period_of(Instant instant) const {
  sys_days day = zone_.local_day(instant);
  int day_number = static_cast<int>(day.time_since_epoch().count());
  switch (unit_) {
    case PeriodUnit::day:
      return day_number;
    case PeriodUnit::week:
      return floor_divide(day_number + week_shift_, 7);
    case PeriodUnit::month: {
      year_month_day date{day};
      return (static_cast<int>(date.year()) - 1970) * 12 +
             static_cast<int>(static_cast<unsigned>(date.month())) - 1;
    }
  }
  return day_number;
}

sys_days Calendar::first_day(int period) const {
  switch (unit_) {
    case PeriodUnit::day:
      return sys_days(days(period));
    case PeriodUnit::week:
      return sys_days(days(period * 7 - week_shift_));
    case PeriodUnit::month: {
      int year = 1970 + floor_divide(period, 12);
      unsigned month = static_cast<unsigned>(period - (year - 1970) * 12) + 1;
      return sys_days(std::chrono::year(year) / std::chrono::month(month) / 1);
    }
  }
  return sys_days(days(period));
}

std::string Calendar::label(int period) const {
  return format_date(year_month_day(first_day(period)));
}

}  // namespace sluice::cohort
