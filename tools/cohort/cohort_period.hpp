// cohort_period: calendar periods (days, weeks, months) of a time zone, numbered so that
// period arithmetic is integer arithmetic: cohort c's k-th period is c + k.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "sluice/timezone.hpp"

namespace sluice::cohort {

enum class PeriodUnit { day, week, month };

// "day", "week" or "month"; Error(2) naming --period otherwise.
PeriodUnit parse_period_unit(std::string_view text);
std::string_view period_unit_name(PeriodUnit unit);

// "monday" ... "sunday"; Error(2) naming --week-start otherwise.
std::chrono::weekday parse_week_start(std::string_view text);

class Calendar {
 public:
  Calendar(PeriodUnit unit, TimeZone zone, std::chrono::weekday week_start);

  // The number of the period `instant` falls in, by its local date in the zone: days since
  // 1970-01-01, weeks since the week holding 1970-01-01, or months since 1970-01.
  [[nodiscard]] int period_of(Instant instant) const;
  // The local date a period begins on, and its text (YYYY-MM-DD, also for weeks and months).
  [[nodiscard]] std::chrono::sys_days first_day(int period) const;
  [[nodiscard]] std::string label(int period) const;
  // The instant a period begins (local midnight of its first day).
  [[nodiscard]] Instant start_of(int period) const { return zone_.start_of_day(first_day(period)); }

  [[nodiscard]] PeriodUnit unit() const { return unit_; }
  [[nodiscard]] const TimeZone& zone() const { return zone_; }
  [[nodiscard]] std::chrono::weekday week_start() const { return week_start_; }

 private:
  PeriodUnit unit_;
  TimeZone zone_;
  std::chrono::weekday week_start_;
  int week_shift_;  // days from the first week start on or before 1970-01-01 to that day
};

}  // namespace sluice::cohort
